"""Cross-checks: the manifests against the real project.

- image names and tags are the ones the Makefile builds;
- container ports are the apps' default port, and Services point at them;
- every probe path and port answers 200 on the real app binary, started with the manifest's
  environment;
- every environment variable a manifest sets is one the app reads;
- relay's default target is the echo Service (name, namespace, port);
- the grace period covers the shutdown delay plus the drain timeout plus a margin.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kube_files import (APP_PORT, APPS, Doc, all_docs, app_of_image, containers, ids, make_var,
                        pod_labels, pod_spec, workload_docs)
from testkit import free_port, running_app, wait_for_http

DOCS = all_docs()
WORKLOADS = workload_docs()
SERVICES = {d.name: d.obj for d in DOCS if d.kind == "Service"}
DOWNWARD_API = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
                "NODE_NAME": "spec.nodeName", "POD_IP": "status.podIP"}
# What the downward API would give, for a run on this machine.
FAKE_DOWNWARD = {"POD_NAME": "test-pod", "POD_NAMESPACE": "my-space",
                 "NODE_NAME": "test-node", "POD_IP": "127.0.0.1"}
IDENTITY_HEADERS = {"POD_NAME": "X-Pod-Name", "POD_NAMESPACE": "X-Pod-Namespace",
                    "NODE_NAME": "X-Node-Name", "POD_IP": "X-Pod-Ip"}
GRACE_MARGIN_SECONDS = 3


def parse_duration(text: str) -> float:
    """The apps' duration format: 500ms, 5s or 2 (seconds)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)?", text.strip())
    assert m, f"{text!r} is not a duration like 500ms, 5s or 2"
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def app_help(binary: Path) -> str:
    """`<app>-server --help`, with no app variables set (clap would show their values)."""
    out = subprocess.run([str(binary), "--help"], env={"PATH": os.environ.get("PATH", "")},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def help_env_names(text: str) -> set[str]:
    return set(re.findall(r"\[env: (\w+)=", text))


def help_default(text: str, env: str) -> str:
    m = re.search(rf"\[env: {env}=[^\]]*\]\s*\[default: ([^\]]+)\]", text)
    assert m, f"--help shows no default for {env}"
    return m.group(1)


def literal_env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def resolve_port(container: dict, port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    assert named, f"{container['name']} has no port called {port}"
    return named[0]


def probes(container: dict) -> dict[str, dict]:
    return {k: container[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")
            if k in container}


@pytest.fixture(scope="module")
def helps(static_binaries) -> dict[str, str]:
    return {app: app_help(static_binaries[app]) for app in APPS}


# ---- images and ports ---------------------------------------------------------------------------

@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_images_are_the_ones_the_makefile_builds(doc: Doc) -> None:
    for c in containers(doc):
        app = app_of_image(c["image"])
        assert c["image"] == make_var(f"{app.upper()}_IMAGE")
        assert c["image"].endswith(":" + make_var("VERSION"))


@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_container_port_is_the_app_default_port(doc: Doc, helps: dict[str, str]) -> None:
    for c in containers(doc):
        default = int(help_default(helps[app_of_image(c["image"])], "PORT"))
        assert default == APP_PORT
        assert [p["containerPort"] for p in c["ports"]] == [default]


@pytest.mark.parametrize("name", APPS)
def test_service_selects_its_pods_and_targets_their_port(name: str) -> None:
    svc = SERVICES[name]["spec"]
    selected = [d for d in WORKLOADS if d.kind == "Deployment"
                and svc["selector"].items() <= pod_labels(d).items()]
    assert [d.name for d in selected] == [name], "the Service must select exactly its Deployment"
    others = [d for d in WORKLOADS if d.kind == "Deployment" and d.name != name]
    assert all(not svc["selector"].items() <= pod_labels(d).items() for d in others)
    container = containers(selected[0])[0]
    for port in svc["ports"]:
        assert port["port"] == APP_PORT
        assert resolve_port(container, port["targetPort"]) == container["ports"][0]["containerPort"]


def test_relay_default_target_is_the_echo_service() -> None:
    relay = containers(next(d for d in WORKLOADS if d.kind == "Deployment" and d.name == "relay"))[0]
    target = literal_env(relay)["DEFAULT_ECHO_SERVER"]
    echo = next(d for d in DOCS if d.kind == "Service" and d.name == "echo")
    host, port = target.rsplit(":", 1)
    assert host == f"{echo.name}.{echo.obj['metadata']['namespace']}.svc.cluster.local"
    assert int(port) in [p["port"] for p in echo.obj["spec"]["ports"]]


# ---- environment variables ------------------------------------------------------------------------

@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_every_env_var_is_one_the_app_reads(doc: Doc, helps: dict[str, str]) -> None:
    for c in containers(doc):
        known = help_env_names(helps[app_of_image(c["image"])])
        assert {"PORT", "SHUTDOWN_DELAY", "DRAIN_TIMEOUT"} <= known, "--help lists no env names"
        for e in c.get("env", []):
            if "valueFrom" in e:
                assert DOWNWARD_API.get(e["name"]) == e["valueFrom"]["fieldRef"]["fieldPath"]
            else:
                assert e["name"] in known, f"✖ {c['name']} sets {e['name']}, which the app ignores"


def test_env_check_can_fail(helps: dict[str, str]) -> None:
    assert "ECHO_SERVER" not in help_env_names(helps["relay"])
    assert "SHUTDOWN_DELAYS" not in help_env_names(helps["echo"])


@pytest.mark.parametrize("doc", [d for d in WORKLOADS if d.kind == "Deployment"],
                         ids=ids([d for d in WORKLOADS if d.kind == "Deployment"]))
def test_grace_period_covers_delay_and_drain(doc: Doc, helps: dict[str, str]) -> None:
    c = containers(doc)[0]
    env = literal_env(c)
    app_help_text = helps[app_of_image(c["image"])]
    delay = parse_duration(env.get("SHUTDOWN_DELAY", help_default(app_help_text, "SHUTDOWN_DELAY")))
    drain = parse_duration(env.get("DRAIN_TIMEOUT", help_default(app_help_text, "DRAIN_TIMEOUT")))
    assert delay > 0, "a shutdown delay lets the Service stop sending before the app stops"
    grace = pod_spec(doc).get("terminationGracePeriodSeconds", 30)
    assert grace >= delay + drain + GRACE_MARGIN_SECONDS


def test_duration_parser() -> None:
    assert [parse_duration(t) for t in ("500ms", "5s", "2")] == [0.5, 5, 2]
    with pytest.raises(AssertionError):
        parse_duration("5 minutes")


# ---- probes on the real app -------------------------------------------------------------------------

@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_probes_answer_200_on_the_real_app(doc: Doc, static_binaries) -> None:
    """Start the app with the manifest's environment; ask every probe path; read the identity."""
    for c in containers(doc):
        env = {**literal_env(c), **FAKE_DOWNWARD}
        downward = {e["name"] for e in c.get("env", []) if "valueFrom" in e}
        with running_app(static_binaries[app_of_image(c["image"])], env=env) as base:
            for kind, get in probes(c).items():
                assert resolve_port(c, get["port"]) == APP_PORT
                with urllib.request.urlopen(base + get["path"], timeout=5) as r:
                    assert r.status == 200, f"{kind} {get['path']} answered {r.status}"
                    for var in downward:
                        assert r.headers.get(IDENTITY_HEADERS[var]) == FAKE_DOWNWARD[var], var
            # The version label says what the app itself says.
            with urllib.request.urlopen(base + "/version", timeout=5) as r:
                version = re.search(r"^version: (\S+)$", r.read().decode(), re.M).group(1)
            assert pod_labels(doc)["app.kubernetes.io/version"] == version


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


DEPLOYMENT_DOCS = [d for d in WORKLOADS if d.kind == "Deployment"]


@pytest.mark.parametrize("doc", DEPLOYMENT_DOCS, ids=ids(DEPLOYMENT_DOCS))
def test_during_a_graceful_stop_only_readiness_fails(doc: Doc, static_binaries) -> None:
    """After the stop signal, in the shutdown delay: readiness 503, so the Service stops
    sending; liveness and startup still 200, so the kubelet does not restart the container."""
    c = containers(doc)[0]
    port = free_port()
    env = {**os.environ, **literal_env(c), **FAKE_DOWNWARD, "PORT": str(port)}
    proc = subprocess.Popen([str(static_binaries[app_of_image(c["image"])])], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/ready")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # well inside the shutdown delay of the manifest
        assert parse_duration(literal_env(c)["SHUTDOWN_DELAY"]) >= 2
        assert proc.poll() is None, "the app stopped at once, without its shutdown delay"
        assert status_of(base + c["readinessProbe"]["httpGet"]["path"]) == 503
        assert status_of(base + c["livenessProbe"]["httpGet"]["path"]) == 200
        assert status_of(base + c["startupProbe"]["httpGet"]["path"]) == 200
    finally:
        proc.kill()
        proc.wait(timeout=10)

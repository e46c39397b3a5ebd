"""Policy: Pod Security "restricted", the namespace label, labels, images, probes, resources.

The rules of the Pod Security Standard "restricted" that a pod spec can break are checked
field by field (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
Each rule is a function that returns the problems it finds, so a test can also show
that a broken copy fails.
"""

from __future__ import annotations

import copy
import re

import pytest
from kube_files import (APPS, CLUSTERS, Doc, all_docs, app_of_image, containers, ids, make_var,
                        pod_labels, pod_spec, workload_docs)

DOCS = all_docs()
WORKLOADS = workload_docs()
PART_OF = "kube-course"
NAMESPACE = "my-space"
USER = 65532

# Volume types the restricted level allows.
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}

SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def restricted_problems(spec: dict) -> list[str]:
    """Every way this pod spec breaks Pod Security "restricted" (empty: it complies)."""
    problems = []
    pod_sc = spec.get("securityContext", {})
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host) is True:
            problems.append(f"{host} is on")
    for sysctl in pod_sc.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl['name']} is not a safe one")
    for vol in spec.get("volumes", []):
        kinds = set(vol) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {vol['name']} has a type the restricted level refuses")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        name = c["name"]
        run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if run_as_non_root is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if user != USER:
            problems.append(f"{name}: runAsUser is {user}, not {USER}")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp}, not RuntimeDefault")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if sc.get("privileged") is True:
            problems.append(f"{name}: privileged is on")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount is not Default")
        selinux = {**pod_sc.get("seLinuxOptions", {}), **sc.get("seLinuxOptions", {})}
        if set(selinux) & {"user", "role"} or \
                selinux.get("type", "container_t") not in SELINUX_TYPES:
            problems.append(f"{name}: seLinuxOptions are not allowed")
        if any("hostPort" in p for p in c.get("ports", [])):
            problems.append(f"{name}: uses a hostPort")
    return problems


def label_problems(doc: Doc) -> list[str]:
    problems = []
    version = make_var("VERSION")
    label_sets = [doc.obj["metadata"].get("labels", {})]
    if pod_spec(doc) is not None and doc.kind != "Pod":
        label_sets.append(pod_labels(doc))
    for labels in label_sets:
        if labels.get("app.kubernetes.io/part-of") != PART_OF:
            problems.append(f"app.kubernetes.io/part-of is not {PART_OF}")
        if doc.kind == "Namespace":
            continue
        if labels.get("app.kubernetes.io/name") not in APPS:
            problems.append(f"app.kubernetes.io/name is not one of {APPS}")
        if labels.get("app.kubernetes.io/version") != version:
            problems.append(f"app.kubernetes.io/version is not {version}")
    return problems


# ---- Pod Security "restricted" ------------------------------------------------------------------

@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_pod_meets_pod_security_restricted(doc: Doc) -> None:
    assert restricted_problems(pod_spec(doc)) == [], f"✖ {doc} breaks the restricted level"


@pytest.mark.parametrize("break_it, problem", [
    (lambda s: s["securityContext"].pop("runAsNonRoot"), "runAsNonRoot"),
    (lambda s: s["securityContext"].update(runAsUser=0), "runAsUser"),
    (lambda s: s["securityContext"].pop("seccompProfile"), "seccompProfile"),
    (lambda s: s["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
     "allowPrivilegeEscalation"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=[]), "drop ALL"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
     "adds"),
    (lambda s: s["containers"][0]["securityContext"].pop("readOnlyRootFilesystem"),
     "readOnlyRootFilesystem"),
    (lambda s: s.update(hostNetwork=True), "hostNetwork"),
    (lambda s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "volume h"),
    (lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
     "sysctl"),
    (lambda s: s["containers"][0]["securityContext"].update(procMount="Unmasked"), "procMount"),
    (lambda s: s["securityContext"].update(seLinuxOptions={"user": "root"}), "seLinuxOptions"),
], ids=["root-allowed", "root-user", "no-seccomp", "escalation", "caps-kept", "caps-added",
        "writable-root", "host-network", "host-path", "sysctl", "proc-mount", "selinux"])
def test_restricted_check_can_fail(break_it, problem: str) -> None:
    spec = copy.deepcopy(pod_spec(WORKLOADS[0]))
    break_it(spec)
    assert any(problem in p for p in restricted_problems(spec)), restricted_problems(spec)


def test_namespace_enforces_restricted_for_the_node_image_version() -> None:
    namespaces = [d for d in DOCS if d.kind == "Namespace"]
    assert [d.name for d in namespaces] == [NAMESPACE]
    labels = namespaces[0].obj["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels.get(f"pod-security.kubernetes.io/{mode}") == "restricted"
    node_image = (CLUSTERS / "one-node.yaml").read_text()
    minor = re.search(r"kindest/node:(v\d+\.\d+)\.", node_image).group(1)
    assert labels.get("pod-security.kubernetes.io/enforce-version") == minor


# ---- labels, namespace, names ---------------------------------------------------------------------

@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_recommended_labels(doc: Doc) -> None:
    assert label_problems(doc) == []
    if doc.kind != "Namespace":
        assert doc.obj["metadata"].get("namespace") == NAMESPACE
        assert doc.name in APPS, "objects are named after their app: echo or relay"


def test_label_check_can_fail() -> None:
    broken = copy.deepcopy(next(d for d in WORKLOADS if d.kind == "Deployment"))
    broken.obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] = "9.9.9"
    assert label_problems(broken) == ["app.kubernetes.io/version is not " + make_var("VERSION")]


# ---- containers: image, pull policy, resources, probes, pod settings -----------------------------

@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_containers_image_pull_policy_and_resources(doc: Doc) -> None:
    for c in containers(doc):
        assert app_of_image(c["image"]) == doc.name == c["name"]
        assert c["imagePullPolicy"] == "IfNotPresent"
        for part in ("requests", "limits"):
            assert set(c["resources"][part]) == {"cpu", "memory"}, f"{c['name']}: {part}"


@pytest.mark.parametrize("doc", WORKLOADS, ids=ids(WORKLOADS))
def test_pod_settings(doc: Doc) -> None:
    spec = pod_spec(doc)
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    wanted = {"readinessProbe"} if doc.kind == "Pod" else \
        {"startupProbe", "readinessProbe", "livenessProbe"}
    for c in containers(doc):
        assert wanted <= set(c), f"{c['name']} lacks {wanted - set(c)}"


# ---- Deployments and PodDisruptionBudgets ---------------------------------------------------------

DEPLOYMENTS = {d.name: d.obj for d in DOCS if d.kind == "Deployment"}


def test_deployments_and_replicas() -> None:
    assert set(DEPLOYMENTS) == set(APPS)
    assert DEPLOYMENTS["echo"]["spec"]["replicas"] == 3


@pytest.mark.parametrize("name", APPS)
def test_rolling_update_keeps_every_ready_pod(name: str) -> None:
    spec = DEPLOYMENTS[name]["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("name", APPS)
def test_disruption_budget_guards_and_allows_a_drain(name: str) -> None:
    """The budget selects the Deployment's pods and still lets one pod go at a time."""
    pdbs = [d.obj for d in DOCS if d.kind == "PodDisruptionBudget" and d.name == name]
    assert len(pdbs) == 1
    pdb, dep = pdbs[0]["spec"], DEPLOYMENTS[name]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= dep["template"]["metadata"]["labels"].items()
    assert 1 <= pdb["minAvailable"] < dep["replicas"]


# ---- rules the API server checks that the JSON schemas cannot express ------------------------------

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def api_server_problems(doc: Doc) -> list[str]:
    """Names, label values, port names and numbers, env names: what kubectl apply would refuse."""
    problems = []
    meta = doc.obj["metadata"]
    if not (DNS_LABEL.fullmatch(meta["name"]) and len(meta["name"]) <= 63):
        problems.append(f"name {meta['name']!r} is not a DNS label")
    label_sets = [meta.get("labels", {})]
    if pod_spec(doc) is not None and doc.kind != "Pod":
        label_sets.append(pod_labels(doc))
    for labels in label_sets:
        for key, value in labels.items():
            if not (isinstance(value, str) and LABEL_VALUE.fullmatch(value) and len(value) <= 63):
                problems.append(f"label {key} has a value Kubernetes refuses: {value!r}")
    if doc.kind == "Service":
        for p in doc.obj["spec"]["ports"]:
            if "nodePort" in p and not 30000 <= p["nodePort"] <= 32767:
                problems.append(f"nodePort {p['nodePort']} is outside 30000-32767")
    for c in containers(doc) if pod_spec(doc) is not None else []:
        for p in c.get("ports", []):
            name = p.get("name", "")
            if name and not (PORT_NAME.fullmatch(name) and len(name) <= 15
                             and re.search("[a-z]", name)):
                problems.append(f"{c['name']}: port name {name!r} is not valid")
            if not 1 <= p["containerPort"] <= 65535:
                problems.append(f"{c['name']}: port {p['containerPort']} is out of range")
        for e in c.get("env", []):
            if not ENV_NAME.fullmatch(e["name"]):
                problems.append(f"{c['name']}: env name {e['name']!r} is not valid")
        for kind in ("startupProbe", "livenessProbe"):
            if c.get(kind, {}).get("successThreshold", 1) != 1:
                problems.append(f"{c['name']}: {kind} needs successThreshold 1")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_api_server_would_accept(doc: Doc) -> None:
    assert api_server_problems(doc) == []


@pytest.mark.parametrize("break_it, problem", [
    (lambda o: o["metadata"].update(name="Echo_1"), "DNS label"),
    (lambda o: o["metadata"]["labels"].update(x="a b"), "label x"),
    (lambda o: o["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
        name="http-port-is-way-too-long"), "port name"),
    (lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "1BAD", "value": "x"}), "env name"),
    (lambda o: o["spec"]["template"]["spec"]["containers"][0]["livenessProbe"].update(
        successThreshold=2), "successThreshold"),
], ids=["name", "label-value", "port-name", "env-name", "liveness-success"])
def test_api_server_check_can_fail(break_it, problem: str) -> None:
    broken = copy.deepcopy(next(d for d in WORKLOADS if d.kind == "Deployment"))
    break_it(broken.obj)
    assert any(problem in p for p in api_server_problems(broken)), api_server_problems(broken)

"""The Makefile targets a learner types, run for real with podman.

`make build-echo`, `make run-echo`, `make stop-echo` (and the relay ones) run
with CONTAINER_ENGINE=podman PREBUILT=1. Names, tags and ports are unique
per test run, so a learner's own containers are never touched.
"""

from __future__ import annotations

import os
import socket
import stat
import time
import urllib.request

import pytest

from podman_tools import PREFIX, VERSION
from testkit import free_port, make, wait_for_http

pytestmark = pytest.mark.timeout(600)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


@pytest.fixture
def settings(podman) -> dict[str, str]:
    """Make settings that point every name at this test run."""
    values = {
        "CONTAINER_ENGINE": "podman",
        "PREBUILT": "1",
        "ECHO_IMAGE": f"localhost/{PREFIX}-make-echo:{VERSION}",
        "RELAY_IMAGE": f"localhost/{PREFIX}-make-relay:{VERSION}",
        "ECHO_CONTAINER": f"{PREFIX}-make-echo",
        "RELAY_CONTAINER": f"{PREFIX}-make-relay",
        "CONTAINER_NETWORK": f"{PREFIX}-make-net",
        "ECHO_HOST_PORT": str(free_port()),
        "RELAY_HOST_PORT": str(free_port()),
    }
    podman.images += [values["ECHO_IMAGE"], values["RELAY_IMAGE"]]
    podman.containers += [values["ECHO_CONTAINER"], values["RELAY_CONTAINER"]]
    podman.networks.append(values["CONTAINER_NETWORK"])
    return values


def test_learner_flow_build_run_stop(podman, static_binaries, settings):
    """build-images, run-echo, run-relay, curl both, stop-relay, stop-echo."""
    built = make("build-images", timeout=540, **settings)
    assert built.returncode == 0, built.stdout + built.stderr
    assert f"✔ Built {settings['ECHO_IMAGE']}" in built.stdout
    assert f"✔ Built {settings['RELAY_IMAGE']}" in built.stdout

    ran = make("run-echo", **settings)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "✔ echo runs" in ran.stdout
    echo_url = f"http://127.0.0.1:{settings['ECHO_HOST_PORT']}"
    _wait(echo_url + "/ready")
    echo_host = podman.inspect("container", settings["ECHO_CONTAINER"])["Config"]["Hostname"]
    assert fetch(echo_url + "/echo?message=hello") == f"Echo host: {echo_host}\nMessage: hello\n"

    ran = make("run-relay", **settings)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    relay_url = f"http://127.0.0.1:{settings['RELAY_HOST_PORT']}"
    _wait(relay_url + "/ready")
    body = _fetch_retry(relay_url + "/relay?message=hi")
    assert f"Relay-To: {settings['ECHO_CONTAINER']}:8080" in body
    assert f"Echo host: {echo_host}\nMessage: hi\n" in body

    again = make("run-echo", **settings)
    assert again.returncode != 0
    assert "already exists" in again.stdout and "make stop-echo" in again.stdout

    for app in ("relay", "echo"):
        stopped = make(f"stop-{app}", **settings)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert f"✔ Stopped {app}" in stopped.stdout
        gone = podman("container", "exists", settings[f"{app.upper()}_CONTAINER"], check=False)
        assert gone.returncode != 0, f"the {app} container is still there"
    assert podman("network", "exists", settings["CONTAINER_NETWORK"], check=False).returncode != 0

    twice = make("stop-echo", **settings)
    assert twice.returncode == 0 and "not running" in twice.stdout


def test_run_echo_says_when_the_port_is_taken(podman, app_images, settings):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(settings["ECHO_HOST_PORT"])))
        busy.listen()
        podman("tag", app_images["echo"], settings["ECHO_IMAGE"])
        result = make("run-echo", **settings)
    assert result.returncode != 0
    assert f"Port {settings['ECHO_HOST_PORT']} on your laptop is taken" in result.stdout
    assert "ECHO_HOST_PORT=" in result.stdout, "it says how to pick another port"
    assert podman("container", "exists", settings["ECHO_CONTAINER"], check=False).returncode != 0


def test_run_echo_says_when_the_image_is_missing(settings):
    settings["ECHO_IMAGE"] = f"localhost/{PREFIX}-never-built:{VERSION}"
    result = make("run-echo", **settings)
    assert result.returncode != 0
    assert f"The image {settings['ECHO_IMAGE']} is missing" in result.stdout
    assert "make build-echo" in result.stdout


def test_engine_not_installed():
    result = make("build-echo", CONTAINER_ENGINE="no-such-engine-here")
    assert result.returncode != 0
    assert "✖ There is no container engine: make cannot find the command 'no-such-engine-here'." in result.stdout
    assert "https://docs.docker.com/get-started/get-docker/" in result.stdout


def test_engine_installed_but_not_running(tmp_path):
    """An engine whose `info` fails, like the docker client without its daemon."""
    engine = tmp_path / "docker"
    engine.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    engine.chmod(engine.stat().st_mode | stat.S_IEXEC)
    result = make("run-echo", env={"PATH": f"{tmp_path}:{os.environ['PATH']}"}, timeout=60,
                  CONTAINER_ENGINE=str(engine))
    assert result.returncode != 0
    assert "is installed, but it is not running" in result.stdout
    assert "Start Docker Desktop" in result.stdout


def test_run_tools_mounts_socket_repo_and_home(repo):
    """`make run` (dry run): docker socket, the repository, a persistent home, host network."""
    result = make("-n", "run", CONTAINER_ENGINE="docker")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "--network host" in text
    assert "/var/run/docker.sock:/var/run/docker.sock" in text
    assert f"{repo}/.cache/home:/home/user" in text
    assert f"{repo}:/workspace" in text
    assert "local-k8s-tools:" + VERSION in text
    assert ".cache/" in (repo / ".gitignore").read_text()


@pytest.mark.parametrize("target", ["build-echo", "run-echo", "stop-echo", "build", "run",
                                    "run-relay", "stop-relay", "build-relay", "build-images"])
def test_every_target_has_a_help_line(target):
    result = make("help")
    lines = [line.split() for line in result.stdout.splitlines()]
    assert any(words and words[0] == target and len(words) > 3 for words in lines), target


def test_platform_setting_reaches_the_build():
    result = make("-n", "build-echo", CONTAINER_ENGINE="docker", PLATFORM="linux/arm64")
    assert "--platform linux/arm64" in result.stdout
    assert "--build-arg APP=echo" in result.stdout
    assert "--build-arg BUILDER=builder" in result.stdout, "podman 4 needs the stage named"
    assert f"-t local-echo-server:{VERSION}" in result.stdout


def _wait(url: str) -> None:
    wait_for_http(url, timeout=15)


def _fetch_retry(url: str, tries: int = 20) -> str:
    for _ in range(tries):
        try:
            return fetch(url)
        except Exception:  # noqa: BLE001 - DNS of a new container can lag a moment
            time.sleep(0.25)
    return fetch(url)


def test_prebuilt_refuses_another_platform():
    """PREBUILT=1 packs this computer's programs; an image for another platform would not run."""
    result = make("build-echo", CONTAINER_ENGINE="podman", PREBUILT="1", PREBUILT_DEPS="",
                  PLATFORM="linux/s390x", timeout=540)
    assert result.returncode != 0
    assert "✖ PREBUILT=1 packs programs built for linux/" in result.stdout
    assert "not for linux/s390x" in result.stdout

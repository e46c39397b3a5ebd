"""The learner's laptop, walked as a learner walks it: `make demo` with a container engine only.

Each walk runs in a sandbox PATH (see conftest.py): make, curl, git and the usual shell tools,
and no cargo, rustc, kind or kubectl. The engine is podman with a storage of its own, where the
stand-in builder image lives, so `make demo` compiles the apps with the real builder stage.

  docker only   "docker" is podman (as podman-docker makes it): the demo runs two containers.
  podman only   no docker at all: the same walk with podman.
  refused       docker is there and kind too, but docker refuses the user (a shim).

This machine has no Docker engine and no kind cluster: the cluster path and a real Docker
engine are walked by the GitHub workflow (make e2e), not here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket as socketlib
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import pytest

from laptop_tools import REPO, VERSION
from script_tools import long_sentences, relay_reply

pytestmark = pytest.mark.timeout(2400)

REPLY = relay_reply()
NO_RUST = ("cargo", "rustc", "rustup", "Rust (")


def running(storage, sandbox) -> set[str]:
    out = storage("ps", "--format", "{{.Names}}").stdout.split()
    return {n for n in out if n in (sandbox.names["ECHO_CONTAINER"], sandbox.names["RELAY_CONTAINER"])}


def network_exists(storage, sandbox) -> bool:
    return storage("network", "exists", sandbox.names["CONTAINER_NETWORK"], check=False).returncode == 0


def check_demo_words(out: str, sandbox, engine: str) -> None:
    for n in range(1, 7):
        assert f"Step {n} of 6: " in out, out
    assert out.count("  ✔ ") >= 6, out
    assert "✖" not in out, out
    assert f"✔ {engine} answers. You need no Rust: the image build compiles the apps." in out
    assert "kind or kubectl is missing, so there is no cluster." in out
    m = REPLY.search(out)
    assert m, out
    assert m["target"] == f"{sandbox.names['ECHO_CONTAINER']}:8080"
    assert m["relay_host"] != m["echo_host"], "two containers, two host names"
    assert "✔ echo and relay run as containers. They keep running." in out
    assert "Stop both: make demo-down" in out
    tail = out[out.index("✔ echo and relay run as containers"):]
    for word in NO_RUST:
        assert word not in tail, f"the demo's end mentions {word!r}"
    ours = "\n".join(line for line in out.splitlines() if line.startswith(("Step ", "  ✔", "  ✖", "✔", "✖")))
    assert not long_sentences(ours), long_sentences(ours)


def relay_port(out: str) -> int:
    return int(re.search(r"relay answers on http://localhost:(\d+)", out)[1])


def walk(storage, sandbox, engine: str) -> None:
    first = sandbox.make("demo")
    out = first.stdout + first.stderr
    assert first.returncode == 0, out[-6000:]
    check_demo_words(first.stdout, sandbox, engine)
    assert running(storage, sandbox) == set(sandbox.names[k] for k in ("ECHO_CONTAINER", "RELAY_CONTAINER"))
    port = relay_port(first.stdout)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/relay?message=still", timeout=5) as r:
        assert "Message: still" in r.read().decode(), "both containers keep running after make demo"

    second = sandbox.make("demo")
    assert second.returncode == 0, (second.stdout + second.stderr)[-6000:]
    assert "The containers of the last demo still run. The demo stops them first." in second.stdout
    check_demo_words(second.stdout, sandbox, engine)

    down = sandbox.make("demo-down", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "✔ No demo program or container is running on this machine." in down.stdout
    assert "✔ There is no kind here, so there is no cluster to delete." in down.stdout
    assert not running(storage, sandbox), "make demo-down left a container running"
    assert not network_exists(storage, sandbox), "make demo-down left the network behind"


@pytest.fixture
def cleanup(storage, sandbox):
    yield
    names = [sandbox.names["RELAY_CONTAINER"], sandbox.names["ECHO_CONTAINER"]]
    storage("rm", "-f", "-t", "0", *names, check=False)
    storage("network", "rm", "-f", sandbox.names["CONTAINER_NETWORK"], check=False)


def test_docker_only(storage, sandbox, cleanup):
    sandbox.add("docker", storage.shim())
    walk(storage, sandbox, "docker")


def test_podman_only(storage, sandbox, cleanup, tmp_path):
    sandbox.add("podman", storage.shim())
    walk(storage, sandbox, "podman")

    # Lesson 5's load-images with podman: the saved image carries the name the pods ask for.
    # kind is a shim here (no cluster can run on this machine): its docker-image load fails,
    # as with Docker's containerd store, so make takes the archive path; the shim keeps the file.
    log, keep = tmp_path / "kind.log", tmp_path / "loaded.tar"
    sandbox.add("kind", f"""#!/bin/sh
echo "KIND_EXPERIMENTAL_PROVIDER=$KIND_EXPERIMENTAL_PROVIDER $*" >> {log}
case "$1 $2" in
  "get clusters") echo kube-course ;;
  "load docker-image") echo "ERROR: failed to load image" >&2; exit 1 ;;
  "load image-archive") cp "$3" {keep} ;;
esac
""")
    done = sandbox.make("load-echo-image")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kind load docker-image did not work. Trying again" in done.stdout
    assert "save --format docker-archive" in done.stdout
    assert "✔ local-echo-server:" in done.stdout
    calls = log.read_text()
    assert "KIND_EXPERIMENTAL_PROVIDER=podman load image-archive" in calls, calls
    with tarfile.open(keep) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [f"docker.io/library/local-echo-server:{VERSION}"], manifest
    storage("rmi", "-f", f"docker.io/library/local-echo-server:{VERSION}", check=False)


REFUSED = """#!/bin/sh
case "$1" in
  --version|-v) echo "Docker version 29.6.2, build 1234567" ;;
  *) echo "permission denied while trying to connect to the Docker daemon socket at \
unix:///var/run/docker.sock: Get \\"http://%2Fvar%2Frun%2Fdocker.sock/v1.52/info\\": \
dial unix /var/run/docker.sock: connect: permission denied" >&2; exit 1 ;;
esac
"""


def test_kind_present_but_docker_refuses_the_user(sandbox, tmp_path):
    log = tmp_path / "kind.log"
    sandbox.add("docker", REFUSED)
    sandbox.add("kind", f"#!/bin/sh\necho \"$*\" >> {log}\n")
    sandbox.add("kubectl", "#!/bin/sh\nexit 0\n")
    for target in ("demo", "create-cluster", "build-echo"):
        done = sandbox.make(target, timeout=120)
        out = done.stdout
        assert done.returncode != 0, out
        assert "✖ docker is installed and running, but it refuses you." in out, out
        assert "It said: permission denied on its socket." in out
        assert "sudo usermod -aG docker $USER" in out
        assert f"Then log out, log in again, and run: make {target}" in out
        assert "not running" not in out and "Start Docker Desktop" not in out
        assert "Traceback" not in done.stderr and "line " not in done.stderr
        assert not long_sentences(out), long_sentences(out)
        if target == "demo":
            assert "make demo needs Docker or podman. Nothing else: no Rust, no kind." in out
    calls = log.read_text() if log.exists() else ""
    assert "create" not in calls, f"kind should not start while docker refuses: {calls}"


def test_tools_image_targets_say_what_to_build_first(storage, sandbox, cleanup):
    """Lesson 1 with podman only: make run and make serve-book (no mdbook here) need the tools image."""
    sandbox.add("podman", storage.shim())
    for target in ("run", "serve-book"):
        done = sandbox.make(target, "TOOLS_IMAGE=kcl-no-such-tools:0", timeout=120)
        assert done.returncode != 0
        assert "✖ The image kcl-no-such-tools:0 is missing." in done.stdout, done.stdout + done.stderr
        assert "Build it first: make build" in done.stdout


# A Docker CLI stand-in for the socket search (no Docker engine runs on this machine).
DOCKER_LIKE = """#!/bin/sh
case "$*" in
  --version) echo "Docker version 29.6.2, build 1234567" ;;
  *OperatingSystem*) echo "{os}" ;;
  *SecurityOptions*) echo "[name=seccomp,profile=builtin]" ;;
  "context inspect"*) echo "unix:///home/learner/.docker/run/docker.sock" ;;
  info) exit 0 ;;
esac
"""


@pytest.mark.parametrize("os_name, host, socket", [
    ("Ubuntu 24.04", None, "/home/learner/.docker/run/docker.sock"),
    ("Ubuntu 24.04", "unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock"),
    ("Docker Desktop", None, "/var/run/docker.sock"),
])
def test_make_run_finds_the_engine_socket(sandbox, os_name, host, socket):
    sandbox.add("docker", DOCKER_LIKE.format(os=os_name))
    env = {**sandbox.env(), **({"DOCKER_HOST": host} if host else {})}
    done = subprocess.run(["bash", "scripts/engine.sh", "tools-options", "docker"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["-v", f"{socket}:/var/run/docker.sock"], done.stdout
    notes = subprocess.run(["bash", "scripts/engine.sh", "tools-notes", "docker"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    if os_name == "Docker Desktop":
        assert notes.returncode == 0
        assert "Settings, then Resources, then Network, then Enable host networking." in notes.stdout
    else:
        # The socket is not on this machine: make run stops with words, not with a failed mount.
        assert notes.returncode == 1
        assert f"✖ There is no engine socket at {socket}, so the tools shell cannot reach docker." in notes.stdout


def test_make_run_runs_as_the_learner_on_an_engine_that_runs_as_root():
    """As a learner (uid 1000): --user with the learner's ids, and the socket's group."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv is missing (util-linux)"
    # A folder the learner may read (pytest's tmp_path belongs to root alone).
    box = Path(tempfile.mkdtemp(prefix="kcl-learner-"))
    try:
        box.chmod(0o755)
        (box / "docker").write_text(DOCKER_LIKE.format(os="Ubuntu 24.04"))
        (box / "docker").chmod(0o755)
        # Copies of the scripts too: the learner may not read the repository's folder here.
        (box / "scripts").mkdir()
        for name in ("engine.sh", "lib.sh"):
            shutil.copy(REPO / "scripts" / name, box / "scripts" / name)
        box.joinpath("scripts").chmod(0o755)
        sock = box / "docker.sock"
        with socketlib.socket(socketlib.AF_UNIX) as s:
            s.bind(str(sock))
            os.chown(sock, 0, 998)
            env = {"PATH": f"{box}:/usr/bin:/bin", "HOME": str(box), "DOCKER_HOST": f"unix://{sock}"}
            done = subprocess.run([setpriv, "--reuid", "1000", "--regid", "1000", "--clear-groups",
                                   "bash", str(box / "scripts" / "engine.sh"), "tools-options", "docker"],
                                  env=env, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(box)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["-v", f"{sock}:/var/run/docker.sock", "--user", "1000:1000",
                                   "--group-add", "998"], done.stdout


def test_lesson_targets_give_kind_the_podman_provider(storage, sandbox, tmp_path):
    """podman-docker: "docker" is podman, so kind must use its podman provider in every target."""
    log = tmp_path / "kind.log"
    sandbox.add("docker", storage.shim())
    sandbox.add("kind", f"""#!/bin/sh
echo "KIND_EXPERIMENTAL_PROVIDER=$KIND_EXPERIMENTAL_PROVIDER $*" >> {log}
case "$1 $2" in "get clusters") echo kube-course ;; "get nodes") echo kube-course-control-plane ;; esac
""")
    sandbox.add("kubectl", "#!/bin/sh\nexit 0\n")
    for target in ("create-cluster", "delete-cluster"):
        done = sandbox.make(target, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text().splitlines()
    assert calls, "kind was not called"
    assert all(c.startswith("KIND_EXPERIMENTAL_PROVIDER=podman ") for c in calls), calls
    assert "KIND_EXPERIMENTAL_PROVIDER=podman delete cluster --name kube-course" in calls

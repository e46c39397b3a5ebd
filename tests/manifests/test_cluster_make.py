"""make/cluster.mk: help lines, clear messages, the context on every kubectl call, the image fallback.

kind cannot run on this machine (no cluster, no image pulls). So where a target must reach
kind or a cluster, the test puts small stand-in `kind` and `kubectl` scripts first on PATH.
They write down every call and answer like the real tools. The container engine is real:
podman saves a real image, and the stand-in kind checks the archive it gets.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from kube_files import make_var
from testkit import make

TARGETS = ["create-cluster", "create-cluster-two-nodes", "delete-cluster", "cluster-list-all",
           "load-images", "deploy", "port-forward-relay"]
CONTEXT = "kind-kube-course"

STUB_KIND = r"""#!/bin/sh
# Stand-in for kind: writes down each call, keeps the cluster in a state file.
echo "kind $*" >> "$STUB_LOG"
case "$1 $2" in
  "get clusters") [ -f "$STUB_STATE" ] && echo kube-course; exit 0 ;;
  "get nodes") cat "$STUB_STATE"; exit 0 ;;
  "create cluster")
    grep -q "role: worker" "$6" && printf 'kube-course-control-plane\nkube-course-worker\n' > "$STUB_STATE" \
      || echo kube-course-control-plane > "$STUB_STATE"; exit 0 ;;
  "delete cluster") rm -f "$STUB_STATE"; exit 0 ;;
  "load docker-image") echo "ERROR: failed to detect containerd snapshotter" >&2; exit 1 ;;
  "load image-archive") tar -tf "$3" | grep -qx manifest.json || exit 1
    tar -xOf "$3" manifest.json >> "$STUB_LOG"; echo >> "$STUB_LOG"; exit 0 ;;
esac
exit 3
"""

STUB_KUBECTL = r"""#!/bin/sh
# Stand-in for kubectl: writes down each call; knows the context kind-kube-course.
echo "kubectl $*" >> "$STUB_LOG"
exit 0
"""


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("kind", STUB_KIND), ("kubectl", STUB_KUBECTL)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    # kind needs an engine that answers; make checks it first. podman answers on this machine.
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(tmp_path / "calls.log"),
            "STUB_STATE": str(tmp_path / "cluster"), "CONTAINER_ENGINE": "podman"}


def calls(stubs: dict[str, str]) -> list[str]:
    log = Path(stubs["STUB_LOG"])
    return log.read_text().splitlines() if log.exists() else []


# ---- help and plain messages ------------------------------------------------------------------

def test_every_target_has_a_help_line() -> None:
    out = make("help").stdout
    for target in TARGETS:
        assert re.search(rf"^  {target}\s+\S", out, re.M), f"make help does not list {target}"


@pytest.mark.parametrize("target", ["create-cluster", "create-cluster-two-nodes",
                                    "delete-cluster", "load-images"])
def test_missing_kind_is_said_in_plain_words(target: str) -> None:
    r = make(target, "KIND=kind-is-not-here")
    assert r.returncode != 0
    assert "✖ kind is missing" in r.stdout
    assert "https://kind.sigs.k8s.io/" in r.stdout


@pytest.mark.parametrize("target", ["cluster-list-all", "deploy", "port-forward-relay"])
def test_missing_kubectl_is_said_in_plain_words(target: str) -> None:
    r = make(target, "KUBECTL=kubectl-is-not-here")
    assert r.returncode != 0
    assert "✖ kubectl is missing" in r.stdout


@pytest.mark.parametrize("target", ["cluster-list-all", "deploy"])
def test_missing_context_is_said_in_plain_words(target: str, tmp_path: Path) -> None:
    """The real kubectl, with an empty kubeconfig: it has no context for the course."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed here")
    r = make(target, env={"KUBECONFIG": str(tmp_path / "empty-kubeconfig")})
    assert r.returncode != 0
    assert f"✖ kubectl has no context called {CONTEXT}" in r.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_every_kubectl_call_names_the_context(target: str, stubs: dict[str, str]) -> None:
    """Run the target against the stand-ins, and read every kubectl call it made."""
    Path(stubs["STUB_STATE"]).write_text("kube-course-control-plane\n")
    make(target, "CONTAINER_ENGINE=true", env=stubs)
    made = [c for c in calls(stubs) if c.startswith("kubectl ")]
    if target not in ("delete-cluster", "load-images"):
        assert made, f"{target} never called kubectl"
    for call in made:
        assert call.startswith(f"kubectl --context {CONTEXT} ") or \
            call == f"kubectl config get-contexts {CONTEXT}", f"{target}: {call} has no --context"
    assert make_var("KUBE_CONTEXT") == CONTEXT


# ---- the recipes, with stand-in kind and kubectl --------------------------------------------------

def test_create_reuse_and_delete(stubs: dict[str, str]) -> None:
    r = make("create-cluster", env=stubs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kind create cluster --name kube-course --config clusters/one-node.yaml --wait 120s" \
        in calls(stubs)
    assert f"kubectl --context {CONTEXT} get nodes" in calls(stubs)
    assert "✔ The cluster kube-course is ready." in r.stdout

    again = make("create-cluster-two-nodes", env=stubs)
    assert again.returncode == 0
    assert "is there already" in again.stdout and "make delete-cluster" in again.stdout
    assert sum(c.startswith("kind create") for c in calls(stubs)) == 1

    gone = make("delete-cluster", env=stubs)
    assert "kind delete cluster --name kube-course" in calls(stubs)
    assert "✔ The cluster kube-course is gone." in gone.stdout
    assert "Nothing to delete" in make("delete-cluster", env=stubs).stdout


def test_two_node_cluster_uses_its_config(stubs: dict[str, str]) -> None:
    assert make("create-cluster-two-nodes", env=stubs).returncode == 0
    assert "kind create cluster --name kube-course --config clusters/two-nodes.yaml --wait 120s" \
        in calls(stubs)


def test_deploy_applies_the_kustomization(stubs: dict[str, str]) -> None:
    r = make("deploy", env=stubs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"kubectl --context {CONTEXT} apply -k lessons" in calls(stubs)


def test_load_images_needs_the_cluster(stubs: dict[str, str]) -> None:
    r = make("load-images", "CONTAINER_ENGINE=podman", env=stubs)
    assert r.returncode != 0
    assert "✖ There is no kind cluster called kube-course." in r.stdout


@pytest.fixture
def test_images(tmp_path: Path):
    """Two tiny real images in podman, under test names (never the course's own images)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed here")
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "hello.txt").write_text("hello\n")
    archive = tmp_path / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs / "hello.txt", arcname="hello.txt")
    names = [f"kube-course-test-{app}:0.1.0" for app in ("echo", "relay")]
    for name in names:
        subprocess.run(["podman", "import", str(archive), name], check=True,
                       capture_output=True, timeout=120)
    yield names
    subprocess.run(["podman", "rmi", "-f", *names, *(f"docker.io/library/{n}" for n in names)],
                   capture_output=True, timeout=120)


def test_load_images_falls_back_to_an_archive(stubs: dict[str, str], test_images) -> None:
    echo, relay = test_images
    Path(stubs["STUB_STATE"]).write_text("kube-course-control-plane\n")
    r = make("load-images", "CONTAINER_ENGINE=podman", f"ECHO_IMAGE={echo}",
             f"RELAY_IMAGE={relay}", env=stubs, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    log = calls(stubs)
    for image in (echo, relay):
        assert f"kind load docker-image docker.io/library/{image} --name kube-course" in log
        assert f"✔ {image} is in the cluster." in r.stdout
        # podman says localhost/NAME; the node looks for docker.io/library/NAME.
        assert any(f'"docker.io/library/{image}"' in line for line in log if line.startswith("[{")), \
            f"the archive kind got does not hold docker.io/library/{image}"
    assert sum(c.startswith("kind load image-archive") for c in log) == 2
    assert r.stdout.count("Trying again") == 2


def test_load_images_says_which_image_is_missing(stubs: dict[str, str]) -> None:
    Path(stubs["STUB_STATE"]).write_text("kube-course-control-plane\n")
    r = make("load-images", "CONTAINER_ENGINE=podman",
             "ECHO_IMAGE=kube-course-test-absent:0.1.0", env=stubs)
    assert r.returncode != 0
    assert "✖ The image kube-course-test-absent:0.1.0 is not on your laptop." in r.stdout
    assert not any(c.startswith("kind load") for c in calls(stubs))


@pytest.mark.parametrize("engine, loaded", [
    ("docker", "local-echo-server:0.1.0"),
    ("podman", "docker.io/library/local-echo-server:0.1.0"),
])
def test_the_node_gets_the_name_the_pod_asks_for(engine: str, loaded: str) -> None:
    """The pod asks for local-echo-server:0.1.0, which the node reads as docker.io/library/...
    podman would send localhost/local-echo-server:0.1.0, so the recipe renames it first."""
    script = make("-n", "load-echo-image", f"CONTAINER_ENGINE={engine}").stdout
    assert f"load docker-image {loaded} --name kube-course" in script
    assert ("docker.io/library/" in script) == (engine == "podman")

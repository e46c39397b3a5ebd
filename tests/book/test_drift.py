"""No drift: commands, paths, manifests, images, ports, includes and contexts in the text are real."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from bookkit import REPO, fail_with
from drift import Contract, PageCheck, check_pages, contract_from_repo, make_targets
from mdblocks import page_files


@pytest.fixture(scope="module")
def contract() -> Contract:
    return contract_from_repo(REPO)


def test_the_text_matches_the_repository(contract: Contract) -> None:
    pages = page_files(REPO) + [REPO / "README.md"]
    findings, counts = check_pages(pages, contract)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.seen.items()))
    print(f"Drift check: {len(pages)} pages, {summary}.")
    fail_with(f"{len(findings)} places where the text and the repository differ (file:line: what):",
              findings)
    assert counts.seen["make targets"] > 0 and counts.seen["includes"] > 0, counts.seen


def test_the_contract_is_read_from_the_repository(contract: Contract) -> None:
    assert contract.images == {"local-echo-server": "0.1.0", "local-relay-server": "0.1.0",
                               "local-k8s-tools": "0.1.0"}
    assert {"help", "book", "serve-book", "test"} <= make_targets(REPO)
    assert (contract.app_port, contract.published) == (8080, {8081, 8082})


def test_architecture_and_makefile_agree(contract: Contract) -> None:
    """The names the drift check trusts are the ones the Makefile really uses."""
    makefiles = (REPO / "Makefile").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in sorted((REPO / "make").glob("*.mk")))
    # make reads VERSION from Cargo.toml: ask make itself, and Cargo.toml.
    version = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                              "print-version: ; @echo $(VERSION)", "print-version"],
                             cwd=REPO, capture_output=True, text=True, timeout=60).stdout.strip()
    cargo = tomllib.loads((REPO / "Cargo.toml").read_text(encoding="utf-8"))
    assert version == cargo["workspace"]["package"]["version"], (
        f"✖ make's VERSION is {version!r}, Cargo.toml's workspace version is "
        f"{cargo['workspace']['package']['version']!r}")
    assert set(contract.images.values()) == {version}, (
        f"✖ ARCHITECTURE.md says the images are {contract.images}, the Makefile says VERSION {version}")
    for name in contract.images:
        assert re.search(rf"{name}:\$\(VERSION\)", makefiles), f"✖ the Makefile never builds {name}"
    for port in contract.published:
        assert re.search(rf"HOST_PORT\s*\?=\s*{port}\b", makefiles), (
            f"✖ ARCHITECTURE.md says make run-* publishes {port}, the Makefile does not")


# --- the check can fail: one small wrong page per kind of drift ------------------

@pytest.fixture()
def fake_repo(tmp_path: Path) -> Path:
    """A tiny repository: one lesson with a manifest, a source file with one anchor."""
    (tmp_path / "lessons" / "01-x").mkdir(parents=True)
    (tmp_path / "lessons" / "01-x" / "pod.yaml").write_text("kind: Pod\n", encoding="utf-8")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "main.rs").write_text(
        "// ANCHOR: hello\nfn main() {}\n// ANCHOR_END: hello\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a manifest\n", encoding="utf-8")
    return tmp_path


def drift(repo: Path, text: str) -> list[str]:
    page = repo / "lessons" / "01-x" / "README.md"
    page.write_text(text, encoding="utf-8")
    contract = Contract(repo=repo, make_targets={"help", "run-echo"},
                        images={"local-echo-server": "0.1.0", "local-k8s-tools": "0.1.0"},
                        host_ports={30080})
    counts = type("C", (), {"add": lambda *a: None})()
    return [f.message for f in PageCheck(page, contract, counts).run(text)]


def shell(*lines: str) -> str:
    return "```bash\n" + "\n".join(lines) + "\n```\n"


def test_correct_text_passes(fake_repo: Path) -> None:
    text = ("Run `make run-echo`, then read `apps/main.rs` and [the pod](pod.yaml).\n\n"
            + shell("make run-echo",
                    "kubectl --context kind-kube-course apply -f lessons/01-x/pod.yaml",
                    "docker run -p 8081:8080 local-echo-server:0.1.0",
                    "curl http://localhost:8081/echo?message=hi",
                    "kubectl --context kind-kube-course -n my-space port-forward svc/echo 9000:8080",
                    "curl http://localhost:9000/ http://localhost:30080/",
                    "kind create cluster --name kube-course")
            + "\n{{#include ../../apps/main.rs:hello}}\n")
    assert drift(fake_repo, text) == []


@pytest.mark.parametrize(("text", "expected"), [
    (shell("make no-such-target"), 'no target "no-such-target"'),
    ("Run `make deploy-all` now.\n", 'no target "deploy-all"'),
    ("Open `apps/missing.rs` to see it.\n", '"apps/missing.rs" does not exist'),
    ("See [the page](../02-y/README.md).\n", '"../02-y/README.md" does not exist'),
    (shell("kubectl --context kind-kube-course apply -f lessons/01-x/missing.yaml"), "no such file"),
    (shell("kubectl --context kind-kube-course apply -f notes.txt"), "only manifests under lessons/"),
    (shell("docker run local-echo-server:latest"), "the tag is 0.1.0"),
    (shell("docker run local-echo-srv:0.1.0"), 'the image "local-echo-srv"'),
    (shell("docker run -p 8081:80 local-echo-server:0.1.0"), "listen on port 8080, not 80"),
    (shell("docker run -p 9999:8080 local-echo-server:0.1.0"), "not 9999"),
    (shell("curl http://localhost:7000/"), "nothing listens on port 7000"),
    ("Call `echo.my-space:9090`.\n", "not 9090"),
    ("{{#include ../../apps/main.rs:goodbye}}\n", 'has no "ANCHOR: goodbye"'),
    ("{{#include ../../apps/main.rs:hell}}\n", 'has no "ANCHOR: hell"'),
    ("{{#include ../../apps/gone.rs}}\n", 'the file "../../apps/gone.rs" does not exist'),
    ("{{#include ../../apps/main.rs:10:20}}\n", "has only 3 lines"),
    (shell("kubectl --context kind-other get pods"), 'the context is "kind-other"'),
    (shell("kubectl get pods"), "kubectl without --context"),
    (shell("kubectl --context kind-kube-course -n their-space get pods"), 'namespace "their-space"'),
    (shell("kind delete cluster --name kind"), 'the kind cluster is "kind"'),
])
def test_each_kind_of_drift_is_found(fake_repo: Path, text: str, expected: str) -> None:
    messages = drift(fake_repo, text)
    assert any(expected in m for m in messages), messages

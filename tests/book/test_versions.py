"""No drift in versions: every version the lessons print is one the repository pins.

The pins live in clusters/*.yaml (the kind node image, so the Kubernetes version)
and images/tools/Dockerfile (kubectl and kind). A lesson that shows `v1.36.2`
after an upgrade to v1.37 would confuse a learner, so the text must follow the pins.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bookkit import REPO, fail_with
from mdblocks import page_files

K8S_VERSION = re.compile(r"\bv1\.\d+\.\d+\b")
KIND_VERSION = re.compile(r"\bv0\.\d+\.\d+\b")


def pinned_versions(repo: Path) -> dict[str, str]:
    """The Kubernetes, kubectl and kind versions that the repository pins."""
    nodes = {m for f in sorted((repo / "clusters").glob("*.yaml"))
             for m in re.findall(r"kindest/node:(v[\d.]+)@sha256:", f.read_text(encoding="utf-8"))}
    assert len(nodes) == 1, f"clusters/*.yaml should pin one node image version, found {nodes}"
    tools = (repo / "images" / "tools" / "Dockerfile").read_text(encoding="utf-8")
    arg = lambda name: re.search(rf"^ARG {name}=(v[\d.]+)$", tools, re.MULTILINE).group(1)  # noqa: E731
    return {"kubernetes": nodes.pop(), "kubectl": arg("KUBECTL_VERSION"), "kind": arg("KIND_VERSION")}


def version_findings(path: Path, text: str, pins: dict[str, str]) -> list[str]:
    """file:line: what, for each version in the text that the repository does not pin."""
    findings = []
    k8s_ok = {pins["kubernetes"], pins["kubectl"]}
    for no, line in enumerate(text.splitlines(), 1):
        for v in K8S_VERSION.findall(line):
            if v not in k8s_ok:
                findings.append(f"{path}:{no}: Kubernetes version {v} is not pinned "
                                f"(node image {pins['kubernetes']}, kubectl {pins['kubectl']})")
        for v in KIND_VERSION.findall(line):
            if v != pins["kind"]:
                findings.append(f"{path}:{no}: kind version {v} is not the pinned {pins['kind']}")
    return findings


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    return pinned_versions(REPO)


def test_lessons_show_the_pinned_versions(pins: dict[str, str]) -> None:
    findings = []
    seen = 0
    for page in page_files(REPO):
        text = page.read_text(encoding="utf-8")
        seen += len(K8S_VERSION.findall(text)) + len(KIND_VERSION.findall(text))
        findings += version_findings(page.relative_to(REPO), text, pins)
    print(f"Version check: {seen} versions in the text, pins {pins}.")
    fail_with(f"{len(findings)} versions in the text differ from the pins (file:line: what):", findings)
    assert seen > 0, "the lessons should show the versions a learner will see"


def test_a_stale_version_is_found(pins: dict[str, str]) -> None:
    text = f"Server Version: {pins['kubernetes']}\nkind v0.1.0 go1.13\nClient Version: v1.18.0\n"
    findings = version_findings(Path("page.md"), text, pins)
    assert [f.split(":")[1] for f in findings] == ["2", "3"], findings

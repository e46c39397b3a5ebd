"""What the manifest checks share: the lesson manifests, read once, and ways to walk them.

A "document" is one YAML document of one file in lessons/ (a file may hold several).
The kustomization file is not a Kubernetes object, so it is read on its own.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from testkit import REPO

LESSONS = REPO / "lessons"
CLUSTERS = REPO / "clusters"
KUSTOMIZATION = LESSONS / "kustomization.yaml"

# The newest Kubernetes minor version that kind's current release (v0.33.0) supports,
# and the two before it. test_schemas.py checks that the newest is the kind node image's version.
KUBERNETES_VERSIONS = ("1.35", "1.36", "1.37")

# The app names and their program names (see ARCHITECTURE.md).
APPS = ("echo", "relay")
APP_PORT = 8080


@dataclass(frozen=True)
class Doc:
    path: Path
    index: int
    obj: dict

    @property
    def kind(self) -> str:
        return self.obj.get("kind", "")

    @property
    def name(self) -> str:
        return self.obj.get("metadata", {}).get("name", "")

    def __str__(self) -> str:  # used in test ids and messages
        return f"{self.path.relative_to(REPO)}#{self.index} {self.kind}/{self.name}"


def manifest_files() -> list[Path]:
    """Every YAML file in lessons/ except the kustomization and the built book."""
    return sorted(p for p in LESSONS.rglob("*.yaml")
                  if p != KUSTOMIZATION and "book" not in p.relative_to(LESSONS).parts)


def read_docs(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as f:
        objs = [o for o in yaml.safe_load_all(f) if o is not None]
    return [Doc(path, i, o) for i, o in enumerate(objs)]


def all_docs() -> list[Doc]:
    return [d for p in manifest_files() for d in read_docs(p)]


def pod_spec(doc: Doc) -> dict | None:
    """The pod spec of a Pod, or the pod template's spec of a workload; None for other kinds."""
    if doc.kind == "Pod":
        return doc.obj["spec"]
    template = doc.obj.get("spec", {}).get("template")
    return template["spec"] if template else None


def pod_labels(doc: Doc) -> dict:
    if doc.kind == "Pod":
        return doc.obj["metadata"].get("labels", {})
    return doc.obj["spec"]["template"]["metadata"].get("labels", {})


def workload_docs() -> list[Doc]:
    """Every document that makes pods (a Pod or a pod template)."""
    return [d for d in all_docs() if pod_spec(d) is not None]


def containers(doc: Doc) -> list[dict]:
    spec = pod_spec(doc)
    return spec.get("containers", []) + spec.get("initContainers", [])


def app_of_image(image: str) -> str:
    """local-echo-server:0.1.0 -> echo."""
    m = re.fullmatch(r"local-(\w+)-server:[\w.-]+", image)
    assert m, f"{image} is not one of the course's app images"
    return m.group(1)


def kustomization() -> dict:
    return yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))


def ids(docs: list[Doc]) -> list[str]:
    return [str(d) for d in docs]


@functools.cache
def make_var(name: str) -> str:
    """The value of a variable of the real Makefile, as make sees it."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                          f"print-var: ; @echo $({name})", "print-var"],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()



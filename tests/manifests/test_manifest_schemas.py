"""Every manifest against the official Kubernetes OpenAPI schemas, strictly.

kubernetes-validate ships the JSON schemas made from Kubernetes' own OpenAPI documents.
Its "strict" schemas refuse any field the API does not know, so a misspelled field fails.
A missing schema (unknown kind or apiVersion) fails too: nothing passes without a check.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml
from kube_files import (CLUSTERS, KUBERNETES_VERSIONS, LESSONS, REPO, Doc, all_docs, ids,
                      kustomization, manifest_files, read_docs)

DOCS = all_docs()

# The schema files are large and the same for many documents: read each one once.
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate.utils.schema_contents)


def validate(obj: dict, version: str) -> str:
    """Validate strictly; return the schema version used. Raises on any problem."""
    return kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_manifest_is_valid_for_kubernetes(doc: Doc, version: str) -> None:
    try:
        used = validate(doc.obj, version)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path)
        pytest.fail(f"✖ {doc} is not valid for Kubernetes {version}: {where}: {e.message}")
    except kubernetes_validate.SchemaNotFoundError as e:
        pytest.fail(f"✖ {doc}: {e.message}")
    assert used == version, f"checked against {used}, wanted {version}"


def test_validated_versions_are_the_kind_node_image_and_the_two_before() -> None:
    """The newest version checked is the one of the pinned kind node image."""
    minors = set()
    for config in CLUSTERS.glob("*.yaml"):
        for node in yaml.safe_load(config.read_text())["nodes"]:
            m = re.match(r"kindest/node:v(\d+)\.(\d+)\.\d+@", node["image"])
            assert m, f"{config.name}: {node['image']} is not a pinned kindest/node image"
            minors.add((int(m.group(1)), int(m.group(2))))
    assert len(minors) == 1, f"the cluster configs use different Kubernetes versions: {minors}"
    major, minor = minors.pop()
    assert KUBERNETES_VERSIONS == tuple(f"{major}.{m}" for m in (minor - 2, minor - 1, minor))


# ---- the checks can fail --------------------------------------------------------------------

def _echo_deployment() -> dict:
    path = LESSONS / "09-controller-manager" / "echo-deployment.yaml"
    return copy.deepcopy(read_docs(path)[0].obj)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_a_misspelled_field_fails(version: str) -> None:
    broken = _echo_deployment()
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicyy"] = container.pop("imagePullPolicy")
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolicyy"):
        validate(broken, version)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_a_wrong_type_fails(version: str) -> None:
    broken = _echo_deployment()
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, version)


def test_an_unknown_kind_fails() -> None:
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate({"apiVersion": "apps/v1", "kind": "Deploymnt", "metadata": {"name": "x"}}, "1.37")


# ---- the kustomization --------------------------------------------------------------------------

def test_kustomization_lists_existing_files_only() -> None:
    k = kustomization()
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert k["kind"] == "Kustomization"
    allowed = {"apiVersion", "kind", "resources"}
    assert set(k) <= allowed, f"fields this check does not understand: {set(k) - allowed}"
    for res in k["resources"]:
        assert (LESSONS / res).is_file(), f"✖ kustomization.yaml lists {res}, which does not exist"
    assert len(set(k["resources"])) == len(k["resources"]), "a file is listed twice"


# Files a lesson applies as one of its steps; the app starts without them.
LESSON_STEPS = {"08-scheduler/pod.yaml", "15-configuration/relay-config.yaml",
                "16-access/relay-access.yaml"}


def test_kustomization_holds_the_whole_app_but_not_the_lesson_steps() -> None:
    listed = {LESSONS / r for r in kustomization()["resources"]}
    steps = {LESSONS / s for s in LESSON_STEPS}
    assert not listed & steps, "a file that a lesson applies as a step is not part of the app"
    assert listed == set(manifest_files()) - steps, "a manifest is missing from the app"
    kinds = {(d.kind, d.name) for p in listed for d in read_docs(p)}
    for wanted in [("Namespace", "my-space"), ("Deployment", "echo"), ("Service", "echo"),
                   ("Deployment", "relay"), ("Service", "relay"),
                   ("PodDisruptionBudget", "echo"), ("PodDisruptionBudget", "relay")]:
        assert wanted in kinds, f"the app lacks {wanted[0]}/{wanted[1]}"


def test_kustomization_builds_with_kubectl() -> None:
    """The real build, with the kustomize inside kubectl, gives the same objects."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed here; the file checks above still ran")
    out = subprocess.run([kubectl, "kustomize", str(LESSONS)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"✖ kubectl kustomize failed: {out.stderr}"
    built = [o for o in yaml.safe_load_all(out.stdout) if o]
    expected = [d.obj for r in kustomization()["resources"] for d in read_docs(LESSONS / r)]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(built, key=key) == sorted(expected, key=key)
    assert built[0]["kind"] == "Namespace", "the namespace must come first"
    for obj in built:
        for version in KUBERNETES_VERSIONS:
            validate(obj, version)

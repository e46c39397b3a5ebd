"""The e2e workflow and scripts/e2e.sh: what can be checked without a cluster.

The real-cluster test itself cannot run on the course build machines (no kind, no image pulls).
What every workflow must follow is checked in test_workflows.py.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from script_tools import NO_KIND, REPO, load_workflow, long_sentences, make, workflow_run_blocks, workflow_steps

WORKFLOW = REPO / ".github" / "workflows" / "e2e.yml"
E2E = REPO / "scripts" / "e2e.sh"


steps = workflow_steps
run_blocks = workflow_run_blocks


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load_workflow(WORKFLOW)


def test_workflow_runs_make_e2e_and_cleans_up(workflow):
    blocks = run_blocks(workflow)
    assert any(re.search(r"^make e2e$", b, re.M) for b in blocks)
    cleanup = [s for s in steps(workflow) if s.get("run", "").strip() == "make demo-down"]
    assert cleanup and cleanup[0].get("if") == "always()"


def test_the_workflow_makes_e2e_and_demo_down(workflow):
    targets = {t for b in run_blocks(workflow) for t in re.findall(r"^make ([\w-]+)", b, re.M)}
    assert targets >= {"e2e", "demo-down"}


def test_every_script_the_make_targets_run_exists():
    text = (REPO / "make" / "demo.mk").read_text() + "\n".join(run_blocks(load_workflow(WORKFLOW)))
    scripts = set(re.findall(r"\b(scripts/[\w.-]+)", text))
    assert {"scripts/demo.sh", "scripts/e2e.sh"} <= scripts
    for script in scripts:
        assert (REPO / script).is_file(), f"{script} is referenced but missing"


def test_kind_and_kubectl_versions_match_the_cluster_configs(workflow):
    configs = "\n".join(p.read_text() for p in sorted((REPO / "clusters").glob("*.yaml")))
    kind_versions = set(re.findall(r"\bkind (v\d+\.\d+\.\d+)", configs))
    node_versions = set(re.findall(r"kindest/node:(v\d+\.\d+\.\d+)", configs))
    assert len(kind_versions) == 1, f"clusters/ should name one kind version, not {kind_versions}"
    assert len(node_versions) == 1, f"clusters/ should use one node image version, not {node_versions}"
    env = workflow["env"]
    assert env["KIND_VERSION"] == kind_versions.pop()
    assert env["KUBECTL_VERSION"] == node_versions.pop()
    kind_step = next(s for s in steps(workflow) if s.get("uses", "").startswith("helm/kind-action@"))
    assert kind_step["with"]["version"] == "${{ env.KIND_VERSION }}"
    assert kind_step["with"]["install_only"] is True, "make e2e creates the cluster itself"


def test_e2e_says_where_it_cannot_run():
    head = "\n".join(E2E.read_text().splitlines()[:10])
    assert "cannot run on the course build machines" in head


def test_e2e_covers_every_check_of_the_issue():
    text = E2E.read_text()
    for needle in ("endpointslices", "restartCount", "rollout restart deploy/echo",
                   "create-cluster-two-nodes", "Echo host: ", "kc delete pod"):
        assert needle in text, f"scripts/e2e.sh lacks {needle!r}"


@pytest.mark.timeout(60)
def test_make_e2e_without_kind_says_so_and_fails():
    done = make("e2e", timeout=50, KIND=NO_KIND)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Step 1 of 10: Check the tools" in out
    assert "This machine lacks:" in out
    assert "kind. Get it: https://kind.sigs.k8s.io/" in out
    assert "✖ Nothing was tested." in out
    assert "Traceback" not in out and "line " not in out
    assert not long_sentences(done.stdout)


@pytest.mark.timeout(60)
def test_e2e_runs_from_the_scripts_folder_too():
    """`cd scripts && bash e2e.sh` finds demo.sh and lib.sh: it works from the repository root."""
    env = {**os.environ, "KIND": NO_KIND}
    done = subprocess.run(["bash", "e2e.sh"], cwd=REPO / "scripts", env=env, capture_output=True, text=True,
                          timeout=50)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "No such file" not in done.stderr, done.stderr
    assert "Step 1 of 10: Check the tools" in done.stdout
    assert "✖ Nothing was tested." in done.stdout

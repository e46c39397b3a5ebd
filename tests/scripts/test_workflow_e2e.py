"""The GitHub Actions workflow and scripts/e2e.sh: what can be checked without a cluster.

The real-cluster test itself cannot run on the course build machines (no kind, no image pulls).
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from script_tools import NO_KIND, REPO, long_sentences, make

WORKFLOW = REPO / ".github" / "workflows" / "e2e.yml"
E2E = REPO / "scripts" / "e2e.sh"


@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict), "the workflow is not a YAML mapping"
    return data


def steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def run_blocks(workflow: dict) -> list[str]:
    return [s["run"] for s in steps(workflow) if "run" in s]


def test_workflow_shape(workflow):
    # YAML 1.1 reads the key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert {"push", "pull_request"} <= set(triggers)
    for name, job in workflow["jobs"].items():
        assert job["runs-on"].startswith("ubuntu-"), name
        assert 0 < job["timeout-minutes"] <= 60, f"{name}: bound the job's time"
        for step in job["steps"]:
            assert "name" in step, f"{name}: every step has a name in plain words"
            assert ("uses" in step) != ("run" in step), step


def test_actions_are_pinned_by_version_tag(workflow):
    uses = [s["uses"] for s in steps(workflow) if "uses" in s]
    assert uses, "the workflow uses no action"
    for use in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", use), f"{use}: pin a full version tag"


def test_workflow_runs_make_e2e_and_cleans_up(workflow):
    blocks = run_blocks(workflow)
    assert any(re.search(r"^make e2e$", b, re.M) for b in blocks)
    cleanup = [s for s in steps(workflow) if s.get("run", "").strip() == "make demo-down"]
    assert cleanup and cleanup[0].get("if") == "always()"


def test_every_make_target_in_the_workflow_exists(workflow):
    targets = {t for b in run_blocks(workflow) for t in re.findall(r"^make ([\w-]+)", b, re.M)}
    assert targets >= {"e2e", "demo-down"}
    for target in sorted(targets):
        dry = make("-n", target, timeout=60)
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"


def test_every_script_the_make_targets_run_exists():
    text = (REPO / "make" / "demo.mk").read_text() + "\n".join(run_blocks(yaml.safe_load(WORKFLOW.read_text())))
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


def test_workflow_shell_passes_shellcheck(workflow, shellcheck, tmp_path):
    for i, block in enumerate(run_blocks(workflow)):
        assert "${{" not in block, "pass expressions through env:, not into the shell text"
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + block)
        done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, block + done.stdout


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
    assert "Step 1 of 9: Check the tools" in out
    assert "This machine lacks: kind" in out
    assert "✖ Nothing was tested." in out
    assert "Traceback" not in out and "line " not in out
    assert not long_sentences(done.stdout)

"""What every GitHub Actions workflow in .github/workflows/ must follow."""

from __future__ import annotations

import re
import subprocess

import pytest

from script_tools import REPO, load_workflow, make, workflow_run_blocks, workflow_steps

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


@pytest.fixture(params=WORKFLOWS, ids=lambda p: p.name)
def workflow(request) -> dict:
    return load_workflow(request.param)


def test_the_workflows_are_there():
    assert {"e2e.yml", "book.yml"} <= {p.name for p in WORKFLOWS}


def test_workflow_shape(workflow):
    """Runs on pushes and pull requests; every job is bounded; every step has a name."""
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
    uses = [s["uses"] for s in workflow_steps(workflow) if "uses" in s]
    assert uses, "the workflow uses no action"
    for use in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", use), f"{use}: pin a full version tag"


def test_workflow_shell_passes_shellcheck(workflow, shellcheck, tmp_path):
    for i, block in enumerate(workflow_run_blocks(workflow)):
        assert "${{" not in block, "pass expressions through env:, not into the shell text"
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + block)
        done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, block + done.stdout


def test_every_make_target_in_a_workflow_exists(workflow):
    targets = {t for b in workflow_run_blocks(workflow) for t in re.findall(r"^make ([\w-]+)", b, re.M)}
    assert targets, "the workflow runs no make target"
    for target in sorted(targets):
        dry = make("-n", target, timeout=60)
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"

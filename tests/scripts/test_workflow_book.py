"""The book-site workflow (.github/workflows/book.yml): build with the pinned mdbook, upload, deploy.

It cannot run here (no GitHub, no downloads). These checks read it the way GitHub will, and check
that its pins and its build step (make book) agree with the rest of the repository.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from script_tools import REPO, load_workflow, make, workflow_run_blocks

WORKFLOW = REPO / ".github" / "workflows" / "book.yml"
SITE = "https://kube-for-the-dyslexic.github.io/kube-for-the-dyslexic/"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load_workflow(WORKFLOW)


def arg_default(path, name: str) -> str:
    m = re.search(rf"^ARG {name}=(\S+)$", path.read_text(), re.M)
    assert m, f"{path} has no ARG {name}=..."
    return m.group(1)


def test_mdbook_is_the_version_the_tools_image_and_the_tests_pin(workflow):
    version = workflow["env"]["MDBOOK_VERSION"]
    assert version == arg_default(REPO / "images" / "tools" / "Dockerfile", "MDBOOK_VERSION")
    setup = (REPO / "scripts" / "setup-test-tools.sh").read_text()
    assert f"install_cargo_tool mdbook {version.removeprefix('v')} mdbook" in setup
    sums = (REPO / "images" / "tools" / "SHA256SUMS").read_text()
    assert f"  mdbook-{version}-amd64\n" in sums, "the runner's download needs its checksum"


def test_the_install_step_checks_the_download_with_fetch_sh(workflow):
    block = next(b for b in workflow_run_blocks(workflow) if "mdbook" in b and "fetch.sh" in b)
    assert 'sh images/tools/fetch.sh mdbook "$MDBOOK_VERSION" amd64 "$url" mdbook.tgz' in block
    assert "x86_64-unknown-linux-musl.tar.gz" in block
    assert "curl" not in block and "wget" not in block, "every download goes through fetch.sh"


def test_build_upload_deploy(workflow):
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [s.get("run", "").strip() for s in build["steps"]]
    assert "make book" in runs
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    out = re.search(r"^BOOK_OUT := \$\(BOOK_DIR\)/(\S+)$", (REPO / "make" / "book.mk").read_text(), re.M)
    assert upload["with"]["path"] == f"lessons/{out.group(1)}", "upload what make book writes"
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"], "pull requests never deploy"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert workflow["permissions"] == {"contents": "read"}, "only the deploy job may write"
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_make_book_is_the_build_step():
    dry = make("-n", "book", timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "mdbook build lessons" in dry.stdout


def test_the_readme_links_to_the_site_in_its_first_lines():
    head = "\n".join((REPO / "README.md").read_text().splitlines()[:8])
    assert SITE in head
    assert SITE in WORKFLOW.read_text()

"""Spelling: zero findings from typos over the course text and the apps."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bookkit import REPO, tool

CHECKED = ["lessons", "README.md", "ARCHITECTURE.md", "apps"]


def typos(*paths: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("typos"), "--format", "brief", "--", *paths],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_no_spelling_mistakes() -> None:
    result = typos(*CHECKED)
    assert result.returncode == 0, (
        "✖ typos found spelling mistakes (file:line:column: the word and the fix).\n"
        "  Fix the word, or add it to _typos.toml with a reason if it is right:\n"
        + result.stdout + result.stderr)


def test_a_typo_is_found(tmp_path: Path) -> None:
    """The spelling check can fail: the seed course's own typo is caught."""
    page = tmp_path / "page.md"
    page.write_text("This is a series of demos to show how Kuberntes works.\n", encoding="utf-8")
    result = typos(str(page), cwd=tmp_path)
    assert result.returncode != 0 and "Kubernetes" in result.stdout, result.stdout

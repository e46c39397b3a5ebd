"""Markdown lint (pymarkdown, rules like markdownlint's) over the course pages.

The config is .pymarkdown.json at the top of the repository. Two rules are off:
- MD013 (line length): style.py counts words per sentence instead.
- MD029 (list numbers): a step list may pause for an {{#include}} block, which mdBook
  cannot indent, and go on with "2." after it. style.py still counts the steps.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bookkit import REPO, tool
from mdblocks import page_files

HINTS = {
    "MD001": "a heading level was skipped: go from # to ##, then ###",
    "MD038": "a code span starts or ends with a space: remove the space",
    "MD040": "a code block needs a language after ```, for example ```bash or ```text",
}


def pymarkdown(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("pymarkdown"), "--config", str(REPO / ".pymarkdown.json"), "scan",
                           *map(str, files)], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_pages_pass_markdown_lint() -> None:
    result = pymarkdown(*page_files(REPO), REPO / "README.md")
    hints = sorted({f"  {rule}: {hint}" for rule, hint in HINTS.items() if rule in result.stdout})
    assert result.returncode == 0, (
        "✖ Markdown lint found problems (file:line:column: rule):\n" + result.stdout + result.stderr
        + ("\nWhat to do:\n" + "\n".join(hints) if hints else ""))


def test_markdown_lint_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n### Skipped a level\n\nText.\n", encoding="utf-8")
    result = pymarkdown(page)
    assert result.returncode != 0 and "MD001" in result.stdout, result.stdout

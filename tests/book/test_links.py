"""Every link and every #anchor inside the built book leads somewhere (lychee, offline)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bookkit import tool

# mdBook writes README.md as index.html but links to it as README.html.
# book.toml adds redirect pages for that; here lychee checks the real target and its #anchor.
REMAP = r"/README\.html(#|$) /index.html$1"


def lychee(html_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("lychee"), "--offline", "--include-fragments", "--no-progress",
         "--format", "compact", "--root-dir", str(html_dir), "--remap", REMAP, "--", "**/*.html"],
        cwd=html_dir, capture_output=True, text=True, timeout=120)


def test_every_link_and_anchor_resolves(book_html: Path) -> None:
    result = lychee(book_html)
    assert result.returncode == 0, (
        "✖ Some links in the built book lead nowhere. Each line names the page, then the link:\n"
        + result.stdout + result.stderr)


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    """The link check can fail: a missing page and a missing #anchor are both found."""
    (tmp_path / "a.html").write_text(
        '<h1 id="top">A</h1><a href="b.html">b</a> <a href="a.html#nowhere">x</a>', encoding="utf-8")
    result = lychee(tmp_path)
    assert result.returncode != 0
    assert "b.html" in result.stdout and "nowhere" in result.stdout, result.stdout

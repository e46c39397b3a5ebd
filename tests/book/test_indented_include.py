"""An {{#include}} inside a numbered step keeps the step whole (scripts/book-indented-include.py)."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

from bookkit import REPO, build_book

SCRIPT = REPO / "scripts" / "book-indented-include.py"
_spec = importlib.util.spec_from_file_location("indented_include", SCRIPT)
include = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(include)

FILE = "a: 1\n# ANCHOR: two\nb: 2\n# ANCHOR: inner\nc: 3\n# ANCHOR_END: inner\n# ANCHOR_END: two\nd: 4\n"


def test_lines_are_picked_like_mdbook() -> None:
    assert include.pick_lines(FILE, "two") == "b: 2\nc: 3"
    assert include.pick_lines(FILE, "2:3") == "# ANCHOR: two\nb: 2"
    assert include.pick_lines(FILE, "8") == "d: 4"
    assert include.pick_lines(FILE, None) == FILE.rstrip("\n")
    with pytest.raises(ValueError):
        include.pick_lines(FILE, "missing")


def test_each_included_line_gets_the_indent(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FILE, encoding="utf-8")
    page = "1. Step\n\n   ```yaml\n   {{#include f.yaml:two}}\n   ```\n\n{{#include f.yaml:two}}\n"
    out = include.expand(page, tmp_path)
    assert "   ```yaml\n   b: 2\n   c: 3\n   ```" in out
    assert out.endswith("{{#include f.yaml:two}}\n"), "an include at the margin is mdBook's"


def test_a_step_with_a_folded_file_stays_one_list(tmp_path: Path) -> None:
    """A real mdbook build of a small book that uses the preprocessor like lessons/book.toml."""
    src = tmp_path / "book"
    (src / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, src / "scripts" / SCRIPT.name)
    (src / "pages").mkdir()
    (src / "pages" / "f.yaml").write_text(FILE, encoding="utf-8")
    (src / "pages" / "SUMMARY.md").write_text("# Summary\n\n- [Page](page.md)\n", encoding="utf-8")
    (src / "pages" / "page.md").write_text(
        "# Page\n\n1. One\n\n   <details>\n   <summary>f.yaml</summary>\n\n   ```yaml\n"
        "   {{#include f.yaml}}\n   ```\n\n   </details>\n\n2. Two\n", encoding="utf-8")
    (src / "book.toml").write_text(
        '[book]\nsrc = "pages"\n\n[preprocessor.indented-include]\n'
        f'command = "python3 scripts/{SCRIPT.name}"\nbefore = ["links"]\n', encoding="utf-8")
    build = build_book(src, tmp_path / "html")
    assert build.returncode == 0 and "WARN" not in build.log, build.log
    html = (tmp_path / "html" / "page.html").read_text(encoding="utf-8")
    main = html[html.index("<main>"):html.index("</main>")]
    assert len(re.findall(r"<ol\b", main)) == 1, "the numbered list restarted"
    assert "d: 4" in main and main.index("</details>") < main.index("Two")


def test_the_book_uses_it() -> None:
    config = (REPO / "lessons" / "book.toml").read_text(encoding="utf-8")
    assert f"../scripts/{SCRIPT.name}" in config and 'before = ["links"]' in config


def test_the_src_folder_is_read_without_tomllib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python before 3.11 has no tomllib: book.toml's [book] src is still found."""
    (tmp_path / "book.toml").write_text('[book]\ntitle = "x"\nsrc = "pages"\n\n[build]\nsrc = "no"\n',
                                        encoding="utf-8")
    assert include.source_dir(tmp_path) == tmp_path / "pages"
    monkeypatch.setitem(__import__("sys").modules, "tomllib", None)
    assert include.source_dir(tmp_path) == tmp_path / "pages"
    (tmp_path / "book.toml").write_text('[book]\ntitle = "x"\n', encoding="utf-8")
    assert include.source_dir(tmp_path) == tmp_path / "src"

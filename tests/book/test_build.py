"""The book builds with no warnings, and its table of contents is the course."""

from __future__ import annotations

import re
from pathlib import Path

from bookkit import REPO, Build, build_book

LESSONS = [
    ("01-tools", "1. Your tools"),
    ("02-apps", "2. The two apps"),
    ("03-images", "3. Images"),
    ("04-containers", "4. Containers"),
    ("05-cluster", "5. A cluster with kind"),
    ("06-apiserver", "6. kube-apiserver"),
    ("07-etcd", "7. etcd"),
    ("08-scheduler", "8. kube-scheduler"),
    ("09-controller-manager", "9. kube-controller-manager"),
    ("10-services-dns", "10. Services and DNS"),
    ("11-probes", "11. Probes"),
    ("12-rolling-updates", "12. Rolling updates and graceful shutdown"),
    ("13-node", "13. The node"),
    ("14-logs", "14. Logs and debugging"),
    ("15-configuration", "15. Configuration"),
    ("16-access", "16. Who may do what"),
    ("17-clean-up", "17. Clean up and next steps"),
]
SUMMARY_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def problems(log: str) -> list[str]:
    """The lines of mdbook's output that warn or report an error."""
    return [line for line in log.splitlines() if re.search(r"\b(WARN|WARNING|ERROR)\b", line)]


def summary_entries() -> list[tuple[str, str]]:
    text = (REPO / "lessons" / "SUMMARY.md").read_text(encoding="utf-8")
    return [(m.group(1), m.group(2)) for m in SUMMARY_LINK.finditer(text)]


def test_book_builds_without_warnings(built_book: Build) -> None:
    found = problems(built_book.log)
    assert built_book.returncode == 0 and not found, (
        "✖ mdbook build must finish with no warning and no error. It printed:\n"
        + "\n".join(found or built_book.log.splitlines()))


def test_summary_lists_every_lesson_in_order() -> None:
    entries = summary_entries()
    expected = [(title, f"{folder}/README.md") for folder, title in LESSONS]
    lessons = [e for e in entries if re.match(r"\d\d-", e[1])]
    assert lessons == expected, (
        "✖ lessons/SUMMARY.md must list the 17 lessons in order, with these titles:\n"
        + "\n".join(f"  [{t}]({p})" for t, p in expected))
    assert entries[0] == ("Start here", "README.md"), "✖ the book starts with lessons/README.md"
    assert entries[-1] == ("Glossary", "glossary.md"), "✖ the book ends with the glossary"


def test_each_page_title_matches_the_summary() -> None:
    wrong = []
    for title, path in summary_entries():
        page = REPO / "lessons" / path
        first = next((line for line in page.read_text(encoding="utf-8").splitlines()
                      if line.startswith("# ")), "")
        if title != "Start here" and first != f"# {title}":
            wrong.append(f"  lessons/{path}:1: the title is {first!r}, SUMMARY.md says '# {title}'")
    assert not wrong, "✖ Page titles differ from SUMMARY.md:\n" + "\n".join(wrong)


def test_every_page_is_in_the_built_book(book_html: Path) -> None:
    missing = []
    for _, path in summary_entries():
        html = book_html / re.sub(r"(README)?\.md$", lambda m: "index.html" if m.group(1) else ".html", path)
        if not html.is_file():
            missing.append(f"  {path} -> {html.relative_to(book_html)}")
    assert not missing, "✖ These pages are missing from the built book:\n" + "\n".join(missing)


def test_a_broken_include_is_reported(tmp_path: Path) -> None:
    """The warning check can fail: a book with a missing include must warn."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "book.toml").write_text('[book]\ntitle = "t"\nsrc = "."\n', encoding="utf-8")
    (src / "SUMMARY.md").write_text("# Summary\n\n- [Page](page.md)\n", encoding="utf-8")
    (src / "page.md").write_text("# Page\n\n{{#include no-such-file.txt}}\n", encoding="utf-8")
    build = build_book(src, tmp_path / "out")
    assert problems(build.log), f"a missing include went unnoticed:\n{build.log}"


STEP_PAGE = """# Page

1. Step one.

   ```text,file
   {{#include f.txt}}
   ```

2. Step two.

   <details>
   <summary>The whole file</summary>

   ```text,file
   {{#include f.txt}}
   ```

   </details>

3. Step three.
"""


def tiny_book(tmp_path: Path, with_preprocessor: bool) -> str:
    """Build a one-page book whose steps include a file; return the page's HTML."""
    src = tmp_path / ("with" if with_preprocessor else "without")
    (src / "theme").mkdir(parents=True)
    config = (REPO / "lessons" / "book.toml").read_text(encoding="utf-8")
    keep = config[config.index("[preprocessor.mark-includes]"):] if with_preprocessor else ""
    (src / "book.toml").write_text(f'[book]\ntitle = "t"\nsrc = "."\n\n{keep}', encoding="utf-8")
    (src / "theme" / "indent-includes.sh").write_bytes(
        (REPO / "lessons" / "theme" / "indent-includes.sh").read_bytes())
    (src / "SUMMARY.md").write_text("# Summary\n\n- [Page](page.md)\n", encoding="utf-8")
    (src / "page.md").write_text(STEP_PAGE, encoding="utf-8")
    (src / "f.txt").write_text("# ANCHOR: top\nline one\nline two\n# ANCHOR_END: top\n"
                               "\nline four\n", encoding="utf-8")
    built = build_book(src, tmp_path / f"out-{src.name}")
    assert built.returncode == 0, built.log
    return (built.out / "page.html").read_text(encoding="utf-8")


def main_of(html: str) -> str:
    return html[html.index("<main>"):html.index("</main>")]


def test_an_include_inside_a_step_keeps_the_list(tmp_path: Path) -> None:
    page = main_of(tiny_book(tmp_path, with_preprocessor=True))
    assert page.count("<ol") == 1 and page.count("<li>") == 3, page
    assert page.count("line one\nline two\n\nline four") == 2, page
    assert "ANCHOR" not in page, "a whole-file include shows no anchor comment"
    # Without theme/indent-includes.sh the list breaks after the first include.
    broken = main_of(tiny_book(tmp_path, with_preprocessor=False))
    assert broken.count("<ol") > 1, broken


def test_steps_are_one_numbered_list_in_the_built_book(book_html: Path) -> None:
    """Rule 13a, as the reader sees it: the Steps section is one <ol>, never restarted."""
    wrong = []
    for folder, _ in LESSONS:
        html = (book_html / folder / "index.html").read_text(encoding="utf-8")
        m = re.search(r'<h2 id="steps">.*?(?=<h2 )', html, re.DOTALL)
        if m is None:
            wrong.append(f"  {folder}: no Steps section")
            continue
        lists = re.findall(r"<ol( start=\"\d+\")?>", m.group(0))
        if len(lists) != 1 or lists[0]:
            wrong.append(f"  {folder}: the steps are {len(lists)} numbered lists")
    assert not wrong, "✖ Steps must be one numbered list in the built book:\n" + "\n".join(wrong)

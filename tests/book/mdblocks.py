"""Read a Markdown page as blocks, with line numbers, for the style lint and the drift check.

This is not a full Markdown parser. It knows what the course pages use:
headings, paragraphs, lists, block quotes, tables, fenced code blocks,
HTML comments and mdBook's {{#include ...}} lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)((?:,[\w+-]*)*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
MDBOOK_DIRECTIVE = re.compile(r"\{\{#[a-z_]+[^}]*\}\}")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


@dataclass
class Block:
    """One piece of a page: kind is heading, para, item, code, table or quote."""

    kind: str
    line: int  # 1-based line number of the first line
    lines: list[str] = field(default_factory=list)
    lang: str = ""  # code blocks: the fence's language
    level: int = 0  # headings: 1 for #, 2 for ##
    number: str = ""  # list items: "1." or "-"
    indent: int = 0  # spaces before the first line (list items: before the marker)
    tags: tuple[str, ...] = ()  # code blocks: the words after the language ("bash,tools")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def read_blocks(text: str) -> list[Block]:
    """Split a page into blocks. Code blocks keep their lines as they are."""
    blocks: list[Block] = []
    current: Block | None = None
    fence: str | None = None
    in_comment = False

    def close() -> None:
        nonlocal current
        if current is not None and current.lines:
            blocks.append(current)
        current = None

    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if fence is not None:  # inside a fenced code block
            stripped = line.strip()
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "":
                fence = None
                current = None  # the code block is already in the list
            else:
                assert current is not None
                current.lines.append(raw)
            continue
        if in_comment:
            if "-->" in line:
                in_comment = False
            continue
        if line.lstrip().startswith("<!--"):
            close()
            in_comment = "-->" not in line
            continue
        m = FENCE.match(line)
        if m:
            close()
            fence = m.group(2)
            tags = tuple(t for t in m.group(4).lower().split(",") if t)
            current = Block("code", no, [], lang=m.group(3).lower(), indent=len(m.group(1)),
                            tags=tags)
            # an empty code block still counts as a block
            blocks.append(current)
            continue
        if not line.strip():
            close()
            continue
        if MDBOOK_DIRECTIVE.fullmatch(line.strip()):
            close()
            blocks.append(Block("include", no, [line.strip()], indent=len(line) - len(line.lstrip())))
            continue
        m = HEADING.match(line)
        if m:
            close()
            blocks.append(Block("heading", no, [m.group(2)], level=len(m.group(1))))
            continue
        if line.lstrip().startswith("|"):
            if current is None or current.kind != "table":
                close()
                current = Block("table", no, indent=len(line) - len(line.lstrip()))
            current.lines.append(line.strip())
            continue
        if line.lstrip().startswith(">"):
            if current is None or current.kind != "quote":
                close()
                current = Block("quote", no, indent=len(line) - len(line.lstrip()))
            current.lines.append(line.lstrip()[1:].strip())
            continue
        m = LIST_ITEM.match(line)
        if m:
            close()
            current = Block("item", no, [m.group(3)], number=m.group(2), indent=len(m.group(1)))
            continue
        if current is not None and current.kind in ("para", "item"):
            current.lines.append(line.strip())
            continue
        close()
        current = Block("para", no, [line.strip()], indent=len(line) - len(line.lstrip()))
    if fence is None:
        close()
    # A code block that never closed still ends the page.
    return [b for b in blocks if b.kind == "code" or b.lines]


def strip_inline(text: str) -> str:
    """Prose without inline code, link targets, images and HTML tags.

    Inline code becomes the single word CODE so that word counts stay fair.
    """
    text = MDBOOK_DIRECTIVE.sub(" ", text)
    text = INLINE_CODE.sub(" CODE ", text)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)  # reference links
    text = re.sub(r"<https?://[^>]+>", " URL ", text)
    text = re.sub(r"https?://\S+", " URL ", text)
    text = re.sub(r"</?[a-zA-Z][^>]*>", " ", text)  # HTML tags
    return text


def inline_code(text: str) -> list[str]:
    """Every `inline code` span of a text, in order."""
    return [m.group(2).strip() for m in INLINE_CODE.finditer(text)]


def page_files(repo: Path) -> list[Path]:
    """Every Markdown page of the book (lessons/), without the built book."""
    lessons = repo / "lessons"
    return sorted(p for p in lessons.rglob("*.md")
                  if "book" not in p.relative_to(lessons).parts[:1])


def lesson_pages(repo: Path) -> list[Path]:
    """Lesson pages only: lessons/NN-name/README.md."""
    return sorted((repo / "lessons").glob("[0-9][0-9]-*/README.md"))

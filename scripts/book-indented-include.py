#!/usr/bin/env python3
"""mdBook preprocessor: an indented {{#include}} keeps its indent on every line.

mdBook's own include puts the file's lines at the left margin, so an include
inside a numbered step ends the list, and the step's fold (<details>) breaks.
This runs before mdBook's "links" preprocessor. For each {{#include FILE}},
{{#include FILE:ANCHOR}} or {{#include FILE:START:END}} that stands alone on an
indented line, it puts the lines there itself, each with that indent.
It picks lines the way mdBook does: an anchor drops the ANCHOR lines inside it.
Includes at the left margin are left to mdBook.

mdBook runs it as: book-indented-include.py supports html, then with
[context, book] as JSON on stdin; it prints the book as JSON on stdout.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

INDENTED_INCLUDE = re.compile(r"^([ \t]+)\{\{#include\s+([^}\s]+)\s*\}\}[ \t]*$", re.MULTILINE)
ANCHOR_START = re.compile(r"ANCHOR:\s*([\w-]+)")
ANCHOR_END = re.compile(r"ANCHOR_END:\s*([\w-]+)")


def pick_lines(text: str, selector: str | None) -> str:
    """The lines mdBook would include for FILE, FILE:ANCHOR or FILE:START:END."""
    lines = text.splitlines()
    if selector is None:
        return "\n".join(lines)
    parts = selector.split(":")
    if all(p.isdigit() or p == "" for p in parts) and len(parts) <= 2:
        start = int(parts[0]) - 1 if parts[0] else 0
        end = int(parts[1]) if len(parts) == 2 and parts[1] else (
            len(lines) if len(parts) == 2 else start + 1)
        return "\n".join(lines[max(start, 0):end])
    picked: list[str] = []
    inside = False
    for line in lines:
        start, end = ANCHOR_START.search(line), ANCHOR_END.search(line)
        if not inside:
            inside = bool(start and start.group(1) == selector)
            continue
        if end and end.group(1) == selector:
            return "\n".join(picked)
        if not (start or end):
            picked.append(line)
    raise ValueError(f"the anchor {selector!r} has no ANCHOR_END")


def expand(content: str, chapter_dir: Path) -> str:
    def one(m: re.Match[str]) -> str:
        indent, target = m.group(1), m.group(2)
        name, _, selector = target.partition(":")
        path = chapter_dir / name
        try:
            picked = pick_lines(path.read_text(encoding="utf-8"), selector or None)
        except (OSError, ValueError) as err:
            print(f"✖ {{{{#include {target}}}}}: {err}", file=sys.stderr)
            return m.group(0)  # leave it to mdBook, which reports it too
        return "\n".join(indent + line if line.strip() else "" for line in picked.split("\n"))

    return INDENTED_INCLUDE.sub(one, content)


def source_dir(root: Path) -> Path:
    """The book's src folder, from book.toml ([book] src, "src" when not set)."""
    text = (root / "book.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11 and later
        src = tomllib.loads(text).get("book", {}).get("src", "src")
    except ImportError:
        book = re.search(r"^\[book\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
        found = re.search(r'^\s*src\s*=\s*"([^"]*)"', book.group(1), re.MULTILINE) if book else None
        src = found.group(1) if found else "src"
    return root / src


def walk(items: list, src: Path) -> None:
    for item in items:
        chapter = item.get("Chapter") if isinstance(item, dict) else None
        if not chapter:
            continue
        if chapter.get("path"):
            chapter["content"] = expand(chapter["content"], (src / chapter["path"]).parent)
        walk(chapter.get("sub_items", []), src)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "supports":
        return 0
    context, book = json.load(sys.stdin)
    walk(book.get("items", book.get("sections", [])), source_dir(Path(context["root"])))
    json.dump(book, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

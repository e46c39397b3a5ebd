"""The glossary keeps up with the lessons: every term a lesson defines has an entry."""

from __future__ import annotations

import re

from bookkit import REPO, fail_with
from mdblocks import lesson_pages

GLOSSARY = REPO / "lessons" / "glossary.md"
# "A **pod** is ...", "- **kind** means ...", "the **back-off**: a wait ..."
DEFINITION = re.compile(
    r"(?:^|[-*]\s+|\b(?:A|An|The|a|an|the)\s+)\*\*([^*`]+)\*\*(?:,[^,]*,)?\s+(?:is|are|means)\b"
    r"|\*\*([^*`]+)\*\*:\s+(?:a|an)\b")


def entries() -> list[str]:
    return re.findall(r"^## (.+)$", GLOSSARY.read_text(encoding="utf-8"), re.MULTILINE)


def has_entry(term: str, names: list[str]) -> bool:
    term = term.lower().strip()
    words = {n.lower() for n in names}
    return any(re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", n)
               for t in (term, term.rstrip("s")) for n in words)


def defined_terms() -> list[tuple[str, int, str]]:
    found = []
    for page in lesson_pages(REPO):
        for no, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            for m in DEFINITION.finditer(line):
                found.append((str(page.relative_to(REPO)), no, (m.group(1) or m.group(2)).strip()))
    return found


def test_every_defined_term_is_in_the_glossary() -> None:
    names = entries()
    missing = [f"{path}:{no}: **{term}**" for path, no, term in defined_terms()
               if not has_entry(term, names)]
    fail_with("These terms are defined in a lesson but missing from lessons/glossary.md.\n"
              "  Add each one with one or two short sentences:", missing)


def test_glossary_is_in_alphabetical_order() -> None:
    names = entries()
    assert names == sorted(names, key=str.lower), (
        "✖ Sort the glossary entries from A to Z:\n  " + ", ".join(sorted(names, key=str.lower)))


def test_the_term_check_can_fail() -> None:
    line = "A **sidecar** is a second container in a pod."
    m = DEFINITION.search(line)
    assert m and m.group(1) == "sidecar"
    assert not has_entry("sidecar", entries())
    assert has_entry("pods", entries()) and has_entry("multi-stage", entries())
    assert not has_entry("age", entries())

"""The glossary keeps up with the lessons: every term a lesson defines has an entry."""

from __future__ import annotations

import re
from pathlib import Path

from bookkit import REPO, fail_with
from mdblocks import lesson_pages, read_blocks, strip_inline

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


# --- New words and the order of explanations (issue 9, rule 4) ----------------------------

NEW_WORDS_LINK = re.compile(r"\]\((?:\.\./)?glossary\.md#([\w-]+)\)")


def anchor(heading: str) -> str:
    """The id mdBook gives a heading: lower case, spaces as -, other punctuation dropped."""
    return re.sub(r"[^\w -]", "", heading.lower()).replace(" ", "-")


def book_order() -> list[Path]:
    """The start page (page 0), then the lessons in order. The glossary is not a use."""
    return [REPO / "lessons" / "README.md"] + lesson_pages(REPO)


def new_words(text: str) -> list[str]:
    """The glossary anchors that a page's "## New words" list links to."""
    m = re.search(r"^## New words\s*$(.*?)(?=^#{1,2} |\Z)", text, re.MULTILINE | re.DOTALL)
    return NEW_WORDS_LINK.findall(m.group(1)) if m else []


def term_pattern(heading: str) -> re.Pattern[str]:
    """A glossary heading as it appears in prose: any case, with an -s or -es plural.
    "iptables and nftables" stands for two names."""
    names = [n.strip() for n in heading.split(" and ")] if heading.islower() else [heading]
    alts = "|".join(re.escape(n) for n in names)
    return re.compile(rf"(?<![\w-])(?:{alts})(?:s|es)?(?![\w-])", re.IGNORECASE)


def prose(text: str) -> str:
    """A page's words without code blocks, inline code and link targets."""
    return "\n".join(strip_inline(b.text) for b in read_blocks(text)
                     if b.kind not in ("code", "include"))


def without_longer_terms(words: str, heading: str, headings: list[str]) -> str:
    """"Service discovery" is not a use of "Service": blank out longer terms that contain it."""
    pattern = term_pattern(heading)
    for longer in headings:
        if longer != heading and len(longer) > len(heading) and pattern.search(longer):
            words = term_pattern(longer).sub(" ", words)
    return words


def order_problems(pages: list[tuple[str, str]], headings: list[str]) -> list[str]:
    """Each term must be explained (listed in New words) at or before the page that first uses it."""
    texts = [(name, text, prose(text), set(new_words(text))) for name, text in pages]
    out = []
    for heading in headings:
        pattern, key = term_pattern(heading), anchor(heading)
        used = next((i for i, (_, _, words, _) in enumerate(texts)
                     if pattern.search(without_longer_terms(words, heading, headings))), None)
        explained = next((i for i, (*_, listed) in enumerate(texts) if key in listed), None)
        if used is None:
            continue
        if explained is None or explained > used:
            where = f"{texts[explained][0]}" if explained is not None else "no page"
            out.append(f'"{heading}" is first used on {texts[used][0]}, but {where} lists it '
                       f"in New words: add [{heading}](../glossary.md#{key}) to New words on "
                       f"{texts[used][0]}, or reword the earlier use")
    return out


def test_new_words_link_to_glossary_entries() -> None:
    anchors = {anchor(h) for h in entries()}
    bad = [f"{p.relative_to(REPO)}: glossary.md#{a}" for p in book_order()
           for a in new_words(p.read_text(encoding="utf-8")) if a not in anchors]
    fail_with("These New words links point at no glossary entry (check the spelling, "
              "or add the entry):", bad)


def test_each_term_is_explained_at_or_before_its_first_use() -> None:
    pages = [(str(p.relative_to(REPO)), p.read_text(encoding="utf-8")) for p in book_order()]
    fail_with("Explain each glossary term where it is first used:", order_problems(pages, entries()))


def test_the_order_check_can_fail() -> None:
    late = [("start.md", "Start here.\n"),
            ("one.md", "A pod runs here.\n"),
            ("two.md", "## New words\n\n- [Pod](../glossary.md#pod): a group of containers.\n")]
    assert len(order_problems(late, ["Pod"])) == 1
    early = [late[0], ("one.md", late[2][1] + "\nA pod runs here.\n")]
    assert order_problems(early, ["Pod"]) == []
    in_code = [("one.md", "Run `pods` and:\n\n```text,output\npod\n```\n")]
    assert order_problems(in_code, ["Pod"]) == []
    assert term_pattern("iptables and nftables").search("nftables")
    longer = [("one.md", "Service discovery finds programs.\n")]
    assert order_problems(longer, ["Service", "Service discovery"]) == [
        order_problems(longer, ["Service discovery"])[0]]
    assert anchor("iptables and nftables") == "iptables-and-nftables" and anchor("Add-on") == "add-on"

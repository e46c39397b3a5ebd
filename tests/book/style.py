"""Style lint for the course pages: the measurable rules of course-style.md.

Run it on its own:  .venv/bin/python tests/book/style.py [FILE.md ...]
With no files it checks every page of the book.
Each finding is one line: file:line: what is wrong, in plain words.
Code blocks, {{#include}} lines and HTML comments are skipped.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mdblocks import Block, page_files, read_blocks, strip_inline

MAX_WORDS = 20  # rule 1
MAX_SENTENCES = 3  # rule 2
MAX_STEPS = 7  # rule 12
LESSON_SECTIONS = ["Goal", "New words", "You have", "Steps", "Check", "What happened",
                   "You did it", "Clean up"]
LESSON_COUNT = 17  # the "Lesson N of 17" line under each title
MAX_TYPED = 60  # rule 13c: characters in a line the reader types, or reads as output
# Rule 13b: where a code block runs, as a word after its language ("bash,tools").
WHERE_LABELS = {"laptop": "Laptop", "tools": "Tools shell", "terminal-2": "Terminal 2",
                "output": "Output", "file": "File"}
TYPED_LABELS = {"laptop", "tools", "terminal-2", "output"}
MARKER = "# ↑ look here"  # rule 13: the marker stands alone on the line under the one it marks
META_LINE = re.compile(r"\*\*Lesson (\d+) of (\d+)\*\* · about (\d+) minutes")
# Rule 6 and the issue on words: no "we", no idioms, no words that age.
BANNED_WORDS = [
    (re.compile(r"\b(we|we're|we've|we'll|us|our|ours|let's)\b", re.IGNORECASE),
     'speak to the reader ("you") or name who does it; do not write "we"'),
    (re.compile(r"\b(currently|newer|newest|nowadays|recently)\b", re.IGNORECASE),
     "a word that ages: say the version, or leave it out"),
    (re.compile(r"\b(front door|in flight|in one go|stand behind|under the hood|out of the box|"
                r"on the fly|behind the scenes|at a glance|keep an eye|piece of cake|"
                r"rule of thumb|on the same page|under way)\b", re.IGNORECASE),
     "an idiom: say it in plain words"),
]

# Words in capitals that are fine: acronyms the course spells out, or names of signals,
# fields and statuses. Add a word here only with a reason, and define it in the glossary
# or on first use.
ACRONYMS = {
    "API", "APIs", "CLI", "CNI", "CPU", "CRI", "CSS", "DNS", "HTML", "HTTP", "HTTPS", "ID",
    "IP", "IPs", "IPv4", "IPv6", "JSON", "OCI", "OK", "OS", "PID", "RBAC", "RAM", "SSD",
    "TCP", "TLS", "UDP", "UI", "URL", "URLs", "UTF", "WSL", "YAML", "SIGTERM", "SIGINT",
    "SIGKILL", "PDB", "ARM", "AMD", "PR", "CI", "GC", "NAT", "VM", "VMs", "CA", "QPS",
    "FQDN", "README", "GET", "POST", "PUT", "DELETE", "PATCH", "TTL", "MB", "GB", "KB",
    "MiB", "GiB", "CRD", "CRDs", "LTS", "SQL", "SSH", "XML", "RPS", "ASCII", "SVG",
    "PNG", "PDF", "BDA", "WCAG", "USB", "CD", "ICMP", "ARP",
    "NIC", "VPN", "VPC", "LAN", "MAC", "SRV", "PTR", "AAAA", "CNAME", "NS", "SOA", "ENV",
}

# A sentence ends with . ! or ? and a space, but "12. Title" (a numbered title) does not end one.
SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b\d\.)(?<!\b\d\d\.)[\"')\]*]*\s+")
WORD = re.compile(r"[\w✔✖][\w'’./:-]*")
CAPS_WORD = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9]*[A-Z][A-Z0-9]*s?)(?![\w/.-])")
DEFINED_ACRONYM = [
    re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z]s?)\s+\([A-Z][a-z]"),  # DNS (Domain Name System)
    re.compile(r"[a-z]\s+\(([A-Z][A-Za-z0-9]*[A-Z]s?)\)"),  # Domain Name System (DNS)
]
ITALIC_STAR = re.compile(r"(?<![*\w\\])\*(?![\s*])[^*\n]*?[^\s*\\]\*(?![*\w])")
ITALIC_UNDERSCORE = re.compile(r"(?<![_\w\\])_(?![\s_])[^_\n]*?[^\s_\\]_(?![_\w])")
ITALIC_TAG = re.compile(r"<(em|i|u)>", re.IGNORECASE)
K8S = re.compile(r"(?<![\w.])k8s(?![\w.])", re.IGNORECASE)  # not in domain names


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def sentences(text: str) -> list[str]:
    """Split prose into sentences: a sentence ends with . ! or ? and a space."""
    text = " ".join(text.split())
    return [s for s in SENTENCE_END.split(text) if WORD.search(s)]


def word_count(sentence: str) -> int:
    return len(WORD.findall(sentence))


def defined_acronyms(texts: list[str]) -> set[str]:
    """Acronyms that some page spells out, like "DNS (Domain Name System)"."""
    found: set[str] = set()
    for text in texts:
        for pattern in DEFINED_ACRONYM:
            found.update(m.group(1) for m in pattern.finditer(text))
    return found


def _line_of(block: Block, fragment: str) -> int:
    """The line inside a block where a piece of text starts (best effort)."""
    head = " ".join(fragment.split()[:3])
    for offset, line in enumerate(block.lines):
        if head and head in " ".join(strip_inline(line).split()):
            return block.line + offset
    return block.line


def _short(text: str, words: int = 8) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def check_words(block: Block, path: str, allowed_caps: set[str]) -> list[Finding]:
    """Rules that apply to every piece of prose: italics, capitals, k8s."""
    out: list[Finding] = []
    for offset, raw in enumerate(block.lines):
        line_no = block.line + offset
        prose = strip_inline(raw)
        no_bold = re.sub(r"\*\*[^*]+\*\*|__[^_]+__", lambda m: m.group(0)[2:-2], prose)
        if ITALIC_STAR.search(no_bold) or ITALIC_UNDERSCORE.search(no_bold) or ITALIC_TAG.search(raw):
            out.append(Finding(path, line_no, "italic text: use **bold** for emphasis, never italics"))
        for m in CAPS_WORD.finditer(prose):
            word = m.group(1)
            if word in ("CODE", "URL") or word in allowed_caps or word.rstrip("s") in allowed_caps:
                continue
            out.append(Finding(path, line_no,
                               f'"{word}" is in capitals: write it in normal case, '
                               "or spell it out and add it to ACRONYMS in tests/book/style.py"))
        if K8S.search(prose):
            out.append(Finding(path, line_no, 'write "Kubernetes", not "k8s"'))
        for pattern, advice in BANNED_WORDS:
            m = pattern.search(prose)
            if m:
                out.append(Finding(path, line_no, f'"{m.group(0)}": {advice}'))
    return out


def check_code_block(block: Block, path: str, book: bool = True) -> list[Finding]:
    """Rules 13, 13b and 13c: a label says where the block runs; lines fit; markers stand alone."""
    out: list[Finding] = []
    labels = [t for t in block.tags if t in WHERE_LABELS]
    if len(labels) != 1 and book:
        out.append(Finding(path, block.line,
                           "a code block says where it runs: put one label after its language, "
                           f"like ```{block.lang or 'text'},tools (labels: {', '.join(WHERE_LABELS)})"))
    for offset, raw in enumerate(block.lines):
        line_no = block.line + 1 + offset
        text = raw[block.indent:] if raw[:block.indent].strip() == "" else raw.strip()
        if "look here" in text and text.strip() != MARKER:
            out.append(Finding(path, line_no,
                               f'the marker stands alone on the line under the one it marks: "{MARKER}"'))
        typed = labels[0] in TYPED_LABELS if labels else (not book and block.lang in ("bash", "sh", "text"))
        if typed and len(text.rstrip()) > MAX_TYPED:
            out.append(Finding(path, line_no,
                               f"this line has {len(text.rstrip())} characters, the limit is {MAX_TYPED}: "
                               "break a command with \\ and one option per line, "
                               "or shorten the output with ..."))
    return out


def check_sentences(block: Block, path: str) -> list[Finding]:
    """Rules 1 and 2: short sentences, short paragraphs."""
    out: list[Finding] = []
    lines = block.lines
    # A first line that is all bold ("**Why it failed.**") is a label, like a small heading.
    if block.kind == "para" and len(lines) > 1 and re.fullmatch(r"\*\*[^*]+\*\*", lines[0].strip()):
        lines = lines[1:]
    found = sentences(strip_inline("\n".join(lines)))
    for sentence in found:
        n = word_count(sentence)
        if n > MAX_WORDS:
            out.append(Finding(path, _line_of(block, sentence),
                               f"sentence has {n} words, the limit is {MAX_WORDS}: "
                               f'"{_short(sentence)}"'))
    if len(found) > MAX_SENTENCES:
        what = {"para": "paragraph", "item": "list item", "quote": "quote"}[block.kind]
        out.append(Finding(path, block.line,
                           f"{what} has {len(found)} sentences, the limit is {MAX_SENTENCES}: "
                           "split it in two"))
    return out


def sections(blocks: list[Block]) -> dict[str, list[Block]]:
    """The blocks under each level-2 heading."""
    result: dict[str, list[Block]] = {}
    current: list[Block] | None = None
    for block in blocks:
        if block.kind == "heading" and block.level == 2:
            current = result.setdefault(block.text.strip(), [])
        elif block.kind == "heading" and block.level == 1:
            current = None
        elif current is not None:
            current.append(block)
    return result


def check_lesson_shape(blocks: list[Block], path: str) -> list[Finding]:
    """Rule 12: the same six sections in the same order, and at most 7 steps."""
    out: list[Finding] = []
    titles = [b.text.strip() for b in blocks if b.kind == "heading" and b.level == 2]
    h1 = [b for b in blocks if b.kind == "heading" and b.level == 1]
    if len(h1) != 1 or not re.match(r"\d+\. \S", h1[0].text):
        out.append(Finding(path, h1[0].line if h1 else 1,
                           'a lesson starts with one title like "# 3. Images"'))
    missing = [s for s in LESSON_SECTIONS if s not in titles]
    for name in missing:
        out.append(Finding(path, 1, f'the section "## {name}" is missing '
                                    f"(every lesson has: {', '.join(LESSON_SECTIONS)})"))
    present = [t for t in titles if t in LESSON_SECTIONS]
    if not missing and present != LESSON_SECTIONS:
        out.append(Finding(path, 1, "the sections are not in the order "
                                    + " / ".join(LESSON_SECTIONS)))
    parts = sections(blocks)
    steps = [b for b in parts.get("Steps", []) if b.kind == "item" and b.number[0].isdigit()
             and b.indent == min((i.indent for i in parts["Steps"] if i.kind == "item"), default=0)]
    if "Steps" in parts and not steps:
        out.append(Finding(path, 1, "the Steps section has no numbered steps"))
    if len(steps) > MAX_STEPS:
        out.append(Finding(path, steps[MAX_STEPS].line,
                           f"the Steps section has {len(steps)} numbered steps, the limit is {MAX_STEPS}"))
    goal = [b for b in parts.get("Goal", []) if b.kind != "heading"]
    if "Goal" in parts and (len(goal) != 1 or len(goal[0].lines) != 1):
        out.append(Finding(path, goal[0].line if goal else 1, "the Goal is one line"))
    out += check_steps_flow(parts.get("Steps", []), path)
    out += check_meta_line(blocks, h1, path)
    words = parts.get("New words", [])
    if "New words" in parts and (not words or any(
            b.kind != "item" or not NEW_WORD.match(b.lines[0]) for b in words)):
        out.append(Finding(path, words[0].line if words else 1,
                           "New words is a list: each item is [Term](../glossary.md#anchor): "
                           "its short meaning"))
    did = [b for b in parts.get("You did it", []) if b.kind == "item"]
    if "You did it" in parts and not 2 <= len(did) <= 4:
        out.append(Finding(path, did[0].line if did else 1,
                           f"You did it lists 2 to 4 things the reader can now do; it has {len(did)}"))
    return out


NEW_WORD = re.compile(r"\[[^\]]+\]\((?:\.\./)?glossary\.md#[\w-]+\):\s+\S")


def check_meta_line(blocks: list[Block], h1: list[Block], path: str) -> list[Finding]:
    """Rule 12 and issue 9: "Lesson 8 of 17 · about 20 minutes" right under the title."""
    if not h1:
        return []
    after = blocks.index(h1[0]) + 1
    nxt = blocks[after] if after < len(blocks) else None
    m = META_LINE.fullmatch(nxt.text.strip()) if nxt is not None and nxt.kind == "para" else None
    number = re.match(r"(\d+)\.", h1[0].text)
    if m is None or number is None or int(m.group(1)) != int(number.group(1)) \
            or int(m.group(2)) != LESSON_COUNT:
        want = number.group(1) if number else "N"
        return [Finding(path, h1[0].line + 1,
                        f'under the title comes the line "**Lesson {want} of {LESSON_COUNT}** · '
                        'about M minutes"')]
    return []


def check_steps_flow(steps_blocks: list[Block], path: str) -> list[Finding]:
    """Rule 13a: what belongs to a step is indented inside it, so the numbered list never restarts."""
    items = [b for b in steps_blocks if b.kind == "item" and b.number[0].isdigit()]
    if not items:
        return []
    top = min(i.indent for i in items)
    steps = [i for i in items if i.indent == top]
    out: list[Finding] = []
    numbers = [int(re.match(r"\d+", s.number).group(0)) for s in steps]
    if numbers != list(range(1, len(steps) + 1)):
        out.append(Finding(path, steps[0].line,
                           f"the steps are numbered {numbers}: number them 1, 2, 3 ... in one list"))
    first, last = steps_blocks.index(steps[0]), steps_blocks.index(steps[-1])
    for block in steps_blocks[first:last]:
        if block.kind != "item" and block.indent <= top:
            out.append(Finding(path, block.line,
                               "this sits between two steps and ends the numbered list: "
                               "indent it inside the step above (three spaces)"))
    return out


# A drawing made of text: box lines and arrow heads, or a mermaid block, or an SVG picture.
DRAWING = re.compile(r"[─│┌┐└┘├┤┬┴┼▶◀▼▲]")


def is_diagram(block: Block) -> bool:
    if block.kind == "code":
        return block.lang == "mermaid" or (block.lang in ("", "text") and bool(DRAWING.search(block.text)))
    return bool(re.search(r"!\[[^\]]*\]\([^)]+\.svg\)", block.text))


def check_diagrams(blocks: list[Block], path: str, lesson: bool) -> list[Finding]:
    """Rule 14: a diagram has a text alternative right under it; a lesson has a diagram."""
    out: list[Finding] = []
    for i, block in enumerate(blocks):
        if is_diagram(block):
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if nxt is None or nxt.kind not in ("para", "item", "quote"):
                out.append(Finding(path, block.line,
                                   "a diagram needs a text alternative: "
                                   "write what it shows in words right under it"))
    if lesson and "What happened" in sections(blocks) and \
            not any(is_diagram(b) for b in sections(blocks)["What happened"]):
        out.append(Finding(path, 1, 'the section "What happened" needs a diagram '
                                    "(a drawing in a ```text block, or mermaid), with words under it"))
    return out


def lint_text(text: str, path: str, *, lesson: bool, allowed_caps: set[str],
              book: bool = True) -> list[Finding]:
    """Every rule for one page. book=False for pages outside the book (README.md on GitHub),
    where a code block cannot show a label."""
    blocks = read_blocks(text)
    out: list[Finding] = []
    for block in blocks:
        if block.kind == "code" and not is_diagram(block):
            out += check_code_block(block, path, book)
        if block.kind in ("code", "include"):
            continue
        out += check_words(block, path, allowed_caps)
        if block.kind in ("para", "item", "quote"):
            out += check_sentences(block, path)
    if lesson:
        out += check_lesson_shape(blocks, path)
    out += check_diagrams(blocks, path, lesson)
    return sorted(set(out), key=lambda f: (f.path, f.line, f.message))


def is_lesson(path: Path) -> bool:
    return path.name == "README.md" and re.fullmatch(r"\d\d-[a-z-]+", path.parent.name) is not None


def lint_files(files: list[Path], root: Path) -> list[Finding]:
    texts = {f: f.read_text(encoding="utf-8") for f in files}
    allowed = ACRONYMS | defined_acronyms(list(texts.values()))
    out: list[Finding] = []
    for f, text in texts.items():
        name = str(f.relative_to(root)) if f.is_relative_to(root) else str(f)
        out += lint_text(text, name, lesson=is_lesson(f), allowed_caps=allowed,
                         book="lessons" in f.relative_to(root).parts[:1] if f.is_relative_to(root) else True)
    return out


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    files = [Path(a).resolve() for a in argv] or page_files(root) + [root / "README.md"]
    findings = lint_files(files, root)
    for f in findings:
        print(f"✖ {f}")
    if findings:
        print(f"✖ {len(findings)} style findings in {len(files)} pages.")
        return 1
    print(f"✔ {len(files)} pages follow the style rules.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

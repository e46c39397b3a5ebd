"""The course pages follow the measurable rules of course-style.md (see style.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bookkit import REPO, fail_with
from mdblocks import lesson_pages, page_files
from style import ACRONYMS, lint_files, lint_text


def test_every_page_follows_the_style_rules() -> None:
    files = page_files(REPO) + [REPO / "README.md"]
    findings = lint_files(files, REPO)
    fail_with(f"{len(findings)} places break the style rules (file:line: what to change):", findings)


def test_there_are_seventeen_lessons() -> None:
    assert len(lesson_pages(REPO)) == 17, [str(p) for p in lesson_pages(REPO)]


GOOD_LESSON = """# 9. A lesson

**Lesson 9 of 17** · about 10 minutes

## Goal

Learn one thing.

## New words

- [make](../glossary.md#make): a program that runs named recipes.

## You have

- A cluster called `kube-course`.

## Steps

1. Run this command.

   ```bash,tools
   make help
   ```

2. Read the output.

   ```text,output
   Usage: make <target>
   # ↑ look here
   ```

## Check

✔ You see the list of targets.

## What happened

```text
you ──▶ make
```

In words: you ran make, and make printed its targets.

## You did it

- You can list the make targets.
- You can read what make prints.

## Clean up

Nothing to clean.
"""


def lint(text: str, lesson: bool = True) -> list[str]:
    return [f.message for f in lint_text(text, "page.md", lesson=lesson, allowed_caps=ACRONYMS)]


def test_a_good_lesson_passes() -> None:
    assert lint(GOOD_LESSON) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("This sentence is far too long because it keeps going and going and going "
     "with more and more words until it is hard to read.", "sentence has 25 words"),
    ("One. Two. Three. Four.", "paragraph has 4 sentences"),
    ("- One. Two.\n  Three. Four.", "list item has 4 sentences"),
    ("This is *very* important.", "italic text"),
    ("This is _very_ important.", "italic text"),
    ("Do NOT skip this step.", '"NOT" is in capitals'),
    ("You run k8s on a laptop.", 'not "k8s"'),
    ("We run it on a laptop.", 'do not write "we"'),
    ("It is currently the default.", "a word that ages"),
    ("Requests in flight finish.", "an idiom"),
    ("Run this:\n\n```bash\nmake help\n```", "says where it runs"),
    ("```bash,tools\nkubectl --context kind-kube-course get pods --namespace my-space -o wide\n```",
     "characters, the limit is 60"),
    ("```text,output\necho   1/1   Running   # <- look here\n```", "stands alone"),
])
def test_each_rule_can_fail(text: str, expected: str) -> None:
    messages = lint(text, lesson=False)
    assert any(expected in m for m in messages), messages


def test_code_links_and_bold_are_not_prose() -> None:
    text = ("Run `kubectl --context kind-kube-course get pods -n my-space -o wide --show-labels` "
            "and read **DNS** at [the site](https://k8s.io/docs/very_long_path_name/).\n\n"
            "```bash,tools\nTHIS IS CODE and k8s and *stars* is fine, we\n```\n\n"
            "{{#include ../../make/images.mk:run-echo}}\n")
    assert lint(text, lesson=False) == []


def test_a_defined_acronym_is_allowed(tmp_path: Path) -> None:
    """XRD is in no list: spelled out on one page, it may be used on every page."""
    (tmp_path / "a.md").write_text("An XRD (Extra Resource Definition) is made up.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("Each XRD has a name.\n", encoding="utf-8")
    assert lint_files([tmp_path / "a.md", tmp_path / "b.md"], tmp_path) == []
    (tmp_path / "a.md").write_text("Nothing is defined here.\n", encoding="utf-8")
    assert len(lint_files([tmp_path / "a.md", tmp_path / "b.md"], tmp_path)) == 1


def test_lesson_shape_can_fail() -> None:
    missing = GOOD_LESSON.replace("## Check", "## Test")
    assert any('"## Check" is missing' in m for m in lint(missing))
    swapped = GOOD_LESSON.replace("## Goal", "## Tmp").replace("## You have", "## Goal") \
        .replace("## Tmp", "## You have")
    assert any("not in the order" in m for m in lint(swapped))
    many = GOOD_LESSON.replace("2. Read the output.", "\n".join(f"{n}. Step {n}." for n in range(2, 10)))
    assert any("9 numbered steps, the limit is 7" in m for m in lint(many))
    assert any("one title" in m for m in lint(GOOD_LESSON.replace("# 9. A lesson", "# A lesson")))
    assert any("Lesson 9 of 17" in m for m in lint(GOOD_LESSON.replace("Lesson 9 of", "Lesson 8 of")))
    assert any("New words is a list" in m
               for m in lint(GOOD_LESSON.replace("- [make](../glossary.md#make):", "- make:")))
    assert any("You did it lists 2 to 4" in m
               for m in lint(GOOD_LESSON.replace("- You can read what make prints.\n", "")))


def test_a_step_list_must_not_restart() -> None:
    broken = GOOD_LESSON.replace("   ```bash,tools\n   make help\n   ```", "```bash,tools\nmake help\n```")
    assert any("ends the numbered list" in m for m in lint(broken)), lint(broken)
    renumbered = GOOD_LESSON.replace("2. Read the output.", "1. Read the output.")
    assert any("numbered [1, 1]" in m for m in lint(renumbered))


def test_a_diagram_needs_words_under_it() -> None:
    text = "Look:\n\n```mermaid\ngraph LR\n  a --> b\n```\n\n## Next\n"
    assert any("text alternative" in m for m in lint(text, lesson=False))
    drawn = "Look:\n\n```text\nyou ──▶ make\n```\n\n```bash\nmake help\n```\n"
    assert any("text alternative" in m for m in lint(drawn, lesson=False))


def test_a_lesson_needs_a_diagram() -> None:
    text = GOOD_LESSON.replace("you ──▶ make", "you then make")
    assert any('"What happened" needs a diagram' in m for m in lint(text))

"""Helpers for the tests of scripts/, bench/ and .github/workflows/."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from testkit import REPO, make  # noqa: F401 - the script tests take them from here

# A kind command that does not exist: the scripts then take their no-kind path on any machine.
NO_KIND = "/nonexistent/kind"


def long_sentences(text: str, limit: int = 20) -> list[str]:
    """Sentences of our own output with more than `limit` words (course style rule 1).

    Commands ("$ ..."), quoted program output ("| ...") and URLs are not sentences.
    """
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("$", "|")):
            continue
        line = re.sub(r"https?://\S+", "URL", line)
        for sentence in re.split(r"(?<=[.:!?])\s+", line):
            if len(sentence.split()) > limit:
                found.append(sentence)
    return found


def load_workflow(path: Path) -> dict:
    """A GitHub Actions workflow as a dict (YAML 1.1 reads its key `on` as True)."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def workflow_steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def workflow_run_blocks(workflow: dict) -> list[str]:
    return [s["run"] for s in workflow_steps(workflow) if "run" in s]


def relay_reply(target: str = r".+", message: str = "hello from the demo") -> re.Pattern[str]:
    """The relay's reply as make demo shows it; `target` is a pattern for the Relay-To line."""
    return re.compile(
        r"  The reply:\n"
        r"    \| Relay-Host: (?P<relay_host>.+)\n"
        rf"    \| Relay-To: (?P<target>{target})\n"
        r"    \| Reply:\n"
        r"    \| Echo host: (?P<echo_host>.+)\n"
        rf"    \| Message: (?P<message>{re.escape(message)})\n"
    )

"""What the book checks share: the repository path, the tools, one way to build a book."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit import REPO  # noqa: F401 - the book tests take it from here

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The path of a command-line tool, from the virtual environment or PATH."""
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"✖ The tool {name} is missing. Install it with: bash scripts/setup-test-tools.sh",
                    pytrace=False)
    return found


@dataclass
class Build:
    out: Path  # the built HTML book
    log: str  # everything mdbook printed
    returncode: int


def build_book(src: Path, out: Path) -> Build:
    proc = subprocess.run([tool("mdbook"), "build", str(src), "--dest-dir", str(out)],
                          capture_output=True, text=True, timeout=300)
    return Build(out=out, log=proc.stdout + proc.stderr, returncode=proc.returncode)


def fail_with(header: str, lines: list) -> None:
    """Fail the test with a plain list of what is wrong, without a Python traceback."""
    if lines:
        pytest.fail(f"✖ {header}\n" + "\n".join(f"  {line}" for line in lines), pytrace=False)

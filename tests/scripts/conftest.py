"""Fixtures for the tests of scripts/, bench/ and .github/workflows/."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def shellcheck() -> str:
    """The shellcheck command (scripts/setup-test-tools.sh installs it)."""
    path = shutil.which("shellcheck")
    assert path, "shellcheck is missing. Run: bash scripts/setup-test-tools.sh"
    return path

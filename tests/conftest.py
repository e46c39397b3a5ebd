"""Shared pytest fixtures for the image, manifest and book tests.

Each test folder (images/, manifests/, book/) has its own conftest.py for what only it needs.
The helpers these fixtures use live in tests/testkit.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testkit import REPO, STATIC_DIR


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def static_binaries() -> dict[str, Path]:
    """Static release binaries of both apps (built by `make build-static`)."""
    subprocess.run(["make", "-s", "build-static"], cwd=REPO, check=True)
    bins = {name: STATIC_DIR / f"{name}-server" for name in ("echo", "relay")}
    for path in bins.values():
        assert path.is_file(), f"{path} is missing after make build-static"
    return bins

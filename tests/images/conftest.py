"""Fixtures for the image tests: a real podman and both app images.

The helpers (Podman, Container, PREFIX, record) live in podman_tools.py.
"""

from __future__ import annotations

import re
import shutil

import pytest

from podman_tools import APPS, PREFIX, VERSION, Podman, record


@pytest.fixture(scope="session")
def podman():
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed. Run: bash scripts/setup-test-tools.sh")
    tool = Podman()
    info = tool("info", check=False)
    if info.returncode != 0:
        pytest.fail(f"podman does not work here:\n{info.stderr}\n"
                    "Run: bash scripts/setup-test-tools.sh")
    yield tool
    tool.cleanup()


@pytest.fixture(scope="session")
def app_images(podman, static_binaries) -> dict[str, str]:
    """Both app images, built from target/static/ through images/Dockerfile."""
    tags = {}
    for app in APPS:
        tag = f"localhost/{PREFIX}-{app}:{VERSION}"
        seconds = podman.build(app, tag)
        record("build_seconds_" + app, round(seconds, 2))
        tags[app] = tag
    return tags


@pytest.fixture
def name(request) -> str:
    """A unique name for one container or network of this test."""
    return f"{PREFIX}-{re.sub(r'[^a-zA-Z0-9.-]+', '-', request.node.name)[:40].strip('-')}"

"""Fixtures for the image tests: a real podman and both app images.

The helpers (Podman, Container, PREFIX, record) live in podman_tools.py.
"""

from __future__ import annotations

import hashlib
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
    tool.remember_existing_images()
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
    """A unique, short name for the containers and networks of one test.

    Short, because a container name is also a host name: 63 characters at most.
    """
    words = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:4]
    return f"{PREFIX}-{words[:24].strip('-')}-{digest}"


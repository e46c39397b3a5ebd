"""Fixtures for the tests of scripts/, bench/ and .github/workflows/.

The laptop tests (test_builder_stage.py, test_laptop_walks.py) also get a podman storage of
their own with the stand-in builder image, and sandboxes: a folder of commands put first and
alone on PATH, as on a learner's laptop (make, curl, git, bash and the usual shell tools, a
container engine shim, and no cargo, rustc, kind or kubectl unless a test adds a shim).
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from laptop_tools import TOOLS, Sandbox, Storage, make_storage


@pytest.fixture(scope="session")
def shellcheck() -> str:
    """The shellcheck command (scripts/setup-test-tools.sh installs it)."""
    path = shutil.which("shellcheck")
    assert path, "shellcheck is missing. Run: bash scripts/setup-test-tools.sh"
    return path


@pytest.fixture(scope="session")
def storage() -> Storage:
    """The private storage with the stand-in builder image (made once, then reused: minutes the first time)."""
    return make_storage()


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    box = tmp_path / "bin"
    box.mkdir()
    for tool in TOOLS:
        path = shutil.which(tool)
        assert path, f"{tool} is missing on this machine"
        (box / tool).symlink_to(path)
    home = tmp_path / "home"
    home.mkdir()
    run = f"kcl-{uuid.uuid4().hex[:6]}"
    names = {"ECHO_CONTAINER": f"{run}-echo", "RELAY_CONTAINER": f"{run}-relay",
             "CONTAINER_NETWORK": f"{run}-net"}
    return Sandbox(box, home, names)

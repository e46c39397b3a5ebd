"""Shared pytest fixtures for the image, manifest and book tests.

Each test folder (images/, manifests/, book/) has its own conftest.py for what only it needs.
Here lives what several folders use: the repository path, the static app binaries,
and a way to start an app on a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STATIC_DIR = REPO / "target" / "static"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception as e:  # noqa: BLE001 - keep trying until the deadline
            last = e
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s: {last}")


@contextlib.contextmanager
def running_app(binary: Path, *args: str, env: dict[str, str] | None = None):
    """Start an app binary on a free loopback port; yield its base URL; stop it with SIGTERM."""
    port = free_port()
    full_env = {**os.environ, "PORT": str(port), **(env or {})}
    proc = subprocess.Popen([str(binary), *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/ready")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

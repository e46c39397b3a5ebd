"""What the Python tests and bench/run.py share: the repository path, make, ports, HTTP, /proc.

Test files import it by name (`from testkit import REPO, make`): pytest.ini puts tests/ on
the import path. Pytest fixtures stay in the conftest.py files; this module has none,
so a script like bench/run.py can use it without pytest.
It uses the Python standard library only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATIC_DIR = REPO / "target" / "static"


# --- make --------------------------------------------------------------------------


def make(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
         **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `make ARGS NAME=VALUE ...` in the repository; capture its output.

    `env` adds variables to ours. The MAKE* variables of an outer make are left out,
    so the inner make behaves the same when the tests run under `make test`.
    """
    options = [f"{key}={value}" for key, value in settings.items()]
    outer = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(["make", "--no-print-directory", *args, *options], cwd=REPO,
                          env={**outer, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


# --- ports and HTTP ----------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 10.0) -> None:
    """Wait until `url` answers 200; TimeoutError with the last problem after `timeout` s."""
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
def running_app(binary: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
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


# --- /proc -------------------------------------------------------------------------


def stat_fields(pid: int | str) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on, or None when the process is gone.

    The name (field 2) may hold spaces, so the fields start after its last ')'.
    So fields[0] is the state, [1] ppid, [2] process group, [3] session.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def _processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, stat fields) of every process that is still there."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(entry.name)
            if fields is not None:
                yield int(entry.name), fields


def group_members(pgid: int) -> list[int]:
    """Every process in a process group (nginx: the master and its workers)."""
    return [pid for pid, fields in _processes() if int(fields[2]) == pgid]


def session_members(sessions: set[int]) -> list[int]:
    """Living processes (not zombies) in any of these sessions."""
    return [pid for pid, fields in _processes() if fields[0] != "Z" and int(fields[3]) in sessions]

"""Helpers for the laptop tests: a podman storage of its own, and a learner's sandbox PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from testkit import REPO

STANDIN = REPO / "tests" / "scripts" / "builder-standin.sh"
CACHE = Path(os.environ.get("KUBE_COURSE_BUILDER_CACHE", "/var/tmp/kube-course-builder"))
VERSION = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
# What the engine shims run with: the system's PATH, not the sandbox's (netavark needs iptables).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The learner's everyday tools. Nothing of Rust, kind or kubectl.
TOOLS = ("make", "curl", "git", "bash", "sh", "env", "sed", "grep", "awk", "cat", "mkdir", "rm",
         "rmdir", "mktemp", "tr", "head", "tail", "sort", "uniq", "seq", "sleep", "dirname",
         "basename", "id", "stat", "tee", "cut", "wc", "date", "uname", "xargs", "readlink", "ls",
         "cp", "mv", "touch", "chmod", "find", "true", "false", "expr", "kill", "ps", "tar")


@dataclass
class Storage:
    """podman with a storage of its own under CACHE: the stand-in builder image lives there."""

    options: tuple[str, ...]
    tmpdir: Path

    def __call__(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TMPDIR": str(self.tmpdir)}
        done = subprocess.run(["podman", *self.options, *args], capture_output=True, text=True,
                              timeout=timeout, env=env)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def shim(self) -> str:
        """A shell script that runs podman with this storage (TMPDIR keeps its build cache here too)."""
        opts = " ".join(self.options)
        return (f"#!/bin/sh\nPATH={SYSTEM_PATH} TMPDIR={self.tmpdir} "
                f"exec {shutil.which('podman')} {opts} \"$@\"\n")


def make_storage() -> Storage:
    """The private storage with the stand-in builder image (made once, then reused: minutes the first time)."""
    for tool in ("podman", "debootstrap", "rustc"):
        assert shutil.which(tool), f"{tool} is missing. Run: bash scripts/setup-test-tools.sh"
    done = subprocess.run(["bash", str(STANDIN)], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    options = tuple(subprocess.run(["bash", str(STANDIN), "--print"], capture_output=True, text=True,
                                   check=True).stdout.split())
    tmpdir = CACHE / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    storage = Storage(options, tmpdir)
    # Stages of earlier runs (a new revision each) would pile up: drop the untagged ones.
    storage("image", "prune", "-f", timeout=300)
    return storage


def revision() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


@dataclass
class Sandbox:
    """A learner's laptop: PATH holds only bin/; names of containers and networks are this run's own."""

    bin: Path
    home: Path
    names: dict[str, str]

    def add(self, name: str, text: str) -> Path:
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "USER", "TZ")}
        return {**keep, "PATH": str(self.bin), "HOME": str(self.home), **self.names}

    def make(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

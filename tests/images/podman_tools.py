"""Helpers for the image tests: a real podman, real images, real containers.

Every name a test creates (image, container, network) starts with PREFIX,
which is unique per test run. The Podman helper remembers what it created
and removes all of it at the end, also when a test fails.
"""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

from testkit import REPO, free_port, wait_for_http  # noqa: F401 - the image tests take them from here

PREFIX = f"kct-{uuid.uuid4().hex[:6]}"
ARTIFACTS = REPO / "tests" / ".artifacts"
VERSION = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
APPS = ("echo", "relay")


def revision() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


@dataclass
class Podman:
    """Runs podman and removes every container, network and image it made."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    revision: str = ""  # the git revision the images were built with
    # Image ids that existed before the tests: cleanup never touches these.
    images_before: set[str] = field(default_factory=set)

    def remember_existing_images(self) -> None:
        self.images_before = set(self("images", "-aq", "--no-trunc").stdout.split())

    def __call__(self, *args: str, check: bool = True, timeout: float = 120,
                 ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["podman", *args], capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} failed with code {proc.returncode}:\n"
                f"{proc.stdout}\n{proc.stderr}")
        return proc

    def export(self, container: str) -> bytes:
        """The file system of a container, as a tar archive."""
        return subprocess.run(["podman", "export", container], capture_output=True,
                              check=True, timeout=120).stdout

    def inspect(self, kind: str, name: str) -> dict:
        return json.loads(self(kind, "inspect", name).stdout)[0]

    def build(self, app: str, tag: str) -> float:
        """Build one app image from target/static/ with images/Dockerfile; return seconds."""
        self.images.append(tag)
        self.revision = revision()
        start = time.monotonic()
        self("build", "--format", "docker", "-f", str(REPO / "images" / "Dockerfile"),
             "--build-arg", f"APP={app}", "--build-arg", "BUILDER=prebuilt",
             "--build-arg", f"VERSION={VERSION}", "--build-arg", f"REVISION={self.revision}",
             "-t", tag, str(REPO), timeout=300)
        return time.monotonic() - start

    def network(self, name: str) -> str:
        self.networks.append(name)
        self("network", "create", name)
        return name

    def start(self, image: str, name: str, *options: str, port: bool = True,
              env: dict[str, str] | None = None) -> Container:
        """Start a container (read-only root, like `make run-echo`) and wait until /ready is 200."""
        self.containers.append(name)
        host_port = free_port() if port else None
        args = ["run", "-d", "--read-only", "--name", name, *options]
        if host_port:
            args += ["-p", f"127.0.0.1:{host_port}:8080"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        self(*args, image)
        box = Container(self, name, host_port)
        if host_port:
            try:
                wait_for_http(box.url("/ready"), timeout=15)
            except TimeoutError as e:
                raise AssertionError(f"{e}\nContainer logs:\n{box.logs()}") from e
        return box

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            self("rm", "-f", "-t", "0", name, check=False)
        for name in reversed(self.networks):
            self("network", "rm", "-f", name, check=False)
        for tag in reversed(self.images):
            self("rmi", "-f", tag, check=False)
        # Multi-stage builds leave untagged stage images behind (the build cache).
        # Remove the ones these tests made; `rmi` without -f skips any image in use.
        left = set(self("images", "-aq", "--no-trunc", "--filter", "dangling=true").stdout.split())
        for image in sorted(left - self.images_before):
            self("rmi", image, check=False)


@dataclass
class Container:
    podman: Podman
    name: str
    host_port: int | None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.host_port}{path}"

    def get(self, path: str, timeout: float = 10) -> tuple[int, dict[str, str], str]:
        """GET a path; answer (status, headers with lower-case names, body)."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
                return r.status, _lower(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, _lower(e.headers), e.read().decode()

    def inspect(self) -> dict:
        return self.podman.inspect("container", self.name)

    def logs(self) -> str:
        proc = self.podman("logs", self.name, check=False)
        return proc.stdout + proc.stderr


def _lower(headers) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def record(key: str, value) -> None:
    """Keep a measurement in tests/.artifacts/images.json (for the report)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "images.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

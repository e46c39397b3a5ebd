"""The builder stage of images/Dockerfile, run for real in a podman storage of its own.

This machine cannot pull the builder image (rust:...-alpine). So tests/scripts/builder-standin.sh makes an
offline stand-in under that exact name from this machine's Rust toolchain, with this machine's CA
bundle so cargo reaches crates.io. The real Dockerfile then compiles both apps with its cache
mounts, `--locked` and output path, and the programs run in the scratch image.

What the stand-in cannot prove: musl linking on Alpine. Its toolchain is glibc, made static by a
rustc wrapper (+crt-static for programs). The GitHub workflow builds with the real image.
"""

from __future__ import annotations

import re
import struct
import subprocess
import tarfile
import time
import urllib.request
import uuid
from io import BytesIO

import pytest

from laptop_tools import REPO, VERSION, revision

pytestmark = pytest.mark.timeout(1800)

RUN = f"kcb-{uuid.uuid4().hex[:6]}"
# One revision for every build here, so the second build may reuse what the first compiled.
REVISION = revision()
DOCKERFILE = REPO / "images" / "Dockerfile"


def build_args(app: str) -> list[str]:
    """The options `make build-<app>` gives podman, so the walks reuse these layers."""
    return ["build", "--format", "docker", "--build-arg", "BUILDER=builder",
            "--build-arg", f"VERSION={VERSION}", "--build-arg", f"REVISION={REVISION}",
            "-f", str(DOCKERFILE), "--build-arg", f"APP={app}"]


@pytest.fixture(scope="module")
def built(storage):
    """Both apps, built through the real builder stage. Yields {app: (tag, seconds, log)}."""
    out = {}
    for app in ("echo", "relay"):
        tag = f"localhost/{RUN}-{app}:{VERSION}"
        start = time.monotonic()
        done = storage(*build_args(app), "-t", tag, str(REPO), timeout=1500)
        out[app] = (tag, time.monotonic() - start, done.stdout + done.stderr)
    yield out
    for tag, _, _ in out.values():
        storage("rmi", "-f", tag, check=False)


def program(storage, tag: str) -> bytes:
    """The one program of an image: /usr/local/bin/server."""
    box = storage("create", tag).stdout.strip()
    try:
        raw = subprocess.run(["podman", *storage.options, "export", box], capture_output=True,
                             check=True, timeout=120).stdout
    finally:
        storage("rm", "-f", box, check=False)
    with tarfile.open(fileobj=BytesIO(raw)) as tar:
        names = [m.name for m in tar.getmembers() if not m.isdir()]
        assert names == ["usr/local/bin/server"], f"the image should hold one file, not {names}"
        return tar.extractfile("usr/local/bin/server").read()


def has_interpreter(elf: bytes) -> bool:
    """True when the ELF program asks for a dynamic loader (a PT_INTERP program header)."""
    assert elf[:4] == b"\x7fELF" and elf[4] == 2, "a 64-bit ELF program"
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    kinds = [struct.unpack_from("<I", elf, phoff + i * phentsize)[0] for i in range(phnum)]
    return 3 in kinds


def test_the_dockerfile_builder_stage_is_what_this_test_runs():
    text = DOCKERFILE.read_text()
    builder = text[text.index(" AS builder"):text.index("# ANCHOR_END: builder")]
    assert "--mount=type=cache,target=/usr/local/cargo/registry" in builder
    assert "--mount=type=cache,target=/src/target" in builder
    assert re.search(r"cargo build --release --locked --package \"\$\{APP\}-server\"", builder)
    assert 'cp "target/release/${APP}-server" /out/server' in builder


def test_both_apps_compile_in_the_builder_stage(built):
    for app, (_, seconds, log) in built.items():
        assert "Finished `release` profile" in log or "Using cache" in log, log[-3000:]
        print(f"{app}: {seconds:.0f} s")


def test_the_programs_are_static(storage, built):
    for app, (tag, _, _) in built.items():
        elf = program(storage, tag)
        assert not has_interpreter(elf), f"{app}: the program asks for a dynamic loader; scratch has none"


def test_the_images_run_and_relay_calls_echo_by_name(storage, built):
    net = f"{RUN}-net"
    storage("network", "create", net)
    try:
        storage("run", "-d", "--read-only", "--name", f"{RUN}-echo", "--network", net, built["echo"][0])
        relay = storage("run", "-d", "--read-only", "--name", f"{RUN}-relay", "--network", net,
                        "-p", "127.0.0.1::8080", "-e", f"DEFAULT_ECHO_SERVER={RUN}-echo:8080",
                        built["relay"][0])
        assert relay.returncode == 0
        port = storage("port", f"{RUN}-relay", "8080").stdout.strip().rsplit(":", 1)[1]
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/relay?message=built", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        assert f"Relay-To: {RUN}-echo:8080" in body, body
        assert "Message: built" in body, body
    finally:
        storage("rm", "-f", "-t", "0", f"{RUN}-relay", f"{RUN}-echo", check=False)
        storage("network", "rm", "-f", net, check=False)


def test_the_cache_mounts_keep_the_compiled_parts(storage, built):
    """Without the layer cache the RUN step runs again; the cache mounts make it quick."""
    tag = f"localhost/{RUN}-again:{VERSION}"
    try:
        done = storage(*build_args("echo"), "--no-cache", "-t", tag, str(REPO), timeout=900)
    finally:
        storage("rmi", "-f", tag, check=False)
    log = done.stdout + done.stderr
    assert "Finished `release` profile" in log, log[-3000:]
    assert "Downloaded " not in log, "the registry cache mount should keep the crates"
    compiled = re.findall(r"^\s*Compiling (\S+) v", log, re.M)
    ours = {"kit", "echo-server", "relay-server"}
    assert not set(compiled) - ours, f"the target cache mount should keep the compiled crates: {compiled}"
    assert "echo-server" not in compiled, "the same revision again: nothing to compile"

"""Static checks of both Dockerfiles, and the tools image's pinned downloads.

The tools image cannot be built here (no access to dl.k8s.io, GitHub or Docker).
So these tests check what can be checked: hadolint, that every download goes
through fetch.sh, that every version has a checksum for amd64 and arm64,
that fetch.sh really refuses a wrong file, and that kubectl fits the kind
node image in clusters/*.yaml.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from podman_tools import REPO

APP_DOCKERFILE = REPO / "images" / "Dockerfile"
TOOLS = REPO / "images" / "tools"
TOOLS_DOCKERFILE = TOOLS / "Dockerfile"
FETCH = TOOLS / "fetch.sh"
ARCHES = ("amd64", "arm64")
# Tools that the tools Dockerfile downloads, by the ARG that pins their version.
PINNED = {"kubectl": "KUBECTL_VERSION", "kind": "KIND_VERSION", "docker": "DOCKER_VERSION",
          "buildx": "BUILDX_VERSION", "mdbook": "MDBOOK_VERSION"}

# The node images built for each kind release (from its release notes).
# kind supports a node image only with the release that built it.
KIND_NODE_IMAGES = {
    # https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0
    "v0.33.0": {
        "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
        "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
        "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
        "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
    },
}


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is missing. Run: bash scripts/setup-test-tools.sh")
    return found


def arg_default(dockerfile: Path, name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.M)
    assert match, f"{dockerfile.name} has no 'ARG {name}=...' line"
    return match.group(1)


def checksums() -> dict[str, str]:
    """SHA256SUMS as {"<tool>-<version>-<arch>": sha256}."""
    sums = {}
    for number, line in enumerate((TOOLS / "SHA256SUMS").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        assert match, f"SHA256SUMS line {number} is not '<sha256>  <tool>-<version>-<arch>'"
        assert match.group(2) not in sums, f"SHA256SUMS lists {match.group(2)} twice"
        sums[match.group(2)] = match.group(1)
    return sums


@pytest.mark.parametrize("dockerfile", [APP_DOCKERFILE, TOOLS_DOCKERFILE], ids=["app", "tools"])
def test_hadolint_is_clean(dockerfile):
    result = subprocess.run([hadolint(), "--failure-threshold", "info", str(dockerfile)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_app_dockerfile_has_the_book_anchors_and_stages():
    text = APP_DOCKERFILE.read_text()
    for anchor in ("builder", "runtime"):
        start, end = f"# ANCHOR: {anchor}\n", f"# ANCHOR_END: {anchor}\n"
        assert text.count(start) == 1 and text.count(end) == 1, anchor
        assert text.index(start) < text.index(end), anchor
    builder = text[text.index("# ANCHOR: builder"):text.index("# ANCHOR_END: builder")]
    assert re.search(r"^FROM rust:\d+\.\d+\.\d+-alpine\d+\.\d+ AS builder$", builder, re.M), \
        "the builder image is pinned to an exact Rust version"
    assert "--mount=type=cache,target=/usr/local/cargo/registry" in builder
    assert "--mount=type=cache,target=/src/target" in builder
    assert "--locked" in builder
    runtime = text[text.index("# ANCHOR: runtime"):text.index("# ANCHOR_END: runtime")]
    assert "FROM scratch AS runtime" in runtime
    assert "USER 65532:65532" in runtime
    assert 'HEALTHCHECK' in runtime and '"healthcheck"]' in runtime


def test_builder_copies_every_workspace_member():
    """cargo needs every member of the workspace, or the image build fails."""
    members = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["members"]
    text = APP_DOCKERFILE.read_text()
    builder = text[text.index("# ANCHOR: builder"):text.index("# ANCHOR_END: builder")]
    copied = [m.group(1) for m in re.finditer(r"^COPY (\S+) \./\S*$", builder, re.M)]
    assert "Cargo.toml" in builder and "Cargo.lock" in builder
    for member in members:
        assert any(member == c or member.startswith(c.rstrip("/") + "/") for c in copied), \
            f"the builder stage does not copy the workspace member {member}"


def test_makefile_anchors_for_the_book():
    text = (REPO / "make" / "images.mk").read_text()
    for target in ("build-echo", "run-echo", "stop-echo"):
        block = text[text.index(f"# ANCHOR: {target}\n"):text.index(f"# ANCHOR_END: {target}\n")]
        assert re.search(rf"^{target}:", block, re.M), target


def test_every_download_goes_through_fetch_sh():
    text = TOOLS_DOCKERFILE.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"\b(wget|curl)\b\s+-", code), "download with fetch.sh, not curl/wget"
    assert not re.search(r"^ADD\s+https?://", code, re.M), "ADD from a URL skips the checksum"
    for tool, arg in PINNED.items():
        assert re.search(rf"fetch\.sh {tool} \"\$\{{{arg}\}}\" \"\$\{{arch\}}\"", code), \
            f"{tool} is not downloaded through fetch.sh with ${{{arg}}}"


def test_every_pinned_version_has_checksums_for_both_architectures():
    sums = checksums()
    expected = set()
    for tool, arg in PINNED.items():
        version = arg_default(TOOLS_DOCKERFILE, arg)
        for arch in ARCHES:
            expected.add(f"{tool}-{version}-{arch}")
    missing = expected - set(sums)
    stale = set(sums) - expected
    assert not missing, f"SHA256SUMS lacks {sorted(missing)}"
    assert not stale, f"SHA256SUMS has lines for versions nobody uses: {sorted(stale)}"
    assert len(set(sums.values())) == len(sums), "two downloads cannot have the same checksum"


def test_fetch_sh_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing. Run: bash scripts/setup-test-tools.sh")
    result = subprocess.run(["shellcheck", str(FETCH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def run_fetch(tmp_path: Path, payload: bytes, listed_sum: str | None, *, arch: str = "amd64",
              name: str = "download.bin"):
    source = tmp_path / name.replace("{machine}", {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch))
    source.write_bytes(payload)
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{listed_sum}  tool-v1.0.0-{arch}\n" if listed_sum else "# empty\n")
    target = tmp_path / "tool"
    url = (tmp_path / name).as_uri().replace("%7B", "{").replace("%7D", "}")
    result = subprocess.run(
        ["sh", str(FETCH), "tool", "v1.0.0", arch, url, str(target)],
        env={"PATH": "/usr/bin:/bin", "SHA256SUMS": str(sums)},
        capture_output=True, text=True, timeout=30)
    return result, target


def test_fetch_sh_keeps_a_file_with_the_right_checksum(tmp_path):
    payload = b"the real tool\n"
    result, target = run_fetch(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == payload
    assert "✔ tool v1.0.0 (amd64): checksum is right." in result.stdout


def test_fetch_sh_refuses_a_file_with_a_wrong_checksum(tmp_path):
    result, target = run_fetch(tmp_path, b"a changed tool\n", hashlib.sha256(b"x").hexdigest())
    assert result.returncode == 1
    assert "✖ The checksum of tool v1.0.0 (amd64) is wrong." in result.stderr
    assert not target.exists(), "a bad download must not stay on disk"


def test_fetch_sh_fills_in_the_machine_name(tmp_path):
    """{machine} in a link becomes x86_64 or aarch64 (docker and mdBook name them so)."""
    payload = b"an arm tool\n"
    result, target = run_fetch(tmp_path, payload, hashlib.sha256(payload).hexdigest(),
                               arch="arm64", name="tool-{machine}.tgz")
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == payload
    odd, _ = run_fetch(tmp_path, payload, hashlib.sha256(payload).hexdigest(),
                       arch="riscv64", name="tool-{machine}.tgz")
    assert odd.returncode == 1
    assert "✖ This image supports amd64 and arm64, not riscv64." in odd.stderr


def test_fetch_sh_refuses_a_tool_without_a_checksum(tmp_path):
    result, target = run_fetch(tmp_path, b"anything\n", None)
    assert result.returncode == 1
    assert "✖ No checksum for tool-v1.0.0-amd64" in result.stderr
    assert not target.exists()


def minor(version: str) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)\.", version)
    assert match, f"{version!r} is not a version like v1.37.1"
    return int(match.group(1)), int(match.group(2))


def test_kubectl_and_kind_fit_the_node_image_in_the_cluster_configs():
    configs = sorted((REPO / "clusters").glob("*.yaml"))
    if not configs:
        pytest.skip("clusters/*.yaml does not exist yet, so there is no node image to compare")
    kind_version = arg_default(TOOLS_DOCKERFILE, "KIND_VERSION")
    kubectl = minor(arg_default(TOOLS_DOCKERFILE, "KUBECTL_VERSION"))
    assert kind_version in KIND_NODE_IMAGES, \
        f"add the node images of kind {kind_version} (from its release notes) to this test"
    images = set()
    for config in configs:
        for doc in yaml.safe_load_all(config.read_text()):
            for node in (doc or {}).get("nodes", []):
                if "image" in node:
                    images.add((config.name, node["image"]))
    assert images, "the cluster configs pin no node image; kind would pick its own default"
    for config, image in images:
        assert image in KIND_NODE_IMAGES[kind_version], \
            f"{config}: {image} is not a node image built for kind {kind_version}"
        node = minor(image.split(":", 1)[1])
        assert node[0] == kubectl[0] and abs(node[1] - kubectl[1]) <= 1, \
            f"{config}: kubectl {kubectl} is more than one minor version away from {image}"

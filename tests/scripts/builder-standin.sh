#!/usr/bin/env bash
# tests/scripts/builder-standin.sh: make an offline stand-in of the Rust builder image.
#
# images/Dockerfile starts its builder stage FROM rust:<version>-alpine<version>.
# The course build machines cannot pull that image. So this script makes an image
# of the same name from this machine's own Rust toolchain:
#   1. a small Debian root file system (debootstrap: gcc, libc, CA certificates);
#   2. the Rust toolchain of the pinned version, copied in (without its docs);
#   3. this machine's CA bundle, so cargo can reach crates.io through its proxy;
#   4. a rustc wrapper that links the final programs statically (+crt-static),
#      as the musl toolchain of the real image does, and leaves proc-macros alone;
#   5. podman import, into a podman storage of its own (never the default one).
#
# What the stand-in cannot prove: musl linking on Alpine. The GitHub workflow
# (.github/workflows/e2e.yml, make e2e) builds with the real image and covers that.
#
# Usage: tests/scripts/builder-standin.sh          make the image (again only when an input changed)
#        tests/scripts/builder-standin.sh --print  print the podman options of the private storage
# Settings: KUBE_COURSE_BUILDER_CACHE (default /var/tmp/kube-course-builder).
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=${KUBE_COURSE_BUILDER_CACHE:-/var/tmp/kube-course-builder}
STORE=(--root "$CACHE/storage" --runroot "$CACHE/run")

say() { printf '%s\n' "$*"; }
die() {
  say "✖ $*" >&2
  exit 1
}

if [ "${1:-}" = --print ]; then
  printf '%s\n' "${STORE[@]}"
  exit 0
fi

IMAGE=$(sed -n 's/^FROM \(rust:[^ ]*\) AS builder$/\1/p' images/Dockerfile)
[ -n "$IMAGE" ] || die "images/Dockerfile has no line 'FROM rust:... AS builder'."
RUST_VERSION=${IMAGE#rust:}
RUST_VERSION=${RUST_VERSION%%-*}
FULL_NAME=docker.io/library/$IMAGE

command -v debootstrap >/dev/null || die "debootstrap is missing. Run: bash scripts/setup-test-tools.sh"
command -v podman >/dev/null || die "podman is missing. Run: bash scripts/setup-test-tools.sh"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root. Run the tests as root, as .ci/run does."
# The toolchain of the pinned version: a rustup toolchain of that name, or the active rustc.
if command -v rustup >/dev/null && rustup run "$RUST_VERSION" rustc --version >/dev/null 2>&1; then
  RUSTC=(rustup run "$RUST_VERSION" rustc)
elif command -v rustc >/dev/null && rustc --version | grep -q "^rustc $RUST_VERSION "; then
  RUSTC=(rustc)
else
  die "Rust $RUST_VERSION is not installed here. Run: rustup toolchain install $RUST_VERSION"
fi
SYSROOT=$("${RUSTC[@]}" --print sysroot)
HOST=$("${RUSTC[@]}" -vV | sed -n 's/^host: //p')
CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$CA_BUNDLE" ] || die "There is no CA bundle at $CA_BUNDLE. Set SSL_CERT_FILE to it."

# The stamp names every input. When one changes, the image is made again.
stamp=$({
  grep -v "^#" "$0"
  echo "$IMAGE $HOST"
  "${RUSTC[@]}" -vV
  sha256sum "$CA_BUNDLE"
} | sha256sum | cut -c1-16)
if [ "$(cat "$CACHE/image.stamp" 2>/dev/null)" = "$stamp" ] &&
  podman "${STORE[@]}" image exists "$FULL_NAME"; then
  say "✔ The stand-in $IMAGE is ready (podman storage in $CACHE)."
  exit 0
fi
mkdir -p "$CACHE"

# 1. The root file system, made once and kept: about 3 minutes.
rootfs=$CACHE/rootfs
if [ ! -f "$rootfs/.debootstrap-done" ]; then
  say "Making a Debian root file system in $rootfs (about 3 minutes, once) ..."
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap failed. Its log is in $CACHE/debootstrap.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  touch "$rootfs/.debootstrap-done"
fi

# 2. The toolchain, where the official image keeps it (RUSTUP_HOME, CARGO_HOME).
say "Copying Rust $RUST_VERSION ($HOST) into the stand-in ..."
toolchain=$rootfs/usr/local/rustup/toolchains/$RUST_VERSION-$HOST
rm -rf "$rootfs/usr/local/rustup" "$rootfs/usr/local/cargo"
mkdir -p "$toolchain" "$rootfs/usr/local/cargo/bin"
tar -C "$SYSROOT" --exclude=./share/doc --exclude=./share/man -c . | tar -C "$toolchain" -x

# 3. This machine's CA bundle, so cargo trusts the proxy between it and crates.io.
cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"

# 4. The wrapper: +crt-static for final programs only. Proc-macros must stay dynamic
#    ("does not support these crate types"), and the Dockerfile gives no --target.
cat >"$rootfs/usr/local/cargo/bin/static-rustc" <<'WRAP'
#!/bin/sh
# Stand-in for musl's static linking: link programs statically, leave the rest alone.
rustc=$1
shift
# cargo's first call asks about every crate type at once, proc-macro too: leave it alone.
case " $* " in
  *" --crate-type proc-macro "*) exec "$rustc" "$@" ;;
  *" --crate-type bin "*) exec "$rustc" "$@" -C target-feature=+crt-static ;;
  *) exec "$rustc" "$@" ;;
esac
WRAP
chmod 0755 "$rootfs/usr/local/cargo/bin/static-rustc"
for tool in cargo rustc rustdoc; do
  ln -sf "../../rustup/toolchains/$RUST_VERSION-$HOST/bin/$tool" "$rootfs/usr/local/cargo/bin/$tool"
done

# 5. Import into the private storage, under the exact name the Dockerfile pins.
say "Importing the stand-in as $FULL_NAME (about 30 seconds) ..."
podman "${STORE[@]}" rmi -f "$FULL_NAME" >/dev/null 2>&1 || true
tar -C "$rootfs" --exclude=./.debootstrap-done -c . | podman "${STORE[@]}" import \
  --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' \
  --change 'ENV RUSTC_WRAPPER=/usr/local/cargo/bin/static-rustc' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL kube-course.stand-in=$stamp" \
  - "$FULL_NAME" >/dev/null || die "podman import failed."
echo "$stamp" >"$CACHE/image.stamp"
say "✔ The stand-in $IMAGE is ready (podman storage in $CACHE)."

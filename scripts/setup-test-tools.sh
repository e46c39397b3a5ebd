#!/usr/bin/env bash
# Install the tools that `make test` needs, and only the ones missing.
# Safe to run again: it does nothing when everything is there.
# .ci/run calls it on a fresh machine; `make test` calls it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*"; }

# --- Debian packages --------------------------------------------------------
# podman + runc: a real container engine for the image tests.
# netavark + aardvark-dns + iptables: podman networks with a DNS server, so
# containers find each other by name (relay calls echo), and published ports.
# nginx + wrk: the reference server and load generator for `make bench`.
# chromium: the real browser for the book's page-design check.
# debootstrap: the root file system of the offline stand-in for the Rust builder image
# (tests/scripts/builder-standin.sh), so make test runs the builder stage of images/Dockerfile.
APT_PACKAGES=(jq podman runc uidmap slirp4netns netavark aardvark-dns iptables nginx wrk hyperfine shellcheck chromium chromium-driver debootstrap)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "✖ These Debian packages are missing: ${missing[*]}"
    say "  Install them with: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  say "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- podman settings for this kind of machine -------------------------------
# crun fails on these machines' cgroups and the default rlimits are refused.
# netavark (not CNI) runs the networks: its aardvark-dns answers container names.
if [ "$(id -u)" -eq 0 ] && ! grep -qs 'network_backend = "netavark"' /etc/containers/containers.conf; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
CONF
  say "✔ podman uses runc and netavark (/etc/containers/containers.conf)"
fi

# --- Python tools, in a virtual environment ---------------------------------
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import sys; sys.exit(0)' 2>/dev/null || \
   ! cmp -s tests/requirements.txt .venv/.requirements.installed 2>/dev/null; then
  say "Installing Python test tools into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt .venv/.requirements.installed
fi

# --- npm tools for the book's browser tests (axe-core) ------------------------
# Pinned in tests/book/browser/package-lock.json; installed again when the lock changes.
BROWSER_NPM=tests/book/browser
if ! cmp -s "$BROWSER_NPM/package-lock.json" "$BROWSER_NPM/node_modules/.package-lock.json.installed" 2>/dev/null; then
  if ! command -v npm >/dev/null 2>&1; then
    say "✖ npm is missing: the book's browser tests need it for axe-core."
    say "  Install Node.js 20 or later, with npm, then run this script again."
    exit 1
  fi
  say "Installing the book's browser test tools (npm ci in $BROWSER_NPM)"
  (cd "$BROWSER_NPM" && npm ci --silent --no-audit --no-fund)
  cp "$BROWSER_NPM/package-lock.json" "$BROWSER_NPM/node_modules/.package-lock.json.installed"
fi

# --- Rust tools ---------------------------------------------------------------
# Pinned versions, so every machine checks the book with the same tools.
install_cargo_tool() { # name version binary
  if ! command -v "$3" >/dev/null 2>&1 || ! "$3" --version 2>/dev/null | grep -q "$2"; then
    say "Installing $1 $2 (cargo install, takes a few minutes once)"
    cargo install --locked --quiet "$1" --version "$2"
  fi
}
# .config/nextest.toml needs nextest 0.9.91 or newer (test priorities).
nextest_ok() {
  local v
  v=$(cargo nextest --version 2>/dev/null | sed -n 's/^cargo-nextest 0\.9\.\([0-9]*\).*/\1/p')
  [ -n "$v" ] && [ "$v" -ge 91 ]
}
if ! nextest_ok; then
  say "Installing cargo-nextest (cargo install, takes a few minutes once)"
  cargo install --locked --quiet cargo-nextest
fi
install_cargo_tool mdbook 0.5.4 mdbook

say "✔ Test tools are ready."

#!/usr/bin/env bash
# scripts/engine.sh: questions the Makefile asks about the container engine.
#
#   engine.sh check ENGINE TARGET    say in plain words why ENGINE does not answer (exit 1)
#   engine.sh tools-options ENGINE   the options of `make run`: the engine's socket, your user
#   engine.sh user-options ENGINE    only your user (make serve-book)
#   engine.sh tools-notes ENGINE     what to know before `make run` on this engine
#
# The socket: DOCKER_HOST, else the current docker context, else podman's socket,
# else /var/run/docker.sock. Docker Desktop always lends /var/run/docker.sock.
# The user: on an engine that runs as root (Docker on Linux), the tools shell runs as
# your uid and gid, so files in .cache/ stay yours. A rootless engine and Docker Desktop
# already map the shell's root user to you, so there it stays root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# info ENGINE FORMAT: one field of `ENGINE info`, empty when the engine does not say.
info() { "$1" info --format "$2" 2>/dev/null || true; }

is_desktop() { [ "$(info "$1" '{{.OperatingSystem}}')" = "Docker Desktop" ]; }

is_rootless() {
  if [ "$(engine_flavour "$1")" = podman ]; then
    [ "$(info "$1" '{{.Host.Security.Rootless}}')" = true ]
  else
    case "$(info "$1" '{{.SecurityOptions}}')" in *rootless*) return 0 ;; esac
    return 1
  fi
}

# socket ENGINE: the path of the engine's socket on this machine.
socket() {
  local e=$1 host=""
  if is_desktop "$e"; then
    echo /var/run/docker.sock
    return
  fi
  if [ "$(engine_flavour "$e")" = podman ]; then
    host=${CONTAINER_HOST:-${DOCKER_HOST:-}}
    [ -n "$host" ] || host=$(info "$e" '{{.Host.RemoteSocket.Path}}')
  else
    host=${DOCKER_HOST:-}
    [ -n "$host" ] || host=$("$e" context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || true)
  fi
  case "$host" in
    unix://*) echo "${host#unix://}" ;;
    /*) echo "$host" ;;
    *) echo /var/run/docker.sock ;;
  esac
}

# user_options ENGINE [SOCKET]: run as your uid and gid where the engine runs as root.
user_options() {
  local e=$1 sock=${2:-}
  if ! is_desktop "$e" && ! is_rootless "$e" && [ "$(id -u)" -ne 0 ]; then
    printf '%s\n' --user "$(id -u):$(id -g)"
    # The socket's group lets your user talk to the engine, as it does on the laptop.
    if [ -n "$sock" ] && [ -S "$sock" ]; then
      printf '%s\n' --group-add "$(stat -c %g "$sock" 2>/dev/null || stat -f %g "$sock")"
    fi
  fi
}

tools_options() {
  local e=$1 sock
  sock=$(socket "$e")
  printf '%s\n' -v "$sock:/var/run/docker.sock"
  user_options "$e" "$sock"
}

tools_notes() {
  local e=$1 sock
  sock=$(socket "$e")
  if is_desktop "$e"; then
    say "Docker Desktop: the tools shell needs host networking, or kubectl cannot reach the cluster."
    say "  Turn it on once: Settings, then Resources, then Network, then Enable host networking."
    say "  It needs Docker Desktop 4.35 or later (on 4.34, sign in first)."
    say "  Then restart Docker Desktop."
  elif [ ! -S "$sock" ]; then
    say "✖ There is no engine socket at $sock, so the tools shell cannot reach $e."
    if [ "$(engine_flavour "$e")" = docker ]; then
      say "  Set DOCKER_HOST to the socket, for example: export DOCKER_HOST=unix:///run/user/$(id -u)/docker.sock"
    elif is_rootless "$e"; then
      say "  Start podman's socket first: systemctl --user start podman.socket"
    else
      say "  Start podman's socket first: sudo systemctl start podman.socket"
    fi
    say "  Then run again: make run"
    exit 1
  fi
  if [ "$(engine_flavour "$e")" = podman ]; then
    say "The tools shell talks to podman's Docker interface through $sock."
  fi
}

case "${1:-}" in
  check)
    engine_problem "${2:?engine}" "${3:-demo}" || exit 1
    ;;
  tools-options) tools_options "${2:?engine}" ;;
  user-options) user_options "${2:?engine}" ;;
  tools-notes) tools_notes "${2:?engine}" ;;
  *)
    say "✖ Usage: scripts/engine.sh check|tools-options|user-options|tools-notes ENGINE [TARGET]"
    exit 2
    ;;
esac

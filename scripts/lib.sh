#!/usr/bin/env bash
# scripts/lib.sh: what scripts/demo.sh, scripts/e2e.sh and scripts/engine.sh share.
#
# Source it; it defines functions and names, and runs nothing.
#   say, step, ok, fail, run, mk        the words the learner reads, in one shape
#   has, http_get, free_port_from       small tools
#   find_engine, engine_problem, ...    which container engine answers, and why not
#   check_cluster_tools                 what the cluster path lacks (MISSING)
#   start_port_forward, ...             kubectl port-forward in the background
#
# A script that must show more when it fails defines on_fail; fail calls it.
# Each script that sources it runs with "set -euo pipefail"; so does this file.

set -euo pipefail

CLUSTER_NAME=${CLUSTER_NAME:-kube-course}
KUBE_CONTEXT=${KUBE_CONTEXT:-kind-$CLUSTER_NAME}
NAMESPACE=${NAMESPACE:-my-space}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
STATE_DIR=${STATE_DIR:-.cache/demo}

KIND_HELP="https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
KUBECTL_HELP="https://kubernetes.io/docs/tasks/tools/"
ENGINE_HELP="https://docs.docker.com/get-started/get-docker/ (or install podman)"
CURL_HELP="your package manager, for example: sudo apt-get install curl"

STEP=0
STEPS=0
# Set by find_engine and check_cluster_tools, read by the scripts that source this file.
# shellcheck disable=SC2034
ENGINE=""
MISSING=()

# --- words ------------------------------------------------------------------------

say() { printf '%s\n' "$*"; }
step() {
  STEP=$((STEP + 1))
  say "Step $STEP of $STEPS: $*"
}
ok() { say "  ✔ $*"; }
# fail WHAT: say what went wrong, let the script add its part (on_fail), stop.
fail() {
  say "  ✖ $*"
  if declare -F on_fail >/dev/null; then
    on_fail
  fi
  exit 1
}
run() {
  say "  \$ $*"
  "$@"
}
# make, quiet about directories, with the names this script uses.
mk() {
  say "  \$ make $*"
  make --no-print-directory CLUSTER_NAME="$CLUSTER_NAME" KUBE_CONTEXT="$KUBE_CONTEXT" "$@"
}

# --- small tools ------------------------------------------------------------------

has() { command -v "$1" >/dev/null 2>&1; }

# http_get CURL-ARGS...: print the answer's body; succeed only on status 200.
# (Older curl lacks --fail-with-body, so read the status by hand.)
http_get() {
  local out
  local code=0
  out=$(curl -sS --max-time 5 -w '\n%{http_code}' "$@") || code=$?
  printf '%s\n' "${out%$'\n'*}"
  [ "$code" -eq 0 ] && [ "${out##*$'\n'}" = 200 ]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port_from PORT: the first free port from PORT upwards.
free_port_from() {
  local p=$1
  while port_in_use "$p"; do
    p=$((p + 1))
    [ "$p" -lt $(($1 + 200)) ] || return 1
  done
  echo "$p"
}

# --- the container engine -----------------------------------------------------------

# engine_flavour ENGINE: podman or docker. podman-docker's "docker" is podman.
engine_flavour() {
  case "$("$1" --version 2>/dev/null)" in
    *podman*) echo podman ;;
    *) echo docker ;;
  esac
}

# The first container engine that answers: $CONTAINER_ENGINE, then docker, then podman.
find_engine() {
  local e
  for e in ${CONTAINER_ENGINE:-} docker podman; do
    if has "$e" && "$e" info >/dev/null 2>&1; then
      # shellcheck disable=SC2034
      ENGINE=$e
      return 0
    fi
  done
  return 1
}

# engine_problem ENGINE TARGET: say in plain words why ENGINE does not answer.
# TARGET is the make target to run again. Returns 0 when the engine answers.
engine_problem() {
  local e=$1 target=${2:-demo} out
  if ! has "$e"; then
    say "✖ There is no container engine: make cannot find the command '$e'."
    say "  Install Docker: $ENGINE_HELP"
    return 1
  fi
  out=$("$e" info 2>&1 >/dev/null) && return 0
  case "$out" in
    *"ermission denied"*)
      say "✖ $e is installed and running, but it refuses you."
      say "  It said: permission denied on its socket."
      if [ "$(engine_flavour "$e")" = docker ]; then
        say "  Add yourself to the docker group: sudo usermod -aG docker \$USER"
        say "  Then log out, log in again, and run: make $target"
        say "  Or use rootless Docker: https://docs.docker.com/engine/security/rootless/"
      else
        say "  Run podman as your own user, not with another user's files."
      fi
      ;;
    *)
      say "✖ $e is installed, but it is not running."
      if [ "$(engine_flavour "$e")" = podman ]; then
        say "  On macOS or Windows, start it with: podman machine start"
      else
        say "  Start Docker Desktop, or the docker service: sudo systemctl start docker"
      fi
      say "  Then run again: make $target"
      ;;
  esac
  if [ "$e" != podman ] && has podman && podman info >/dev/null 2>&1; then
    say "  Or use podman: make $target CONTAINER_ENGINE=podman"
  fi
  return 1
}

# kind_provider ENGINE: export the kind provider that matches ENGINE.
kind_provider() {
  if [ "$(engine_flavour "$1")" = podman ]; then
    export KIND_EXPERIMENTAL_PROVIDER=podman
  fi
}

# Fill MISSING with one line per missing cluster tool: what, and where to get it.
check_cluster_tools() {
  MISSING=()
  if ! find_engine; then
    MISSING+=("a container engine that answers (docker or podman). Get one: $ENGINE_HELP")
  fi
  has "$KIND" || MISSING+=("kind. Get it: $KIND_HELP")
  has "$KUBECTL" || MISSING+=("kubectl. Get it: $KUBECTL_HELP")
  has curl || MISSING+=("curl. Get it from $CURL_HELP")
}

# --- kubectl port-forward -------------------------------------------------------------

# start_port_forward TARGET: forward a free local port to TARGET (svc/relay, pod/NAME); print the port.
start_port_forward() {
  mkdir -p "$STATE_DIR"
  "$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE" port-forward "$1" :8080 \
    >"$STATE_DIR/port-forward.log" 2>&1 &
  echo $! >"$STATE_DIR/port-forward.pid"
  local i port
  for i in $(seq 1 150); do
    port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$STATE_DIR/port-forward.log" | head -n 1)
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    sleep 0.1
    : "$i"
  done
  return 1
}

stop_port_forward() {
  if [ -f "$STATE_DIR/port-forward.pid" ]; then
    kill "$(cat "$STATE_DIR/port-forward.pid")" 2>/dev/null || true
    rm -f "$STATE_DIR/port-forward.pid"
  fi
}

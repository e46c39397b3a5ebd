#!/usr/bin/env bash
# make demo: the whole course app in one command.
#
# With a container engine (docker or podman), kind and kubectl, it runs the app on kind:
# build both images, create or reuse the cluster kube-course, load the images,
# apply lessons/, wait for the rollouts, then call relay, which calls echo through its Service.
#
# Without kind or a container engine (like the course build machines), it says so
# and runs both apps as local programs instead: relay calls echo on this machine.
#
# Usage: scripts/demo.sh up | down    (make demo, make demo-down)
#   DEMO_MODE=auto (default) | cluster | local    choose the way by hand
#   DEMO_CLUSTER_TARGET=create-cluster (default)  the make target that creates the cluster
#   DEMO_MESSAGE="hello from the demo"            the message relay sends to echo
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_NAME=${CLUSTER_NAME:-kube-course}
KUBE_CONTEXT=${KUBE_CONTEXT:-kind-$CLUSTER_NAME}
NAMESPACE=${NAMESPACE:-my-space}
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
DEMO_MODE=${DEMO_MODE:-auto}
DEMO_CLUSTER_TARGET=${DEMO_CLUSTER_TARGET:-create-cluster}
DEMO_MESSAGE=${DEMO_MESSAGE:-hello from the demo}
STATE_DIR=.cache/demo
STATIC_DIR=${DEMO_BIN_DIR:-target/static}

KIND_HELP="https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
KUBECTL_HELP="https://kubernetes.io/docs/tasks/tools/"
ENGINE_HELP="https://docs.docker.com/get-started/get-docker/ (or install podman)"
CURL_HELP="your package manager, for example: sudo apt-get install curl"
CARGO_HELP="https://rustup.rs"

STEP=0
STEPS=0
ENGINE=""
MISSING=()

say() { printf '%s\n' "$*"; }
step() { STEP=$((STEP + 1)); say "Step $STEP of $STEPS: $*"; }
ok() { say "  ✔ $*"; }
fail() {
  say "  ✖ $*"
  exit 1
}
run() { say "  \$ $*"; "$@"; }
# make, quiet about directories, with the names this script uses.
mk() {
  say "  \$ make $*"
  make --no-print-directory CLUSTER_NAME="$CLUSTER_NAME" KUBE_CONTEXT="$KUBE_CONTEXT" "$@"
}

# --- tools -----------------------------------------------------------------------

# http_get CURL-ARGS...: print the answer's body; succeed only on status 200.
# (Older curl lacks --fail-with-body, so read the status by hand.)
http_get() {
  local out
  local code=0
  out=$(curl -sS --max-time 5 -w '\n%{http_code}' "$@") || code=$?
  printf '%s\n' "${out%$'\n'*}"
  [ "$code" -eq 0 ] && [ "${out##*$'\n'}" = 200 ]
}

has() { command -v "$1" >/dev/null 2>&1; }

# The first container engine that answers: $CONTAINER_ENGINE, then docker, then podman.
find_engine() {
  local e
  for e in ${CONTAINER_ENGINE:-} docker podman; do
    if has "$e" && "$e" info >/dev/null 2>&1; then
      ENGINE=$e
      return 0
    fi
  done
  return 1
}

# Fill MISSING with one line per missing cluster tool: what, and where to get it.
check_cluster_tools() {
  MISSING=()
  if ! find_engine; then
    if has docker; then
      MISSING+=("a container engine: docker is there, but its daemon does not answer. Start it, or get one: $ENGINE_HELP")
    else
      MISSING+=("a container engine (docker or podman). Get one: $ENGINE_HELP")
    fi
  fi
  has "$KIND" || MISSING+=("kind. Get it: $KIND_HELP")
  has "$KUBECTL" || MISSING+=("kubectl. Get it: $KUBECTL_HELP")
  has curl || MISSING+=("curl. Get it from $CURL_HELP")
}

# --- local programs ----------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first free port from $1 upwards.
free_port_from() {
  local p=$1
  while port_in_use "$p"; do
    p=$((p + 1))
    [ "$p" -lt $(($1 + 200)) ] || return 1
  done
  echo "$p"
}

# wait_ready URL NAME PID: wait up to 10 s for a 200.
wait_ready() {
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then
      return 0
    fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
    : "$i"
  done
  return 1
}

# start_app NAME PORT [VAR=VALUE ...]: start one app in the background, remember its pid.
start_app() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$STATE_DIR"
  env PORT="$port" "$@" "$STATIC_DIR/$name-server" >"$STATE_DIR/$name.log" 2>&1 &
  echo $! >"$STATE_DIR/$name.pid"
  if ! wait_ready "http://127.0.0.1:$port/ready" "$name" "$!"; then
    say "  ✖ $name-server did not get ready on port $port. Its last log lines:"
    tail -n 5 "$STATE_DIR/$name.log" | sed 's/^/    /'
    exit 1
  fi
}

# stop_app NAME: SIGTERM, wait up to 15 s, then report the exit code. Returns that code.
stop_app() {
  local name=$1 pid code=0 i
  [ -f "$STATE_DIR/$name.pid" ] || return 0
  pid=$(cat "$STATE_DIR/$name.pid")
  rm -f "$STATE_DIR/$name.pid"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    say "  ✖ $name-server did not stop within 15 s, so it was killed."
    return 1
  fi
  wait "$pid" 2>/dev/null || code=$?
  return "$code"
}

stop_local_apps() {
  stop_app relay || true
  stop_app echo || true
}

local_demo() {
  STEPS=6
  step "Check the tools"
  if [ "${#MISSING[@]}" -gt 0 ]; then
    say "  ✖ No cluster tools here, so no cluster. The demo runs both apps as local programs instead."
    for line in ${MISSING[@]+"${MISSING[@]}"}; do
      say "    Missing: $line"
    done
    say "    Or use the tools image, which has kind and kubectl: make build, then make run."
  else
    say "  DEMO_MODE=local: the demo runs both apps as local programs."
  fi
  has curl || fail "curl is missing. Get it from $CURL_HELP"
  ok "curl is there."

  step "Build both apps (make build-static)"
  if has cargo; then
    mk -s build-static || fail "make build-static failed. Read the lines above."
  elif [ -x "$STATIC_DIR/echo-server" ] && [ -x "$STATIC_DIR/relay-server" ]; then
    say "  cargo is missing, so the demo uses the binaries in $STATIC_DIR as they are."
  else
    fail "cargo is missing, and there are no binaries in $STATIC_DIR. Get Rust: $CARGO_HELP"
  fi
  ok "echo-server and relay-server are in $STATIC_DIR."

  trap 'stop_local_apps' EXIT
  trap 'say "✖ Stopped. The demo stops both apps."; exit 130' INT TERM

  step "Start echo"
  local echo_port relay_port
  echo_port=$(free_port_from 8081) || fail "No free port from 8081 to 8280."
  start_app echo "$echo_port"
  ok "echo answers on http://127.0.0.1:$echo_port"

  step "Start relay, with echo as its default target"
  relay_port=$(free_port_from $((echo_port + 1))) || fail "No free port after $echo_port."
  start_app relay "$relay_port" DEFAULT_ECHO_SERVER="127.0.0.1:$echo_port"
  ok "relay answers on http://127.0.0.1:$relay_port"

  step "Call relay. Relay calls echo and wraps its reply"
  local url="http://127.0.0.1:$relay_port/relay"
  say "  \$ curl --get --data-urlencode 'message=$DEMO_MESSAGE' $url"
  local reply
  reply=$(http_get --get --data-urlencode "message=$DEMO_MESSAGE" "$url") ||
    fail "relay did not answer 200. It said: $reply"
  say "  The reply:"
  printf '%s\n' "$reply" | sed 's/^/    | /'
  ok "relay reached echo and printed its reply."

  step "Stop both apps"
  local code=0
  stop_app relay || code=$?
  [ "$code" -eq 0 ] || fail "relay-server stopped with exit code $code, not 0."
  stop_app echo || code=$?
  [ "$code" -eq 0 ] || fail "echo-server stopped with exit code $code, not 0."
  trap - EXIT INT TERM
  ok "Both apps stopped cleanly (exit code 0). Nothing is left running."
  say ""
  say "✔ The local demo worked."
  say "Explore: run $STATIC_DIR/echo-server --help, or read the course book in lessons/."
  say "For the real cluster, install the missing tools and run make demo again."
}

# --- the cluster ----------------------------------------------------------------------

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

cluster_demo() {
  STEPS=7
  local kc=("$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE")
  if [ "$ENGINE" = podman ]; then
    export KIND_EXPERIMENTAL_PROVIDER=podman
  fi

  step "Check the tools"
  ok "$ENGINE, kind and kubectl are there."

  step "Build both images"
  mk CONTAINER_ENGINE="$ENGINE" build-echo build-relay
  ok "The images are built."

  step "Create the cluster $CLUSTER_NAME, or use the one you have"
  mk CONTAINER_ENGINE="$ENGINE" "$DEMO_CLUSTER_TARGET"
  ok "The cluster $CLUSTER_NAME is ready."

  step "Load both images into the cluster"
  mk CONTAINER_ENGINE="$ENGINE" load-images
  ok "The cluster has both images."

  step "Apply the app: kubectl apply -k lessons"
  mk deploy
  ok "Kubernetes has the app."

  step "Wait for the rollouts"
  local d
  for d in echo relay; do
    if ! run "${kc[@]}" rollout status "deploy/$d" --timeout=180s; then
      "${kc[@]}" get pods -o wide || true
      fail "deploy/$d did not get ready within 180 s. Look at: kubectl --context $KUBE_CONTEXT -n $NAMESPACE describe deploy/$d"
    fi
  done
  ok "echo and relay are running."

  step "Call relay. Relay calls echo through the echo Service"
  trap 'stop_port_forward' EXIT
  local port reply i
  port=$(start_port_forward svc/relay) || fail "kubectl port-forward did not start. Its log is in $STATE_DIR/port-forward.log"
  say "  kubectl forwards port $port on this machine to svc/relay."
  say "  \$ curl --get --data-urlencode 'message=$DEMO_MESSAGE' http://127.0.0.1:$port/relay"
  for i in 1 2 3 4 5; do
    if reply=$(http_get --get --data-urlencode "message=$DEMO_MESSAGE" "http://127.0.0.1:$port/relay"); then
      break
    fi
    sleep 1
    : "$i"
  done
  stop_port_forward
  trap - EXIT
  case "$reply" in
    *"Message: $DEMO_MESSAGE"*) ;;
    *) fail "relay did not pass on echo's reply. It said: $reply" ;;
  esac
  say "  The reply:"
  printf '%s\n' "$reply" | sed 's/^/    | /'
  ok "relay reached echo through the Service."
  say ""
  say "✔ The app runs on the kind cluster $CLUSTER_NAME."
  say "Explore:"
  say "  kubectl --context $KUBE_CONTEXT -n $NAMESPACE get pods -o wide"
  say "  curl 'http://localhost:30080/relay?message=hi'   (the relay NodePort)"
  say "  make port-forward-relay   (then open http://localhost:8082/relay?message=hi)"
  say "Clean up: make demo-down"
}

# --- down -------------------------------------------------------------------------------

down() {
  stop_local_apps
  stop_port_forward
  say "✔ No demo program is running on this machine."
  if ! has "$KIND"; then
    say "✔ There is no kind here, so there is no cluster to delete."
    return 0
  fi
  if find_engine && [ "$ENGINE" = podman ]; then
    export KIND_EXPERIMENTAL_PROVIDER=podman
  fi
  mk delete-cluster
}

main() {
  case "${1:-up}" in
    up) ;;
    down)
      down
      return
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      return
      ;;
    *)
      say "✖ Unknown command: $1. Use: scripts/demo.sh up, or scripts/demo.sh down."
      exit 2
      ;;
  esac
  check_cluster_tools
  case "$DEMO_MODE" in
    auto)
      if [ "${#MISSING[@]}" -eq 0 ]; then cluster_demo; else local_demo; fi
      ;;
    cluster)
      if [ "${#MISSING[@]}" -gt 0 ]; then
        for line in ${MISSING[@]+"${MISSING[@]}"}; do say "✖ Missing: $line"; done
        say "✖ DEMO_MODE=cluster needs all of these. Or work inside the tools image: make run"
        exit 1
      fi
      cluster_demo
      ;;
    local) local_demo ;;
    *)
      say "✖ DEMO_MODE must be auto, cluster or local, not '$DEMO_MODE'."
      exit 2
      ;;
  esac
}

# scripts/e2e.sh sources this file for its helpers; then main does not run.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi

#!/usr/bin/env bash
# make demo: the whole course app in one command. You need Docker (or podman) and make.
# Rust is never needed: the image build compiles the apps inside the engine.
#
# It picks the first way that works on this machine:
#   cluster      docker or podman, kind and kubectl: build both images, create or reuse the
#                cluster kube-course, load the images, apply lessons/, wait for the rollouts,
#                then call relay, which calls echo through its Service.
#   containers   docker or podman only: build both images, start echo and relay as containers
#                on one network, call relay. Both keep running until make demo-down.
#   local        no engine, but Rust: run both apps as local programs, call relay, stop them.
#
# Usage: scripts/demo.sh up | down    (make demo, make demo-down)
#   DEMO_MODE=auto (default) | cluster | containers | local    choose the way by hand
#   DEMO_CLUSTER_TARGET=create-cluster (default)  the make target that creates the cluster
#   DEMO_MESSAGE="hello from the demo"            the message relay sends to echo
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The names and helpers shared with e2e.sh: say, step, ok, fail, mk, find_engine, ...
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

DEMO_MODE=${DEMO_MODE:-auto}
DEMO_CLUSTER_TARGET=${DEMO_CLUSTER_TARGET:-create-cluster}
DEMO_MESSAGE=${DEMO_MESSAGE:-hello from the demo}
STATIC_DIR=${DEMO_BIN_DIR:-target/static}
ECHO_CONTAINER=${ECHO_CONTAINER:-local-echo-server}
RELAY_CONTAINER=${RELAY_CONTAINER:-local-relay-server}
CONTAINER_NETWORK=${CONTAINER_NETWORK:-kube-course-net}

# wait_http URL SECONDS: wait until URL answers 200.
wait_http() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# call_relay PORT: show the curl command, call relay on this machine, show its reply.
call_relay() {
  local reply
  say "  \$ curl --get --data-urlencode 'message=$DEMO_MESSAGE' http://localhost:$1/relay"
  reply=$(http_get --get --data-urlencode "message=$DEMO_MESSAGE" "http://127.0.0.1:$1/relay") ||
    fail "relay did not answer 200. It said: $reply"
  show_reply "$reply"
}

# show_reply REPLY: the relay's answer, indented, one "|" per line.
show_reply() {
  case "$1" in
    *"Message: $DEMO_MESSAGE"*) ;;
    *) fail "relay did not pass on echo's reply. It said: $1" ;;
  esac
  say "  The reply:"
  printf '%s\n' "$1" | sed 's/^/    | /'
}

# --- local programs ----------------------------------------------------------------

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
  say "  DEMO_MODE=local: the demo runs both apps as local programs, with no container."
  has curl || fail "curl is missing. Get it from $CURL_HELP"
  ok "curl is there."

  step "Build both apps (make build-static)"
  if has cargo; then
    mk -s build-static || fail "make build-static failed. Read the lines above."
  elif [ -x "$STATIC_DIR/echo-server" ] && [ -x "$STATIC_DIR/relay-server" ]; then
    say "  cargo is missing, so the demo uses the binaries in $STATIC_DIR as they are."
  else
    fail "DEMO_MODE=local needs Rust (cargo). Without Rust, run make demo with Docker or podman."
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
  call_relay "$relay_port"
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
}

# --- containers -------------------------------------------------------------------------

# The demo's containers, when this engine has them.
demo_containers() {
  local c
  for c in "$RELAY_CONTAINER" "$ECHO_CONTAINER"; do
    if "$ENGINE" container inspect "$c" >/dev/null 2>&1; then
      echo "$c"
    fi
  done
}

# make run-echo and run-relay end with what to try and how to stop one app.
# The demo says that once for both at its end, so it leaves out theirs.
without_hints() { sed -e '/^  Try: /d' -e '/^  Stop it with: /d'; }

stop_demo_containers() {
  mk -s CONTAINER_ENGINE="$ENGINE" stop-relay stop-echo | sed 's/^/  /'
}

containers_demo() {
  STEPS=6
  local mk_engine=(CONTAINER_ENGINE="$ENGINE")
  step "Check the tools"
  has curl || fail "curl is missing. Get it from $CURL_HELP"
  if [ "$DEMO_MODE" = auto ]; then
    say "  kind or kubectl is missing, so there is no cluster."
    say "  The demo runs both apps as containers instead."
  fi
  ok "$ENGINE answers. You need no Rust: the image build compiles the apps."

  step "Build the echo image (the first build takes a few minutes)"
  mk "${mk_engine[@]}" build-echo || fail "The echo image did not build. Read the lines above."
  ok "The echo image is built."

  step "Build the relay image"
  mk "${mk_engine[@]}" build-relay || fail "The relay image did not build. Read the lines above."
  ok "The relay image is built."

  step "Start echo in a container"
  if [ -n "$(demo_containers)" ]; then
    say "  The containers of the last demo still run. The demo stops them first."
    stop_demo_containers
  fi
  local echo_port relay_port
  echo_port=$(free_port_from 8081) || fail "No free port from 8081 to 8280."
  mk "${mk_engine[@]}" run-echo ECHO_HOST_PORT="$echo_port" | without_hints || fail "echo did not start. Read the lines above."
  wait_http "http://127.0.0.1:$echo_port/ready" 15 ||
    fail "echo does not answer on port $echo_port. Look at: $ENGINE logs $ECHO_CONTAINER"
  ok "echo answers on http://localhost:$echo_port"

  step "Start relay in a container. It calls echo by its name"
  relay_port=$(free_port_from $((echo_port + 1))) || fail "No free port after $echo_port."
  mk "${mk_engine[@]}" run-relay RELAY_HOST_PORT="$relay_port" | without_hints || fail "relay did not start. Read the lines above."
  wait_http "http://127.0.0.1:$relay_port/ready" 15 ||
    fail "relay does not answer on port $relay_port. Look at: $ENGINE logs $RELAY_CONTAINER"
  ok "relay answers on http://localhost:$relay_port"

  step "Call relay. Relay calls echo and wraps its reply"
  call_relay "$relay_port"
  ok "relay reached echo on the network $CONTAINER_NETWORK."
  say ""
  say "✔ echo and relay run as containers. They keep running."
  say "Try next:"
  say "  curl 'http://localhost:$relay_port/relay?message=hi'"
  say "  curl 'http://localhost:$echo_port/echo?message=hi'"
  say "  $ENGINE ps"
  say "  $ENGINE logs $RELAY_CONTAINER"
  say "Stop both: make demo-down"
}

# --- the cluster ----------------------------------------------------------------------

# node_image_ids APP: every sha256 the cluster's node knows for the image that deploy/APP asks for.
node_image_ids() {
  local image
  image=$("$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE" get "deploy/$1" \
    -o jsonpath='{.spec.template.spec.containers[0].image}') || return 1
  "$ENGINE" exec "$CLUSTER_NAME-control-plane" crictl images --digests --no-trunc "$image" 2>/dev/null |
    grep -oE '[0-9a-f]{64}' | sort -u
}

# pod_images APP: one line per pod of APP: its name and the image ID it runs.
pod_images() {
  "$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE" get pods -l "app.kubernetes.io/name=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].imageID}{"\n"}{end}'
}

# refresh APP: when a pod of APP runs an older image than the node has now, restart deploy/APP.
refresh() {
  local app=$1 ids pod id stale=""
  ids=$(node_image_ids "$app") || return 0
  [ -n "$ids" ] || return 0
  while read -r pod id; do
    if [ -z "$pod" ] || [ -z "$id" ]; then continue; fi
    grep -qx "${id##*:}" <<<"$ids" || stale="$pod"
  done < <(pod_images "$app")
  if [ -n "$stale" ]; then
    say "  The pod $stale runs an older $app image. Kubernetes starts new pods:"
    run "$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE" rollout restart "deploy/$app"
  else
    say "  The $app pods run the image you just built, or they are still starting."
  fi
}

cluster_demo() {
  STEPS=8
  local kc=("$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE")
  kind_provider "$ENGINE"

  step "Check the tools"
  if ! "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME" && port_in_use 30080; then
    fail "Port 30080 on this machine is taken. The cluster needs it for relay. Stop the program that uses it, then run make demo again."
  fi
  if "$ENGINE" info 2>/dev/null | grep -qi rootless; then
    say "  $ENGINE runs rootless. kind then needs a few settings:"
    say "  https://kind.sigs.k8s.io/docs/user/rootless/"
  fi
  ok "$ENGINE, kind and kubectl are there.${KIND_EXPERIMENTAL_PROVIDER:+ kind uses podman.}"

  step "Build both images"
  mk CONTAINER_ENGINE="$ENGINE" build-echo build-relay || fail "The images did not build. Read the lines above."
  ok "The images are built."

  step "Create the cluster $CLUSTER_NAME, or use the one you have"
  mk CONTAINER_ENGINE="$ENGINE" "$DEMO_CLUSTER_TARGET" || fail "The cluster is not ready. Read the lines above."
  ok "The cluster $CLUSTER_NAME is ready."

  step "Load both images into the cluster"
  mk CONTAINER_ENGINE="$ENGINE" load-images || fail "The images did not reach the cluster. Read the lines above."
  ok "The cluster has both images."

  step "Apply the app: kubectl apply -k lessons"
  mk deploy || fail "kubectl could not apply the app. Read the lines above."
  ok "Kubernetes has the app."

  step "Make sure the pods run the new images"
  refresh echo
  refresh relay
  ok "New pods start from the images you just built."

  step "Wait for the rollouts"
  local d
  for d in echo relay; do
    if ! run "${kc[@]}" rollout status "deploy/$d" --timeout=180s; then
      "${kc[@]}" get pods -o wide || true
      fail "deploy/$d did not get ready within 180 s. Look at: kubectl --context $KUBE_CONTEXT -n $NAMESPACE describe deploy/$d"
    fi
  done
  say "  Each pod and the image ID it runs:"
  { pod_images echo && pod_images relay; } | sed 's/^/    | /'
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
  show_reply "$reply"
  ok "relay reached echo through the Service."
  say ""
  say "✔ The app runs on the kind cluster $CLUSTER_NAME."
  say "Try next:"
  say "  kubectl --context $KUBE_CONTEXT -n $NAMESPACE get pods -o wide"
  say "  curl 'http://localhost:30080/relay?message=hi'   (the relay NodePort)"
  say "  make port-forward-relay   (then open http://localhost:8082/relay?message=hi)"
  say "Stop it all: make demo-down"
}

# --- down -------------------------------------------------------------------------------

down() {
  stop_local_apps
  stop_port_forward
  if find_engine && [ -n "$(demo_containers)" ]; then
    say "The demo's containers run. make stops them:"
    stop_demo_containers
  fi
  say "✔ No demo program or container is running on this machine."
  if ! has "$KIND"; then
    say "✔ There is no kind here, so there is no cluster to delete."
    return 0
  fi
  if [ -z "$ENGINE" ]; then
    engine_problem "${CONTAINER_ENGINE:-docker}" demo-down | sed 's/^/  /' || true
    exit 1
  fi
  kind_provider "$ENGINE"
  mk CONTAINER_ENGINE="$ENGINE" delete-cluster
}

# no_engine: nothing answers. Say why, or run the apps as local programs when Rust is here.
no_engine() {
  STEPS=1
  step "Check the tools"
  local e=${CONTAINER_ENGINE:-docker}
  if ! has "$e" && has podman; then
    e=podman
  fi
  engine_problem "$e" demo | sed "s/^/  /" || true
  say "  make demo needs Docker or podman. Nothing else: no Rust, no kind."
  exit 1
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
      if [ "${#MISSING[@]}" -eq 0 ]; then
        cluster_demo
      elif [ -n "$ENGINE" ]; then
        containers_demo
      else
        no_engine
      fi
      ;;
    cluster)
      if [ "${#MISSING[@]}" -gt 0 ]; then
        for line in ${MISSING[@]+"${MISSING[@]}"}; do say "✖ Missing: $line"; done
        say "✖ DEMO_MODE=cluster needs all of these. Or work inside the tools image: make run"
        exit 1
      fi
      cluster_demo
      ;;
    containers)
      if [ -n "$ENGINE" ]; then containers_demo; else no_engine; fi
      ;;
    local) local_demo ;;
    *)
      say "✖ DEMO_MODE must be auto, cluster, containers or local, not '$DEMO_MODE'."
      exit 2
      ;;
  esac
}

# scripts/e2e.sh sources this file for its parts; then main does not run.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi

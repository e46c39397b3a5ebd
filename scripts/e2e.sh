#!/usr/bin/env bash
# make e2e: the real-cluster test of the course app.
#
# ✖ It cannot run on the course build machines: they have no kind and cannot pull images.
#   Run it on a laptop with docker (or podman), kind, kubectl and curl,
#   or on GitHub Actions: .github/workflows/e2e.yml runs it on every push.
#
# It creates a fresh two-node kind cluster (kube-course), sets up the app with
# scripts/demo.sh, then checks:
#   1. relay reaches echo through the echo Service;
#   2. answers come from several echo pods;
#   3. readiness off on one pod removes it from the endpoints (EndpointSlices);
#   4. liveness off restarts the container (restartCount grows);
#   5. a rolling update of echo under steady relay traffic loses no request;
#   6. a deleted pod is replaced, on the two-node cluster.
# At the end it deletes the cluster. After a failure it keeps the cluster, so you can look.
#   E2E_KEEP_CLUSTER=1     keep the cluster after success too
#   E2E_RELAY_URL=...      where relay answers (default: the NodePort, http://127.0.0.1:30080)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The names and helpers shared with make demo (scripts/lib.sh, through demo.sh):
# say, step, ok, fail, has, http_get, check_cluster_tools, start_port_forward, ...
# shellcheck source=scripts/demo.sh
source scripts/demo.sh

RELAY_URL=${E2E_RELAY_URL:-http://127.0.0.1:30080}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube-course-e2e.XXXXXX")
ECHO_LABEL=app.kubernetes.io/name=echo

CHECKS=7
STEPS=$((CHECKS + 3))
PASSED=0
PF_PORT=""
POD=""

kc() { "$KUBECTL" --context "$KUBE_CONTEXT" -n "$NAMESPACE" "$@"; }
passed() {
  PASSED=$((PASSED + 1))
  ok "$*"
}

# lib.sh's fail calls this after its "✖" line: show the pods, keep the cluster.
on_fail() {
  say ""
  say "What the cluster looks like now:"
  kc get pods -o wide 2>/dev/null | sed 's/^/  /' || true
  say "✖ make e2e failed at step $STEP of $STEPS. $PASSED of $CHECKS checks passed before."
  say "  The cluster $CLUSTER_NAME is kept, so you can look. Delete it with: make demo-down"
}

cleanup() {
  stop_port_forward
  stop_traffic
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'say "✖ Stopped."; exit 130' INT TERM

# wait_for SECONDS WHAT COMMAND...: run COMMAND every second until it succeeds.
wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  fail "$what did not happen within $seconds s."
}

# get CURL-ARGS...: print the body; succeed only on status 200 (http_get from demo.sh).
get() { http_get "$@"; }

echo_pods() { kc get pods -l "$ECHO_LABEL" --field-selector=status.phase=Running -o jsonpath='{.items[*].metadata.name}'; }

# Set POD to the name of one running echo pod, or fail.
pick_echo_pod() {
  local pods
  pods=$(echo_pods) || fail "Could not list the echo pods."
  [ -n "$pods" ] || fail "There is no running echo pod."
  POD=${pods%% *}
}

# Forward a free local port to pod/NAME; set PF_PORT.
port_forward_pod() {
  stop_port_forward
  PF_PORT=$(start_port_forward "pod/$1") ||
    fail "kubectl port-forward to pod/$1 did not start: $(cat "$STATE_DIR/port-forward.log")"
}

# --- the checks ---------------------------------------------------------------------

check_tools() {
  step "Check the tools"
  check_cluster_tools
  if [ "${#MISSING[@]}" -gt 0 ]; then
    say "  ✖ make e2e needs a real kind cluster. This machine lacks:"
    for line in "${MISSING[@]}"; do say "    $line"; done
    say "  The course build machines cannot run it. Run it on a laptop, or see .github/workflows/e2e.yml."
    say "✖ Nothing was tested."
    exit 1
  fi
  kind_provider "$ENGINE"
  if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    say "  ✖ The cluster $CLUSTER_NAME is there already. make e2e needs a fresh one."
    say "  Delete it first: make demo-down"
    exit 1
  fi
  ok "kind, kubectl, curl and $ENGINE are there."
}

set_up() {
  step "Set up the app on a fresh two-node cluster (scripts/demo.sh)"
  DEMO_MODE=cluster DEMO_CLUSTER_TARGET=create-cluster-two-nodes DEMO_MESSAGE=e2e \
    CLUSTER_NAME="$CLUSTER_NAME" KUBE_CONTEXT="$KUBE_CONTEXT" NAMESPACE="$NAMESPACE" \
    bash scripts/demo.sh up 2>&1 | sed 's/^/  | /' || fail "scripts/demo.sh could not set up the app."
  ok "The app runs on the cluster $CLUSTER_NAME."
}

check_service() {
  step "Relay reaches echo through the echo Service"
  wait_for 60 "relay answering on $RELAY_URL" get "$RELAY_URL/ready"
  local target body
  # The default target, then the short names that the pod's DNS search list completes.
  for target in "" echo:8080 echo.my-space:8080 echo.my-space.svc.cluster.local:8080; do
    body=$(get --get --data-urlencode "message=e2e check" ${target:+--data-urlencode "echo_server=$target"} \
      "$RELAY_URL/relay") || fail "relay did not answer 200 for target '${target:-default}': $body"
    case "$body" in
      *"Reply:"*"Echo host: "*"Message: e2e check"*) ;;
      *) fail "relay's reply for target '${target:-default}' lacks echo's answer: $body" ;;
    esac
  done
  passed "relay reached echo by its default target and by three Service names."
}

check_several_pods() {
  step "Answers come from several echo pods"
  : >"$WORK/hosts"
  local round
  # Parallel calls make relay open several connections; the Service spreads connections over pods.
  for round in 1 2 3 4 5; do
    # A failed call only means one host fewer; the count below judges.
    seq 1 20 | xargs -P 20 -I{} curl -s --max-time 5 "$RELAY_URL/relay?message=spread" \
      | sed -n 's/^Echo host: //p' >>"$WORK/hosts" || true
    : "$round"
  done
  local hosts count
  hosts=$(sort -u "$WORK/hosts" | tr '\n' ' ')
  count=$(sort -u "$WORK/hosts" | grep -c . || true)
  [ "$count" -ge 2 ] || fail "All answers came from one echo pod: $hosts"
  local pods h
  pods=$(echo_pods) || fail "Could not list the echo pods."
  pods=" $pods "
  for h in $hosts; do
    case "$pods" in *" $h "*) ;; *) fail "The answer came from '$h', which is no echo pod ($pods)." ;; esac
  done
  passed "$count echo pods answered: $hosts"
}

# The ready condition of POD in the echo Service's EndpointSlices: true, false, or empty.
endpoint_ready() {
  kc get endpointslices -l kubernetes.io/service-name=echo \
    -o jsonpath="{.items[*].endpoints[?(@.targetRef.name==\"$1\")].conditions.ready}"
}
endpoint_is() { [ "$(endpoint_ready "$1")" = "$2" ]; }
endpoint_gone_or_not_ready() { [ "$(endpoint_ready "$1")" != true ]; }

check_readiness() {
  step "Readiness off on one pod removes it from the endpoints"
  local pod
  pick_echo_pod
  pod=$POD
  wait_for 30 "pod $pod showing as ready in the EndpointSlices" endpoint_is "$pod" true
  port_forward_pod "$pod"
  get "http://127.0.0.1:$PF_PORT/ready?readiness=false" >/dev/null 2>&1 || true
  wait_for 30 "pod $pod leaving the ready endpoints" endpoint_gone_or_not_ready "$pod"
  ok "pod $pod is out of the ready endpoints."
  get "http://127.0.0.1:$PF_PORT/ready?readiness=true" >/dev/null ||
    fail "Could not switch readiness on again for pod $pod."
  stop_port_forward
  wait_for 30 "pod $pod coming back to the ready endpoints" endpoint_is "$pod" true
  passed "pod $pod left the endpoints with readiness off, and came back with readiness on."
}

restarts() { kc get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
restarted() { [ "$(restarts "$1")" -gt "$2" ]; }
pod_ready() { [ "$(kc get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

check_liveness() {
  step "Liveness off restarts the container"
  local pod before
  pick_echo_pod
  pod=$POD
  before=$(restarts "$pod") || fail "Could not read the restart count of pod $pod."
  port_forward_pod "$pod"
  get "http://127.0.0.1:$PF_PORT/alive?liveness=false" >/dev/null 2>&1 || true
  stop_port_forward
  wait_for 90 "a restart of pod $pod (restartCount above $before)" restarted "$pod" "$before"
  wait_for 60 "pod $pod getting ready after its restart" pod_ready "$pod"
  passed "pod $pod restarted: restartCount went from $before to $(restarts "$pod")."
}

TRAFFIC_PIDS=()
start_traffic() {
  local n
  : >"$WORK/codes"
  for n in 1 2 3 4; do
    (
      while [ ! -f "$WORK/stop" ]; do
        # curl prints 000 when it gets no answer at all.
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "$RELAY_URL/relay?message=rolling" \
          >>"$WORK/codes.$n" || true
      done
    ) &
    TRAFFIC_PIDS+=("$!")
  done
}

stop_traffic() {
  [ "${#TRAFFIC_PIDS[@]}" -gt 0 ] || return 0
  touch "$WORK/stop"
  wait "${TRAFFIC_PIDS[@]}" 2>/dev/null || true
  TRAFFIC_PIDS=()
  cat "$WORK"/codes.* >"$WORK/codes" 2>/dev/null || true
}

check_rolling_update() {
  step "A rolling update of echo under steady relay traffic loses no request"
  start_traffic
  sleep 3
  kc rollout restart deploy/echo >/dev/null || fail "kubectl rollout restart deploy/echo failed."
  kc rollout status deploy/echo --timeout=180s >/dev/null || fail "The rolling update of echo did not finish in 180 s."
  # Old pods may still drain for a while (shutdown delay, then drain). Keep the traffic on.
  sleep 10
  stop_traffic
  local total failed
  total=$(grep -c . "$WORK/codes" || true)
  failed=$(grep -vc '^200$' "$WORK/codes" || true)
  [ "$total" -ge 50 ] || fail "Only $total requests were sent during the update. That is too few to judge."
  if [ "$failed" -gt 0 ]; then
    fail "$failed of $total requests failed during the rolling update. Status codes: $(sort "$WORK/codes" | uniq -c | tr '\n' ' ')"
  fi
  passed "0 of $total requests failed during the rolling update."
}

ready_replicas_are() { [ "$(kc get deploy/echo -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
pod_gone() { ! kc get pod "$1" >/dev/null 2>&1; }

check_replace() {
  step "On the two-node cluster, a deleted pod is replaced"
  local nodes want pod node
  nodes=$("$KUBECTL" --context "$KUBE_CONTEXT" get nodes -o name | grep -c . || true)
  [ "$nodes" -eq 2 ] || fail "The cluster has $nodes nodes, not 2."
  want=$(kc get deploy/echo -o jsonpath='{.spec.replicas}') || fail "Could not read deploy/echo."
  pick_echo_pod
  pod=$POD
  node=$(kc get pod "$pod" -o jsonpath='{.spec.nodeName}') || fail "Could not read pod $pod."
  kc delete pod "$pod" --wait=false >/dev/null || fail "Could not delete pod $pod."
  wait_for 60 "pod $pod going away" pod_gone "$pod"
  wait_for 90 "deploy/echo getting back to $want ready pods" ready_replicas_are "$want"
  passed "pod $pod on node $node was deleted, and deploy/echo has $want ready pods again."
  kc get pods -l "$ECHO_LABEL" -o wide | sed 's/^/  /' || true
}

finish() {
  step "Clean up"
  if [ "${E2E_KEEP_CLUSTER:-0}" = 1 ]; then
    ok "E2E_KEEP_CLUSTER=1: the cluster $CLUSTER_NAME stays. Delete it with: make demo-down"
  else
    bash scripts/demo.sh down 2>&1 | sed 's/^/  | /' || fail "scripts/demo.sh down could not delete the cluster."
    ok "The cluster $CLUSTER_NAME is deleted."
  fi
  say ""
  say "✔ make e2e: $PASSED of $CHECKS checks passed."
}

# The checks, in order. Add a check here, and count it in CHECKS above.
run_checks() {
  check_service
  check_several_pods
  check_readiness
  check_liveness
  check_rolling_update
  check_replace
  check_lessons_14_to_16
}

# Lessons 14-16 (logs, configuration, who may do what), from scripts/e2e-lessons.sh.
check_lessons_14_to_16() {
  step "Lessons 14 to 16: logs, configuration, who may do what"
  # shellcheck source=scripts/e2e-lessons.sh
  source scripts/e2e-lessons.sh
  check_lessons
  passed "lessons 14, 15 and 16 work on the cluster."
}

check_tools
set_up
run_checks
finish

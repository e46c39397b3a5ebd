#!/usr/bin/env bash
# The steps of lessons 14, 15 and 16 on a real kind cluster: one function per lesson.
#
# scripts/e2e.sh sources this file and calls check_lessons after its own checks.
# It needs the app of make demo in my-space (two nodes), curl, and Docker Hub:
# the helper pods use busybox:1.37.0, as lesson 14 does (the lessons use the tools image
# for the helper pods; busybox does the same calls here, so e2e needs no tools image).
# ✖ It cannot run on the course build machines: they have no kind and cannot pull images.
#
# Alone, against a cluster that runs the app:  bash scripts/e2e-lessons.sh
set -euo pipefail

LESSONS_KUBECTL=${KUBECTL:-kubectl}
LESSONS_CONTEXT=${KUBE_CONTEXT:-kind-kube-course}
LESSONS_NAMESPACE=${NAMESPACE:-my-space}
LESSONS_RELAY_URL=${RELAY_URL:-http://127.0.0.1:30080}
LESSONS_ENGINE=${ENGINE:-}
LESSONS_BUSYBOX=busybox:1.37.0
LESSONS_SA=system:serviceaccount:my-space:relay
LESSONS_WORK=""
LESSONS_PASSED=0

lk() { "$LESSONS_KUBECTL" --context "$LESSONS_CONTEXT" -n "$LESSONS_NAMESPACE" "$@"; }
lk_default() { "$LESSONS_KUBECTL" --context "$LESSONS_CONTEXT" -n default "$@"; }
lessons_say() { printf '%s\n' "$*"; }
# contains -G|-E|-i PATTERN: read all of stdin, then grep it. (grep -q alone may stop reading
# early, and the writer then fails with SIGPIPE under pipefail.)
contains() {
  local flag=$1 pattern=$2 all
  all=$(cat)
  grep -q "$flag" -e "$pattern" <<<"$all"
}
lessons_ok() {
  LESSONS_PASSED=$((LESSONS_PASSED + 1))
  lessons_say "  ✔ $*"
}

# lessons_fail WHAT: say what went wrong, show the pods, keep the cluster.
lessons_fail() {
  lessons_say "  ✖ $*"
  lk get pods -o wide 2>/dev/null | sed 's/^/  /' || true
  lessons_say "✖ The lesson checks failed. $LESSONS_PASSED checks passed before."
  lessons_say "  The cluster is kept, so you can look. Delete it with: make demo-down"
  exit 1
}

# lessons_wait SECONDS WHAT COMMAND...: run COMMAND every 2 seconds until it succeeds.
lessons_wait() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds; i += 2)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 2
  done
  lessons_fail "$what did not happen within $seconds s."
}

# A one-off busybox pod in the namespace default (it runs as root, which my-space refuses).
# busybox_run NAME SCRIPT [ENV=VALUE]: print what the script printed.
busybox_run() {
  local name=$1 script=$2
  shift 2
  local envs=()
  local e
  for e in "$@"; do envs+=("--env=$e"); done
  # ${envs[@]+...}: an empty array under set -u fails on bash before 4.4 (macOS has 3.2).
  lk_default run "$name" -i --rm --restart=Never --quiet --image="$LESSONS_BUSYBOX" \
    ${envs[@]+"${envs[@]}"} --command -- sh -c "$script"
}

# --- lesson 14: logs and debugging ------------------------------------------------------

restart_count() { lk get pod echo -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
restarted_twice() { [ "$(restart_count)" -ge 2 ]; }
echo_pod_ready() { lk wait --for=condition=Ready pod/echo --timeout=5s; }
debug_saw_server() { lk logs echo -c e2e-debug | contains -G /usr/local/bin/server; }

lesson14_logs_and_debugging() {
  lessons_say "Lesson 14: logs, a crash loop, kubectl debug and the kubelet journal"
  lk apply -f lessons/08-scheduler/pod.yaml >/dev/null || lessons_fail "Could not create pod/echo."
  lk wait --for=condition=Ready pod/echo --timeout=90s >/dev/null || lessons_fail "pod/echo did not get ready."
  lk logs -l app.kubernetes.io/name=echo --prefix | contains -G '^\[pod/echo' ||
    lessons_fail "kubectl logs -l ... --prefix printed no [pod/...] prefix."
  lessons_ok "kubectl logs -l --prefix names the pod of each line."

  local ip
  ip=$(lk get pod echo -o jsonpath='{.status.podIP}') || lessons_fail "Could not read the address of pod/echo."
  # The script runs in the helper pod, so $IP expands there.
  # shellcheck disable=SC2016
  busybox_run e2e-crasher 'for i in $(seq 12); do
      wget -q -T 2 -O - "http://$IP:8080/crash?code=3" || true; sleep 5
    done' "IP=$ip" >/dev/null || lessons_fail "The crasher pod failed."
  lessons_wait 60 "a second restart of pod/echo" restarted_twice
  [ "$(lk get pod echo -o jsonpath='{.status.containerStatuses[0].lastState.terminated.exitCode}')" = 3 ] ||
    lessons_fail "The last state of pod/echo does not show the exit code 3."
  lk logs echo --previous | contains -G 'Crash requested: exiting with code 3.' ||
    lessons_fail "kubectl logs --previous lacks the line 'Crash requested: exiting with code 3.'"
  lk describe pod echo | contains -E 'Exit Code: +3' || lessons_fail "kubectl describe lacks 'Exit Code: 3'."
  [ -n "$(lk get events --field-selector involvedObject.name=echo,reason=BackOff -o name)" ] ||
    lessons_fail "There is no BackOff event for pod/echo."
  lessons_ok "The crash loop shows in restartCount, exit code 3, logs --previous and a BackOff event."

  lessons_wait 400 "pod/echo getting ready after the back-off" echo_pod_ready
  lk debug echo --image="$LESSONS_BUSYBOX" --target=echo --profile=restricted -c e2e-debug -- ps >/dev/null ||
    lessons_fail "kubectl debug could not add an ephemeral container."
  lessons_wait 120 "ps in the ephemeral container showing /usr/local/bin/server" debug_saw_server
  lessons_ok "An ephemeral busybox container saw the echo process (--target, --profile=restricted)."

  local node count
  if [ -z "$LESSONS_ENGINE" ]; then
    LESSONS_ENGINE=docker
    docker info >/dev/null 2>&1 || LESSONS_ENGINE=podman
  fi
  node=$(lk get pod echo -o jsonpath='{.spec.nodeName}') || lessons_fail "Could not read the node of pod/echo."
  count=$("$LESSONS_ENGINE" exec "$node" journalctl -u kubelet --since "15 min ago" --no-pager |
    grep -c CrashLoopBackOff || true)
  [ "$count" -gt 0 ] || lessons_fail "The kubelet journal on $node has no CrashLoopBackOff line."
  lessons_ok "The kubelet journal on $node has $count CrashLoopBackOff lines."
  lk delete pod echo --wait=false >/dev/null || lessons_fail "Could not delete pod/echo."
}

# --- lesson 15: configuration ---------------------------------------------------------------

relay_headers() { curl -sSi --max-time 5 "$LESSONS_RELAY_URL/relay?message=hi"; }
relay_note_is() { relay_headers | contains -i "^x-relay-note: $1"; }
# relay answers, and without the header x-relay-note (a failed call is not "no note").
relay_has_no_note() {
  local headers
  headers=$(relay_headers) || return 1
  grep -q '^HTTP/' <<<"$headers" && ! grep -qi '^x-relay-note:' <<<"$headers"
}
# relay_logs_timeout 3s: the pod that kubectl logs deploy/relay reads logged "Call timeout 3s".
# Right after a rollout, that can still be an old pod (podutils.ByLogging prefers the pod
# ready the longest), so callers retry with lessons_wait.
relay_logs_timeout() { lk logs deploy/relay 2>/dev/null | contains -G "Call timeout $1\."; }
restart_relay() {
  lk rollout restart deploy/relay >/dev/null || lessons_fail "kubectl rollout restart deploy/relay failed."
  lk rollout status deploy/relay --timeout=180s >/dev/null || lessons_fail "The restart of relay did not finish."
}
echo_refuses_without_token() {
  busybox_run e2e-token-check 'wget -q -O - "http://echo.my-space:8080/echo?message=hi" 2>&1 || true' |
    contains -G '401'
}
relay_gets_reply() { curl -s --max-time 5 "$LESSONS_RELAY_URL/relay?message=hi" | contains -G '^Message: hi$'; }

lesson15_configuration() {
  lessons_say "Lesson 15: a ConfigMap as variables and as a file, a Secret with a token"
  # make demo (kubectl apply -k lessons) already applied relay-config.yaml. Start as the lesson
  # does, without the ConfigMap, so the checks below see it arrive.
  lk delete configmap relay --ignore-not-found >/dev/null || lessons_fail "Could not delete the ConfigMap relay."
  restart_relay
  lessons_wait 60 "relay logging the default Call timeout 2s" relay_logs_timeout 2s
  lessons_wait 60 "relay answering without the header x-relay-note" relay_has_no_note
  lessons_ok "Without the ConfigMap, relay uses the default Call timeout 2s and sends no note."

  lk create configmap relay --dry-run=client -o yaml --from-literal=CALL_TIMEOUT=3s |
    contains -G 'CALL_TIMEOUT: 3s' || lessons_fail "kubectl create configmap --dry-run printed no CALL_TIMEOUT."
  lk apply -f lessons/15-configuration/relay-config.yaml >/dev/null || lessons_fail "Could not apply relay-config.yaml."
  lessons_wait 180 "the note of the ConfigMap in the x-relay-note header" \
    relay_note_is "Settings from the ConfigMap relay"
  relay_logs_timeout 2s || lessons_fail "relay changed its Call timeout without a restart."
  lessons_ok "The mounted file reached relay without a restart; the variable did not change."

  restart_relay
  lessons_wait 60 "relay logging Call timeout 3s" relay_logs_timeout 3s
  lessons_ok "CALL_TIMEOUT from the ConfigMap counts after a rollout restart."

  local token
  token=$(head -c 18 /dev/urandom | base64)
  lk delete secret echo --ignore-not-found >/dev/null
  lk create secret generic echo --from-literal=token="$token" >/dev/null || lessons_fail "Could not create the Secret echo."
  lessons_wait 180 "echo refusing a call without the token (401)" echo_refuses_without_token
  lessons_wait 180 "relay getting echo's reply with the token" relay_gets_reply
  [ "$(lk get secret echo -o jsonpath='{.data.token}' | base64 -d)" = "$token" ] ||
    lessons_fail "base64 -d of the Secret is not the token."
  lessons_ok "echo refuses calls without the token, relay sends it, and base64 -d reads it back."
}

# --- lesson 16: who may do what -------------------------------------------------------------

lesson16_access() {
  lessons_say "Lesson 16: whoami, can-i, a ServiceAccount that may only read pods, a 403"
  "$LESSONS_KUBECTL" --context "$LESSONS_CONTEXT" auth whoami | contains -G 'kubeadm:cluster-admins' ||
    lessons_fail "kubectl auth whoami does not show the group kubeadm:cluster-admins."
  [ "$("$LESSONS_KUBECTL" --context "$LESSONS_CONTEXT" auth can-i delete nodes)" = yes ] ||
    lessons_fail "The admin may not delete nodes."
  lk apply -f lessons/16-access/relay-access.yaml >/dev/null || lessons_fail "Could not apply relay-access.yaml."
  [ "$(lk auth can-i list pods --as="$LESSONS_SA")" = yes ] || lessons_fail "The ServiceAccount relay may not list pods."
  [ "$(lk auth can-i get secrets --as="$LESSONS_SA" || true)" = no ] ||
    lessons_fail "The ServiceAccount relay may get Secrets."
  lessons_ok "whoami names kubeadm:cluster-admins; can-i says pods yes, Secrets no for relay."

  local token api
  token=$(lk create token relay) || lessons_fail "kubectl create token relay failed."
  api=$("$LESSONS_KUBECTL" --context "$LESSONS_CONTEXT" config view --minify -o jsonpath='{..server}')
  "$LESSONS_KUBECTL" --context "$LESSONS_CONTEXT" config view --raw --minify \
    -o jsonpath='{..certificate-authority-data}' | base64 -d >"$LESSONS_WORK/ca.crt"
  local call=(curl -sS --cacert "$LESSONS_WORK/ca.crt" -H "Authorization: Bearer $token")
  "${call[@]}" "$api/api/v1/namespaces/my-space/pods" | contains -G '"name": "echo-' ||
    lessons_fail "The token could not list the pods."
  local denied want
  denied=$("${call[@]}" "$api/api/v1/namespaces/my-space/secrets")
  want='secrets is forbidden: User \"system:serviceaccount:my-space:relay\" cannot list resource \"secrets\" in API group \"\" in the namespace \"my-space\"'
  case "$denied" in
    *'"code": 403'*"$want"* | *"$want"*'"code": 403'*) ;;
    *) lessons_fail "The Secrets call did not get the 403 of the lesson: $denied" ;;
  esac
  "${call[@]}" -H "Content-Type: application/json" \
    -d '{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}' \
    "$api/apis/authentication.k8s.io/v1/selfsubjectreviews" | contains -G "\"username\": \"$LESSONS_SA\"" ||
    lessons_fail "The SelfSubjectReview did not name $LESSONS_SA."
  lessons_ok "The token lists pods, gets the 403 message of the lesson for Secrets, and is $LESSONS_SA."

  local volumes
  volumes=$(lk get pods -l app.kubernetes.io/name=relay -o jsonpath='{.items[0].spec.volumes[*].name}')
  case " $volumes " in
    *" kube-api-access-"*) lessons_fail "A relay pod has a token volume: $volumes" ;;
    *" settings "*) ;;
    *) lessons_fail "A relay pod lacks the volume settings: $volumes" ;;
  esac
  lessons_ok "The relay pods have no token volume (automountServiceAccountToken: false): $volumes"
}

check_lessons() {
  LESSONS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube-course-lessons.XXXXXX")
  lesson14_logs_and_debugging
  lesson15_configuration
  lesson16_access
  rm -rf "$LESSONS_WORK"
  lessons_say "✔ Lessons 14-16: $LESSONS_PASSED checks passed."
}

# Run alone: bash scripts/e2e-lessons.sh (from the top folder of the repository).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cd "$(dirname "$0")/.."
  check_lessons
fi

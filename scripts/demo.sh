#!/usr/bin/env bash
# Quick start: builds feedbackd and feedback-gateway, starts them on a demo SQLite database with a
# generated development secret, and prints the demo page's URL and a development token.
# Ctrl-C stops both. Installs what it needs first (skipped when present).
#   scripts/demo.sh [--allowed-origin ORIGIN]...   (an origin whose pages may embed the widget, e.g.
#                                                   http://localhost:3000; repeatable)
#   PORT=8080 (the gateway's port), DEMO_DIR=.demo (database, secret, logs; delete it to start afresh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

gateway_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --allowed-origin) [ $# -ge 2 ] || { echo "--allowed-origin needs a value, e.g. http://localhost:3000" >&2; exit 2; }
                      gateway_args+=(--allowed-origin "$2"); shift 2 ;;
    --allowed-origin=*) gateway_args+=(--allowed-origin "${1#*=}"); shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later"; exit 1; }
scripts/ensure-packages.sh libsqlite3-dev libsystemd-dev sqlite3 curl

echo "== building (scripts/build.sh; the first build takes about 10 minutes on 2 cores)"
scripts/build.sh
bin=$root/.build/debug

demo=${DEMO_DIR:-$root/.demo}
port=${PORT:-8080}
socket=/tmp/feedback-demo-$(id -u)-$port.sock
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)
if [ ! -s "$demo/secret" ]; then
  (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n' > "$demo/secret")
fi

feedbackd_pid="" gateway_pid=""
cleanup() {
  for pid in $feedbackd_pid $gateway_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fail NAME LOG: the process did not come up; show why and stop the other one.
fail() {
  echo "error: $1 did not start. The last lines of $2:" >&2
  tail -n 15 "$2" | sed 's/^/  /' >&2
  exit 1
}
# wait_ready PID NAME LOG COMMAND...: until COMMAND succeeds; fails as soon as PID exits, or after 60 s.
wait_ready() {
  local pid=$1 name=$2 log=$3
  shift 3
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || fail "$name" "$log"
    "$@" >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$name (not answering after 60 s)" "$log"
}

# Something already answering would make the checks below pass for the wrong process.
if "$bin/feedbackctl" health --socket "$socket" >/dev/null 2>&1; then
  echo "error: a feedbackd already answers on $socket (is a demo running? stop it with Ctrl-C)" >&2
  exit 1
fi
if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
  echo "error: port $port is in use (is a demo running? stop it, or choose another: PORT=8081 $0)" >&2
  exit 1
fi

# feedbackd on the demo database (created on the first run with the demo page's three answers).
start_feedbackd() {
  "$bin/feedbackd" --socket "$socket" --db "$demo/chat.db" --create-demo-database --jwt-secret-file "$demo/secret" \
    2>>"$demo/feedbackd.log" &
  feedbackd_pid=$!
  wait_ready "$feedbackd_pid" feedbackd "$demo/feedbackd.log" "$bin/feedbackctl" health --socket "$socket"
}

echo "== starting feedbackd"
start_feedbackd

echo "== starting feedback-gateway"
"$bin/feedback-gateway" --listen "127.0.0.1:$port" --socket "$socket" \
  ${gateway_args[@]+"${gateway_args[@]}"} 2>>"$demo/gateway.log" &
gateway_pid=$!
wait_ready "$gateway_pid" feedback-gateway "$demo/gateway.log" curl -fsS "http://127.0.0.1:$port/healthz"

token=$("$bin/feedbackctl" token --secret-file "$demo/secret" --sub demo-user --ttl 86400)
origins=""
for ((i = 1; i < ${#gateway_args[@]}; i += 2)); do origins+=" ${gateway_args[$i]}"; done
cat <<MSG

feedbackd        $socket  (database $demo/chat.db, logs $demo/feedbackd.log)
feedback-gateway http://127.0.0.1:$port  (logs $demo/gateway.log)${origins:+
CORS allowed:   $origins}

Demo page (open in a browser, rate the answers):
  http://127.0.0.1:$port/#token=$token

Development token (valid 24 h):
  $token

Try it from a shell:
  curl -i http://127.0.0.1:$port/feedback -H "Authorization: Bearer $token" \\
       -H 'Content-Type: application/json' -d '{"interaction_id": 1, "rating": 1}'
  sqlite3 $demo/chat.db 'SELECT id, feedback FROM interactions'

feedbackctl against this demo (every command reads these two):
  export FEEDBACK_SOCKET=$socket FEEDBACK_TOKEN=$token
  $bin/feedbackctl submit --interaction-id 2 --rating -1
  $bin/feedbackctl health

feedbackd may stop (kill $feedbackd_pid, or a crash): the gateway stays up, answers 503 meanwhile, and
feedbackd is started again. Ctrl-C stops both; delete $demo to start afresh.
MSG
# The gateway survives feedbackd: when feedbackd exits it is started again (as systemd's Restart= does),
# and the demo says so. The demo ends when the gateway exits, on Ctrl-C, or when feedbackd has exited 5
# times within a minute (something it cannot get past: see its log). Needs bash 5.1 (wait -p).
restarts=()
while true; do
  exited=""
  status=0
  wait -n -p exited "$feedbackd_pid" "$gateway_pid" || status=$?
  if [ "$exited" != "$feedbackd_pid" ]; then
    echo "error: feedback-gateway exited (status $status); see $demo/gateway.log" >&2
    exit 1
  fi
  now=$(date +%s)
  recent=()
  for at in ${restarts[@]+"${restarts[@]}"}; do [ $((now - at)) -lt 60 ] && recent+=("$at"); done
  restarts=(${recent[@]+"${recent[@]}"} "$now")
  if [ ${#restarts[@]} -gt 5 ]; then
    echo "error: feedbackd exited 5 times within a minute; see $demo/feedbackd.log" >&2
    exit 1
  fi
  echo "== feedbackd exited (status $status); the gateway stays up (503 meanwhile). Starting feedbackd again"
  start_feedbackd
  echo "== feedbackd serves again on $socket (pid $feedbackd_pid)"
done

#!/usr/bin/env bash
# Quick start: builds feedbackd and feedback-gateway, starts them on a demo SQLite database with a
# generated development secret, and prints the demo page's URL and a development token.
# Ctrl-C stops both. Installs what it needs first (skipped when present).
#   PORT=8080 (the gateway's port), DEMO_DIR=.demo (database, secret, logs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later"; exit 1; }
scripts/ensure-packages.sh libsqlite3-dev sqlite3 curl

echo "== building (the first build takes a few minutes)"
swift build --product feedbackd
swift build --product feedback-gateway
swift build --product feedbackctl
bin=$(swift build --show-bin-path)

demo=${DEMO_DIR:-$root/.demo}
port=${PORT:-8080}
socket=/tmp/feedback-demo-$(id -u).sock
mkdir -p "$demo"
if [ ! -s "$demo/secret" ]; then
  umask 077
  head -c 48 /dev/urandom | base64 | tr -d '\n' > "$demo/secret"
fi
if [ ! -s "$demo/chat.db" ]; then
  sqlite3 "$demo/chat.db" <<'SQL'
CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, created_at TEXT DEFAULT CURRENT_TIMESTAMP, feedback INTEGER);
INSERT INTO interactions (id, question, answer) VALUES
  (1, 'How do I reverse a list in Python?', 'Use reversed(items) or items[::-1].'),
  (2, 'What is the capital of Australia?', 'Canberra.'),
  (3, 'What does HTTP 204 mean?', 'No Content: success with an empty body.');
SQL
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin/feedbackd" --socket "$socket" --db "$demo/chat.db" --jwt-secret-file "$demo/secret" 2>>"$demo/feedbackd.log" &
pids+=($!)
for _ in $(seq 1 100); do "$bin/feedbackctl" health --socket "$socket" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/feedback-gateway" --listen "127.0.0.1:$port" --socket "$socket" --widget-dir "$root/clients/widget" 2>>"$demo/gateway.log" &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the gateway did not start; see $demo/gateway.log"; exit 1; }

token=$("$bin/feedbackctl" token --secret-file "$demo/secret" --sub demo-user --ttl 86400)
cat <<MSG

feedbackd        $socket  (database $demo/chat.db, logs $demo/feedbackd.log)
feedback-gateway http://127.0.0.1:$port  (logs $demo/gateway.log)

Demo page (open in a browser, rate the answers):
  http://127.0.0.1:$port/#token=$token

Development token (valid 24 h):
  $token

Try it from a shell:
  curl -i http://127.0.0.1:$port/feedback -H "Authorization: Bearer $token" \\
       -H 'Content-Type: application/json' -d '{"interaction_id": 1, "rating": 1}'
  sqlite3 $demo/chat.db 'SELECT id, feedback FROM interactions'

Ctrl-C stops both.
MSG
wait

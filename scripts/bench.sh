#!/usr/bin/env bash
# Reproduces the runtime figures of BENCHMARKS.md in one run: release builds of feedbackd and
# feedbackctl, the load from other processes (feedbackctl bench, a C echo client), and the limits
# measured in the same run. Prints a Markdown table; server CPU per call is feedbackd's user + system
# time over the run divided by its calls.
#   SECONDS_PER_RUN=5 (each measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_RUN:-5}

scripts/ensure-packages.sh libsqlite3-dev sqlite3 gcc >/dev/null
scripts/swift-env.sh swift build -c release --product feedbackd >/dev/null
scripts/swift-env.sh swift build -c release --product feedbackctl >/dev/null
bin=.build/release
work=$(mktemp -d /tmp/fbbench.XXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$ticks" '{ printf "%.4f", ($14 + $15) / t }' "/proc/$1/stat"; }
rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), $(swift --version 2>&1 | head -1)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), ${seconds} s per measurement"
echo
row "measurement" "calls/s" "p50 µs" "p99 µs" "server CPU µs/call" "server RSS MiB"
row "---" "---" "---" "---" "---" "---"

# Limit 1: one-byte round trips over a Unix socket between two processes (C).
cc -O2 -o "$work/echo" Benchmarks/unix-echo/echo.c
"$work/echo" server "$work/echo.sock" > "$work/echo.out" &
pids+=($!)
echo_pid=$!
until grep -q listening "$work/echo.out" 2>/dev/null; do sleep 0.05; done
before=$(cpu_seconds "$echo_pid")
read -r trips rate < <("$work/echo" client "$work/echo.sock" "$seconds")
after=$(cpu_seconds "$echo_pid")
row "limit: raw Unix-socket echo, 1 byte, 1 in flight (C, two processes)" "$rate" "" "" \
  "$(awk -v a="$after" -v b="$before" -v n="$trips" 'BEGIN { printf "%.1f", (a - b) * 1e6 / n }')" ""

# Limit 2: SQLite, one single-row UPDATE per transaction, WAL, synchronous=FULL.
sqlite3 "$work/limit.db" "PRAGMA journal_mode=WAL; CREATE TABLE interactions (id INTEGER PRIMARY KEY, feedback INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) INSERT INTO interactions (id) SELECT x FROM c;" >/dev/null
commits=$(python3 - "$work/limit.db" "$seconds" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA synchronous=FULL")
end, n = time.monotonic() + float(sys.argv[2]), 0
start = time.monotonic()
while time.monotonic() < end:
    db.execute("BEGIN IMMEDIATE"); db.execute("UPDATE interactions SET feedback = ? WHERE id = ?", (n % 2 * 2 - 1, n % 10000 + 1)); db.execute("COMMIT")
    n += 1
print(round(n / (time.monotonic() - start)))
PY
)
row "limit: SQLite single-row commits (WAL, synchronous=FULL)" "$commits" "" "" "" ""

# feedbackd on a database of 10,000 interactions.
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$work/secret"
sqlite3 "$work/chat.db" "CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, created_at TEXT, feedback INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) INSERT INTO interactions (id) SELECT x FROM c;"
"$bin/feedbackd" --socket "$work/f.sock" --db "$work/chat.db" --jwt-secret-file "$work/secret" --log-level warning \
  --max-concurrent-calls 1000 2>"$work/feedbackd.log" &
pids+=($!)
daemon=$!
until "$bin/feedbackctl" health --socket "$work/f.sock" >/dev/null 2>&1; do sleep 0.05; done

measure() {  # name, then feedbackctl bench arguments
  local name=$1
  shift
  local before after out
  before=$(cpu_seconds "$daemon")
  out=$("$bin/feedbackctl" bench --socket "$work/f.sock" --secret-file "$work/secret" --duration "$seconds" --json "$@" 2>/dev/null)
  after=$(cpu_seconds "$daemon")
  python3 - "$name" "$out" "$before" "$after" "$(rss_mib "$daemon")" <<'PY'
import json, sys
name, out, before, after, rss = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
errors = "" if not out["errors"] else " (errors: " + ", ".join(f"{k} {v}" for k, v in out["errors"].items()) + ")"
cpu = (after - before) * 1e6 / max(1, out["calls"])
print(f"| {name}{errors} | {out['calls_per_second']:.0f} | {out['latency_us']['p50']} | {out['latency_us']['p99']} | {cpu:.1f} | {rss} |")
PY
}
measure "feedbackd Health/Check, 1 in flight" --method health --concurrency 1
measure "feedbackd Health/Check, 64 in flight, 1 connection" --method health --concurrency 64
measure "feedbackd Health/Check, 64 in flight, 4 connections" --method health --concurrency 64 --connections 4
measure "feedbackd SubmitFeedback, 1 in flight" --method submit --concurrency 1
measure "feedbackd SubmitFeedback, 64 in flight, 4 connections" --method submit --concurrency 64 --connections 4
measure "feedbackd SubmitFeedback, 256 in flight, 4 connections, 10,000 ids" --method submit --concurrency 256 --connections 4 --rows 10000

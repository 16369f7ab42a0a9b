#!/usr/bin/env bash
# Reproduces the runtime figures of BENCHMARKS.md in one run: release builds of feedbackd and
# feedbackctl, the load from other processes (feedbackctl bench, a C echo client), and the limits
# measured in the same run. Prints a Markdown table; server CPU per call is feedbackd's user + system
# time over the run divided by its calls.
#   SECONDS_PER_RUN=5 (each measurement)
#   BASELINE=DIR (optional): a directory holding the release feedbackd of another commit (built, say, in a
#   worktree of it); every SQLite measurement is then also made against it, each right after the same
#   one against this tree's, so that before and after come from one run on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_RUN:-5}

#   BIN=DIR (optional): take feedbackd, feedbackctl and feedback-gateway from DIR (release builds of this
#   tree made elsewhere, say in a worktree of a commit) instead of building them here.
#   GRPC_BASELINE=0: skip the gRPC Swift 2 baseline (its first release build takes a quarter of an hour).

scripts/ensure-packages.sh libsqlite3-dev libsystemd-dev sqlite3 gcc wrk postgresql curl >/dev/null
if [ -z "${BIN:-}" ]; then
  scripts/swift-env.sh swift build -c release --product feedbackd >/dev/null
  scripts/swift-env.sh swift build -c release --product feedbackctl >/dev/null
  scripts/swift-env.sh swift build -c release --product feedback-gateway >/dev/null
fi
bin=${BIN:-.build/release}
# Its databases are throw-away: the load may write (feedbackctl bench refuses to without --allow-writes;
# a feedbackctl from before that flag writes without it).
allow_writes=()
bench_help=$("$bin/feedbackctl" bench --help 2>&1 || true)
if [[ $bench_help == *--allow-writes* ]]; then allow_writes=(--allow-writes); fi
work=$(mktemp -d /tmp/fbbench.XXXX)
pids=()
pg=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$pg" ]; then scripts/postgres-test-cluster.sh stop "$pg"; fi
  rm -rf "$work"
}
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

# Limit 2: SQLite, one rating's own transaction, as feedbackd writes it (the UPDATE and its audit row:
# four WAL pages), one transaction at a time, WAL, synchronous=FULL, in this process (no socket, no
# threads). Every UPDATE changes the row: SQLite skips writing a page whose bytes do not change, so a
# loop that wrote the same value again would commit without a write or an fsync (this limit measured
# 66-116 K "commits"/s that way before 2026-12-06; a real durable commit here is nearer 7 K/s).
sqlite3 "$work/limit.db" "PRAGMA journal_mode=WAL; CREATE TABLE interactions (id INTEGER PRIMARY KEY, feedback INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) INSERT INTO interactions (id) SELECT x FROM c; CREATE TABLE feedback_events (id INTEGER PRIMARY KEY AUTOINCREMENT, interaction_id INTEGER NOT NULL, rating INTEGER NOT NULL, subject TEXT NOT NULL, created_at TEXT NOT NULL); CREATE INDEX feedback_events_interaction ON feedback_events(interaction_id);" >/dev/null
python3 - "$work/limit.db" "$seconds" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA synchronous=FULL")
latencies = []
start = time.monotonic()
end, n, times = start + float(sys.argv[2]), 0, os.times()
while time.monotonic() < end:
    began = time.perf_counter_ns()
    rating = -db.execute("SELECT coalesce(feedback, 1) FROM interactions WHERE id = ?", (n % 10000 + 1,)).fetchone()[0]
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE interactions SET feedback = ? WHERE id = ?", (rating, n % 10000 + 1))
    db.execute("INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (?, ?, 'bench', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", (n % 10000 + 1, rating))
    db.execute("COMMIT")
    latencies.append(time.perf_counter_ns() - began)
    n += 1
after = os.times()
if n == 0:
    sys.exit("the SQLite limit committed nothing in the time given")
latencies.sort()
cpu = (after.user + after.system - times.user - times.system) * 1e6 / n
print(f"| limit: SQLite, one rating's transaction (UPDATE + audit row, WAL, synchronous=FULL; CPU of the loop, Python included) | {n / (time.monotonic() - start):.0f} | {latencies[n // 2] // 1000} | {latencies[n * 99 // 100] // 1000} | {cpu:.1f} | |")
PY

# feedbackd on a database of 10,000 interactions.
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$work/secret"
sqlite3 "$work/chat.db" "CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, created_at TEXT, feedback INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) INSERT INTO interactions (id) SELECT x FROM c;"
"$bin/feedbackd" --socket "$work/f.sock" --db "$work/chat.db" --jwt-secret-file "$work/secret" --log-level warning \
  --max-concurrent-calls 1000 2>"$work/feedbackd.log" &
pids+=($!)
daemon=$!
until "$bin/feedbackctl" health --socket "$work/f.sock" >/dev/null 2>&1; do sleep 0.05; done

server_socket=$work/f.sock server_pid=$daemon
measure() {  # name, then feedbackctl bench arguments; against $server_socket, CPU of $server_pid
  local name=$1
  shift
  local before after out
  before=$(cpu_seconds "$server_pid")
  out=$("$bin/feedbackctl" bench --socket "$server_socket" --secret-file "$work/secret" --duration "$seconds" --json ${allow_writes[@]+"${allow_writes[@]}"} "$@" 2>/dev/null)
  after=$(cpu_seconds "$server_pid")
  python3 - "$name" "$out" "$before" "$after" "$(rss_mib "$server_pid")" <<'PY'
import json, sys
name, out, before, after, rss = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
errors = "" if not out["errors"] else " (errors: " + ", ".join(f"{k} {v}" for k, v in out["errors"].items()) + ")"
cpu = (after - before) * 1e6 / max(1, out["calls"])
print(f"| {name}{errors} | {out['calls_per_second']:.0f} | {out['latency_us']['p50']} | {out['latency_us']['p99']} | {cpu:.1f} | {rss} |")
PY
}
if [ -n "${BASELINE:-}" ]; then
  # The baseline feedbackd on a copy of the same database.
  sqlite3 "$work/chat.db" ".backup '$work/baseline.db'"
  "$BASELINE/feedbackd" --socket "$work/b.sock" --db "$work/baseline.db" --jwt-secret-file "$work/secret" --log-level warning \
    --max-concurrent-calls 1000 2>"$work/feedbackd-baseline.log" &
  pids+=($!)
  baseline_daemon=$!
  until "$bin/feedbackctl" health --socket "$work/b.sock" >/dev/null 2>&1; do sleep 0.05; done
fi
# Each SQLite measurement against this tree's feedbackd, then (with BASELINE) against the baseline's.
measure_sqlite() {
  measure "$@"
  if [ -n "${BASELINE:-}" ]; then
    local name="baseline ($BASELINE): $1"
    shift
    server_socket=$work/b.sock server_pid=$baseline_daemon
    measure "$name" "$@"
    server_socket=$work/f.sock server_pid=$daemon
  fi
}
measure_sqlite "feedbackd Health/Check, 1 in flight" --method health --concurrency 1
measure_sqlite "feedbackd Health/Check, 64 in flight, 1 connection" --method health --concurrency 64
measure_sqlite "feedbackd Health/Check, 64 in flight, 4 connections" --method health --concurrency 64 --connections 4
measure_sqlite "feedbackd SubmitFeedback, 1 in flight" --method submit --concurrency 1
measure_sqlite "feedbackd SubmitFeedback, 64 in flight, 4 connections" --method submit --concurrency 64 --connections 4
measure_sqlite "feedbackd SubmitFeedback, 256 in flight, 4 connections, 10,000 ids" --method submit --concurrency 256 --connections 4 --rows 10000
if [ -n "${BASELINE:-}" ]; then
  kill "$baseline_daemon" 2>/dev/null || true
  wait "$baseline_daemon" 2>/dev/null || true
fi

# The cost of metrics: the same loads against a feedbackd exporting Prometheus metrics (scraped once a
# second meanwhile, as a Prometheus server would, more often than usual).
metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/feedbackd" --socket "$work/m.sock" --db "$work/chat.db" --jwt-secret-file "$work/secret" --log-level warning \
  --max-concurrent-calls 1000 --metrics-listen "127.0.0.1:$metrics_port" 2>"$work/feedbackd-metrics.log" &
pids+=($!)
metrics_daemon=$!
until "$bin/feedbackctl" health --socket "$work/m.sock" >/dev/null 2>&1; do sleep 0.05; done
(while kill -0 "$metrics_daemon" 2>/dev/null; do curl -s -o /dev/null "http://127.0.0.1:$metrics_port/metrics"; sleep 1; done) &
pids+=($!)
server_socket=$work/m.sock server_pid=$metrics_daemon
measure "… with --metrics-listen: Health/Check, 64 in flight, 1 connection" --method health --concurrency 64
measure "… with --metrics-listen: SubmitFeedback, 256 in flight, 4 connections, 10,000 ids" --method submit --concurrency 256 --connections 4 --rows 10000
kill "$metrics_daemon" 2>/dev/null || true
wait "$metrics_daemon" 2>/dev/null || true
server_socket=$work/f.sock server_pid=$daemon

# Baseline: gRPC Swift 2 (HTTP/2 over a Unix socket, its own client), a no-op unary method.
if [ "${GRPC_BASELINE:-1}" != 0 ]; then
(cd Benchmarks/grpc-baseline && ../../scripts/swift-env.sh swift build -c release >/dev/null)
grpc=Benchmarks/grpc-baseline/.build/release/grpc-baseline
"$grpc" server "$work/grpc.sock" > "$work/grpc.out" &
pids+=($!)
grpc_pid=$!
until grep -q listening "$work/grpc.out" 2>/dev/null; do sleep 0.05; done
for concurrency in 1 64; do
  before=$(cpu_seconds "$grpc_pid")
  read -r calls rate < <("$grpc" client "$work/grpc.sock" "$seconds" "$concurrency")
  after=$(cpu_seconds "$grpc_pid")
  row "baseline: gRPC Swift 2 no-op unary, $concurrency in flight, its own client" "$rate" "" "" \
    "$(awk -v a="$after" -v b="$before" -v n="$calls" 'BEGIN { printf "%.1f", (a - b) * 1e6 / n }')" "$(rss_mib "$grpc_pid")"
done
fi

# The HTTP gateway in front of the same feedbackd, under wrk (64 connections, 2 threads, on the same
# cores): POST /feedback with a valid token (writes spread over 1,000 ids), GET /healthz (one RPC), and
# the widget's static file (no RPC: Hummingbird's own limit). CPU per request is the gateway's.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/feedback-gateway" --listen "127.0.0.1:$port" --socket "$work/f.sock" --widget-dir clients/widget --log-level warning \
  2>"$work/gateway.log" &
pids+=($!)
gateway=$!
until python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/healthz" 2>/dev/null; do
  sleep 0.05
done
token=$("$bin/feedbackctl" token --secret-file "$work/secret" --sub bench --ttl 3600)
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
counter = 0
request = function()
  counter = counter + 1
  local rating = (counter % 2 == 0) and 1 or -1
  return wrk.format(nil, "/feedback", nil, '{"interaction_id": ' .. (counter % 1000 + 1) .. ', "rating": ' .. rating .. '}')
end
LUA
http() {  # name, then wrk's script and path
  local name=$1 script=$2 path=$3 before after out
  before=$(cpu_seconds "$gateway")
  out=$(wrk -t2 -c64 -d"${seconds}s" ${script:+-s "$script"} --latency "http://127.0.0.1:$port$path")
  after=$(cpu_seconds "$gateway")
  python3 - "$name" "$out" "$before" "$after" "$(rss_mib "$gateway")" <<'PY'
import re, sys
name, out, before, after, rss = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
requests = int(re.search(r"(\d+) requests in", out).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def micros(label):
    value, unit = re.search(label + r"\s+([\d.]+)(us|ms|s)", out).groups()
    return round(float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit])
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
note = f" (non-2xx: {errors.group(1)})" if errors else ""
print(f"| {name}{note} | {rate:.0f} | {micros('50%')} | {micros('99%')} | {(after - before) * 1e6 / requests:.1f} (gateway) | {rss} (gateway) |")
PY
}
http "feedback-gateway POST /feedback, 64 connections (wrk)" "$work/post.lua" /feedback
http "feedback-gateway GET /healthz (one RPC), 64 connections" "" /healthz
http "feedback-gateway GET /widget/feedback.js (no RPC), 64 connections" "" /widget/feedback.js

# PostgreSQL (issue 11): a throw-away cluster on a Unix socket (fsync and synchronous_commit on, as
# shipped); its own single-row commit rate (pgbench, one client, one UPDATE per transaction), then
# feedbackd on it at 64 and 256 calls in flight.
pg=$(mktemp -u /tmp/fbbench-pg.XXXXXX)  # not under $work: the cluster's owner (postgres) must reach it
pg_url=$(scripts/postgres-test-cluster.sh start "$pg")
pg_port=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port)' "$pg_url")
psql -h "$pg" -p "$pg_port" -U postgres -d postgres -qc "CREATE DATABASE bench" >/dev/null
psql -h "$pg" -p "$pg_port" -U postgres -d bench -qc "CREATE TABLE interactions (id BIGINT PRIMARY KEY, feedback INTEGER); INSERT INTO interactions (id) SELECT g FROM generate_series(1, 10000) AS g;" >/dev/null
printf '\\set id random(1, 10000)\nUPDATE interactions SET feedback = 1 WHERE id = :id;\n' > "$work/pgbench.sql"
pg_tps=$(pgbench -h "$pg" -p "$pg_port" -U postgres -n -c 1 -T "$seconds" -f "$work/pgbench.sql" bench 2>/dev/null | awk '/^tps/ { printf "%.0f", $3 }')
row "limit: PostgreSQL single-row commits (pgbench, 1 client, synchronous_commit on)" "$pg_tps" "" "" "" ""
"$bin/feedbackd" migrate --postgres-url "${pg_url/\/postgres\?//bench?}" >/dev/null
"$bin/feedbackd" --socket "$work/pg.sock" --postgres-url "${pg_url/\/postgres\?//bench?}" --jwt-secret-file "$work/secret" \
  --log-level warning --max-concurrent-calls 1000 2>"$work/feedbackd-pg.log" &
pids+=($!)
pg_daemon=$!
until "$bin/feedbackctl" health --socket "$work/pg.sock" >/dev/null 2>&1; do sleep 0.05; done
if [ -n "${BASELINE:-}" ]; then
  # The baseline feedbackd on the same database (as a second host would be).
  "$BASELINE/feedbackd" --socket "$work/pgb.sock" --postgres-url "${pg_url/\/postgres\?//bench?}" --jwt-secret-file "$work/secret" \
    --log-level warning --max-concurrent-calls 1000 2>"$work/feedbackd-pg-baseline.log" &
  pids+=($!)
  pg_baseline_daemon=$!
  until "$bin/feedbackctl" health --socket "$work/pgb.sock" >/dev/null 2>&1; do sleep 0.05; done
fi
measure_postgres() {
  server_socket=$work/pg.sock server_pid=$pg_daemon
  measure "$@"
  if [ -n "${BASELINE:-}" ]; then
    local name="baseline ($BASELINE): $1"
    shift
    server_socket=$work/pgb.sock server_pid=$pg_baseline_daemon
    measure "$name" "$@"
  fi
}
measure_postgres "feedbackd on PostgreSQL SubmitFeedback, 1 in flight" --method submit --concurrency 1 --rows 10000
measure_postgres "feedbackd on PostgreSQL SubmitFeedback, 64 in flight, 4 connections" --method submit --concurrency 64 --connections 4 --rows 10000
measure_postgres "feedbackd on PostgreSQL SubmitFeedback, 256 in flight, 4 connections, 10,000 ids" --method submit --concurrency 256 --connections 4 --rows 10000
server_socket=$work/pg.sock server_pid=$pg_daemon
for pid in "$pg_daemon" ${pg_baseline_daemon:-}; do
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done

# The same with each side on its own core (issue 22): PostgreSQL (the postmaster and every backend it
# forks) on core 0, feedbackd and the load (or pgbench) on core 1, as in production where the database
# has its own machine. PostgreSQL's CPU per rating is the CPU of all its processes over the run.
if [ "$(nproc)" -ge 2 ]; then
  scripts/postgres-test-cluster.sh pause "$pg"
  taskset -c 0 scripts/postgres-test-cluster.sh resume "$pg"
  pg_cpu() {  # CPU seconds of the cluster: the postmaster, its live children, and those it reaped (pgbench's backend)
    local pm
    pm=$(head -1 "$pg/data/postmaster.pid")
    {
      awk -v t="$ticks" '{ printf "%.4f\n", ($14 + $15 + $16 + $17) / t }' "/proc/$pm/stat"
      for pid in $(ps -o pid= --ppid "$pm"); do cpu_seconds "$pid" 2>/dev/null || true; echo; done
    } | awk '{ s += $1 } END { printf "%.4f", s }'
  }
  before=$(pg_cpu)
  pg_out=$(taskset -c 1 pgbench -h "$pg" -p "$pg_port" -U postgres -n -c 1 -T "$seconds" -f "$work/pgbench.sql" bench 2>/dev/null)
  after=$(pg_cpu)
  pg_tps=$(awk '/^tps/ { printf "%.0f", $3 }' <<<"$pg_out")
  pg_tx=$(awk '/number of transactions actually processed/ { print $NF }' <<<"$pg_out" | cut -d/ -f1)
  row "pinned: limit: PostgreSQL single-row commits (pgbench on core 1, PostgreSQL on core 0)" "$pg_tps" "" "" \
    "$(awk -v a="$after" -v b="$before" -v n="$pg_tx" 'BEGIN { printf "PostgreSQL %.1f", (a - b) * 1e6 / n }')" ""
  taskset -c 1 "$bin/feedbackd" --socket "$work/pgp.sock" --postgres-url "${pg_url/\/postgres\?//bench?}" --jwt-secret-file "$work/secret" \
    --log-level warning --max-concurrent-calls 1000 2>"$work/feedbackd-pg-pinned.log" &
  pids+=($!)
  pinned_daemon=$!
  until "$bin/feedbackctl" health --socket "$work/pgp.sock" >/dev/null 2>&1; do sleep 0.05; done
  for concurrency in 1 256; do
    before=$(cpu_seconds "$pinned_daemon"); pg_before=$(pg_cpu)
    out=$(taskset -c 1 "$bin/feedbackctl" bench --socket "$work/pgp.sock" --secret-file "$work/secret" --duration "$seconds" --json ${allow_writes[@]+"${allow_writes[@]}"} \
      --method submit --concurrency "$concurrency" --connections "$([ "$concurrency" = 1 ] && echo 1 || echo 4)" --rows 10000 2>/dev/null)
    after=$(cpu_seconds "$pinned_daemon"); pg_after=$(pg_cpu)
    python3 - "$concurrency" "$out" "$before" "$after" "$pg_before" "$pg_after" "$pg_tps" "$(rss_mib "$pinned_daemon")" <<'PY'
import json, sys
concurrency, out = sys.argv[1], json.loads(sys.argv[2])
before, after, pg_before, pg_after, pg_tps = (float(v) for v in sys.argv[3:8])
calls = max(1, out["calls"])
errors = "" if not out["errors"] else " (errors: " + ", ".join(f"{k} {v}" for k, v in out["errors"].items()) + ")"
ratio = out["calls_per_second"] / max(1.0, pg_tps)
print(f"| pinned: feedbackd on PostgreSQL SubmitFeedback, {concurrency} in flight{errors}: {ratio:.1f}x pgbench | {out['calls_per_second']:.0f} | "
      f"{out['latency_us']['p50']} | {out['latency_us']['p99']} | feedbackd {(after - before) * 1e6 / calls:.1f}, PostgreSQL {(pg_after - pg_before) * 1e6 / calls:.1f} | {sys.argv[8]} |")
PY
  done
  kill "$pinned_daemon" 2>/dev/null || true
  wait "$pinned_daemon" 2>/dev/null || true
fi
scripts/postgres-test-cluster.sh stop "$pg"
pg=""

# Memory: RSS of feedbackd at rest, per idle connection (1,000 that sent HELLO), and what a peer that
# sends calls and never reads its answers adds (feedbackd stops reading it).
python3 - "$daemon" "$work/f.sock" <<'PY'
import resource, select, socket, struct, sys
pid, path = sys.argv[1], sys.argv[2]
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

def rss_kib():
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return int(status["VmRSS"].split()[0]), int(status["RssAnon"].split()[0])

hello = struct.pack(">IIBB", 6, 0, 1, 0) + b"FBRP" + struct.pack(">H", 1)
rest, rest_anon = rss_kib()
print(f"| feedbackd at rest (after the loads above): RSS {rest / 1024:.1f} MiB, of which anonymous {rest_anon / 1024:.1f} MiB (the rest is code mapped from the binaries) | | | | | {rest / 1024:.1f} |")
idle = []
for _ in range(1000):
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(path)
    peer.sendall(hello)
    idle.append(peer)
for peer in idle:
    peer.settimeout(10)
    peer.recv(64)  # feedbackd's HELLO: the connection is set up
with_idle, _ = rss_kib()
print(f"| 1,000 idle connections: {(with_idle - rest) / 1000:.1f} KiB of RSS each | | | | | {with_idle / 1024:.1f} |")
for peer in idle:
    peer.close()

# Health calls, never read: written until feedbackd stops reading (nothing accepted for 2 s).
method = b"/feedback.health.v1.Health/Check"
entry = bytes([7]) + b":method" + struct.pack(">H", len(method)) + method
payload = struct.pack(">I", len(entry)) + entry
before, _ = rss_kib()
peer = socket.socket(socket.AF_UNIX)
peer.connect(path)
peer.sendall(hello)
peer.setblocking(False)
sent, call_id = 0, 1
while sent < 256 << 20:
    frames = b"".join(struct.pack(">IIBB", len(payload), call_id + i, 2, 0) + payload for i in range(1000))
    call_id += 1000
    while frames:
        try:
            written = peer.send(frames)
            frames, sent = frames[written:], sent + written
        except BlockingIOError:
            if not select.select([], [peer], [], 2)[1]:
                break
    if frames:
        break
after, _ = rss_kib()
print(f"| a peer that never reads: stopped after {sent / 1048576:.1f} MiB sent; RSS +{(after - before) / 1024:.1f} MiB | | | | | {after / 1024:.1f} |")
peer.close()
PY

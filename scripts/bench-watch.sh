#!/usr/bin/env bash
# The live ratings feed under load (BENCHMARKS.md, "WatchFeedbackEvents"): release builds, feedbackd on
# SQLite, SubmitFeedback at 256 in flight over 4 connections, without and with one watcher of the feed
# (alternating, ROUNDS times each, in one run), then a long run whose watcher drops and resumes its
# stream every 50,000 events, its ids checked against the audit trail. Prints Markdown rows.
#   SECONDS_PER_RUN=5   ROUNDS=2   CALLS=1000000 (the long run)   BIN=DIR (release feedbackd, feedbackctl)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-2}
calls=${CALLS:-1000000}
scripts/ensure-packages.sh sqlite3 >/dev/null
if [ -z "${BIN:-}" ]; then
  scripts/swift-env.sh swift build -c release --product feedbackd >/dev/null
  scripts/swift-env.sh swift build -c release --product feedbackctl >/dev/null
fi
bin=${BIN:-.build/release}
# Its databases are throw-away: the load may write (feedbackctl bench refuses to without --allow-writes;
# a feedbackctl from before that flag writes without it).
allow_writes=()
bench_help=$("$bin/feedbackctl" bench --help 2>&1 || true)
if [[ $bench_help == *--allow-writes* ]]; then allow_writes=(--allow-writes); fi
work=$(mktemp -d /tmp/fbwatch.XXXX)
daemon=""
cleanup() {
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ticks=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$ticks" '{ printf "%.4f", ($14 + $15) / t }' "/proc/$1/stat"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), $(swift --version 2>&1 | head -1)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), ${seconds} s per measurement, ${rounds} rounds alternating"
echo
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$work/secret"
sqlite3 "$work/template.db" "CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, created_at TEXT, feedback INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) INSERT INTO interactions (id) SELECT x FROM c;"
metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Every measurement on a fresh copy of the same database and a fresh feedbackd: SQLite slows as the audit
# trail grows, which would otherwise favour whatever is measured first.
fresh_feedbackd() {
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  rm -f "$work/chat.db" "$work/chat.db-wal" "$work/chat.db-shm"
  cp "$work/template.db" "$work/chat.db"
  "$bin/feedbackd" --socket "$work/f.sock" --db "$work/chat.db" --jwt-secret-file "$work/secret" --log-level warning \
    --max-concurrent-calls 1000 --metrics-listen "127.0.0.1:$metrics_port" 2>>"$work/feedbackd.log" &
  daemon=$!
  until "$bin/feedbackctl" health --socket "$work/f.sock" >/dev/null 2>&1; do sleep 0.05; done
}
fresh_feedbackd

last_id() { sqlite3 "$work/chat.db" "SELECT coalesce(max(id), 0) FROM feedback_events"; }
# feedbackd's feedback_watch_delivery_seconds histogram (commit -> handed to the watcher's connection), as JSON.
delivery() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" | python3 -c '
import json, re, sys
buckets = {}
for line in sys.stdin:
    m = re.match(r"feedback_watch_delivery_seconds_bucket\{le=\"([^\"]+)\"\} (\S+)", line)
    if m:
        buckets[m.group(1)] = float(m.group(2))
print(json.dumps(buckets))'
}
# name, then feedbackctl bench arguments (--watch ones included); the watcher's ids are checked against the
# audit trail (count, first, last and sum of the ids after the one it started from).
measure() {
  local name=$1 after before after_cpu out audit
  shift
  if [ -z "${NO_FRESH:-}" ]; then fresh_feedbackd; fi
  after=$(last_id)
  delivered_before=$(delivery)
  before=$(cpu_seconds "$daemon")
  out=$("$bin/feedbackctl" bench --socket "$work/f.sock" --secret-file "$work/secret" --json --watch-after "$after" ${allow_writes[@]+"${allow_writes[@]}"} "$@" 2>/dev/null)
  after_cpu=$(cpu_seconds "$daemon")
  delivered_after=$(delivery)
  audit=$(sqlite3 -separator ' ' "$work/chat.db" "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0), coalesce(sum(id), 0) FROM feedback_events WHERE id > $after")
  python3 - "$name" "$out" "$before" "$after_cpu" "$audit" "$delivered_before" "$delivered_after" <<'PY'
import json, sys
name, out, before, after, audit = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
hist_before, hist_after = json.loads(sys.argv[6]), json.loads(sys.argv[7])
# Messages delivered in this measurement by bucket (cumulative counts): the bucket bound under which 50 % / 99 % fall.
counts = sorted(((float("inf") if le == "+Inf" else float(le)), hist_after[le] - hist_before.get(le, 0)) for le in hist_after)
def bound(fraction):
    total = counts[-1][1] if counts else 0
    if total == 0:
        return "-"
    for le, count in counts:
        if count >= fraction * total:
            return "> 10 s" if le == float("inf") else f"≤ {le * 1000:g} ms"
delivered = f"{bound(0.5)} / {bound(0.99)} ({int(counts[-1][1]) if counts else 0} messages)"
count, first, last, total = (int(x) for x in audit.split())
cpu = (after - before) * 1e6 / max(1, out["calls"])
errors = "" if not out["errors"] else " (errors: " + ", ".join(f"{k} {v}" for k, v in out["errors"].items()) + ")"
cells = [f"{name}{errors}", f"{out['calls_per_second']:.0f}", str(out["latency_us"]["p99"]), f"{cpu:.1f}"]
watch = out.get("watch")
if watch is None:
    cells += ["", "", "", "", "", f"audit trail: {count} events"]
else:
    exact = (watch["events"], watch["first"], watch["last"], watch["id_sum"], watch["repeats"]) == (count, first, last, total, 0)
    check = (f"{watch['events']} of {count} events, ids {watch['first']}...{watch['last']}, "
             f"{watch['repeats']} repeated, {watch['resumes']} resumes: " + ("every event once, in order" if exact else "MISMATCH"))
    cells += [f"{watch['events_per_second_during_load']:.0f}", delivered, str(watch["lag_us"]["p50"]), str(watch["lag_us"]["p99"]),
              f"{watch['catch_up_ms']:.1f}", check]
print("| " + " | ".join(cells) + " |")
if watch is not None and not exact:
    sys.exit(1)
PY
}
printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "measurement" "ratings/s" "p99 µs" "feedbackd CPU µs/rating" \
  "events/s to the watcher" "commit → handed to the watcher's connection, p50 / p99 (feedbackd's histogram)" \
  "created_at → received, p50 µs" "p99 µs" "catch-up ms" "check"
printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' --- --- --- --- --- --- --- --- --- ---
load=(--method submit --concurrency 256 --connections 4 --rows 10000 --duration "$seconds")
reader=$("$bin/feedbackctl" token --secret-file "$work/secret" --sub export --ttl 3600 --scope feedback:read)
# The same load with `feedbackctl export --follow > /dev/null` in a process of its own: the watcher users run.
measure_export() {
  local name=$1 start follow export_cpu events
  shift
  fresh_feedbackd
  start=$(last_id)
  FEEDBACK_TOKEN=$reader "$bin/feedbackctl" export --follow --socket "$work/f.sock" --after "$start" > /dev/null 2>"$work/export.err" &
  follow=$!
  NO_FRESH=1 measure "$name" "$@"
  # Stopped once it has written every event (its stderr names the last one on SIGTERM).
  export_cpu=$(cpu_seconds "$follow")
  kill -TERM "$follow"
  wait "$follow" || true
  events=$(( $(last_id) - start ))
  printf '|   … its export --follow process: %s events, %s of CPU, %s µs per event; %s |\n' "$events" "${export_cpu} s" \
    "$(awk -v c="$export_cpu" -v n="$events" 'BEGIN { printf "%.1f", c * 1e6 / (n > 0 ? n : 1) }')" "$(tail -1 "$work/export.err")"
}
# Alternating kinds, each on a fresh database (fresh_feedbackd); the order is reversed every other round.
none() { measure "SubmitFeedback 256 in flight, no watcher (round $1)" "${load[@]}"; }
watcher() { measure "SubmitFeedback 256 in flight, one watcher (round $1)" "${load[@]}" --watch; }
follower() { measure_export "SubmitFeedback 256 in flight, export --follow in another process (round $1)" "${load[@]}"; }
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then none "$round"; watcher "$round"; follower "$round"
  else follower "$round"; watcher "$round"; none "$round"; fi
done
measure "SubmitFeedback 1 in flight, one watcher" --method submit --concurrency 1 --rows 10000 --duration "$seconds" --watch
measure "$calls ratings at 256 in flight, the watcher resuming every 50,000 events" --method submit --concurrency 256 \
  --connections 4 --rows 10000 --calls "$calls" --watch --watch-resume-every 50000

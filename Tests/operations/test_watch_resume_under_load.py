"""The live feed under load, as `scripts/bench-watch.sh` runs it with a million events, smaller: ratings at 64 in
flight while one watcher drops its stream every 2,500 events and resumes from its last id on a new connection; the
ids it was given are checked against the audit trail (every event once, in order)."""
import json
import pathlib
import sqlite3
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack  # noqa: E402

RATINGS = 20_000


def test_a_watcher_that_resumes_under_load_gets_every_event_once_in_order(tmp_path):
    stack = Stack(tmp_path)
    try:
        run = subprocess.run(
            [str(stack.bin / "feedbackctl"), "bench", "--socket", stack.socket, "--secret-file", str(stack.secret),
             "--method", "submit", "--allow-writes",
             "--calls", str(RATINGS), "--concurrency", "64", "--connections", "2", "--rows", "3",
             "--watch", "--watch-resume-every", "2500", "--json"],
            capture_output=True, text=True, timeout=600,
        )
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
        assert out["errors"] == {} and out["calls"] == RATINGS
        watch = out["watch"]
        with sqlite3.connect(stack.db) as db:
            count, first, last, total = db.execute("SELECT count(*), min(id), max(id), sum(id) FROM feedback_events").fetchone()
        assert count == RATINGS
        assert (watch["events"], watch["first"], watch["last"], watch["id_sum"]) == (count, first, last, total)
        assert watch["repeats"] == 0
        assert watch["resumes"] >= RATINGS // 2500 - 1
    finally:
        stack.close()

"""The gateway answers 503, as the original did, for every request that waited on a locked store, however
many are queued (issue 21, item 6): requests beyond the calls feedbackd's connections carry wait at most
--queue-timeout-ms for a slot, so none outlives the gateway's deadline into a 504, and none answered 503 is
written. Waits are on the answers themselves, with generous upper bounds."""
import concurrent.futures
import pathlib
import sqlite3
import sys
import urllib.error
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack  # noqa: E402

REQUESTS = 400  # twice what feedbackd's connections carry (--pool-size 2 x MAX_CONCURRENT_CALLS 100)
UNAVAILABLE = (503, '{"detail":"Feedback store unavailable."}')


def post(stack, interaction_id: int, token: str):
    request = urllib.request.Request(
        stack.url + "/feedback", data=f'{{"interaction_id": {interaction_id}, "rating": 1}}'.encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_400_requests_queued_behind_a_locked_store_are_all_503_and_none_written(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, REQUESTS + 2))
    try:
        token = stack.token()
        # Another process holds the write lock until every request has been answered (5 s at least:
        # feedbackd's busy timeout).
        holder = sqlite3.connect(stack.db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=REQUESTS) as pool:
                answers = list(pool.map(lambda i: post(stack, i, token), range(1, REQUESTS + 1)))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        counts = {}
        for answer in answers:
            counts[answer] = counts.get(answer, 0) + 1
        assert counts == {UNAVAILABLE: REQUESTS}, counts
        # Once the lock is gone a rating is written; it commits after anything still queued would have.
        assert post(stack, REQUESTS + 1, token) == (204, "")
        with sqlite3.connect(stack.db) as db:
            written = db.execute("SELECT id FROM interactions WHERE feedback IS NOT NULL").fetchall()
            events = db.execute("SELECT interaction_id FROM feedback_events").fetchall()
        assert written == [(REQUESTS + 1,)], f"ratings answered 503 were written: {written[:10]}"
        assert events == [(REQUESTS + 1,)]
    finally:
        stack.close()

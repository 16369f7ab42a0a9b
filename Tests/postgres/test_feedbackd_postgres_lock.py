"""SPEC.md §8 on PostgreSQL, against the real feedbackd: while another session holds the rows `FOR UPDATE`,
a SubmitFeedback past its deadline, or cancelled, is answered DEADLINE_EXCEEDED / CANCELLED while the lock
is still held and is never written; a CANCEL racing the commit gets OK exactly when the rating is written.
The first call of each test meets a fresh feedbackd (its token not verified yet), the others a warm one.

feedbackd runs with a 60 s statement timeout: an answer that comes while the lock is held comes from the
call's own deadline or CANCEL, never from the timeout. Every wait is for an event (psql printing the locked
rows, pg_stat_activity showing the statement waiting for the lock, the RESPONSE frame); the time limits
on reads only stop a hung test."""
import pathlib
import secrets
import socket
import struct
import subprocess
import sys
import time
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import bin_path, mint, wait_until  # noqa: E402
import rpc_frames  # noqa: E402
from feedback_rpc import Client, HealthStatus, RpcError  # noqa: E402
from feedback_rpc._frames import encode_hello  # noqa: E402
from feedback_rpc._payloads import decode_response, encode_request  # noqa: E402
from feedback_rpc._protocol import Hello, Request  # noqa: E402
from test_feedbackd_postgres import CLUSTER, make_database, psql, secret, socket_dir  # noqa: E402,F401 (secret: a fixture)

pytestmark = pytest.mark.skipif(not CLUSTER, reason="needs the cluster of scripts/test.sh (FEEDBACK_TEST_POSTGRES)")

SUBMIT = "/feedback.v1.FeedbackService/SubmitFeedback"
RESPONSE, CANCEL = 0x03, 0x04
OK, CANCELLED, DEADLINE_EXCEEDED = 0, 1, 4
ROWS = 400
HANG = 60  # seconds: only a hung feedbackd takes this long


@pytest.fixture
def database():
    name = make_database("fbl", ROWS)
    yield name
    psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def feedbackd(tmp_path, database, secret):
    url = CLUSTER.replace("/postgres?", f"/{database}?")
    path = f"/tmp/fbl-{secrets.token_hex(4)}.sock"
    log = tmp_path / "feedbackd.log"
    process = subprocess.Popen(
        [str(bin_path() / "feedbackd"), "--socket", path, "--postgres-url", url, "--jwt-secret-file", str(secret),
         "--busy-timeout-ms", "60000", "--log-level", "warning"],
        stderr=open(log, "w"),
    )

    def serving() -> bool:
        try:
            with Client(path, timeout=2, connect_timeout=1) as client:
                return client.check_health() == HealthStatus.SERVING
        except (OSError, RpcError):
            return False

    try:
        assert wait_until(serving, timeout=HANG), log.read_text()
        yield path, mint(secret.read_bytes(), "lock-test")
    finally:
        process.terminate()
        process.wait(HANG)


class Connection:
    """One raw connection to feedbackd: SubmitFeedback calls by call id, CANCEL, and their RESPONSEs."""

    def __init__(self, path: str, jwt: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(encode_hello(Hello()))
        self.jwt, self.buffer, self.answers = jwt, b"", {}

    def submit(self, call_id: int, interaction_id: int, rating: int = 1, timeout_ms=None):
        message = b"\x08" + varint(interaction_id) + b"\x10" + varint(rating & 0xFFFFFFFFFFFFFFFF)
        request = Request(method=SUBMIT, metadata=[("authorization", f"Bearer {self.jwt}")], message=message,
                          timeout_ms=timeout_ms)
        self.sock.sendall(encode_request(call_id, request))

    def cancel(self, call_id: int):
        self.sock.sendall(struct.pack(">IIBB", 0, call_id, CANCEL, 0))

    def answer(self, call_id: int) -> tuple[int, float]:
        """The status of `call_id`'s RESPONSE, and when it was read (time.monotonic())."""
        deadline = time.monotonic() + HANG
        while call_id not in self.answers:
            complete, self.buffer = rpc_frames.split(self.buffer)
            for ftype, frame_call, payload in complete:
                if ftype == RESPONSE:
                    self.answers[frame_call] = (decode_response(payload).code, time.monotonic())
            if call_id in self.answers:
                break
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            assert chunk, "feedbackd closed the connection"
            self.buffer += chunk
        return self.answers[call_id]

    def close(self):
        self.sock.close()


def varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


class RowLock:
    """A psql session holding `SELECT … FOR UPDATE` on interactions whose id is in `ids` until released."""

    def __init__(self, database: str, ids: range):
        port = str(urllib.parse.urlparse(CLUSTER).port or 5432)
        self.process = subprocess.Popen(
            ["psql", "-h", socket_dir(), "-p", port, "-U", "postgres", "-d", database, "-Atq", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.send(f"BEGIN; SELECT count(*) FROM (SELECT id FROM interactions WHERE id BETWEEN {ids.start} AND {ids.stop - 1} "
                  "FOR UPDATE) AS locked;")
        assert self.process.stdout.readline().strip() == str(len(ids))  # psql answered: the rows are locked

    def send(self, sql: str):
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()

    def release(self):
        self.send("ROLLBACK;")
        self.process.stdin.close()
        self.process.wait(HANG)


def wait_for_lock_wait(database: str):
    """Until one of feedbackd's statements waits for a row lock."""
    sql = (f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND application_name = 'feedbackd' "
           "AND wait_event_type = 'Lock'")
    assert wait_until(lambda: psql("postgres", sql) != "0", timeout=HANG, interval=0.005)


def settle(connection: Connection, ids, call_id: int) -> None:
    """Once the lock is gone: a rating (-1) of every interaction in `ids`, answered OK, after whatever the
    earlier calls left (ratings of one interaction are committed in arrival order)."""
    ids = list(ids)
    for start in range(0, len(ids), 50):  # within MAX_CONCURRENT_CALLS
        for offset in range(start, min(start + 50, len(ids))):
            connection.submit(call_id + offset, ids[offset], rating=-1)
        for offset in range(start, min(start + 50, len(ids))):
            assert connection.answer(call_id + offset)[0] == OK


def audited(database: str, ids) -> dict[int, list[int]]:
    """The audit trail of interactions `ids`: their ratings in order."""
    rows = psql(database, f"SELECT interaction_id, rating FROM feedback_events WHERE interaction_id BETWEEN {min(ids)} "
                          f"AND {max(ids)} ORDER BY id")
    trail: dict[int, list[int]] = {}
    for line in filter(None, rows.splitlines()):
        interaction_id, rating = map(int, line.split("|"))
        trail.setdefault(interaction_id, []).append(rating)
    return trail


def test_deadline_shorter_than_the_lock_answers_deadline_exceeded_and_writes_nothing(feedbackd, database):
    """200 calls, 10 at a time (one batch whose members all expire together), with a 100 ms deadline each,
    on rows held FOR UPDATE."""
    path, jwt = feedbackd
    ids = range(1, 201)
    connection = Connection(path, jwt)
    lock = RowLock(database, ids)
    lateness = []
    try:
        for group in range(20):
            calls = range(group * 10 + 1, group * 10 + 11)
            sent = {}
            for call_id in calls:
                sent[call_id] = time.monotonic()
                connection.submit(call_id, call_id, timeout_ms=100)
            for call_id in calls:
                code, answered = connection.answer(call_id)
                assert code == DEADLINE_EXCEEDED, (call_id, code)
                lateness.append(answered - sent[call_id] - 0.1)
        # Every answer came while the lock was held: none was written, nor is anything being written.
        assert audited(database, ids) == {}
    finally:
        lock.release()
    settle(connection, ids, 1000)
    assert audited(database, ids) == {i: [-1] for i in ids}, "a call answered DEADLINE_EXCEEDED was written"
    assert psql(database, "SELECT count(*) FROM interactions WHERE id <= 200 AND feedback = -1") == "200"
    connection.close()
    lateness.sort()
    print(f"\nDEADLINE_EXCEEDED after the deadline: median {lateness[len(lateness) // 2] * 1000:.1f} ms, "
          f"max {lateness[-1] * 1000:.1f} ms")


def test_cancel_while_blocked_on_the_lock_answers_cancelled_and_writes_nothing(feedbackd, database):
    path, jwt = feedbackd
    connection = Connection(path, jwt)
    for attempt in range(1, 21):
        lock = RowLock(database, range(attempt, attempt + 1))
        try:
            connection.submit(attempt, attempt)
            wait_for_lock_wait(database)
            connection.cancel(attempt)
            assert connection.answer(attempt)[0] == CANCELLED, attempt
            assert audited(database, [attempt]) == {}
        finally:
            lock.release()
    settle(connection, range(1, 21), 1000)
    assert audited(database, range(1, 21)) == {i: [-1] for i in range(1, 21)}, "a call answered CANCELLED was written"
    connection.close()


def test_cancel_racing_the_commit_answers_what_the_database_holds(feedbackd, database):
    """The lock is released and the CANCEL sent at once: OK exactly when the rating is written."""
    path, jwt = feedbackd
    connection = Connection(path, jwt)
    ids = range(1, 61)
    outcomes = {}
    for attempt in ids:
        lock = RowLock(database, range(attempt, attempt + 1))
        connection.submit(attempt, attempt)
        wait_for_lock_wait(database)
        lock.send("ROLLBACK;")
        connection.cancel(attempt)
        outcomes[attempt] = connection.answer(attempt)[0]
        lock.release()
    assert set(outcomes.values()) <= {OK, CANCELLED}, outcomes
    settle(connection, ids, 1000)
    trail = audited(database, ids)
    for attempt, code in outcomes.items():
        assert trail[attempt] == ([1, -1] if code == OK else [-1]), (attempt, code, trail[attempt])
    connection.close()
    print(f"\nCANCEL racing the commit: {sum(c == OK for c in outcomes.values())} OK, "
          f"{sum(c == CANCELLED for c in outcomes.values())} CANCELLED")

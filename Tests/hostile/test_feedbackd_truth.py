"""An answer is the truth, against the real feedbackd process while another process holds the SQLite
write lock (the chat backend writes the same file): a call answered DEADLINE_EXCEEDED or CANCELLED is
never written, a call answered OK always is, and the interrupted answers come at the deadline or the
CANCEL, not when the lock frees. Fresh tokens (verified in a task) and tokens already verified (the
event-loop path) are both tried, 200 calls each."""
import random
import select
import socket
import sqlite3
import struct
import time

import pytest

from test_feedbackd_cancellation import CANCEL, CANCELLED, DEADLINE_EXCEEDED, OK, RESPONSE, SUBMIT, Frames
from feedback_stack import Stack, mint
import rpc_frames
from feedback_rpc import Client
from feedback_rpc._frames import encode_hello
from feedback_rpc._payloads import decode_response, encode_request
from feedback_rpc._protocol import Hello, Request

CALLS = 200
PER_CONNECTION = 50  # under feedbackd's 100 concurrent calls per connection
SENTINEL = CALLS + 1  # rated after each round: once it is written, the writer is past anything earlier


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def submit(call_id: int, interaction_id: int, token: str, timeout_ms=None) -> bytes:
    """A SubmitFeedback REQUEST rating `interaction_id` +1."""
    message = b"\x08" + varint(interaction_id) + b"\x10\x01"
    return encode_request(call_id, Request(method=SUBMIT, metadata=[("authorization", f"Bearer {token}")],
                                           message=message, timeout_ms=timeout_ms))


def connect(path: str):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(encode_hello(Hello()))
    return sock, Frames(sock)


def collect(frames: Frames, count: int, timeout: float) -> dict:
    """The next `count` answers: call id -> (status code, monotonic time of arrival)."""
    answers = {}
    while len(answers) < count:
        ftype, call_id, payload = frames.next(timeout)
        if ftype == RESPONSE:
            answers[call_id] = (decode_response(payload).code, time.monotonic())
    return answers


def ping(sock, frames: Frames):
    """A PING answered: every REQUEST sent before it has been read and started."""
    sock.sendall(struct.pack(">IIBB", 8, 0, 0x05, 0) + b"\0" * 8)
    while frames.next(30)[0] != 0x06:
        pass


def connections(path: str, calls):
    """Connections enough for `calls` (call ids from 1), each with its share: [(sock, frames, ids)]."""
    calls = list(calls)
    return [(*connect(path), calls[i:i + PER_CONNECTION]) for i in range(0, len(calls), PER_CONNECTION)]


def collect_all(conns, timeout: float) -> dict:
    """Every answer on every connection, each timed when it arrives (the sockets are read together);
    call ids are the interactions rated, unique across connections."""
    answers, expected = {}, sum(len(ids) for _, _, ids in conns)
    by_socket = {sock: frames for sock, frames, _ in conns}
    deadline = time.monotonic() + timeout
    while len(answers) < expected:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(answers)} of {expected} answers within {timeout} s"
        readable, _, _ = select.select(list(by_socket), [], [], remaining)
        for sock in readable:
            frames = by_socket[sock]
            chunk = sock.recv(65536)
            assert chunk, "feedbackd closed the connection"
            complete, frames.buffer = rpc_frames.split(frames.buffer + chunk)
            for ftype, call_id, payload in complete:
                if ftype == RESPONSE:
                    answers[call_id] = (decode_response(payload).code, time.monotonic())
    return answers


def ratings(db) -> dict:
    with sqlite3.connect(db) as connection:
        return dict(connection.execute("SELECT id, feedback FROM interactions WHERE feedback IS NOT NULL"))


def events(db) -> set:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT interaction_id FROM feedback_events")}


@pytest.fixture()
def stack(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, SENTINEL + 1))
    yield stack
    stack.close()


def settle(stack, token):
    """Rates the sentinel and waits for OK: the writer has finished whatever it took before."""
    with Client(stack.socket) as client:
        client.submit_feedback(SENTINEL, 1, token=token)


def tokens_for(stack, fresh: bool):
    secret = stack.secret.read_bytes()
    if fresh:
        return [mint(secret, f"fresh-{random.getrandbits(64):x}-{i}") for i in range(CALLS)]
    token = mint(secret, "warm")
    settle(stack, token)  # verified once, and the store has committed
    return [token] * CALLS


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-tokens", "verified-token"])
def test_deadline_while_locked_is_answered_at_the_deadline_and_never_written(stack, fresh):
    tokens = tokens_for(stack, fresh)
    before = ratings(stack.db)
    holder = sqlite3.connect(stack.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    late = []
    try:
        conns = connections(stack.socket, range(1, CALLS + 1))
        sent = {}
        for sock, _, ids in conns:
            for call_id in ids:
                timeout_ms = 100 + (call_id % 5) * 50  # 100 to 300 ms
                sock.sendall(submit(call_id, call_id, tokens[call_id - 1], timeout_ms=timeout_ms))
                sent[call_id] = time.monotonic() + timeout_ms / 1000
        # Every answer comes while the lock is still held.
        answers = collect_all(conns, timeout=30)
        late = sorted(arrived - sent[call_id] for call_id, (_, arrived) in answers.items())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    settle(stack, tokens[0])
    written = ratings(stack.db)
    print(f"lateness after the deadline, as the client saw it: median {late[len(late) // 2] * 1000:.1f} ms, "
          f"max {late[-1] * 1000:.1f} ms")
    assert {code for code, _ in answers.values()} == {DEADLINE_EXCEEDED}, answers
    disagreements = [call_id for call_id in answers if call_id in written and call_id not in before]
    assert not disagreements, f"answered DEADLINE_EXCEEDED but written: {disagreements}"
    assert not (events(stack.db) & set(answers)), "no audit row for a call answered DEADLINE_EXCEEDED"
    for sock, _, _ in conns:
        sock.close()


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-tokens", "verified-token"])
def test_cancel_while_locked_is_answered_at_once_and_never_written(stack, fresh):
    tokens = tokens_for(stack, fresh)
    holder = sqlite3.connect(stack.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        conns = connections(stack.socket, range(1, CALLS + 1))
        for sock, frames, ids in conns:
            for call_id in ids:
                sock.sendall(submit(call_id, call_id, tokens[call_id - 1]))
            ping(sock, frames)
        cancelled_at = time.monotonic()
        for sock, _, ids in conns:
            sock.sendall(b"".join(struct.pack(">IIBB", 0, call_id, CANCEL, 0) for call_id in ids))
        answers = collect_all(conns, timeout=30)
        slowest = max(arrived for _, arrived in answers.values()) - cancelled_at
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    settle(stack, tokens[0])
    written = ratings(stack.db)
    print(f"all {CALLS} CANCELs answered within {slowest * 1000:.1f} ms of the first")
    assert {code for code, _ in answers.values()} == {CANCELLED}, answers
    assert not [call_id for call_id in answers if call_id in written], "answered CANCELLED but written"
    assert not (events(stack.db) & set(answers)), "no audit row for a call answered CANCELLED"
    for sock, _, _ in conns:
        sock.close()


def test_cancel_racing_the_commit_answer_and_database_agree(stack):
    """CANCELs sent as the lock frees: each call is either committed and answered OK, or withdrawn and
    answered CANCELLED; never both, never neither."""
    token = tokens_for(stack, fresh=False)[0]
    rng = random.Random(20)
    tried = 0
    outcomes = {OK: 0, CANCELLED: 0}
    for round_number in range(20):
        first = round_number * 10 + 1
        ids = list(range(first, first + 10))
        holder = sqlite3.connect(stack.db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        sock, frames = connect(stack.socket)
        for call_id in ids:
            sock.sendall(submit(call_id, call_id, token))
        ping(sock, frames)
        holder.execute("ROLLBACK")
        holder.close()
        rng.shuffle(ids)
        for call_id in ids:  # racing the commit the release just allowed
            sock.sendall(struct.pack(">IIBB", 0, call_id, CANCEL, 0))
        answers = collect(frames, 10, timeout=30)
        sock.close()
        settle(stack, token)
        written = ratings(stack.db)
        logged = events(stack.db)
        for call_id, (code, _) in answers.items():
            tried += 1
            assert code in (OK, CANCELLED), (call_id, code)
            outcomes[code] += 1
            if code == OK:
                assert written.get(call_id) == 1 and call_id in logged, f"call {call_id} answered OK but not written"
            else:
                assert call_id not in written and call_id not in logged, f"call {call_id} answered CANCELLED but written"
    print(f"{tried} calls cancelled as the lock freed: {outcomes[OK]} committed first (OK), {outcomes[CANCELLED]} withdrawn")
    assert tried == CALLS


def test_shutdown_is_bounded_while_a_rating_waits_for_the_lock(tmp_path):
    """SIGTERM while a rating waits for another process's lock (a busy timeout of a minute): feedbackd gives
    up after --shutdown-timeout-s instead of waiting the lock out, and what it gave up is not written."""
    stack = Stack(tmp_path, interactions=range(1, 4), feedbackd_args=["--busy-timeout-ms", "60000", "--shutdown-timeout-s", "1"])
    try:
        token = mint(stack.secret.read_bytes(), "shutdown")
        holder = sqlite3.connect(stack.db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            sock, frames = connect(stack.socket)
            sock.sendall(submit(1, 1, token))
            ping(sock, frames)
            stopping = time.monotonic()
            stack.feedbackd.terminate()
            stack.feedbackd.wait(30)  # before: the lock's minute, then UNAVAILABLE
            took = time.monotonic() - stopping
            answers = []
            try:
                while True:
                    ftype, call_id, payload = frames.next(5)
                    if ftype == RESPONSE:
                        answers.append(decode_response(payload).code)
            except AssertionError:  # feedbackd closed the connection
                pass
            print(f"feedbackd exited {took:.2f} s after SIGTERM; answers: {answers}")
            assert answers in ([], [CANCELLED]), answers
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert stack.rating(1) is None, "given up at shutdown, so never written"
        sock.close()
    finally:
        stack.close()

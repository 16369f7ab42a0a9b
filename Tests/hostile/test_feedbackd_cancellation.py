"""Cancelled or timed out means not written, against the real feedbackd process: while another process
holds the database's write lock, calls past their deadline (or cancelled) while still queued are answered
at once and never written; whatever is answered OK is written."""
import pathlib
import socket
import sqlite3
import struct
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import Stack  # noqa: E402
from feedback_rpc import Client  # noqa: E402
from feedback_rpc._frames import encode_hello  # noqa: E402
from feedback_rpc._payloads import decode_response, encode_request  # noqa: E402
from feedback_rpc._protocol import Hello, Request  # noqa: E402

SUBMIT = "/feedback.v1.FeedbackService/SubmitFeedback"
RESPONSE, PING, PONG, CANCEL = 0x03, 0x05, 0x06, 0x04
OK, CANCELLED, DEADLINE_EXCEEDED = 0, 1, 4


def submit(call_id: int, interaction_id: int, token: str, timeout_ms=None) -> bytes:
    message = bytes([0x08, interaction_id, 0x10, 0x01])  # interaction_id, rating 1
    return encode_request(call_id, Request(method=SUBMIT, metadata=[("authorization", f"Bearer {token}")],
                                           message=message, timeout_ms=timeout_ms))


class Frames:
    """Reads frames from a blocking socket, with a deadline on each read."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, b""

    def next(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 10:
                length, call_id, ftype, _ = struct.unpack_from(">IIBB", self.buffer)
                if len(self.buffer) >= 10 + length:
                    payload, self.buffer = self.buffer[10:10 + length], self.buffer[10 + length:]
                    return ftype, call_id, payload
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            assert chunk, "feedbackd closed the connection"
            self.buffer += chunk


def test_cancelled_or_timed_out_while_queued_is_never_written(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, 41))
    try:
        token = stack.token()
        with Client(stack.socket) as client:
            client.submit_feedback(40, 1, token=token)  # the token is verified once, then checked without a task
        holder = sqlite3.connect(stack.db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(stack.socket)
            frames = Frames(sock)
            sock.sendall(encode_hello(Hello()) + submit(1, 1, token))  # its batch waits for the lock
            sock.sendall(struct.pack(">IIBB", 8, 0, PING, 0) + b"\0" * 8)
            while frames.next(5)[0] != PONG:
                pass
            # 30 more: deadlines of 300 ms, and every third cancelled at once.
            for call_id in range(2, 32):
                sock.sendall(submit(call_id, call_id, token, timeout_ms=300))
                if call_id % 3 == 0:
                    sock.sendall(struct.pack(">IIBB", 0, call_id, CANCEL, 0))
            answers = {}
            # Answers that come while the lock is still held can only be calls withdrawn from the queue.
            while len(answers) < 20:
                ftype, call_id, payload = frames.next(10)
                if ftype == RESPONSE:
                    answers[call_id] = decode_response(payload).code
            assert set(answers.values()) <= {CANCELLED, DEADLINE_EXCEEDED}, answers
            assert all(stack.rating(call_id) is None for call_id in answers)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        while len(answers) < 31:
            ftype, call_id, payload = frames.next(10)
            if ftype == RESPONSE:
                answers[call_id] = decode_response(payload).code
        assert answers[1] == OK
        for call_id, code in answers.items():
            if code == OK:
                assert stack.rating(call_id) == 1, f"call {call_id} acknowledged but not written"
            else:
                assert code in (CANCELLED, DEADLINE_EXCEEDED), (call_id, code)
                assert stack.rating(call_id) is None, f"call {call_id} answered {code} but written"
        assert sum(code != OK for code in answers.values()) >= 20
        sock.close()
    finally:
        stack.close()

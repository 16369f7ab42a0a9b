"""A hostile client against real feedback-gateway and feedbackd processes: what must never crash the
gateway, hold it, or cost an acknowledged rating (issue 9). Every wait is on an event (a closed socket, an
answer, a health status) with a generous upper bound, never a fixed sleep that decides the outcome."""
import base64
import json
import os
import pathlib
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack, wait_until  # noqa: E402


def post(stack, body: bytes, token: str, headers=None, timeout=20):
    all_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(stack.url + "/feedback", data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def healthz(stack):
    try:
        with urllib.request.urlopen(stack.url + "/healthz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def connect(stack) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    return connection


def closed_within(connection: socket.socket, seconds: float) -> bool:
    """True when the peer closes (EOF or reset) within `seconds`; whatever it sent first is discarded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if connection.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path, gateway_args=["--max-body-bytes", "2000000", "--head-timeout-s", "1", "--body-timeout-s", "2",
                                          "--idle-timeout-s", "2", "--max-connections", "40"])
    yield stack
    stack.close()


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_100k_levels_of_nesting_are_400_and_the_gateway_lives(stack, opener):
    token = stack.token()
    body = (opener * 100_000).encode()
    assert post(stack, body, token) == (400, '{"detail":"There was an error parsing the body"}')
    assert stack.gateway.poll() is None, "the gateway died"
    assert healthz(stack) == 200
    assert post(stack, b'{"interaction_id": 1, "rating": 1}', token) == (204, "")


def test_a_token_that_only_looks_valid_cannot_crash_the_gateway_either(stack):
    header, payload, _ = stack.token().split(".")
    forged = f"{header}.{payload}.{'A' * 43}"
    status, _ = post(stack, b"[" * 44_000, forged)
    assert status in (400, 401)
    assert stack.gateway.poll() is None and healthz(stack) == 200


def test_a_head_sent_slowly_is_closed_at_the_head_timeout(stack):
    connection = connect(stack)
    connection.sendall(b"POST /feedback HTTP/1.1\r\nHost: x\r\n")
    assert closed_within(connection, 6), "a half-sent head held the connection"


def test_a_body_sent_at_one_byte_a_second_is_closed_at_the_body_timeout(stack):
    connection = connect(stack)
    connection.sendall(b"POST /feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                       + f"Authorization: Bearer {stack.token()}\r\n\r\n".encode())
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 10:
        try:
            connection.sendall(b" ")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if closed_within(connection, 0.5):
            closed = True
            break
    assert closed, "a trickled body held the connection"
    assert time.monotonic() - started < 8


def test_an_idle_keep_alive_connection_is_closed_at_the_idle_timeout(stack):
    connection = connect(stack)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    connection.settimeout(10)
    assert connection.recv(65536).startswith(b"HTTP/1.1 200")
    assert closed_within(connection, 8), "an idle keep-alive connection stayed open"


def test_an_early_answer_then_a_late_body_still_idles_out(stack):
    """405 before the body is read, then the body, then nothing: the idle deadline still closes it."""
    connection = connect(stack)
    connection.sendall(b"PUT /feedback HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    connection.settimeout(10)
    assert connection.recv(65536).startswith(b"HTTP/1.1 405")
    connection.sendall(b"hello")
    assert closed_within(connection, 8), "the connection was never timed out again"


def test_connection_close_with_a_pipelined_request_is_closed_after_the_answer(stack):
    connection = connect(stack)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                       b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    connection.settimeout(10)
    assert connection.recv(65536).startswith(b"HTTP/1.1 200")
    assert closed_within(connection, 4), "held open after a Connection: close request"


def test_pipelined_requests_are_all_answered_before_a_final_connection_close(stack):
    token = stack.token().encode()
    body = b'{"interaction_id": 3, "rating": 1}'

    def post(extra=b""):
        return (b"POST /feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
                + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body)

    connection = connect(stack)
    connection.sendall(post() * 2 + post(b"Connection: close\r\n"))
    connection.settimeout(10)
    received = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    assert received.count(b"HTTP/1.1 204") == 3, received


def test_a_client_that_never_reads_its_answers_is_cut(stack):
    connection = connect(stack)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    request = b"GET /widget/feedback.js HTTP/1.1\r\nHost: x\r\n\r\n"
    connection.setblocking(False)
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 15:
        try:
            connection.send(request * 50)
        except BlockingIOError:
            time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    assert closed, "a peer that never reads held its connection"


def test_connections_over_the_cap_get_503_and_the_rest_are_served(tmp_path):
    stack = Stack(tmp_path, gateway_args=["--max-connections", "40"])
    held = [connect(stack) for _ in range(40)]
    try:
        extra = connect(stack)
        extra.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = extra.recv(65536)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b'{"detail":' in answer
        assert b"\r\nx-content-type-options: nosniff\r\n" in answer.lower(), answer
        # A well-formed request on a held connection is still served.
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        held[0].settimeout(10)
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")
        for connection in held:
            connection.close()
        assert wait_until(lambda: healthz(stack) == 200, timeout=10)
    finally:
        for connection in held:
            connection.close()
        stack.close()


def test_a_declared_10_gb_body_is_413_and_the_connection_closed_unread(stack):
    connection = connect(stack)
    connection.sendall(b"POST /feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       + f"Authorization: Bearer {stack.token()}\r\nContent-Length: 10737418240\r\n\r\n".encode())
    connection.settimeout(10)
    assert connection.recv(65536).startswith(b"HTTP/1.1 413")
    sent = 0
    chunk = b"x" * 65536
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 10:
        try:
            connection.settimeout(1)
            sent += connection.send(chunk)
        except socket.timeout:
            continue  # the gateway stopped reading: the window is full
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    assert closed, f"the gateway kept reading ({sent} bytes)"
    assert sent < 200 * 1024 * 1024


def test_malformed_or_oversized_traceparent_is_ignored_and_the_rating_stored(stack):
    token = stack.token()
    body = b'{"interaction_id": 2, "rating": -1}'
    for traceparent in ["00-\u00e9" + "a" * 51, "00-" + "a" * 9000, "garbage", "ff-" + "1" * 32 + "-" + "1" * 16 + "-01"]:
        assert post(stack, body, token, {"traceparent": traceparent}) == (204, ""), traceparent[:20]
    assert stack.rating(2) == -1
    valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    request = urllib.request.Request(stack.url + "/feedback", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                              "traceparent": valid})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204 and response.headers["traceparent"] == valid


def test_a_20_kb_token_is_401_never_429(stack):
    status, text = post(stack, b'{"interaction_id": 1, "rating": 1}', "a" * 20_000)
    assert status == 401, text
    header, payload, signature = stack.token().split(".")
    status, text = post(stack, b'{"interaction_id": 1, "rating": 1}', f"{header}.{payload + 'A' * 20_000}.{signature}")
    assert status == 401, text


def test_a_locked_database_is_503_as_in_the_original(stack):
    holder = sqlite3.connect(stack.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert post(stack, b'{"interaction_id": 1, "rating": 1}', stack.token()) == (503, '{"detail":"Feedback store unavailable."}')
        assert time.monotonic() - started < 5.9, "answered by the store's busy timeout, before the gateway's deadline"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert post(stack, b'{"interaction_id": 1, "rating": 1}', stack.token()) == (204, "")


def test_a_deleted_database_is_never_acknowledged(stack):
    token = stack.token()
    assert post(stack, b'{"interaction_id": 1, "rating": 1}', token) == (204, "")
    for suffix in ("", "-wal", "-shm"):
        path = pathlib.Path(str(stack.db) + suffix)
        if path.exists():
            path.unlink()
    status, text = post(stack, b'{"interaction_id": 2, "rating": 1}', token)
    assert (status, text) == (503, '{"detail":"Feedback store unavailable."}')
    assert healthz(stack) == 503
    assert not stack.db.exists(), "feedbackd recreated the deleted database"


def test_a_forged_token_header_cannot_write_a_log_line(tmp_path):
    """The token goes straight to feedbackd over RPC (the gateway's pre-check would stop it first)."""
    stack = Stack(tmp_path, feedbackd_args=["--log-level", "info", "--log-format", "text"])
    try:
        _, payload, signature = stack.token().split(".")
        header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256\n2026-01-01T00:00:00Z error forged line",
                                                      "typ": "JWT"}).encode()).rstrip(b"=").decode()
        result = subprocess.run([str(stack.bin / "feedbackctl"), "submit", "--socket", stack.socket, "--token",
                                 f"{header}.{payload}.{signature}", "--interaction-id", "1", "--rating", "1"],
                                capture_output=True, text=True)
        assert result.returncode != 0 and "UNAUTHENTICATED" in result.stdout + result.stderr
        assert "forged" not in result.stdout + result.stderr, "the status message echoed the header"
        stack.stop_feedbackd()
        log = (tmp_path / "feedbackd.log").read_text()
        assert "rpc.auth_failed" in log
        assert not any(line.startswith("2026-01-01T00:00:00Z") for line in log.splitlines()), log
    finally:
        stack.close()

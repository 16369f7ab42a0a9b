"""When a call is sent again, against a fake server (tests/support.py) that misbehaves on cue.

The rule is the Swift client's: a call is sent once more, on a new connection, only when the server did not
process it (a GOAWAY whose last_call_id is below the call's id; a call still queued on the client). Once its
REQUEST is written, a connection that ends without the RESPONSE raises UNKNOWN and nothing is sent again.
A connection refused (GOAWAY REFUSED instead of HELLO) raises UNAVAILABLE at once; one the server ends before
its HELLO without refusing it (GOAWAY NO_ERROR: shutting down; or no GOAWAY) is made again, up to 8 times
within the connect timeout, as in Swift (SPEC.md section 3: under socket activation the next server takes it).
Connections beyond a test's scripts are served correctly, so a client that wrongly sent a call again would get
an answer instead of the error the test expects.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from support import (
    CANCEL,
    GOAWAY,
    HEALTH,
    NO_ERROR,
    PING,
    PONG,
    PROTOCOL_ERROR,
    REFUSED,
    REQUEST,
    RESPONSE,
    SERVING_BODY,
    Peer,
    Script,
    fake_server,
    frame,
    goaway,
    response,
)

import feedback_rpc
from feedback_rpc import AsyncClient, Client, HealthStatus, RpcError, StatusCode

KINDS = ["sync", "asyncio"]
Result = HealthStatus | RpcError


def health(
    kind: str,
    path: str,
    calls: int = 1,
    *,
    timeout: float = 10.0,
    answer_grace: float = 1.0,
    between: Callable[[], object] = lambda: None,
) -> tuple[list[Result], int]:
    """``calls`` Health/Check calls, one after the other, on one client of the given kind: each one's result (or
    error), and how many connections the client opened. ``between`` runs before every call but the first."""
    results: list[Result] = []
    if kind == "sync":
        with Client(path, timeout=timeout, connect_timeout=10, answer_grace=answer_grace) as client:
            for n in range(calls):
                if n:
                    between()
                try:
                    results.append(client.check_health())
                except RpcError as error:
                    results.append(error)
            return results, client.connections_opened

    async def run() -> int:
        async with AsyncClient(path, timeout=timeout, connect_timeout=10, answer_grace=answer_grace) as client:
            for n in range(calls):
                if n:
                    between()
                try:
                    results.append(await client.check_health())
                except RpcError as error:
                    results.append(error)
            return client.connections_opened

    return results, asyncio.run(run())


def error_of(result: Result) -> RpcError:
    assert isinstance(result, RpcError), f"expected an error, got {result!r}"
    return result


# ---------------------------------------------------------------- scripts of the fake server


def goes_away_before_the_call(peer: Peer) -> None:
    """Reads the REQUEST, then GOAWAY with last_call_id below it: the call was not processed."""
    peer.handshake()
    call = peer.expect(REQUEST)
    peer.send(goaway(call.call_id - 1, debug="restarting"))


def closes_after_reading_the_request(peer: Peer) -> None:
    """Reads the REQUEST and closes: the client cannot know whether it ran."""
    peer.handshake()
    peer.expect(REQUEST)


def covers_the_call_then_closes(peer: Peer) -> None:
    """GOAWAY with last_call_id = the call's id (it will be answered), then closes without answering."""
    peer.handshake()
    call = peer.expect(REQUEST)
    peer.send(goaway(call.call_id))


def covers_the_call_then_answers(peer: Peer) -> None:
    peer.handshake()
    call = peer.expect(REQUEST)
    peer.send(goaway(call.call_id))
    peer.send(response(call.call_id, body=SERVING_BODY))


def refuses(peer: Peer) -> None:
    """GOAWAY REFUSED instead of HELLO (a server at its connection limit)."""
    peer.send(goaway(0, REFUSED, "too many connections"))


def hangs_up(peer: Peer) -> None:
    """Closes before sending HELLO."""


def shuts_down(peer: Peer) -> None:
    """GOAWAY NO_ERROR instead of HELLO (a server shutting down as the connection came)."""
    peer.send(goaway(0, NO_ERROR, "server shutting down"))


# ---------------------------------------------------------------- both clients


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_above_goaway_is_sent_again_once_on_a_new_connection(kind: str) -> None:
    with fake_server(goes_away_before_the_call) as server:
        results, opened = health(kind, server.path)
    assert results == [HealthStatus.SERVING]
    assert opened == 2
    assert server.requests() == [[(1, HEALTH)], [(1, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_not_processed_twice_raises_unavailable(kind: str) -> None:
    with fake_server(goes_away_before_the_call, goes_away_before_the_call) as server:
        results, opened = health(kind, server.path)
    error = error_of(results[0])
    assert isinstance(error, feedback_rpc.UnavailableError)
    assert error.message == "Server unavailable: the call was not processed (the server is going away)."
    assert (opened, server.connections) == (2, 2)  # sent twice, never a third time


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_closed_after_the_request_raises_unknown_and_sends_nothing_again(kind: str) -> None:
    with fake_server(closes_after_reading_the_request) as server:
        results, opened = health(kind, server.path, calls=2)
    error = error_of(results[0])
    # Never UNAVAILABLE: that says the call had no effect, and this one may have run.
    assert error.code == StatusCode.UNKNOWN and error.retryable
    assert "may or may not have taken effect" in error.message
    # The caller may repeat the call (here the next one): only then is a new connection opened.
    assert results[1] == HealthStatus.SERVING
    assert opened == 2
    assert server.requests() == [[(1, HEALTH)], [(1, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_covered_by_goaway_is_not_sent_again_when_its_answer_never_comes(kind: str) -> None:
    with fake_server(covers_the_call_then_closes) as server:
        results, opened = health(kind, server.path)
    assert error_of(results[0]).code == StatusCode.UNKNOWN  # covered by the GOAWAY: it may have run
    assert (opened, server.connections) == (1, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_covered_by_goaway_is_answered_and_the_next_call_reconnects(kind: str) -> None:
    with fake_server(covers_the_call_then_answers) as server:
        results, opened = health(kind, server.path, calls=2)
    assert results == [HealthStatus.SERVING, HealthStatus.SERVING]
    assert opened == 2
    assert server.requests() == [[(1, HEALTH)], [(1, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_connection_raises_unavailable_at_once(kind: str) -> None:
    with fake_server(refuses) as server:
        results, opened = health(kind, server.path, calls=2)
    error = error_of(results[0])
    assert isinstance(error, feedback_rpc.UnavailableError)
    assert error.message == "feedbackd refused the connection (REFUSED: too many connections)"
    assert results[1] == HealthStatus.SERVING  # the next call connects again
    assert server.requests() == [[], [(1, HEALTH)]]
    assert opened == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("script", [hangs_up, shuts_down])
def test_a_connection_ended_before_hello_without_refusal_is_made_again(kind: str, script: Script) -> None:
    with fake_server(script) as server:
        results, _ = health(kind, server.path)
    assert results == [HealthStatus.SERVING]
    assert server.requests() == [[], [(1, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_that_keeps_ending_connections_before_hello_raises_unavailable(kind: str) -> None:
    with fake_server(*[hangs_up] * 8) as server:
        results, _ = health(kind, server.path)
    error = error_of(results[0])
    assert error.code == StatusCode.UNAVAILABLE
    assert "before its HELLO" in error.message
    assert server.connections == 8


@pytest.mark.parametrize("kind", KINDS)
def test_goaway_after_an_answer_makes_the_next_call_reconnect_without_error(kind: str) -> None:
    went_away = threading.Event()

    def answers_then_goes_away(peer: Peer) -> None:
        peer.handshake()
        call = peer.expect(REQUEST)
        peer.send(response(call.call_id, body=SERVING_BODY) + goaway(call.call_id))
        peer.sock.close()
        went_away.set()

    with fake_server(answers_then_goes_away) as server:
        results, opened = health(kind, server.path, calls=2, between=lambda: went_away.wait(10))
    assert results == [HealthStatus.SERVING, HealthStatus.SERVING]
    assert opened == 2
    assert server.requests() == [[(1, HEALTH)], [(1, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_ping_during_a_call_is_answered_with_its_bytes(kind: str) -> None:
    def pings(peer: Peer) -> None:
        peer.handshake()
        call = peer.expect(REQUEST)
        peer.send(frame(PING, 0, b"opaque:)"))
        assert peer.expect(PONG).payload == b"opaque:)"
        peer.send(response(call.call_id, body=SERVING_BODY))
        peer.serve()

    with fake_server(pings) as server:
        results, _ = health(kind, server.path)
    assert results == [HealthStatus.SERVING]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("code", [4, 0])
def test_past_its_deadline_a_call_reports_the_servers_answer(kind: str, code: int) -> None:
    """feedbackd stops a call at its :timeout and answers what happened: DEADLINE_EXCEEDED (nothing done) or
    OK (the work could no longer be stopped). The client reports that answer, not a guess of its own."""
    def answers_after_the_deadline(peer: Peer) -> None:
        peer.handshake()
        call = peer.expect(REQUEST)
        sent = time.monotonic()
        while time.monotonic() < sent + 0.3:  # past the client's deadline (0.2 s after it wrote the REQUEST)
            time.sleep(0.01)
        if code:
            peer.send(response(call.call_id, code=code, message="Deadline exceeded."))
        else:
            peer.send(response(call.call_id, body=SERVING_BODY))
        peer.serve()

    with fake_server(answers_after_the_deadline) as server:
        results, opened = health(kind, server.path, calls=2, timeout=0.2, answer_grace=120)
    if code:
        assert isinstance(results[0], feedback_rpc.DeadlineExceededError)
    else:
        assert results[0] == HealthStatus.SERVING
    assert results[1] == HealthStatus.SERVING
    assert opened == 1
    assert server.requests() == [[(1, HEALTH), (2, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_unanswered_past_its_deadline_and_the_grace_is_unknown_and_cancelled(kind: str) -> None:
    def answers_late(peer: Peer) -> None:
        peer.handshake()
        call = peer.expect(REQUEST)
        assert peer.expect(CANCEL).call_id == call.call_id  # sent once the grace has passed
        peer.send(response(call.call_id, code=1, message="cancelled"))  # the client has given up: ignored
        peer.serve()

    with fake_server(answers_late) as server:
        results, opened = health(kind, server.path, calls=2, timeout=0.2, answer_grace=0.1)
    error = error_of(results[0])
    assert error.code == StatusCode.UNKNOWN and error.retryable
    assert "did not answer within 0.1 s of the deadline" in error.message
    assert results[1] == HealthStatus.SERVING
    assert opened == 1
    assert server.requests() == [[(1, HEALTH), (2, HEALTH)]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_response_fails_that_call_only(kind: str) -> None:
    def malformed(peer: Peer) -> None:
        peer.handshake()
        call = peer.expect(REQUEST)
        peer.send(frame(RESPONSE, call.call_id, b"\0\0\0\0"))  # under 12 bytes: TRUNCATED_PAYLOAD
        peer.serve()

    with fake_server(malformed) as server:
        results, opened = health(kind, server.path, calls=2)
    error = error_of(results[0])
    assert error.code == StatusCode.INTERNAL and error.message.startswith("Malformed response: ")
    assert results[1] == HealthStatus.SERVING
    assert opened == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_protocol_error_is_answered_with_goaway_and_fails_the_call(kind: str) -> None:
    def breaks_the_protocol(peer: Peer) -> None:
        peer.handshake()
        peer.expect(REQUEST)
        peer.send(frame(9, 0))  # no such frame type
        got = peer.expect(GOAWAY)
        assert got.payload[:8] == bytes([0, 0, 0, 0, 0, 0, 0, PROTOCOL_ERROR])
        assert b"UNKNOWN_FRAME_TYPE" in got.payload[8:]

    with fake_server(breaks_the_protocol) as server:
        results, opened = health(kind, server.path)
    error = error_of(results[0])
    assert error.code == StatusCode.UNKNOWN  # sent, and no answer can come now
    assert "UNKNOWN_FRAME_TYPE" in error.message
    assert (opened, server.connections) == (1, 1)


# ---------------------------------------------------------------- asyncio: calls on one connection


def test_asyncio_calls_above_goaway_are_sent_again_and_the_others_answered() -> None:
    def processes_two_of_three(peer: Peer) -> None:
        peer.handshake()
        calls = [peer.expect(REQUEST) for _ in range(3)]
        peer.send(goaway(calls[1].call_id))
        for call in calls[:2]:
            peer.send(response(call.call_id, body=SERVING_BODY))

    async def main(path: str) -> tuple[list[HealthStatus], int]:
        async with AsyncClient(path, timeout=10) as client:
            results = await asyncio.gather(*(client.check_health() for _ in range(3)))
            return list(results), client.connections_opened

    with fake_server(processes_two_of_three) as server:
        results, opened = asyncio.run(main(server.path))
    assert results == [HealthStatus.SERVING] * 3
    assert opened == 2
    assert server.requests() == [[(1, HEALTH), (2, HEALTH), (3, HEALTH)], [(1, HEALTH)]]


def test_asyncio_calls_queued_beyond_the_servers_limit_are_sent_again_after_goaway() -> None:
    def one_call_at_a_time(peer: Peer) -> None:
        peer.handshake({2: 1})  # MAX_CONCURRENT_CALLS 1: the client queues the other calls
        call = peer.expect(REQUEST)
        peer.send(goaway(call.call_id) + response(call.call_id, body=SERVING_BODY))

    async def main(path: str) -> tuple[list[HealthStatus], int]:
        async with AsyncClient(path, timeout=10) as client:
            results = await asyncio.gather(*(client.check_health() for _ in range(3)))
            return list(results), client.connections_opened

    with fake_server(one_call_at_a_time) as server:
        results, opened = asyncio.run(main(server.path))
    assert results == [HealthStatus.SERVING] * 3
    assert opened == 2
    assert server.requests() == [[(1, HEALTH)], [(1, HEALTH), (2, HEALTH)]]


def test_asyncio_calls_in_flight_when_the_connection_drops_all_raise_unknown() -> None:
    def drops_three(peer: Peer) -> None:
        peer.handshake()
        for _ in range(3):
            peer.expect(REQUEST)

    async def main(path: str) -> tuple[list[BaseException | HealthStatus], int]:
        async with AsyncClient(path, timeout=10) as client:
            results = await asyncio.gather(*(client.check_health() for _ in range(3)), return_exceptions=True)
            return list(results), client.connections_opened

    with fake_server(drops_three) as server:
        results, opened = asyncio.run(main(server.path))
    assert all(isinstance(result, RpcError) and result.code == StatusCode.UNKNOWN for result in results), results
    assert (opened, server.connections) == (1, 1)

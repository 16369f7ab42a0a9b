"""The sans-I/O connection both clients drive: bytes in, events out; calls in, bytes out. No sockets here."""

from __future__ import annotations

import struct

import pytest
from support import (
    CANCEL,
    GOAWAY,
    HEALTH,
    PONG,
    PROTOCOL_ERROR,
    REFUSED,
    REQUEST,
    SERVING_BODY,
    frame,
    goaway,
    hello,
    request_method,
    response,
)

from feedback_rpc import RpcError, StatusCode
from feedback_rpc._connection import (
    Attempts,
    CallAnswered,
    CallFailed,
    CallNotProcessed,
    ClientConnection,
    ConnectionClosed,
    ConnectionState,
    Event,
    GoAwayReceived,
    HelloReceived,
)
from feedback_rpc._protocol import Request, Response

HELLO_BYTES = bytes.fromhex("00000006 00000000 0100 46425250 0002")  # version 2: unary calls and streams
HEALTH_REQUEST = Request(HEALTH)


def frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, call id, payload) of each frame in ``data``."""
    out = []
    while data:
        length, call_id, frame_type, _ = struct.unpack_from(">IIBB", data)
        out.append((frame_type, call_id, data[10 : 10 + length]))
        data = data[10 + length :]
    return out


def opened(settings: dict[int, int] | None = None) -> ClientConnection:
    """A connection whose HELLO went out and whose server's HELLO came in."""
    connection = ClientConnection()
    assert connection.data_to_send() == HELLO_BYTES
    events = connection.receive_data(hello(settings))
    assert [type(event) for event in events] == [HelloReceived]
    assert connection.state is ConnectionState.OPEN
    return connection


def start(connection: ClientConnection, count: int) -> list[int]:
    keys = []
    for _ in range(count):
        key, events = connection.start_call(HEALTH_REQUEST)
        assert events == []
        keys.append(key)
    return keys


def by_type(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def test_hello_first_then_requests_with_increasing_call_ids() -> None:
    connection = opened()
    start(connection, 3)
    sent = frames(connection.data_to_send())
    assert [(t, i) for t, i, _ in sent] == [(REQUEST, 1), (REQUEST, 2), (REQUEST, 3)]
    assert all(request_method(payload) == HEALTH for _, _, payload in sent)
    assert connection.data_to_send() == b""  # each byte is handed out once


def test_calls_before_the_servers_hello_use_the_defaults() -> None:
    connection = ClientConnection()
    key, events = connection.start_call(HEALTH_REQUEST)
    assert events == []
    assert frames(connection.data_to_send())[1][:2] == (REQUEST, 1)  # after the HELLO
    events = connection.receive_data(hello() + response(1, body=SERVING_BODY))
    assert by_type(events) == ["HelloReceived", "CallAnswered"]
    answered = events[1]
    assert isinstance(answered, CallAnswered) and answered.key == key and answered.response.body == SERVING_BODY


def test_before_the_servers_hello_no_request_over_16_kib_is_sent() -> None:
    """SPEC.md 2.1: until the server's HELLO, a frame is at most 16,384 bytes (the smallest MAX_FRAME_SIZE a server
    may announce); a larger REQUEST waits for the HELLO, and the calls after it keep their order."""
    connection = ClientConnection()
    overhead = 4 + 1 + len(":method") + 2 + len(HEALTH)  # metadata_length, then the :method entry
    small = Request(HEALTH, message=bytes(16_384 - overhead))  # a payload of exactly 16,384 bytes
    key_small, events = connection.start_call(small)
    assert events == []
    key_big, events = connection.start_call(Request(HEALTH, message=bytes(65_536)))
    assert events == []
    key_after, events = connection.start_call(HEALTH_REQUEST)
    assert events == []
    sent = frames(connection.data_to_send())
    assert [(t, i, len(p)) for t, i, p in sent[1:]] == [(REQUEST, 1, 16_384)]  # after the HELLO: the small one only
    events = connection.receive_data(hello({1: 1_048_576}))
    assert by_type(events) == ["HelloReceived"]
    assert [(t, i, len(p)) for t, i, p in frames(connection.data_to_send())] == [
        (REQUEST, 2, 65_536 + overhead),
        (REQUEST, 3, overhead),
    ]
    assert connection.calls_in_flight == 3 and key_small < key_big < key_after


def test_a_hello_announcing_max_concurrent_calls_0_is_a_protocol_error() -> None:
    """SPEC.md 4.1: MAX_CONCURRENT_CALLS is 1 to 2^32-1; a server announcing 0 would leave every call queued."""
    connection = ClientConnection()
    connection.data_to_send()
    key, _ = connection.start_call(HEALTH_REQUEST)
    events = connection.receive_data(hello({2: 0}))
    assert any(isinstance(event, CallFailed) and event.key == key for event in events)
    assert by_type(events) == ["ConnectionClosed", "CallFailed"]
    assert connection.state is ConnectionState.CLOSED
    assert frames(connection.data_to_send())[-1][0] == GOAWAY


def test_bytes_may_arrive_one_at_a_time() -> None:
    connection = opened()
    (key,) = start(connection, 1)
    events: list[Event] = []
    for byte in response(1, body=SERVING_BODY):
        events += connection.receive_data(bytes([byte]))
    assert by_type(events) == ["CallAnswered"]
    assert isinstance(events[0], CallAnswered) and events[0].key == key and events[0].response.body == SERVING_BODY


def test_calls_beyond_max_concurrent_calls_wait_for_a_free_slot() -> None:
    connection = opened({2: 2})
    _first, second, _third = start(connection, 3)
    assert [i for _, i, _ in frames(connection.data_to_send())] == [1, 2]
    events = connection.receive_data(response(2, body=SERVING_BODY))
    assert by_type(events) == ["CallAnswered"]
    assert isinstance(events[0], CallAnswered) and events[0].key == second
    assert [(t, i) for t, i, _ in frames(connection.data_to_send())] == [(REQUEST, 3)]  # the third, in the free slot
    assert connection.calls_in_flight == 2


def test_goaway_names_the_calls_not_processed() -> None:
    connection = opened({2: 2})
    _first, second, queued = start(connection, 3)
    connection.data_to_send()
    events = connection.receive_data(goaway(1))
    assert by_type(events) == ["GoAwayReceived", "CallNotProcessed", "CallNotProcessed"]
    assert [event.key for event in events[1:] if isinstance(event, CallNotProcessed)] == [second, queued]
    assert connection.state is ConnectionState.GOING_AWAY and not connection.usable
    assert not connection.finished  # call 1 will still be answered
    key, events = connection.start_call(HEALTH_REQUEST)
    assert events == [CallNotProcessed(key, "the connection is going away")]
    events = connection.receive_data(response(1, body=SERVING_BODY))
    assert by_type(events) == ["CallAnswered"]
    assert connection.finished
    assert connection.data_to_send() == b""  # nothing written after the GOAWAY


def test_the_end_of_the_stream_fails_calls_written_and_not_those_queued() -> None:
    connection = opened({2: 1})
    written, queued = start(connection, 2)
    events = connection.receive_data(b"")
    assert by_type(events) == ["ConnectionClosed", "CallFailed", "CallNotProcessed"]
    failed = events[1]
    assert isinstance(failed, CallFailed) and failed.key == written
    assert failed.error.code == StatusCode.UNKNOWN  # it may have run: never UNAVAILABLE, which says it did not
    assert failed.error.message == (
        "No answer: the connection closed before the response; the call may or may not have taken effect."
    )
    assert events[2] == CallNotProcessed(queued, "the connection closed")
    assert connection.state is ConnectionState.CLOSED and connection.finished


def test_a_connection_lost_while_writing_is_the_same_as_the_end_of_the_stream() -> None:
    connection = opened()
    (_key,) = start(connection, 1)
    events = connection.connection_lost("writing failed: [Errno 32] Broken pipe")
    assert by_type(events) == ["ConnectionClosed", "CallFailed"]
    assert connection.connection_lost("again") == []


def test_goaway_instead_of_hello_is_a_refusal() -> None:
    connection = ClientConnection()
    _key, _ = connection.start_call(HEALTH_REQUEST)
    events = connection.receive_data(goaway(0, REFUSED, "too many connections"))
    assert by_type(events) == ["GoAwayReceived", "CallNotProcessed"]
    assert isinstance(events[0], GoAwayReceived) and events[0].goaway.error_code == REFUSED
    failure = connection.handshake_failure("/run/x.sock")
    assert failure is not None and failure.code == StatusCode.UNAVAILABLE
    assert failure.message == "feedbackd refused the connection (REFUSED: too many connections)"
    assert opened().handshake_failure("/run/x.sock") is None


def test_ping_is_answered_with_pong_and_responses_to_unknown_calls_are_ignored() -> None:
    connection = opened()
    assert connection.receive_data(frame(5, 0, b"12345678") + response(77)) == []
    assert frames(connection.data_to_send()) == [(PONG, 0, b"12345678")]


def test_cancel_is_sent_and_the_late_response_ignored() -> None:
    connection = opened()
    (key,) = start(connection, 1)
    connection.data_to_send()
    assert connection.cancel_call(key) == []
    assert frames(connection.data_to_send()) == [(CANCEL, 1, b"")]
    assert connection.receive_data(response(1, code=1, message="cancelled")) == []
    assert connection.cancel_call(key) == []  # twice: nothing more


def test_a_queued_call_cancelled_is_never_written() -> None:
    connection = opened({2: 1})
    _first, second = start(connection, 2)
    connection.data_to_send()
    assert connection.cancel_call(second) == []
    assert by_type(connection.receive_data(response(1))) == ["CallAnswered"]
    assert connection.data_to_send() == b""


def test_a_malformed_response_fails_its_call_with_internal() -> None:
    connection = opened()
    _first, _second = start(connection, 2)
    events = connection.receive_data(frame(3, 1, b"\0\0\0\0") + response(2))
    assert by_type(events) == ["CallFailed", "CallAnswered"]
    failed = events[0]
    assert isinstance(failed, CallFailed) and failed.error.code == StatusCode.INTERNAL
    assert connection.usable


def test_a_protocol_error_sends_goaway_and_closes() -> None:
    connection = opened()
    (_key,) = start(connection, 1)
    connection.data_to_send()
    events = connection.receive_data(frame(9, 0))
    assert by_type(events) == ["ConnectionClosed", "CallFailed"]
    assert isinstance(events[0], ConnectionClosed) and "UNKNOWN_FRAME_TYPE" in events[0].reason
    ((frame_type, call_id, payload),) = frames(connection.data_to_send())
    assert (frame_type, call_id, payload[:8]) == (GOAWAY, 0, struct.pack(">II", 0, PROTOCOL_ERROR))
    assert connection.finished
    assert connection.receive_data(response(1)) == []  # nothing more is read


def test_close_sends_goaway_and_finishes_once_calls_are_answered() -> None:
    connection = opened({2: 1})
    _written, queued = start(connection, 2)
    connection.data_to_send()
    events = connection.close()
    assert events == [CallNotProcessed(queued, "the client closed the connection")]
    assert connection.data_to_send() == goaway(0)  # last_call_id 0, NO_ERROR: the vector goaway-from-client
    assert not connection.finished
    assert by_type(connection.receive_data(response(1))) == ["CallAnswered"]
    assert connection.finished
    assert connection.close() == [] and connection.data_to_send() == b""


def test_a_request_that_cannot_be_encoded_fails_and_nothing_is_written() -> None:
    connection = opened()
    _key, events = connection.start_call(Request("no-slashes"))
    assert len(events) == 1 and isinstance(events[0], CallFailed)
    assert events[0].error.code == StatusCode.INVALID_ARGUMENT
    assert connection.data_to_send() == b""


def test_a_request_over_the_servers_frame_size_is_resource_exhausted() -> None:
    connection = opened({1: 16384})
    _key, events = connection.start_call(Request(HEALTH, message=bytes(16384)))
    assert len(events) == 1 and isinstance(events[0], CallFailed)
    assert events[0].error.code == StatusCode.RESOURCE_EXHAUSTED
    assert connection.data_to_send() == b""
    start(connection, 1)
    assert [i for _, i, _ in frames(connection.data_to_send())] == [1]  # the id was not used up


def test_attempts_send_a_call_again_only_when_it_was_not_processed_and_only_once() -> None:
    ok = Response(0, body=SERVING_BODY)
    assert Attempts().outcome(CallAnswered(1, ok)) is ok
    attempts = Attempts()
    assert attempts.outcome(CallNotProcessed(1, "the server is going away")) is None
    assert attempts.outcome(CallAnswered(2, ok)) is ok
    attempts = Attempts()
    assert attempts.outcome(CallNotProcessed(1, "the server is going away")) is None
    with pytest.raises(RpcError) as twice:
        attempts.outcome(CallNotProcessed(2, "the server is going away"))
    assert twice.value.code == StatusCode.UNAVAILABLE
    lost = RpcError(StatusCode.UNAVAILABLE, "Server unavailable: lost")
    with pytest.raises(RpcError) as error:
        Attempts().outcome(CallFailed(1, lost))
    assert error.value is lost  # never sent again

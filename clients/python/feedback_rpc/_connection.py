"""The protocol core both clients share: a sans-I/O client connection and the retry rule.

``ClientConnection`` does no I/O, as h11 and h2 do not: bytes received go in (``receive_data``) and events come
out; calls go in (``start_call``, ``cancel_call``, ``close``) and the bytes to write come out of
``data_to_send()``. It sends HELLO, waits for the server's, hands out strictly increasing call ids, keeps calls
within the server's ``MAX_CONCURRENT_CALLS`` (queueing the rest), answers PING, matches RESPONSEs to calls and,
on GOAWAY or when the stream ends, tells which calls the server did not process. ``client.py`` drives it with a
blocking socket, ``aio.py`` with asyncio streams; neither has protocol logic of its own.

The retry rule (``Attempts``) is the Swift client's (``UnixClientTransport``): a call is sent again, once and on
a new connection, only when the server did not process it (``CallNotProcessed``). A call whose REQUEST was
written and whose connection then ended without its RESPONSE fails with UNKNOWN (``CallFailed``): it may or may
not have run, and the caller decides whether to repeat it. UNAVAILABLE always means the call had no effect.

A call past its deadline is answered by the server, which stops it at the ``:timeout`` it was sent (SPEC.md
section 8): its DEADLINE_EXCEEDED says the call had no effect, its OK that it had. The drivers wait for that
answer up to ``ANSWER_GRACE`` after the deadline (``was_sent``), and only then give up on the call as UNKNOWN
(``outcome_unknown``). A call still queued here at its deadline was never sent: DEADLINE_EXCEEDED at once.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from ._frames import FrameDecoder, decode_goaway, decode_hello, encode_frame, encode_goaway, encode_hello
from ._payloads import decode_response, encode_request_frame, encode_request_payload
from ._protocol import (
    MAX_CALL_ID,
    MAX_FRAME_SIZE_BEFORE_PEER_HELLO,
    STREAM_FLAG,
    VERSION,
    Frame,
    FrameType,
    GoAway,
    GoAwayCode,
    Hello,
    Request,
    Response,
    WireError,
)
from ._status import RpcError, StatusCode

MAX_SOCKET_PATH_BYTES = 107
"""sockaddr_un's sun_path holds 108 bytes, the last one a NUL."""
READ_SIZE = 65536


class TurnedAway(Exception):
    """The server ended the connection before its HELLO without refusing it (``ClientConnection.turned_away``):
    the clients connect again; ``error`` is what they raise once they give up."""

    def __init__(self, error: RpcError):
        super().__init__(str(error))
        self.error = error


class ConnectionState(enum.Enum):
    AWAITING_HELLO = "awaiting HELLO"
    """Our HELLO is written first; the server's has not arrived. Calls may already be sent, with the default
    settings, but no REQUEST over ``MAX_FRAME_SIZE_BEFORE_PEER_HELLO`` bytes (SPEC.md section 2.1): a larger one
    waits for the server's HELLO."""
    OPEN = "open"
    GOING_AWAY = "going away"
    """A GOAWAY was sent or received: no new calls; those the server will still answer are awaited."""
    CLOSED = "closed"
    """The stream ended or broke; nothing more is received. Write what ``data_to_send()`` holds, then close."""


@dataclass(frozen=True)
class HelloReceived:
    hello: Hello


@dataclass(frozen=True)
class GoAwayReceived:
    goaway: GoAway


@dataclass(frozen=True)
class ConnectionClosed:
    reason: str


@dataclass(frozen=True)
class CallAnswered:
    """The server's RESPONSE to a call, whatever its status."""

    key: int
    response: Response


@dataclass(frozen=True)
class CallNotProcessed:
    """The server did not process the call (it was above a GOAWAY's ``last_call_id``, or never written): it can be
    sent again on a new connection."""

    key: int
    reason: str


@dataclass(frozen=True)
class CallFailed:
    """The call ended with ``error`` and is not retried: UNKNOWN when the connection ended after its REQUEST was
    written (the server may or may not have processed it), INTERNAL for a malformed RESPONSE, INVALID_ARGUMENT or
    RESOURCE_EXHAUSTED for a request that could not be sent."""

    key: int
    error: RpcError


@dataclass(frozen=True)
class StreamMessage:
    """One message of a server-streaming call (SPEC.md section 16), in order; its RESPONSE (``CallAnswered``)
    ends it."""

    key: int
    message: bytes


CallEnded = CallAnswered | CallNotProcessed | CallFailed
Event = HelloReceived | GoAwayReceived | ConnectionClosed | CallAnswered | CallNotProcessed | CallFailed | StreamMessage


def call_ended(events: list[Event], key: int) -> CallEnded | None:
    """The event among ``events`` that ends call ``key``, if there is one."""
    for event in events:
        if isinstance(event, (CallAnswered, CallNotProcessed, CallFailed)) and event.key == key:
            return event
    return None


class ClientConnection:
    """The client side of one connection (SPEC.md sections 3-9, 13), without I/O.

    Calls are named by a ``key`` that ``start_call`` returns (a call has no call id while it is queued). Every
    method returns the events it caused; after each, write ``data_to_send()`` to the socket.
    """

    def __init__(self) -> None:
        self._decoder = FrameDecoder("client")
        self._outgoing = bytearray(encode_hello(Hello(VERSION)))
        self.state = ConnectionState.AWAITING_HELLO
        self.peer_hello: Hello | None = None
        """The server's HELLO once received; its settings (the defaults until then) bound what is sent."""
        self.goaway: GoAway | None = None
        """The GOAWAY the server sent, if any."""
        self.close_reason: str | None = None
        self._next_call_id = 1
        self._next_key = 1
        self._in_flight: dict[int, int] = {}  # call id -> key, for REQUESTs written and not answered
        self._call_ids: dict[int, int] = {}  # key -> call id
        self._queued: dict[int, bytes] = {}  # key -> REQUEST payload, oldest first, waiting for a free slot
        self._streams: dict[int, int] = {}  # key -> window, for the server-streaming calls not ended
        self._read_since_grant: dict[int, int] = {}  # key -> messages read and not granted back, streams sent

    # ---------------------------------------------------------------- state

    @property
    def usable(self) -> bool:
        """Whether new calls can go on this connection (no GOAWAY sent or received, not closed)."""
        return self.state in (ConnectionState.AWAITING_HELLO, ConnectionState.OPEN)

    @property
    def finished(self) -> bool:
        """Whether the socket should be closed now: closed, or going away with no call left to answer."""
        if self.state is ConnectionState.CLOSED:
            return True
        return self.state is ConnectionState.GOING_AWAY and not self._in_flight and not self._queued

    @property
    def calls_in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def version(self) -> int:
        """The connection's protocol version: the lower of the two HELLOs' (1 until the server's has arrived)."""
        return 1 if self.peer_hello is None else min(VERSION, self.peer_hello.version)

    @property
    def _limits(self) -> Hello:
        return self.peer_hello if self.peer_hello is not None else Hello()

    @property
    def turned_away(self) -> bool:
        """The server ended the connection before its HELLO without refusing it (GOAWAY ``NO_ERROR``, or no
        GOAWAY at all): it is shutting down, and connecting again may reach the server that takes over (with
        socket activation the socket stays). SPEC.md section 3."""
        return self.peer_hello is None and (self.goaway is None or self.goaway.error_code == GoAwayCode.NO_ERROR)

    #: Connections a client makes in a row while servers turn it away, within its connect timeout.
    TURNED_AWAY_ATTEMPTS = 8

    def handshake_failure(self, path: str) -> RpcError | None:
        """After the handshake (the server's HELLO, a GOAWAY instead of it, or the end of the stream): None when
        the server sent its HELLO, else the UNAVAILABLE error to raise. Nothing was sent on such a connection."""
        if self.peer_hello is not None:
            return None
        if self.goaway is not None:
            debug = f": {self.goaway.debug}" if self.goaway.debug else ""
            reason = f"feedbackd refused the connection ({self.goaway.error_code.name}{debug})"
        else:
            reason = f"feedbackd at {path} closed the connection before its HELLO ({self.close_reason})"
        return RpcError(StatusCode.UNAVAILABLE, reason)

    def data_to_send(self) -> bytes:
        """The bytes to write, in order; each byte is handed out once."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    # ---------------------------------------------------------------- calls

    def start_call(self, request: Request) -> tuple[int, list[Event]]:
        """Starts a call, or queues it while the server's ``MAX_CONCURRENT_CALLS`` are in flight. Returns its key
        and the events (its end, when it cannot be sent at all)."""
        key = self._next_key
        self._next_key += 1
        if not self.usable:
            self._forget_stream(key)
            return key, [CallNotProcessed(key, self._unusable_reason())]
        try:
            payload = encode_request_payload(request)
        except WireError as error:
            self._forget_stream(key)
            return key, [CallFailed(key, RpcError(StatusCode.INVALID_ARGUMENT, f"Invalid request: {error}"))]
        self._queued[key] = payload
        return key, self._send_queued()

    def start_stream(self, request: Request, window: int = 64) -> tuple[int, list[Event]]:
        """Starts a server-streaming call (version 2, SPEC.md section 16): it waits for the server's HELLO, then
        goes with the STREAM flag and a first CREDIT of ``window`` (at most the server's ``MAX_STREAM_CREDIT``).
        Its messages come as ``StreamMessage`` events; report each one read with ``message_read``. On a version-1
        connection it fails UNIMPLEMENTED, having sent nothing."""
        if window < 1:
            raise ValueError("window must be at least 1")
        self._streams[self._next_key] = window  # the key start_call gives it
        return self.start_call(request)

    def message_read(self, key: int) -> None:
        """The reader took one message of stream ``key``: once half the window is read, it is granted back."""
        call_id = self._call_ids.get(key)
        if call_id is None or key not in self._read_since_grant or self.state is ConnectionState.CLOSED:
            return
        read = self._read_since_grant[key] + 1
        if read < max(1, self._window(key) // 2):
            self._read_since_grant[key] = read
            return
        self._read_since_grant[key] = 0
        self._outgoing += encode_frame(FrameType.CREDIT, call_id, read.to_bytes(4, "big"))

    def _window(self, key: int) -> int:
        return min(self._streams.get(key, 1), self._limits.max_stream_credit)

    def was_sent(self, key: int) -> bool:
        """Whether the REQUEST of call ``key`` was written and its RESPONSE has not arrived."""
        return key in self._call_ids

    def cancel_call(self, key: int) -> list[Event]:
        """Gives up on a call: a queued one is dropped; a written one is sent CANCEL and its RESPONSE ignored."""
        self._forget_stream(key)
        if self._queued.pop(key, None) is not None:
            return []
        call_id = self._call_ids.pop(key, None)
        if call_id is None:
            return []
        del self._in_flight[call_id]
        if self.state is not ConnectionState.CLOSED:
            self._outgoing += encode_frame(FrameType.CANCEL, call_id)
        return self._send_queued()

    def close(self) -> list[Event]:
        """The client will send no more calls: GOAWAY (``last_call_id`` 0, ``NO_ERROR``); calls still queued are
        not processed. The connection is ``finished`` once the calls in flight are answered."""
        if not self.usable:
            return []
        self.state = ConnectionState.GOING_AWAY
        self._outgoing += encode_goaway(GoAway())
        return self._fail_queued("the client closed the connection")

    def connection_lost(self, reason: str) -> list[Event]:
        """The driver could not read or write the socket: the connection is over."""
        if self.state is ConnectionState.CLOSED:
            return []
        return self._closed(reason)

    def _send_queued(self) -> list[Event]:
        events: list[Event] = []
        limits = self._limits
        while self._queued and self.usable and len(self._in_flight) < limits.max_concurrent_calls:
            key = next(iter(self._queued))
            payload = self._queued.pop(key)
            if self._next_call_id > MAX_CALL_ID:
                self.state = ConnectionState.GOING_AWAY
                events.append(CallNotProcessed(key, "call ids exhausted on this connection"))
                events += self._fail_queued("call ids exhausted on this connection")
                break
            is_stream = key in self._streams
            if self.peer_hello is None and (is_stream or len(payload) > MAX_FRAME_SIZE_BEFORE_PEER_HELLO):
                # A stream needs the server's HELLO to know the connection's version (SPEC.md section 3).
                self._queued = {key: payload, **self._queued}  # first again: calls keep their order
                break
            if is_stream and self.version < 2:
                self._forget_stream(key)
                message = "a streaming call needs protocol version 2; the server speaks version 1"
                events.append(CallFailed(key, RpcError(StatusCode.UNIMPLEMENTED, message)))
                continue
            if len(payload) > limits.max_frame_size:
                limit = limits.max_frame_size
                message = f"Request of {len(payload)} bytes is over the server's frame limit of {limit} bytes."
                events.append(CallFailed(key, RpcError(StatusCode.RESOURCE_EXHAUSTED, message)))
                continue
            call_id = self._next_call_id
            self._next_call_id += 1
            self._in_flight[call_id] = key
            self._call_ids[key] = call_id
            if is_stream:
                self._outgoing += encode_request_frame(call_id, payload, STREAM_FLAG)
                self._outgoing += encode_frame(FrameType.CREDIT, call_id, self._window(key).to_bytes(4, "big"))
                self._read_since_grant[key] = 0
            else:
                self._outgoing += encode_request_frame(call_id, payload)
        return events

    def _forget_stream(self, key: int) -> None:
        self._streams.pop(key, None)
        self._read_since_grant.pop(key, None)

    def _fail_queued(self, reason: str) -> list[Event]:
        events: list[Event] = [CallNotProcessed(key, reason) for key in self._queued]
        for key in self._queued:
            self._forget_stream(key)
        self._queued.clear()
        return events

    def _closed_now(self) -> bool:
        return self.state is ConnectionState.CLOSED

    def _unusable_reason(self) -> str:
        if self.state is ConnectionState.CLOSED:
            return f"the connection is closed ({self.close_reason})"
        return "the connection is going away"

    # ---------------------------------------------------------------- bytes in

    def receive_data(self, data: bytes) -> list[Event]:
        """Bytes read from the socket; ``b""`` is the end of the stream."""
        if self.state is ConnectionState.CLOSED:
            return []
        if not data:
            try:
                self._decoder.finish()
            except WireError:
                return self._closed("the connection closed inside a frame")
            return self._closed("the connection closed")
        self._decoder.feed(data)
        events: list[Event] = []
        while not self._closed_now():
            try:
                frame = self._decoder.next()
            except WireError as error:
                self._outgoing += encode_goaway(GoAway(0, error.goaway_code, str(error)))
                events += self._closed(f"the server broke the protocol ({error})")
                break
            if frame is None:
                break
            events += self._received(frame)
        return events

    def _received(self, frame: Frame) -> list[Event]:
        if frame.type == FrameType.HELLO:
            self.peer_hello = decode_hello(frame.payload)
            if self.state is ConnectionState.AWAITING_HELLO:
                self.state = ConnectionState.OPEN
            return [HelloReceived(self.peer_hello), *self._send_queued()]
        if frame.type == FrameType.RESPONSE:
            key = self._in_flight.pop(frame.call_id, None)
            if key is None:
                return []  # a call given up on (CANCEL), or unknown: ignored
            del self._call_ids[key]
            self._forget_stream(key)
            ended: Event
            try:
                ended = CallAnswered(key, decode_response(frame.payload))
            except WireError as error:
                ended = CallFailed(key, RpcError(StatusCode.INTERNAL, f"Malformed response: {error.message}"))
            return [ended, *self._send_queued()]
        if frame.type == FrameType.STREAM_MESSAGE:
            key = self._in_flight.get(frame.call_id)
            if key is None or key not in self._streams:
                return []  # not a stream being read (unknown, answered, cancelled): ignored
            return [StreamMessage(key, frame.payload)]
        if frame.type == FrameType.PING:
            self._outgoing += encode_frame(FrameType.PONG, 0, frame.payload)
        elif frame.type == FrameType.GOAWAY:
            return self._received_goaway(decode_goaway(frame.payload))
        return []  # PONG: this client sends no PING

    def _received_goaway(self, goaway: GoAway) -> list[Event]:
        self.goaway = goaway
        if self.usable:
            self.state = ConnectionState.GOING_AWAY
        if goaway.error_code == GoAwayCode.NO_ERROR:
            reason = "the server is going away"
        else:
            reason = f"the server sent GOAWAY {goaway.error_code.name}" + (f": {goaway.debug}" if goaway.debug else "")
        events: list[Event] = [GoAwayReceived(goaway)]
        for call_id in sorted(i for i in self._in_flight if i > goaway.last_call_id):
            key = self._in_flight.pop(call_id)
            del self._call_ids[key]
            self._forget_stream(key)
            events.append(CallNotProcessed(key, reason))
        return events + self._fail_queued(reason)

    def _closed(self, reason: str) -> list[Event]:
        self.state = ConnectionState.CLOSED
        self.close_reason = reason
        events: list[Event] = [ConnectionClosed(reason)]
        for key in self._in_flight.values():
            self._forget_stream(key)
            events.append(CallFailed(key, outcome_unknown(f"{reason} before the response")))
        self._in_flight.clear()
        self._call_ids.clear()
        return events + self._fail_queued(reason)


class Attempts:
    """How often a call is sent (the rule of the Swift client's ``UnixClientTransport``): at most twice, and the
    second time only when the server did not process the first (``CallNotProcessed``), on a new connection.

    ``outcome(ended)`` returns the RESPONSE to hand back, or None to send the call again; it raises the RpcError of
    a call that failed (``CallFailed``) or was not processed twice.
    """

    MAX = 2

    def __init__(self) -> None:
        self.made = 0

    def outcome(self, ended: CallEnded) -> Response | None:
        self.made += 1
        if isinstance(ended, CallAnswered):
            return ended.response
        if isinstance(ended, CallFailed):
            raise ended.error
        if self.made < self.MAX:
            return None
        raise RpcError(StatusCode.UNAVAILABLE, f"Server unavailable: the call was not processed ({ended.reason}).")


def check_socket_path(path: str) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise RpcError(StatusCode.UNAVAILABLE, f"socket path is over {MAX_SOCKET_PATH_BYTES} bytes: {path}")


def unreachable(path: str, error: BaseException) -> RpcError:
    """The error of a connection that could not be opened or did not complete its HELLO in time."""
    detail = str(error) or type(error).__name__
    return RpcError(StatusCode.UNAVAILABLE, f"feedbackd is unreachable at {path}: {detail}")


ANSWER_GRACE = 1.0
"""Seconds a call sent waits for the server's answer after its deadline (the server answers at the deadline)."""


def deadline_exceeded() -> RpcError:
    """The error of a call whose deadline passed before it was sent."""
    return RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded.")


def outcome_unknown(reason: str) -> RpcError:
    """The error of a call sent whose answer will never come: UNKNOWN, never UNAVAILABLE (which says the call
    had no effect)."""
    return RpcError(StatusCode.UNKNOWN, f"No answer: {reason}; the call may or may not have taken effect.")

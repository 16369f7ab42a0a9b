"""The synchronous client: one connection, reused for every call; thread-safe (calls take turns)."""
from __future__ import annotations

import os
import socket
import threading
import time
from typing import Iterator, Optional

from . import _wire as wire
from ._calls import FeedbackEvent, FeedbackEventsPage, HealthStatus, NotProcessed, check, events_page, health_request
from ._calls import health_status, list_events_request, next_cursor, submit_request, verify_request
from ._status import RpcError, StatusCode


class _Connection:
    """One socket with the HELLO exchanged; runs one call at a time."""

    def __init__(self, path: str, connect_timeout: float):
        if len(os.fsencode(path)) > 107:
            raise RpcError(StatusCode.UNAVAILABLE, f"socket path is over 107 bytes: {path}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.decoder = wire.FrameDecoder("client")
        self.next_call_id = 1
        self.usable = True
        try:
            self.sock.settimeout(connect_timeout)
            self.sock.connect(path)
            self.sock.sendall(wire.encode_hello(wire.Hello()))
            frame = self._read_frame(time.monotonic() + connect_timeout)
        except (OSError, wire.WireError) as error:
            self.sock.close()
            raise RpcError(StatusCode.UNAVAILABLE, f"feedbackd is unreachable at {path}: {error}") from None
        if frame is None or frame.type != wire.HELLO:
            self.sock.close()
            reason = wire.decode_goaway(frame.payload).debug if frame and frame.type == wire.GOAWAY else "no HELLO"
            raise RpcError(StatusCode.UNAVAILABLE, f"feedbackd refused the connection: {reason}")
        self.hello = wire.decode_hello(frame.payload)

    def _read_frame(self, deadline: Optional[float]) -> Optional[wire.Frame]:
        while True:
            frame = self.decoder.next()
            if frame is not None:
                return frame
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(None)
            data = self.sock.recv(65536)
            if not data:
                return None
            self.decoder.feed(data)

    def call(self, request: wire.Request, timeout: Optional[float]) -> wire.Response:
        if not self.usable or self.next_call_id > wire.MAX_CALL_ID:
            raise NotProcessed("connection is going away")
        call_id = self.next_call_id
        self.next_call_id += 1
        try:
            self.sock.sendall(wire.encode_request(call_id, request))
        except OSError:
            self.usable = False
            raise NotProcessed("the connection is closed") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                frame = self._read_frame(deadline)
            except TimeoutError:
                self._send(wire.encode_frame(wire.CANCEL, call_id))
                raise RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded.") from None
            except (OSError, wire.WireError) as error:
                self.usable = False
                raise ConnectionError(str(error)) from None
            if frame is None:
                self.usable = False
                raise ConnectionError("the connection closed before the response")
            if frame.type == wire.RESPONSE and frame.call_id == call_id:
                try:
                    return wire.decode_response(frame.payload, max_metadata_size=wire.DEFAULT_MAX_METADATA_SIZE)
                except wire.WireError as error:
                    raise RpcError(StatusCode.INTERNAL, f"Malformed response: {error.message}") from None
            if frame.type == wire.PING:
                self._send(wire.encode_frame(wire.PONG, 0, frame.payload))
            elif frame.type == wire.GOAWAY:
                goaway = wire.decode_goaway(frame.payload)
                self.usable = False
                if call_id > goaway.last_call_id:
                    raise NotProcessed(goaway.debug or "server going away")
            # Responses to abandoned calls (earlier deadlines) are ignored.

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.usable = False

    def close(self) -> None:
        if self.usable:
            self._send(wire.encode_frame(wire.GOAWAY, 0, b"\0" * 8))
        self.usable = False
        self.sock.close()


class Client:
    """A synchronous feedbackd client.

    >>> with Client("/run/feedback/feedback.sock") as client:
    ...     client.submit_feedback(42, 1, token=jwt)

    The connection is opened on first use and reused; after a GOAWAY or a dropped connection the next call
    reconnects. Every method is idempotent, so a call interrupted by a lost connection is sent once more.
    Failures raise ``RpcError`` (or its subclass for the code).
    """

    def __init__(self, socket_path: str, *, timeout: Optional[float] = 10.0, connect_timeout: float = 5.0):
        self.socket_path = socket_path
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._connection: Optional[_Connection] = None
        self._lock = threading.Lock()

    def submit_feedback(self, interaction_id: int, rating: int, *, token: str, timeout: Optional[float] = None,
                        request_id: Optional[str] = None, traceparent: Optional[str] = None) -> None:
        """Stores ``rating`` (1 or -1) for ``interaction_id``; returns once it is durably committed."""
        effective = self.timeout if timeout is None else timeout
        self._call(submit_request(interaction_id, rating, token, effective, request_id, traceparent), effective)

    def verify_token(self, token: str, *, timeout: Optional[float] = None, request_id: Optional[str] = None) -> None:
        """Returns when feedbackd would accept ``token`` for submit_feedback; raises its RpcError
        (UNAUTHENTICATED, PERMISSION_DENIED) otherwise. Stores nothing."""
        effective = self.timeout if timeout is None else timeout
        self._call(verify_request(token, effective, request_id), effective)

    def list_feedback_events(self, after_event_id: int = 0, page_size: int = 0, *, token: str,
                             timeout: Optional[float] = None, request_id: Optional[str] = None) -> FeedbackEventsPage:
        """One page of the ratings feed: the events after ``after_event_id``, oldest first, at most ``page_size``
        (0: feedbackd's default of 100; at most 1000) and fewer when they would not fit a 15,000-byte page.
        Page on with ``next_after_event_id``; an empty page means nothing newer is stored yet. ``token`` needs
        the read scope (feedbackd's ``--jwt-read-scope``, ``feedback:read`` by default)."""
        effective = self.timeout if timeout is None else timeout
        request = list_events_request(after_event_id, page_size, token, effective, request_id)
        return events_page(self._call(request, effective))

    def iter_feedback_events(self, after: int = 0, page_size: int = 0, *, token: str, timeout: Optional[float] = None,
                             request_id: Optional[str] = None) -> Iterator[FeedbackEvent]:
        """Every event after the event id ``after``, oldest first, paging until a page comes back empty.
        To resume later, keep the ``event_id`` of the last event processed and pass it as ``after``.
        ``timeout`` applies to each page's call; a failed call raises its RpcError from the iterator."""
        cursor = after
        while True:
            page = self.list_feedback_events(cursor, page_size, token=token, timeout=timeout, request_id=request_id)
            if not page.events:
                return
            yield from page.events
            cursor = next_cursor(page, cursor)

    def check_health(self, service: str = "", *, timeout: Optional[float] = None) -> HealthStatus:
        """SERVING when feedbackd and its store can serve."""
        effective = self.timeout if timeout is None else timeout
        return health_status(self._call(health_request(service, effective), effective))

    def _call(self, request: wire.Request, timeout: Optional[float]) -> wire.Response:
        with self._lock:
            for attempt in range(2):
                connection = self._usable_connection()
                try:
                    return check(connection.call(request, timeout))
                except (NotProcessed, ConnectionError) as error:
                    connection.close()
                    self._connection = None
                    if attempt == 1:
                        raise RpcError(StatusCode.UNAVAILABLE, f"Server unavailable: {error}") from None
            raise AssertionError("unreachable")

    def _usable_connection(self) -> _Connection:
        if self._connection is None or not self._connection.usable:
            if self._connection is not None:
                self._connection.close()
            self._connection = _Connection(self.socket_path, self.connect_timeout)
        return self._connection

    def close(self) -> None:
        """Sends GOAWAY and closes the connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

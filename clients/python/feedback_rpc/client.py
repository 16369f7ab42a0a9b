"""The synchronous client: one connection, reused for every call; thread-safe (calls take turns).

The protocol is ``_connection.ClientConnection``'s; this module only moves its bytes over a blocking socket.
"""

from __future__ import annotations

import collections
import socket
import threading
import time
from collections.abc import Iterator

from ._calls import (
    RESUMABLE,
    FeedbackEvent,
    FeedbackEventsPage,
    HealthStatus,
    ServiceDescription,
    check,
    events_page,
    health_request,
    health_status,
    list_events_request,
    list_services_request,
    next_cursor,
    services,
    submit_request,
    verify_request,
    watch_events_request,
    watched_events,
)
from ._connection import (
    ANSWER_GRACE,
    READ_SIZE,
    Attempts,
    CallAnswered,
    CallEnded,
    CallFailed,
    ClientConnection,
    ConnectionState,
    Event,
    StreamMessage,
    TurnedAway,
    call_ended,
    check_socket_path,
    deadline_exceeded,
    outcome_unknown,
    unreachable,
)
from ._protocol import Request, Response
from ._status import RpcError, StatusCode


def _connect(path: str, connect_timeout: float) -> _Connection:
    """A connection, made again while a server shutting down turns it away (SPEC.md section 3), within
    ``connect_timeout`` in all."""
    deadline = time.monotonic() + connect_timeout
    attempt = 1
    while True:
        try:
            return _Connection(path, max(deadline - time.monotonic(), 0.001))
        except TurnedAway as turned:
            if attempt >= ClientConnection.TURNED_AWAY_ATTEMPTS or time.monotonic() >= deadline:
                raise turned.error from None
            attempt += 1


class _Connection:
    """A ``ClientConnection`` driven over one blocking socket; runs one call at a time."""

    def __init__(self, path: str, connect_timeout: float):
        check_socket_path(path)
        self.machine = ClientConnection()
        self.connect_timeout = connect_timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + connect_timeout
        try:
            self.sock.settimeout(connect_timeout)
            self.sock.connect(path)
            try:
                self.sock.sendall(self.machine.data_to_send())  # HELLO
            except OSError:
                pass  # a server that refused may have closed already: its GOAWAY is still read below
            while self.machine.state is ConnectionState.AWAITING_HELLO:
                self._receive(deadline)
        except OSError as error:  # TimeoutError included
            self.sock.close()
            raise unreachable(path, error) from None
        failure = self.machine.handshake_failure(path)
        if failure is not None:
            self.sock.close()
            if self.machine.turned_away:
                raise TurnedAway(failure)
            raise failure

    def call(self, request: Request, timeout: float | None, answer_grace: float) -> CallEnded:
        """Runs one call to its end. Past ``timeout`` a call not sent yet raises DEADLINE_EXCEEDED; a call sent
        waits ``answer_grace`` more for the server's answer (it stops the call at the same deadline), then is
        sent CANCEL and raises UNKNOWN."""
        deadline = None if timeout is None else time.monotonic() + timeout
        past_deadline = False
        key, events = self.machine.start_call(request)
        events += self._send(deadline)
        while True:
            ended = call_ended(events, key)
            if ended is not None:
                self._close_if_finished()
                return ended
            try:
                events = self._receive(deadline)
            except TimeoutError:
                if self.machine.was_sent(key) and not past_deadline:
                    past_deadline = True
                    deadline = time.monotonic() + answer_grace
                    events = []
                    continue
                sent = self.machine.was_sent(key)
                self.machine.cancel_call(key)
                self._send(self._soon())
                if sent:
                    reason = f"the server did not answer within {answer_grace} s of the deadline"
                    raise outcome_unknown(reason) from None
                raise deadline_exceeded() from None

    def stream(self, request: Request, window: int) -> Iterator[bytes]:
        """Runs one server-streaming call: yields its messages as they come, granting credit back as they are
        taken (at most ``window`` unread); returns when it ends OK and raises its RpcError otherwise. Closing the
        generator early (``break``) sends CANCEL."""
        key, started = self.machine.start_stream(request, window)
        events = collections.deque(started + self._send(self._soon()))
        ended = False
        try:
            while True:
                while events:
                    event = events.popleft()
                    if isinstance(event, StreamMessage) and event.key == key:
                        yield event.message
                        self.machine.message_read(key)
                        # A CREDIT that cannot be written ends the connection: its events end the stream.
                        events.extend(self._send(self._soon()))
                    elif isinstance(event, CallAnswered) and event.key == key:
                        ended = True
                        check(event.response)
                        return
                    elif isinstance(event, CallFailed) and event.key == key:
                        ended = True
                        raise event.error
                    elif call_ended([event], key) is not None:  # not processed: the server went away first
                        ended = True
                        raise RpcError(StatusCode.UNAVAILABLE, "Server unavailable: the stream was not processed.")
                if self.machine.state is ConnectionState.CLOSED:  # ended without an event for the stream
                    ended = True
                    raise outcome_unknown(f"{self.machine.close_reason} before the stream's end")
                events.extend(self._receive(None))
        finally:
            if not ended:
                self.machine.cancel_call(key)
                self._send(self._soon())

    def poll(self) -> None:
        """Reads, without blocking, what arrived while no call waited: a GOAWAY, the end of the stream, a PING,
        the RESPONSE of a call given up on. So a connection the server closed is known before a call is sent."""
        if self.machine.finished:
            return
        self.sock.setblocking(False)
        try:
            while self.machine.state is not ConnectionState.CLOSED:
                self.machine.receive_data(self.sock.recv(READ_SIZE))
        except BlockingIOError:
            pass
        except OSError as error:
            self.machine.connection_lost(f"reading failed: {error}")
        self._send(self._soon())
        self._close_if_finished()

    def _receive(self, deadline: float | None) -> list[Event]:
        if deadline is None:
            self.sock.settimeout(None)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(READ_SIZE)
        except TimeoutError:
            raise
        except OSError as error:
            return self.machine.connection_lost(f"reading failed: {error}")
        return self.machine.receive_data(data) + self._send(deadline)

    def _send(self, deadline: float | None) -> list[Event]:
        """Writes what the machine has to send. A write that fails or does not finish by ``deadline`` ends the
        connection: calls written on it fail with UNKNOWN, as in any connection that breaks."""
        data = self.machine.data_to_send()
        if not data or self.sock.fileno() < 0:
            return []
        try:
            self.sock.settimeout(None if deadline is None else max(0.001, deadline - time.monotonic()))
            self.sock.sendall(data)
        except OSError as error:  # TimeoutError included
            return self.machine.connection_lost(f"writing failed: {error or type(error).__name__}")
        return []

    def _soon(self) -> float:
        """The deadline of writes no call waits for (CANCEL, PONG, GOAWAY): the connect timeout from now."""
        return time.monotonic() + self.connect_timeout

    def _close_if_finished(self) -> None:
        if self.machine.finished:
            self.sock.close()

    def close(self) -> None:
        """Sends GOAWAY and closes (the calls given up on are not waited for)."""
        self.machine.close()
        self._send(self._soon())
        self.sock.close()


class Client:
    """A synchronous feedbackd client.

    >>> with Client("/run/feedback/feedback.sock") as client:
    ...     client.submit_feedback(42, 1, token=jwt)

    The connection is opened on first use and reused; after a GOAWAY or a dropped connection the next call
    reconnects. A call the server did not process (GOAWAY below its call id) is sent once more on a new
    connection; a call whose connection ended after its REQUEST was written raises UNKNOWN and is not sent
    again (see the README's "Retries"). Failures raise ``RpcError`` (or its subclass for the code).
    """

    def __init__(
        self,
        socket_path: str,
        *,
        timeout: float | None = 10.0,
        connect_timeout: float = 5.0,
        answer_grace: float = ANSWER_GRACE,
    ):
        self.socket_path = socket_path
        self.timeout = timeout
        self.answer_grace = answer_grace
        """Seconds a call sent waits past its timeout for feedbackd's answer before it raises UNKNOWN."""
        self.connect_timeout = connect_timeout
        self.connections_opened = 0
        """How many connections this client opened (one, unless the server went away)."""
        self._connection: _Connection | None = None
        self._lock = threading.Lock()

    def submit_feedback(
        self,
        interaction_id: int,
        rating: int,
        *,
        token: str,
        timeout: float | None = None,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        """Stores ``rating`` (1 or -1) for ``interaction_id``; returns once it is durably committed."""
        effective = self.timeout if timeout is None else timeout
        self._call(submit_request(interaction_id, rating, token, effective, request_id, traceparent), effective)

    def verify_token(self, token: str, *, timeout: float | None = None, request_id: str | None = None) -> None:
        """Returns when feedbackd would accept ``token`` for submit_feedback; raises its RpcError
        (UNAUTHENTICATED, PERMISSION_DENIED) otherwise. Stores nothing."""
        effective = self.timeout if timeout is None else timeout
        self._call(verify_request(token, effective, request_id), effective)

    def list_feedback_events(
        self,
        after_event_id: int = 0,
        page_size: int = 0,
        *,
        token: str,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> FeedbackEventsPage:
        """One page of the ratings feed: the events after ``after_event_id``, oldest first, at most ``page_size``
        (0: feedbackd's default of 100; at most 1000) and fewer when they would not fit a 15,000-byte page.
        Page on with ``next_after_event_id``; an empty page means nothing newer is stored yet. ``token`` needs
        the read scope (feedbackd's ``--jwt-read-scope``, ``feedback:read`` by default)."""
        effective = self.timeout if timeout is None else timeout
        request = list_events_request(after_event_id, page_size, token, effective, request_id)
        return events_page(self._call(request, effective))

    def iter_feedback_events(
        self,
        after: int = 0,
        page_size: int = 0,
        *,
        token: str,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> Iterator[FeedbackEvent]:
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

    def watch_feedback_events(
        self,
        after_event_id: int = 0,
        *,
        token: str,
        resume: bool = True,
        window: int = 64,
        request_id: str | None = None,
    ) -> Iterator[FeedbackEvent]:
        """The live ratings feed (WatchFeedbackEvents, protocol version 2): every event after ``after_event_id``,
        then each new one as it is committed, oldest first, for as long as you iterate. ``token`` needs the read
        scope. The stream runs on a connection of its own (the client's other calls are not held up). With
        ``resume``, when feedbackd goes away or the connection is lost (UNAVAILABLE, UNKNOWN) the iterator
        reconnects and goes on after the last event it yielded (backoff 0.1 s doubling to 2 s): nothing is
        missed or repeated. Other failures raise their RpcError; to resume later yourself, keep the last
        ``event_id`` and pass it as ``after_event_id``. ``window``: messages in flight or unread at most."""
        cursor = after_event_id
        backoff = 0.1
        while True:
            try:
                connection = _connect(self.socket_path, self.connect_timeout)
            except RpcError as error:
                if not (resume and error.code in RESUMABLE):
                    raise
            else:
                try:
                    for message in connection.stream(watch_events_request(cursor, token, request_id), window):
                        for event in watched_events(message):
                            yield event
                            cursor = event.event_id
                        backoff = 0.1
                    return  # ended OK: only a deadline ends a watch, and this one has none
                except RpcError as error:
                    if not (resume and error.code in RESUMABLE):
                        raise
                finally:
                    connection.close()
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def check_health(self, service: str = "", *, timeout: float | None = None) -> HealthStatus:
        """SERVING when feedbackd and its store can serve."""
        effective = self.timeout if timeout is None else timeout
        return health_status(self._call(health_request(service, effective), effective))

    def list_services(
        self, *, timeout: float | None = None, request_id: str | None = None
    ) -> tuple[ServiceDescription, ...]:
        """Every service the server serves, sorted by name, each with its methods (``ListServices``; no token)."""
        effective = self.timeout if timeout is None else timeout
        return services(self._call(list_services_request(effective, request_id), effective))

    def _call(self, request: Request, timeout: float | None) -> Response:
        with self._lock:
            attempts = Attempts()
            while True:
                response = attempts.outcome(self._usable_connection().call(request, timeout, self.answer_grace))
                if response is not None:
                    return check(response)

    def _usable_connection(self) -> _Connection:
        if self._connection is not None:
            self._connection.poll()
            if self._connection.machine.usable:
                return self._connection
            self._connection.close()
            self._connection = None
        self._connection = _connect(self.socket_path, self.connect_timeout)
        self.connections_opened += 1
        return self._connection

    def close(self) -> None:
        """Sends GOAWAY and closes the connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

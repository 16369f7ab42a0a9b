"""The asyncio client: one connection multiplexes every concurrent call.

The protocol is ``_connection.ClientConnection``'s (call ids, the server's concurrency limit, GOAWAY, which calls
were processed); this module only moves its bytes over asyncio streams and wakes the calls it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator

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
    CallNotProcessed,
    ClientConnection,
    ConnectionState,
    Event,
    StreamMessage,
    TurnedAway,
    check_socket_path,
    deadline_exceeded,
    outcome_unknown,
    unreachable,
)
from ._protocol import Request, Response
from ._status import RpcError, StatusCode


class _AsyncConnection:
    """A ``ClientConnection`` driven over asyncio streams: a reader task feeds it what arrives and wakes the calls
    its events end."""

    def __init__(self, machine: ClientConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.machine = machine
        self.reader = reader
        self.writer = writer
        self._waiting: dict[int, asyncio.Future[CallEnded]] = {}
        self._streams: dict[int, asyncio.Queue[bytes | CallEnded]] = {}  # key -> what its reader takes next
        self._drain_lock = asyncio.Lock()
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, path: str, connect_timeout: float) -> _AsyncConnection:
        """Connects, again while a server shutting down turns it away (SPEC.md section 3), within
        ``connect_timeout`` in all."""
        deadline = time.monotonic() + connect_timeout
        attempt = 1
        while True:
            try:
                return await cls._open_once(path, max(deadline - time.monotonic(), 0.001))
            except TurnedAway as turned:
                if attempt >= ClientConnection.TURNED_AWAY_ATTEMPTS or time.monotonic() >= deadline:
                    raise turned.error from None
                attempt += 1

    @classmethod
    async def _open_once(cls, path: str, connect_timeout: float) -> _AsyncConnection:
        """Connects and exchanges HELLOs on the bare socket, then hands it to asyncio streams."""
        check_socket_path(path)
        machine = ClientConnection()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(cls._handshake(machine, sock, path), connect_timeout)
            failure = machine.handshake_failure(path)
            if failure is not None:
                raise TurnedAway(failure) if machine.turned_away else failure
            reader, writer = await asyncio.open_unix_connection(sock=sock)
        except (OSError, asyncio.TimeoutError) as error:
            sock.close()
            raise unreachable(path, error) from None
        except BaseException:
            sock.close()
            raise
        connection = cls(machine, reader, writer)
        connection._after([])
        return connection

    @staticmethod
    async def _handshake(machine: ClientConnection, sock: socket.socket, path: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, path)
        try:
            await loop.sock_sendall(sock, machine.data_to_send())  # HELLO
        except OSError:
            pass  # a server that refused may have closed already: its GOAWAY is still read below
        while machine.state is ConnectionState.AWAITING_HELLO:
            try:
                data = await loop.sock_recv(sock, READ_SIZE)
            except OSError as error:
                machine.connection_lost(f"reading failed: {error}")
                return
            machine.receive_data(data)

    async def _read_loop(self) -> None:
        while not self.machine.finished:
            try:
                data = await self.reader.read(READ_SIZE)
            except OSError as error:
                self._after(self.machine.connection_lost(f"reading failed: {error}"))
                return
            self._after(self.machine.receive_data(data))

    def _after(self, events: list[Event]) -> None:
        """After each step of the machine: wake the calls it ended, write what it has to send, close when done."""
        for event in events:
            if isinstance(event, StreamMessage):
                stream = self._streams.get(event.key)
                if stream is not None:
                    stream.put_nowait(event.message)
            elif isinstance(event, (CallAnswered, CallNotProcessed, CallFailed)) and event.key in self._streams:
                self._streams[event.key].put_nowait(event)
            elif isinstance(event, (CallAnswered, CallNotProcessed, CallFailed)):
                future = self._waiting.pop(event.key, None)
                if future is not None and not future.done():
                    future.set_result(event)
        data = self.machine.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
        if self.machine.finished and not self.writer.is_closing():
            self.writer.close()

    async def call(self, request: Request, timeout: float | None, answer_grace: float) -> CallEnded:
        """Runs one call to its end. Past ``timeout`` a call not sent yet raises DEADLINE_EXCEEDED; a call sent
        waits ``answer_grace`` more for the server's answer (it stops the call at the same deadline), then is
        sent CANCEL and raises UNKNOWN."""
        future: asyncio.Future[CallEnded] = asyncio.get_running_loop().create_future()
        key, events = self.machine.start_call(request)
        self._waiting[key] = future
        self._after(events)

        async def written_and_answered() -> CallEnded:
            try:
                async with self._drain_lock:  # the writer's buffer stays bounded when the server reads slowly
                    await self.writer.drain()
            except OSError as error:
                self._after(self.machine.connection_lost(f"writing failed: {error}"))
            return await asyncio.shield(future)

        try:
            try:
                return await asyncio.wait_for(written_and_answered(), timeout)
            except asyncio.TimeoutError:
                # The answer (or the connection's end) may have come in the same turn as the timeout.
                if future.done():
                    return future.result()
                if not self.machine.was_sent(key):
                    self._abandon(key)
                    raise deadline_exceeded() from None
            try:
                return await asyncio.wait_for(asyncio.shield(future), answer_grace)
            except asyncio.TimeoutError:
                if future.done():
                    return future.result()
                self._abandon(key)
                raise outcome_unknown(f"the server did not answer within {answer_grace} s of the deadline") from None
        except asyncio.CancelledError:
            self._abandon(key)
            raise

    async def stream(self, request: Request, window: int) -> AsyncGenerator[bytes, None]:
        """Runs one server-streaming call: yields its messages as they come, granting credit back as they are
        taken (at most ``window`` unread, so the queue here is bounded); returns when it ends OK and raises its
        RpcError otherwise. Leaving early (``break``, cancellation) sends CANCEL."""
        queue: asyncio.Queue[bytes | CallEnded] = asyncio.Queue()
        key, events = self.machine.start_stream(request, window)
        self._streams[key] = queue
        ended = False
        try:
            self._after(events)
            while True:
                item = await queue.get()
                if isinstance(item, bytes):
                    yield item
                    self.machine.message_read(key)
                    self._after([])
                    continue
                ended = True
                if isinstance(item, CallAnswered):
                    check(item.response)
                    return
                if isinstance(item, CallFailed):
                    raise item.error
                reason = f"Server unavailable: the stream was not processed ({item.reason})."
                raise RpcError(StatusCode.UNAVAILABLE, reason)
        finally:
            self._streams.pop(key, None)
            if not ended:
                self._after(self.machine.cancel_call(key))

    def _abandon(self, key: int) -> None:
        self._waiting.pop(key, None)
        self._after(self.machine.cancel_call(key))

    async def close(self) -> None:
        """Sends GOAWAY, waits for the calls in flight, closes."""
        self._after(self.machine.close())
        if self._waiting:
            await asyncio.gather(*self._waiting.values(), return_exceptions=True)
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
        self._reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader_task


class AsyncClient:
    """An asyncio feedbackd client; every concurrent call shares one connection.

    >>> async with AsyncClient("/run/feedback/feedback.sock") as client:
    ...     await asyncio.gather(*(client.submit_feedback(i, 1, token=jwt) for i in ids))

    Calls beyond the server's MAX_CONCURRENT_CALLS wait on the client. After a GOAWAY or a dropped connection
    the next call reconnects. A call the server did not process (GOAWAY below its call id, or still queued here)
    is sent once more on a new connection; a call whose connection ended after its REQUEST was written raises
    UNKNOWN and is not sent again (see the README's "Retries"). Failures raise ``RpcError`` (or its subclass).
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
        self._connection: _AsyncConnection | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def submit_feedback(
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
        await self._call(submit_request(interaction_id, rating, token, effective, request_id, traceparent), effective)

    async def verify_token(
        self, token: str, *, timeout: float | None = None, request_id: str | None = None
    ) -> None:
        """Returns when feedbackd would accept ``token`` for submit_feedback; raises its RpcError
        (UNAUTHENTICATED, PERMISSION_DENIED) otherwise. Stores nothing."""
        effective = self.timeout if timeout is None else timeout
        await self._call(verify_request(token, effective, request_id), effective)

    async def list_feedback_events(
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
        return events_page(await self._call(request, effective))

    async def iter_feedback_events(
        self,
        after: int = 0,
        page_size: int = 0,
        *,
        token: str,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[FeedbackEvent]:
        """Every event after the event id ``after``, oldest first, paging until a page comes back empty
        (``async for event in client.iter_feedback_events(...)``). To resume later, keep the ``event_id`` of the
        last event processed and pass it as ``after``. ``timeout`` applies to each page's call; a failed call
        raises its RpcError from the iterator."""
        cursor = after
        while True:
            page = await self.list_feedback_events(
                cursor, page_size, token=token, timeout=timeout, request_id=request_id
            )
            if not page.events:
                return
            for event in page.events:
                yield event
            cursor = next_cursor(page, cursor)

    async def watch_feedback_events(
        self,
        after_event_id: int = 0,
        *,
        token: str,
        resume: bool = True,
        window: int = 64,
        request_id: str | None = None,
    ) -> AsyncIterator[FeedbackEvent]:
        """The live ratings feed (WatchFeedbackEvents, protocol version 2): every event after ``after_event_id``,
        then each new one as it is committed, oldest first (``async for event in client.watch_feedback_events(
        token=...)``). ``token`` needs the read scope. The stream shares the client's connection. With ``resume``,
        when feedbackd goes away or the connection is lost (UNAVAILABLE, UNKNOWN) it reconnects and goes on after
        the last event it yielded (backoff 0.1 s doubling to 2 s): nothing is missed or repeated. Other failures
        raise their RpcError. ``window``: messages in flight or unread at most."""
        cursor = after_event_id
        backoff = 0.1
        while True:
            try:
                connection = await self._usable_connection()
                stream = connection.stream(watch_events_request(cursor, token, request_id), window)
                try:
                    async for message in stream:
                        for event in watched_events(message):
                            yield event
                            cursor = event.event_id
                        backoff = 0.1
                finally:
                    await stream.aclose()
                return  # ended OK: only a deadline ends a watch, and this one has none
            except RpcError as error:
                if not (resume and error.code in RESUMABLE):
                    raise
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def check_health(self, service: str = "", *, timeout: float | None = None) -> HealthStatus:
        """SERVING when feedbackd and its store can serve."""
        effective = self.timeout if timeout is None else timeout
        return health_status(await self._call(health_request(service, effective), effective))

    async def list_services(
        self, *, timeout: float | None = None, request_id: str | None = None
    ) -> tuple[ServiceDescription, ...]:
        """Every service the server serves, sorted by name, each with its methods (``ListServices``; no token)."""
        effective = self.timeout if timeout is None else timeout
        return services(await self._call(list_services_request(effective, request_id), effective))

    async def _call(self, request: Request, timeout: float | None) -> Response:
        attempts = Attempts()
        while True:
            connection = await self._usable_connection()
            response = attempts.outcome(await connection.call(request, timeout, self.answer_grace))
            if response is not None:
                return check(response)

    async def _usable_connection(self) -> _AsyncConnection:
        if self._connection is not None and self._connection.machine.usable:
            return self._connection
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._connection is None or not self._connection.machine.usable:
                stale = self._connection
                self._connection = await _AsyncConnection.open(self.socket_path, self.connect_timeout)
                self.connections_opened += 1
                if stale is not None:  # its calls in flight finish on it
                    task = asyncio.get_running_loop().create_task(stale.close())
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
            return self._connection

    async def close(self) -> None:
        """Sends GOAWAY, waits for calls in flight, closes the connection."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

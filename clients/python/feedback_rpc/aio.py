"""The asyncio client: one connection multiplexes every concurrent call."""
from __future__ import annotations

import asyncio
import os
import struct
from typing import AsyncIterator, Optional

from . import _wire as wire
from ._calls import FeedbackEvent, FeedbackEventsPage, HealthStatus, NotProcessed, check, events_page, health_request
from ._calls import health_status, list_events_request, next_cursor, submit_request, verify_request
from ._status import RpcError, StatusCode


class _AsyncConnection:
    """One connection: a reader task matches RESPONSEs to waiting calls by call id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: wire.Hello,
                 decoder: wire.FrameDecoder):
        self.reader = reader
        self.writer = writer
        self.hello = hello
        self.decoder = decoder
        self.next_call_id = 1
        self.pending: dict[int, asyncio.Future[wire.Response]] = {}
        self.usable = True
        self.write_lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(max(1, hello.max_concurrent_calls))
        self.reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, path: str, connect_timeout: float) -> "_AsyncConnection":
        if len(os.fsencode(path)) > 107:
            raise RpcError(StatusCode.UNAVAILABLE, f"socket path is over 107 bytes: {path}")
        decoder = wire.FrameDecoder("client")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), connect_timeout)
        except (OSError, asyncio.TimeoutError) as error:
            raise RpcError(StatusCode.UNAVAILABLE, f"feedbackd is unreachable at {path}: {error}") from None
        try:
            writer.write(wire.encode_hello(wire.Hello()))
            frame = await asyncio.wait_for(cls._first_frame(reader, decoder), connect_timeout)
        except (OSError, asyncio.TimeoutError, wire.WireError) as error:
            writer.close()
            raise RpcError(StatusCode.UNAVAILABLE, f"no HELLO from {path}: {error}") from None
        if frame is None or frame.type != wire.HELLO:
            writer.close()
            reason = wire.decode_goaway(frame.payload).debug if frame and frame.type == wire.GOAWAY else "no HELLO"
            raise RpcError(StatusCode.UNAVAILABLE, f"feedbackd refused the connection: {reason}")
        return cls(reader, writer, wire.decode_hello(frame.payload), decoder)

    @staticmethod
    async def _first_frame(reader: asyncio.StreamReader, decoder: wire.FrameDecoder) -> Optional[wire.Frame]:
        while True:
            frame = decoder.next()
            if frame is not None:
                return frame
            data = await reader.read(65536)
            if not data:
                return None
            decoder.feed(data)

    async def _read_loop(self) -> None:
        reason = "the connection closed before the response"
        try:
            while True:
                frame = self.decoder.next()
                if frame is None:
                    data = await self.reader.read(65536)
                    if not data:
                        break
                    self.decoder.feed(data)
                    continue
                if frame.type == wire.RESPONSE:
                    future = self.pending.pop(frame.call_id, None)
                    if future is not None and not future.done():
                        try:
                            future.set_result(wire.decode_response(frame.payload))
                        except wire.WireError as error:
                            future.set_exception(RpcError(StatusCode.INTERNAL, f"Malformed response: {error.message}"))
                elif frame.type == wire.PING:
                    self.writer.write(wire.encode_frame(wire.PONG, 0, frame.payload))
                elif frame.type == wire.GOAWAY:
                    goaway = wire.decode_goaway(frame.payload)
                    self.usable = False
                    for call_id in [i for i in self.pending if i > goaway.last_call_id]:
                        future = self.pending.pop(call_id)
                        if not future.done():
                            future.set_exception(NotProcessed(goaway.debug or "server going away"))
        except (OSError, wire.WireError) as error:
            reason = str(error)
        finally:
            self.usable = False
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(reason))
            self.pending.clear()

    async def call(self, request: wire.Request, timeout: Optional[float]) -> wire.Response:
        async with self.slots:
            if not self.usable:
                raise NotProcessed("connection is going away")
            future: asyncio.Future[wire.Response] = asyncio.get_running_loop().create_future()
            async with self.write_lock:  # ids are assigned and written in increasing order
                if not self.usable or self.next_call_id > wire.MAX_CALL_ID:
                    raise NotProcessed("connection is going away")
                call_id = self.next_call_id
                self.next_call_id += 1
                self.pending[call_id] = future
                try:
                    self.writer.write(wire.encode_request(call_id, request))
                    await self.writer.drain()
                except OSError:
                    self.pending.pop(call_id, None)
                    self.usable = False
                    raise NotProcessed("the connection is closed") from None
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except asyncio.TimeoutError:
                self._cancel(call_id)
                raise RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded.") from None
            except asyncio.CancelledError:
                self._cancel(call_id)
                raise

    def _cancel(self, call_id: int) -> None:
        future = self.pending.pop(call_id, None)
        if future is not None and not future.done():
            future.cancel()
        if self.usable:
            self.writer.write(wire.encode_frame(wire.CANCEL, call_id))

    async def close(self) -> None:
        if self.usable:
            self.usable = False
            try:
                self.writer.write(wire.encode_frame(wire.GOAWAY, 0, struct.pack(">II", 0, wire.NO_ERROR)))
                await self.writer.drain()
            except OSError:
                pass
        if self.pending:
            await asyncio.gather(*self.pending.values(), return_exceptions=True)
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
        self.reader_task.cancel()
        try:
            await self.reader_task
        except (asyncio.CancelledError, Exception):
            pass


class AsyncClient:
    """An asyncio feedbackd client; every concurrent call shares one connection.

    >>> async with AsyncClient("/run/feedback/feedback.sock") as client:
    ...     await asyncio.gather(*(client.submit_feedback(i, 1, token=jwt) for i in ids))

    Calls beyond the server's MAX_CONCURRENT_CALLS wait on the client. After a GOAWAY or a dropped
    connection the next call reconnects; every method is idempotent, so a call interrupted by a lost
    connection is sent once more. Failures raise ``RpcError`` (or its subclass for the code).
    """

    def __init__(self, socket_path: str, *, timeout: Optional[float] = 10.0, connect_timeout: float = 5.0):
        self.socket_path = socket_path
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._connection: Optional[_AsyncConnection] = None
        self._connect_lock: Optional[asyncio.Lock] = None
        self.connections_opened = 0

    async def submit_feedback(self, interaction_id: int, rating: int, *, token: str, timeout: Optional[float] = None,
                              request_id: Optional[str] = None, traceparent: Optional[str] = None) -> None:
        """Stores ``rating`` (1 or -1) for ``interaction_id``; returns once it is durably committed."""
        effective = self.timeout if timeout is None else timeout
        await self._call(submit_request(interaction_id, rating, token, effective, request_id, traceparent), effective)

    async def verify_token(self, token: str, *, timeout: Optional[float] = None, request_id: Optional[str] = None) -> None:
        """Returns when feedbackd would accept ``token`` for submit_feedback; raises its RpcError
        (UNAUTHENTICATED, PERMISSION_DENIED) otherwise. Stores nothing."""
        effective = self.timeout if timeout is None else timeout
        await self._call(verify_request(token, effective, request_id), effective)

    async def list_feedback_events(self, after_event_id: int = 0, page_size: int = 0, *, token: str,
                                   timeout: Optional[float] = None, request_id: Optional[str] = None) -> FeedbackEventsPage:
        """One page of the ratings feed: the events after ``after_event_id``, oldest first, at most ``page_size``
        (0: feedbackd's default of 100; at most 1000) and fewer when they would not fit a 15,000-byte page.
        Page on with ``next_after_event_id``; an empty page means nothing newer is stored yet. ``token`` needs
        the read scope (feedbackd's ``--jwt-read-scope``, ``feedback:read`` by default)."""
        effective = self.timeout if timeout is None else timeout
        request = list_events_request(after_event_id, page_size, token, effective, request_id)
        return events_page(await self._call(request, effective))

    async def iter_feedback_events(self, after: int = 0, page_size: int = 0, *, token: str, timeout: Optional[float] = None,
                                   request_id: Optional[str] = None) -> AsyncIterator[FeedbackEvent]:
        """Every event after the event id ``after``, oldest first, paging until a page comes back empty
        (``async for event in client.iter_feedback_events(...)``). To resume later, keep the ``event_id`` of the
        last event processed and pass it as ``after``. ``timeout`` applies to each page's call; a failed call
        raises its RpcError from the iterator."""
        cursor = after
        while True:
            page = await self.list_feedback_events(cursor, page_size, token=token, timeout=timeout, request_id=request_id)
            if not page.events:
                return
            for event in page.events:
                yield event
            cursor = next_cursor(page, cursor)

    async def check_health(self, service: str = "", *, timeout: Optional[float] = None) -> HealthStatus:
        """SERVING when feedbackd and its store can serve."""
        effective = self.timeout if timeout is None else timeout
        return health_status(await self._call(health_request(service, effective), effective))

    async def _call(self, request: wire.Request, timeout: Optional[float]) -> wire.Response:
        for attempt in range(2):
            connection = await self._usable_connection()
            try:
                return check(await connection.call(request, timeout))
            except (NotProcessed, ConnectionError) as error:
                if attempt == 1:
                    raise RpcError(StatusCode.UNAVAILABLE, f"Server unavailable: {error}") from None
        raise AssertionError("unreachable")

    async def _usable_connection(self) -> _AsyncConnection:
        if self._connection is not None and self._connection.usable:
            return self._connection
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._connection is None or not self._connection.usable:
                stale = self._connection
                self._connection = await _AsyncConnection.open(self.socket_path, self.connect_timeout)
                self.connections_opened += 1
                if stale is not None:
                    asyncio.get_running_loop().create_task(stale.close())
            return self._connection

    async def close(self) -> None:
        """Sends GOAWAY, waits for calls in flight, closes the connection."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

"""The clients against a real feedbackd started by the fixtures."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import re
import sqlite3
import threading
import time
from typing import Any

import pytest
from support import Feedbackd, served_services

import feedback_rpc
from feedback_rpc import (
    AsyncClient,
    Client,
    FeedbackEvent,
    FeedbackEventsPage,
    HealthStatus,
    MethodDescription,
    RpcError,
    ServiceDescription,
    StatusCode,
)

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def lock_database(path: pathlib.Path, seconds: float) -> threading.Thread:
    """Holds the database's write lock from this process for `seconds`."""
    ready = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait()
    return thread


def test_sync_every_status(feedbackd: Feedbackd) -> None:
    token = feedbackd.token()
    with Client(feedbackd.socket) as client:
        assert client.check_health() == HealthStatus.SERVING
        client.submit_feedback(1, 1, token=token)
        assert feedbackd.rating(1) == 1
        client.submit_feedback(1, -1, token=token, request_id="py-req-1")
        assert feedbackd.rating(1) == -1

        with pytest.raises(feedback_rpc.InvalidArgumentError) as invalid:
            client.submit_feedback(1, 2, token=token)
        assert invalid.value.code == StatusCode.INVALID_ARGUMENT
        assert invalid.value.message == "rating must be 1 (positive) or -1 (negative)"

        with pytest.raises(feedback_rpc.NotFoundError) as missing:
            client.submit_feedback(999, 1, token=token)
        assert missing.value.code == StatusCode.NOT_FOUND
        assert missing.value.message == "Interaction 999 not found."
        assert isinstance(missing.value, RpcError)


def test_authentication_failure(feedbackd: Feedbackd) -> None:
    with Client(feedbackd.socket) as client:
        with pytest.raises(feedback_rpc.UnauthenticatedError) as error:
            client.submit_feedback(1, 1, token="not-a-jwt")
        assert error.value.code == StatusCode.UNAUTHENTICATED
        expired = feedbackd.token(ttl=-3600)
        with pytest.raises(RpcError) as expired_error:
            client.submit_feedback(1, 1, token=expired)
        assert expired_error.value.code == StatusCode.UNAUTHENTICATED
        assert expired_error.value.message == "token has expired"


def test_verify_token_sync_and_async(feedbackd: Feedbackd) -> None:
    with Client(feedbackd.socket) as client:
        client.verify_token(feedbackd.token())
        with pytest.raises(feedback_rpc.UnauthenticatedError):
            client.verify_token("not-a-jwt")

    async def run() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            await client.verify_token(feedbackd.token())
            with pytest.raises(RpcError) as error:
                await client.verify_token(feedbackd.token(ttl=-3600))
            assert error.value.message == "token has expired"

    asyncio.run(run())


def test_store_unavailable(impatient_feedbackd: Feedbackd) -> None:
    token = impatient_feedbackd.token()
    holder = lock_database(impatient_feedbackd.db, 1.5)
    with Client(impatient_feedbackd.socket) as client:
        with pytest.raises(feedback_rpc.UnavailableError) as error:
            client.submit_feedback(2, 1, token=token)
        assert error.value.message == "Feedback store unavailable."
        assert error.value.retryable
    holder.join()


def test_deadline(feedbackd: Feedbackd) -> None:
    token = feedbackd.token()
    holder = lock_database(feedbackd.db, 1.5)
    with Client(feedbackd.socket) as client:
        started = time.monotonic()
        with pytest.raises(feedback_rpc.DeadlineExceededError):
            client.submit_feedback(3, 1, token=token, timeout=0.2)
        assert time.monotonic() - started < 1.4
        holder.join()
        client.submit_feedback(4, 1, token=token)  # the connection is still good
    assert feedbackd.rating(4) == 1


def test_not_a_server(tmp_path: pathlib.Path) -> None:
    with Client(f"/tmp/fbpy-none-{time.time_ns()}.sock") as client:
        with pytest.raises(feedback_rpc.UnavailableError):
            client.check_health()


def test_sync_reconnects_after_restart(feedbackd: Feedbackd) -> None:
    token = feedbackd.token()
    with Client(feedbackd.socket) as client:
        client.submit_feedback(5, 1, token=token)
        feedbackd.stop()
        with pytest.raises(feedback_rpc.UnavailableError):
            client.submit_feedback(6, 1, token=token)
        feedbackd.start()
        client.submit_feedback(6, -1, token=token)
    assert (feedbackd.rating(5), feedbackd.rating(6)) == (1, -1)


def test_async_200_concurrent_calls_on_one_connection(feedbackd: Feedbackd) -> None:
    token = feedbackd.token()

    async def main() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            await asyncio.gather(*(client.submit_feedback(i, 1 if i % 2 else -1, token=token) for i in range(1, 201)))
            assert client.connections_opened == 1
            with pytest.raises(feedback_rpc.NotFoundError):
                await client.submit_feedback(5000, 1, token=token)
            assert await client.check_health() == HealthStatus.SERVING

    asyncio.run(main())
    assert [feedbackd.rating(i) for i in (1, 2, 199, 200)] == [1, -1, 1, -1]


def test_async_deadline_and_restart(feedbackd: Feedbackd) -> None:
    token = feedbackd.token()

    async def main() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            await client.submit_feedback(7, 1, token=token)
            holder = lock_database(feedbackd.db, 1.0)
            with pytest.raises(feedback_rpc.DeadlineExceededError):
                await client.submit_feedback(8, 1, token=token, timeout=0.2)
            await asyncio.get_running_loop().run_in_executor(None, holder.join)
            feedbackd.stop()
            # feedbackd's GOAWAY is not read yet (stop() held the event loop): the REQUEST is written to a
            # closed connection, whose end leaves its outcome open to the client: UNKNOWN, or UNAVAILABLE
            # when the GOAWAY came first.
            with pytest.raises(RpcError) as stopped:
                await client.submit_feedback(9, 1, token=token)
            assert stopped.value.code in (StatusCode.UNAVAILABLE, StatusCode.UNKNOWN) and stopped.value.retryable
            feedbackd.start()
            await client.submit_feedback(9, -1, token=token)
            assert client.connections_opened >= 2

    asyncio.run(main())
    assert (feedbackd.rating(7), feedbackd.rating(9)) == (1, -1)


def read_token(feedbackd: Feedbackd, sub: str = "retrain-job") -> str:
    return feedbackd.token(sub=sub, scope="feedback:read")


def spy_on_pages(client: Client) -> list[int]:
    """Records the after_event_id of every list_feedback_events call the client makes."""
    cursors: list[int] = []
    original = client.list_feedback_events

    def spy(after_event_id: int = 0, page_size: int = 0, **kwargs: Any) -> FeedbackEventsPage:
        cursors.append(after_event_id)
        return original(after_event_id, page_size, **kwargs)

    client.list_feedback_events = spy  # type: ignore[method-assign]
    return cursors


def test_feed_pages_sync(feedbackd: Feedbackd) -> None:
    writers = [feedbackd.token(sub=f"writer-{n}") for n in range(3)]
    reader = read_token(feedbackd)
    written = []  # (interaction_id, rating, subject) in the order stored
    with Client(feedbackd.socket) as client:
        assert client.list_feedback_events(token=reader) == FeedbackEventsPage((), 0)
        for n in range(25):
            interaction, rating, writer = n % 20 + 1, -1 if n % 3 == 0 else 1, n % 3  # 1..5 are rated twice
            client.submit_feedback(interaction, rating, token=writers[writer])
            written.append((interaction, rating, f"writer-{writer}"))

        pages, cursor = [], 0
        while True:
            page = client.list_feedback_events(cursor, 10, token=reader, request_id="feed-sync")
            pages.append(page)
            if not page.events:
                break
            assert page.next_after_event_id == page.events[-1].event_id
            cursor = page.next_after_event_id
        assert [len(page.events) for page in pages] == [10, 10, 5, 0]
        assert pages[-1].next_after_event_id == cursor  # an empty page gives back the cursor asked for

        events = [event for page in pages for event in page.events]
        assert all(isinstance(event, FeedbackEvent) for event in events)
        ids = [event.event_id for event in events]
        assert ids == sorted(set(ids)) and ids[0] > 0
        assert [(e.interaction_id, e.rating, e.subject) for e in events] == written  # every rating, re-ratings too
        assert all(RFC3339_UTC.fullmatch(event.created_at) for event in events)
        # page_size 0 is feedbackd's default (100): the 25 at once; 1000 is the largest accepted.
        assert client.list_feedback_events(token=reader).events == tuple(events)
        assert client.list_feedback_events(ids[19], 1000, token=reader).events == tuple(events[20:])
        with pytest.raises(dataclasses.FrozenInstanceError):
            events[0].rating = 1  # type: ignore[misc]


def test_iter_feedback_events_resumes_sync(feedbackd: Feedbackd) -> None:
    writer, reader = feedbackd.token(), read_token(feedbackd)
    with Client(feedbackd.socket) as client:
        assert list(client.iter_feedback_events(token=reader)) == []
        for interaction in range(1, 24):
            client.submit_feedback(interaction, 1, token=writer)
        cursors = spy_on_pages(client)
        every = list(client.iter_feedback_events(page_size=5, token=reader))
        assert [event.interaction_id for event in every] == list(range(1, 24))
        ids = [event.event_id for event in every]
        assert ids == sorted(set(ids))
        assert cursors == [0, ids[4], ids[9], ids[14], ids[19], ids[22]]  # pages of 5 until an empty one

        done = []  # a job that stops after 12 events, keeping the last event_id it processed
        for event in client.iter_feedback_events(page_size=5, token=reader):
            done.append(event)
            if len(done) == 12:
                break
        saved = done[-1].event_id

    with Client(feedbackd.socket) as client:  # the job's next run
        rest = list(client.iter_feedback_events(after=saved, page_size=5, token=reader))
        assert done + rest == every
        assert list(client.iter_feedback_events(after=ids[-1], token=reader)) == []  # nothing newer yet
        client.submit_feedback(100, -1, token=writer)
        client.submit_feedback(3, -1, token=writer)
        new = list(client.iter_feedback_events(after=ids[-1], token=reader))
        assert [(event.interaction_id, event.rating) for event in new] == [(100, -1), (3, -1)]
        assert new[0].event_id > ids[-1]


def test_feed_errors_sync(feedbackd: Feedbackd) -> None:
    writer, reader = feedbackd.token(), read_token(feedbackd)
    with Client(feedbackd.socket) as client:
        client.submit_feedback(1, 1, token=writer)

        with pytest.raises(feedback_rpc.PermissionDeniedError) as denied:
            client.list_feedback_events(token=writer)  # a token that may write may not read
        assert denied.value.code == StatusCode.PERMISSION_DENIED
        assert denied.value.message == "token lacks the scope feedback:read"
        with pytest.raises(feedback_rpc.PermissionDeniedError):
            next(client.iter_feedback_events(token=feedbackd.token(scope="feedback:write")))
        both = feedbackd.token(scope="feedback:write feedback:read")
        assert [event.interaction_id for event in client.iter_feedback_events(token=both)] == [1]

        with pytest.raises(feedback_rpc.InvalidArgumentError) as invalid:
            client.list_feedback_events(0, 1001, token=reader)
        assert invalid.value.code == StatusCode.INVALID_ARGUMENT
        assert invalid.value.message == "page_size must be 0 (the default, 100) to 1000"
        with pytest.raises(feedback_rpc.InvalidArgumentError):
            list(client.iter_feedback_events(page_size=1001, token=reader))
        with pytest.raises(feedback_rpc.InvalidArgumentError):
            client.list_feedback_events(0, -1, token=reader)
        with pytest.raises(feedback_rpc.InvalidArgumentError) as invalid:
            client.list_feedback_events(-1, token=reader)
        assert invalid.value.message == "after_event_id must not be negative"

        with pytest.raises(feedback_rpc.UnauthenticatedError):
            client.list_feedback_events(token="not-a-jwt")
        with pytest.raises(feedback_rpc.UnauthenticatedError):
            client.list_feedback_events(token=read_token(feedbackd).replace(".", ".x", 1))

        for after, size in (("0", 0), (True, 0), (2**63, 0), (0, 2**31), (0, 1.5)):
            with pytest.raises(ValueError):  # not encodable: refused before anything is sent
                client.list_feedback_events(after, size, token=reader)  # type: ignore[arg-type]
        assert len(client.list_feedback_events(token=reader).events) == 1  # the connection is still good


def test_feed_short_pages_are_not_the_end(feedbackd: Feedbackd) -> None:
    """Pages stay under 15,000 bytes, so long subjects give fewer events than page_size: iterating goes on
    until a page is empty, not until a page is short."""
    writer, reader = feedbackd.token(sub="s" * 400), read_token(feedbackd)
    with Client(feedbackd.socket) as client:
        for interaction in range(1, 101):
            client.submit_feedback(interaction, 1, token=writer)
        first = client.list_feedback_events(0, 1000, token=reader)
        assert 0 < len(first.events) < 100
        assert first.events[0].subject == "s" * 400
        every = list(client.iter_feedback_events(page_size=1000, token=reader))
        assert [event.interaction_id for event in every] == list(range(1, 101))


def test_iter_refuses_a_cursor_that_does_not_move() -> None:
    """A page whose next_after_event_id does not move past the cursor would page forever: RpcError INTERNAL."""
    client = Client("/nonexistent/feedback.sock")
    event = FeedbackEvent(5, 1, 1, "sub", "2026-11-30T00:00:00Z", b"sub")
    client.list_feedback_events = lambda *args, **kwargs: FeedbackEventsPage((event,), 4)  # type: ignore[method-assign]
    events = client.iter_feedback_events(after=4, token="t")
    assert next(events) == event
    with pytest.raises(RpcError) as error:
        next(events)
    assert error.value.code == StatusCode.INTERNAL


def test_feed_async(feedbackd: Feedbackd) -> None:
    writer, reader = feedbackd.token(), read_token(feedbackd)

    async def main() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            assert await client.list_feedback_events(token=reader) == FeedbackEventsPage((), 0)
            assert [event async for event in client.iter_feedback_events(token=reader)] == []
            ratings = {i: 1 if i % 2 else -1 for i in range(1, 151)}
            await asyncio.gather(*(client.submit_feedback(i, r, token=writer) for i, r in ratings.items()))

            first = await client.list_feedback_events(token=reader)  # page_size 0: 100
            assert len(first.events) == 100 and first.next_after_event_id == first.events[-1].event_id
            second = await client.list_feedback_events(first.next_after_event_id, 100, token=reader)
            assert len(second.events) == 50
            empty = await client.list_feedback_events(second.next_after_event_id, token=reader)
            assert empty == FeedbackEventsPage((), second.next_after_event_id)

            every = [event async for event in client.iter_feedback_events(page_size=7, token=reader)]
            assert tuple(every) == first.events + second.events
            ids = [event.event_id for event in every]
            assert ids == sorted(set(ids))
            assert {event.interaction_id: event.rating for event in every} == ratings
            assert all(event.subject == "py-client" and RFC3339_UTC.fullmatch(event.created_at) for event in every)

            done = []
            async for event in client.iter_feedback_events(page_size=7, token=reader):
                done.append(event)
                if len(done) == 60:
                    break
            resumed = client.iter_feedback_events(after=done[-1].event_id, page_size=7, token=reader)
            rest = [event async for event in resumed]
            assert done + rest == every
            await client.submit_feedback(151, -1, token=writer)
            new = [event async for event in client.iter_feedback_events(after=ids[-1], token=reader)]
            assert [(event.interaction_id, event.rating) for event in new] == [(151, -1)]
            assert client.connections_opened == 1

    asyncio.run(main())


def test_feed_errors_async(feedbackd: Feedbackd) -> None:
    writer, reader = feedbackd.token(), read_token(feedbackd)

    async def main() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            await client.submit_feedback(1, 1, token=writer)
            with pytest.raises(feedback_rpc.PermissionDeniedError) as denied:
                await client.list_feedback_events(token=writer)
            assert denied.value.code == StatusCode.PERMISSION_DENIED
            assert denied.value.message == "token lacks the scope feedback:read"
            with pytest.raises(feedback_rpc.PermissionDeniedError):
                [event async for event in client.iter_feedback_events(token=writer)]

            with pytest.raises(feedback_rpc.InvalidArgumentError) as invalid:
                await client.list_feedback_events(0, 1001, token=reader)
            assert invalid.value.code == StatusCode.INVALID_ARGUMENT
            assert invalid.value.message == "page_size must be 0 (the default, 100) to 1000"
            with pytest.raises(feedback_rpc.InvalidArgumentError):
                [event async for event in client.iter_feedback_events(page_size=1001, token=reader)]
            with pytest.raises(feedback_rpc.InvalidArgumentError):
                await client.list_feedback_events(-1, token=reader)
            with pytest.raises(feedback_rpc.UnauthenticatedError):
                await client.list_feedback_events(token="not-a-jwt")
            with pytest.raises(ValueError):
                await client.list_feedback_events(0, 2**31, token=reader)
            assert [event.interaction_id async for event in client.iter_feedback_events(token=reader)] == [1]

    asyncio.run(main())


def methods_by_path(services: tuple[ServiceDescription, ...]) -> dict[str, MethodDescription]:
    return {method.path: method for service in services for method in service.methods}


def test_list_services_sync(feedbackd: Feedbackd) -> None:
    """Every method feedbackd serves, ListServices itself included, without a token."""
    with Client(feedbackd.socket) as client:
        services = client.list_services(request_id="describe-1")
    assert services == served_services()
    assert [service.name for service in services] == sorted(service.name for service in services)
    methods = methods_by_path(services)
    assert methods["/feedback.v1.FeedbackService/SubmitFeedback"].requires_token is True
    assert methods["/feedback.health.v1.Health/Check"].requires_token is False
    listing = methods["/feedback.reflection.v1.Reflection/ListServices"]
    assert listing == MethodDescription(
        "ListServices",
        "/feedback.reflection.v1.Reflection/ListServices",
        "feedback.reflection.v1.ListServicesRequest",
        "feedback.reflection.v1.ListServicesResponse",
        False,
    )
    assert isinstance(services, tuple) and all(isinstance(s.methods, tuple) for s in services)
    with pytest.raises(dataclasses.FrozenInstanceError):
        listing.requires_token = True  # type: ignore[misc]


def test_list_services_async_every_listed_method_is_served(feedbackd: Feedbackd) -> None:
    """The asyncio client lists the same; and each method listed without a token answers without one."""

    async def main() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            services = await client.list_services()
            assert services == served_services()
            methods = methods_by_path(services)
            assert {path for path, method in methods.items() if method.requires_token} == {
                "/feedback.v1.FeedbackService/ListFeedbackEvents",
                "/feedback.v1.FeedbackService/SubmitFeedback",
                "/feedback.v1.FeedbackService/VerifyToken",
                "/feedback.v1.FeedbackService/WatchFeedbackEvents",
            }
            assert await client.check_health() == HealthStatus.SERVING  # Health/Check: no token
            with pytest.raises(feedback_rpc.UnauthenticatedError):
                await client.submit_feedback(1, 1, token="")  # requires_token: refused without one

    asyncio.run(main())


def test_health_status_prints_its_name(feedbackd: Feedbackd, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's `print(client.check_health())  # SERVING`."""
    with Client(feedbackd.socket) as client:
        status = client.check_health()
        print(status)
    assert capsys.readouterr().out == "SERVING\n"
    assert status is HealthStatus.SERVING and int(status) == 1
    assert f"{status}" == "SERVING" and f"{status:d}" == "1" and repr(status) == "<HealthStatus.SERVING: 1>"
    assert str(StatusCode.UNAVAILABLE) == "UNAVAILABLE"

"""WatchFeedbackEvents, the live ratings feed (protocol version 2), through both clients against a real feedbackd:
what is stored, then each rating as it is committed, resumed across a restart of feedbackd without a gap."""

from __future__ import annotations

import asyncio

import pytest
from support import Feedbackd, hello

from feedback_rpc import AsyncClient, Client, PermissionDeniedError, StatusCode
from feedback_rpc._connection import CallFailed, ClientConnection
from feedback_rpc._protocol import Request

WATCH = "/feedback.v1.FeedbackService/WatchFeedbackEvents"


def test_watch_sync_live_then_resumed(feedbackd: Feedbackd) -> None:
    writer, reader = feedbackd.token(), feedbackd.token(sub="learner", scope="feedback:read")
    with Client(feedbackd.socket) as client:
        for interaction in range(1, 6):
            client.submit_feedback(interaction, 1, token=writer)
        seen = []
        for event in client.watch_feedback_events(token=reader):
            seen.append(event)
            if len(seen) == 5:  # the stored ones; the next come live, woken by the commits
                for interaction in range(6, 9):
                    client.submit_feedback(interaction, -1, token=writer)
            if len(seen) == 8:
                break
        assert [event.interaction_id for event in seen] == list(range(1, 9))
        assert [event.rating for event in seen] == [1] * 5 + [-1] * 3
        ids = [event.event_id for event in seen]
        assert ids == sorted(set(ids))
        resumed = []
        for event in client.watch_feedback_events(ids[3], token=reader):
            resumed.append(event.event_id)
            if len(resumed) == 4:
                break
        assert resumed == ids[4:]


def test_watch_sync_resumes_across_a_restart(feedbackd: Feedbackd) -> None:
    """feedbackd stopped (SIGTERM: GOAWAY ends the stream UNAVAILABLE) and started again mid-watch: the iterator
    reconnects and goes on after the last event it yielded; every rating once, in order."""
    writer, reader = feedbackd.token(), feedbackd.token(scope="feedback:read")
    with Client(feedbackd.socket) as client:
        for interaction in range(1, 11):
            client.submit_feedback(interaction, 1, token=writer)
    seen = []
    for event in Client(feedbackd.socket).watch_feedback_events(token=reader):
        seen.append(event.interaction_id)
        if len(seen) == 10:
            feedbackd.stop()
            feedbackd.start()
            with Client(feedbackd.socket) as client:
                for interaction in range(11, 21):
                    client.submit_feedback(interaction, -1, token=writer)
        if len(seen) == 20:
            break
    assert seen == list(range(1, 21))


def test_watch_async_live_and_scope(feedbackd: Feedbackd) -> None:
    writer, reader = feedbackd.token(), feedbackd.token(scope="feedback:read")

    async def main() -> None:
        async with AsyncClient(feedbackd.socket) as client:
            with pytest.raises(PermissionDeniedError):
                async for _ in client.watch_feedback_events(token=writer):
                    pass
            await client.submit_feedback(1, 1, token=writer)
            seen = []
            async for event in client.watch_feedback_events(token=reader):
                seen.append(event.interaction_id)
                if len(seen) == 1:
                    # The watch shares the connection: other calls go on beside it.
                    await asyncio.gather(*(client.submit_feedback(i, -1, token=writer) for i in range(2, 5)))
                if len(seen) == 4:
                    break
            assert sorted(seen) == [1, 2, 3, 4] and seen[0] == 1
            assert await client.check_health() is not None  # the connection is still usable after the break

    asyncio.run(main())


def test_stream_against_a_version_1_server_fails_unimplemented_having_sent_nothing() -> None:
    """A server whose HELLO says version 1 has no streams: the call fails UNIMPLEMENTED, no REQUEST is written."""
    machine = ClientConnection()
    machine.data_to_send()  # our HELLO
    machine.receive_data(hello(version=1))
    key, events = machine.start_stream(Request(WATCH))
    assert [type(event) for event in events] == [CallFailed]
    failed = events[0]
    assert isinstance(failed, CallFailed) and failed.key == key and failed.error.code == StatusCode.UNIMPLEMENTED
    assert machine.data_to_send() == b""

"""The clients against a real feedbackd started by the fixtures."""
import asyncio
import sqlite3
import threading
import time

import pytest

import feedback_rpc
from feedback_rpc import AsyncClient, Client, HealthStatus, RpcError, StatusCode


def lock_database(path, seconds):
    """Holds the database's write lock from this process for `seconds`."""
    ready = threading.Event()

    def hold():
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


def test_sync_every_status(feedbackd):
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


def test_authentication_failure(feedbackd):
    with Client(feedbackd.socket) as client:
        with pytest.raises(feedback_rpc.UnauthenticatedError) as error:
            client.submit_feedback(1, 1, token="not-a-jwt")
        assert error.value.code == StatusCode.UNAUTHENTICATED
        expired = feedbackd.token(ttl=-3600)
        with pytest.raises(RpcError) as error:
            client.submit_feedback(1, 1, token=expired)
        assert error.value.code == StatusCode.UNAUTHENTICATED
        assert error.value.message == "token has expired"


def test_verify_token_sync_and_async(feedbackd):
    with Client(feedbackd.socket) as client:
        client.verify_token(feedbackd.token())
        with pytest.raises(feedback_rpc.UnauthenticatedError):
            client.verify_token("not-a-jwt")

    async def run():
        async with AsyncClient(feedbackd.socket) as client:
            await client.verify_token(feedbackd.token())
            with pytest.raises(RpcError) as error:
                await client.verify_token(feedbackd.token(ttl=-3600))
            assert error.value.message == "token has expired"

    asyncio.run(run())


def test_store_unavailable(impatient_feedbackd):
    token = impatient_feedbackd.token()
    holder = lock_database(impatient_feedbackd.db, 1.5)
    with Client(impatient_feedbackd.socket) as client:
        with pytest.raises(feedback_rpc.UnavailableError) as error:
            client.submit_feedback(2, 1, token=token)
        assert error.value.message == "Feedback store unavailable."
        assert error.value.retryable
    holder.join()


def test_deadline(feedbackd):
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


def test_not_a_server(tmp_path):
    with Client(f"/tmp/fbpy-none-{time.time_ns()}.sock") as client:
        with pytest.raises(feedback_rpc.UnavailableError):
            client.check_health()


def test_sync_reconnects_after_restart(feedbackd):
    token = feedbackd.token()
    with Client(feedbackd.socket) as client:
        client.submit_feedback(5, 1, token=token)
        feedbackd.stop()
        with pytest.raises(feedback_rpc.UnavailableError):
            client.submit_feedback(6, 1, token=token)
        feedbackd.start()
        client.submit_feedback(6, -1, token=token)
    assert (feedbackd.rating(5), feedbackd.rating(6)) == (1, -1)


def test_async_200_concurrent_calls_on_one_connection(feedbackd):
    token = feedbackd.token()

    async def main():
        async with AsyncClient(feedbackd.socket) as client:
            await asyncio.gather(*(client.submit_feedback(i, 1 if i % 2 else -1, token=token) for i in range(1, 201)))
            assert client.connections_opened == 1
            with pytest.raises(feedback_rpc.NotFoundError):
                await client.submit_feedback(5000, 1, token=token)
            assert await client.check_health() == HealthStatus.SERVING

    asyncio.run(main())
    assert [feedbackd.rating(i) for i in (1, 2, 199, 200)] == [1, -1, 1, -1]


def test_async_deadline_and_restart(feedbackd):
    token = feedbackd.token()

    async def main():
        async with AsyncClient(feedbackd.socket) as client:
            await client.submit_feedback(7, 1, token=token)
            holder = lock_database(feedbackd.db, 1.0)
            with pytest.raises(feedback_rpc.DeadlineExceededError):
                await client.submit_feedback(8, 1, token=token, timeout=0.2)
            await asyncio.get_running_loop().run_in_executor(None, holder.join)
            feedbackd.stop()
            with pytest.raises(feedback_rpc.UnavailableError):
                await client.submit_feedback(9, 1, token=token)
            feedbackd.start()
            await client.submit_feedback(9, -1, token=token)
            assert client.connections_opened >= 2

    asyncio.run(main())
    assert (feedbackd.rating(7), feedbackd.rating(9)) == (1, -1)

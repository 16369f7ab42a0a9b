"""A holder of a read token floods the ratings feed (issue 21): 10 connections keep 100 calls each of
ListFeedbackEvents(page_size=1000) in flight over 2 KB subjects, while another client rates. feedbackd's
memory stays bounded (a page is read row by row up to its 15,000 bytes; at most a few pages are read at
once, the excess waits or gets RESOURCE_EXHAUSTED) and SubmitFeedback keeps answering OK.

Prints RSS and SubmitFeedback latency (the figures of BENCHMARKS.md); asserts the memory bounds, generously,
and that every rating was stored, never timing. Run it alone (under the build lock): it measures."""
import multiprocessing
import pathlib
import selectors
import socket
import sqlite3
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import Stack, wait_until  # noqa: E402
import rpc_frames  # noqa: E402
from feedback_rpc import Client, StatusCode  # noqa: E402
from feedback_rpc._calls import list_events_request  # noqa: E402
from feedback_rpc._frames import encode_hello  # noqa: E402
from feedback_rpc._payloads import decode_response, encode_request_frame, encode_request_payload  # noqa: E402
from feedback_rpc._protocol import Hello  # noqa: E402

CONNECTIONS, IN_FLIGHT, CALLS_PER_CONNECTION = 10, 100, 1500
EVENTS, SUBJECT_BYTES = 2000, 2048
MIB = 1024 * 1024
RESPONSE = 0x03


def status_kib(pid: int, key: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key}")


def flood(socket_path: str, token: str, started, results) -> None:
    """The attack, in a process of its own: each connection keeps IN_FLIGHT calls in flight until it has
    sent CALLS_PER_CONNECTION; answers are counted by status code. Sets `started` once every connection
    has its first IN_FLIGHT calls sent."""
    payload = encode_request_payload(list_events_request(0, 1000, token, 30.0, None))
    selector = selectors.DefaultSelector()
    state = {}
    for _ in range(CONNECTIONS):
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.connect(socket_path)
        peer.sendall(encode_hello(Hello()))
        peer.sendall(b"".join(encode_request_frame(call_id, payload) for call_id in range(1, IN_FLIGHT + 1)))
        peer.setblocking(False)
        state[peer] = {"sent": IN_FLIGHT, "answered": 0, "buffer": b""}
        selector.register(peer, selectors.EVENT_READ)
    started.set()
    codes: dict[int, int] = {}
    deadline = time.monotonic() + 300
    while any(s["answered"] < CALLS_PER_CONNECTION for s in state.values()) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            peer, s = key.fileobj, state[key.fileobj]
            data = peer.recv(1 << 20)
            if not data:
                raise AssertionError("feedbackd closed a flood connection")
            complete, s["buffer"] = rpc_frames.split(s["buffer"] + data)
            replies = []
            for frame_type, _, body in complete:
                if frame_type != RESPONSE:
                    continue
                code = decode_response(body).code
                codes[code] = codes.get(code, 0) + 1
                s["answered"] += 1
                if s["sent"] < CALLS_PER_CONNECTION:
                    s["sent"] += 1  # call ids strictly increase on a connection
                    replies.append(encode_request_frame(s["sent"], payload))
            if replies:
                peer.setblocking(True)
                peer.sendall(b"".join(replies))
                peer.setblocking(False)
    results.put(codes)


def test_a_feed_flood_keeps_memory_bounded_and_writes_answered(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, 101))
    try:
        pid = stack.feedbackd.pid
        with Client(stack.socket) as warm:
            warm.submit_feedback(1, 1, token=stack.token())  # feedback_events exists
        with sqlite3.connect(stack.db) as db:
            db.executemany(
                "INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (?, 1, ?, '2026-12-01T00:00:00.000Z')",
                [(i % 100 + 1, f"{i:08d}" + "s" * (SUBJECT_BYTES - 8)) for i in range(EVENTS)],
            )
        reader = subprocess.run(
            [str(stack.bin / "feedbackctl"), "token", "--secret-file", str(stack.secret), "--sub", "flood", "--scope", "feedback:read"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        writer = stack.token()
        with Client(stack.socket) as client:
            assert len(client.list_feedback_events(0, 1000, token=reader).events) > 0  # the path is warm
            before = status_kib(pid, "VmRSS")
            context = multiprocessing.get_context("fork")
            started, results = context.Event(), context.Queue()
            attacker = context.Process(target=flood, args=(stack.socket, reader, started, results))
            attacker.start()
            assert started.wait(60)
            latencies, rated = [], 0
            peak = before
            while attacker.is_alive() and results.empty():
                rated += 1
                begun = time.perf_counter()
                client.submit_feedback(rated % 100 + 1, 1 if rated % 2 else -1, token=writer)  # raises unless OK
                latencies.append(time.perf_counter() - begun)
                peak = max(peak, status_kib(pid, "VmRSS"))
            attacker.join(300)
            assert attacker.exitcode == 0, "the flood failed (its traceback is above)"
            codes = results.get(timeout=60)  # flushed before the flood exited: a hang guard only
            high_water = status_kib(pid, "VmHWM")
            # Once the flood is over, RSS must come back under +48 MiB (waited for, not timed).
            settled = wait_until(lambda: (status_kib(pid, "VmRSS") - before) * 1024 < 48 * MIB)
            after = status_kib(pid, "VmRSS")
        with sqlite3.connect(stack.db) as db:
            stored = db.execute("SELECT count(*) FROM feedback_events WHERE subject = 'test-user'").fetchone()[0]
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0
        named = {StatusCode(code).name: count for code, count in sorted(codes.items())}
        print(f"\nfeed flood: {CONNECTIONS} connections x {IN_FLIGHT} in flight, {CONNECTIONS * CALLS_PER_CONNECTION} calls, "
              f"page_size 1000, {SUBJECT_BYTES} B subjects: answers {named}")
        print(f"RSS before {before / 1024:.1f} MiB, peak +{(max(peak, high_water) - before) / 1024:.1f} MiB "
              f"(VmHWM {high_water / 1024:.1f} MiB), after the flood +{(after - before) / 1024:.1f} MiB")
        print(f"SubmitFeedback during the flood: {len(latencies)} calls, all OK, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {latencies[-1] * 1000 if latencies else 0:.1f} ms")
        assert sum(codes.values()) == CONNECTIONS * CALLS_PER_CONNECTION
        assert set(codes) <= {StatusCode.OK, StatusCode.RESOURCE_EXHAUSTED}, named
        assert codes.get(StatusCode.OK, 0) > 0
        assert stored == rated + 1, "every rating answered OK is stored"
        assert (max(peak, high_water) - before) * 1024 < 96 * MIB, "peak RSS more than +96 MiB"
        assert settled, f"RSS after the flood stayed over +48 MiB (+{(after - before) / 1024:.1f} MiB)"
    finally:
        stack.close()

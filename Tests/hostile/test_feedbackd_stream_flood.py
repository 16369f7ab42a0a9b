"""Readers of the live feed (WatchFeedbackEvents, protocol version 2) that ask for everything and never read: each
grants the largest credit the server allows on many streams and reads nothing from its socket. feedbackd sends only
while a connection takes bytes (writability), so they cost it about a high-water mark per connection, not their
credit (64 streams x 256 messages x 15 KB would be 245 MB); other clients are served meanwhile."""
import pathlib
import socket
import sqlite3
import struct
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import Stack, mint, wait_until  # noqa: E402
from feedback_rpc import Client, HealthStatus  # noqa: E402
from feedback_rpc._frames import encode_frame, encode_hello  # noqa: E402
from feedback_rpc._payloads import encode_request_frame, encode_request_payload  # noqa: E402
from feedback_rpc._proto import feedback_pb2  # noqa: E402
from feedback_rpc._protocol import STREAM_FLAG, FrameType, Hello, Request  # noqa: E402

WATCH = "/feedback.v1.FeedbackService/WatchFeedbackEvents"
EVENTS = 200_000
CONNECTIONS = 8
STREAMS_PER_CONNECTION = 8
MAX_STREAM_CREDIT = 256


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_readers_that_never_read_cost_a_bounded_buffer(tmp_path):
    stack = Stack(tmp_path)
    try:
        # A long history of ratings (stored by another writer: what a watch from 0 reads first), ~100 bytes each.
        with sqlite3.connect(stack.db) as db:
            db.executemany(
                "INSERT INTO feedback_events (interaction_id, rating, subject, created_at) VALUES (?, ?, ?, ?)",
                ((i % 3 + 1, 1, f"subject-{i:08d}-" + "x" * 48, "2026-12-06T10:00:00.000Z") for i in range(EVENTS)),
            )
        reader = mint(stack.secret.read_bytes(), "flood", scope="feedback:read")
        with Client(stack.socket) as warm:
            assert warm.check_health() == HealthStatus.SERVING
        before = rss_bytes(stack.feedbackd.pid)
        payload = encode_request_payload(Request(WATCH, [("authorization", f"Bearer {reader}")],
                                                 feedback_pb2.WatchFeedbackEventsRequest().SerializeToString()))
        peers = []
        for _ in range(CONNECTIONS):
            peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            peer.connect(stack.socket)
            peer.sendall(encode_hello(Hello(2)))
            # The server's HELLO first: streams need the connection's version.
            peer.settimeout(10)
            header = peer.recv(10, socket.MSG_WAITALL)
            (length,) = struct.unpack(">I", header[:4])
            peer.recv(length, socket.MSG_WAITALL)
            calls = b"".join(
                encode_request_frame(call_id, payload, STREAM_FLAG)
                + encode_frame(FrameType.CREDIT, call_id, struct.pack(">I", MAX_STREAM_CREDIT))
                for call_id in range(1, STREAMS_PER_CONNECTION + 1)
            )
            peer.sendall(calls)
            peers.append(peer)
        # feedbackd sends until every connection's buffers are full, then waits; its memory settles.
        samples = []

        def settled():
            samples.append(rss_bytes(stack.feedbackd.pid))
            return len(samples) > 20 and max(samples[-20:]) - min(samples[-20:]) < 512 * 1024

        assert wait_until(settled, timeout=120, interval=0.1)
        grown = max(samples) - before
        print(f"\nfeedbackd RSS {before / 2**20:.1f} MiB before, {max(samples) / 2**20:.1f} MiB at most with "
              f"{CONNECTIONS * STREAMS_PER_CONNECTION} streams of credit {MAX_STREAM_CREDIT} unread "
              f"(+{grown / 2**20:.1f} MiB)")
        assert grown < 48 * 2**20, f"feedbackd grew by {grown} bytes for readers that never read"
        # Everyone else is served as usual, and the feed is still read by a reader that reads.
        writer = mint(stack.secret.read_bytes(), "writer")
        with Client(stack.socket) as other:
            other.submit_feedback(1, -1, token=writer)
            assert other.check_health() == HealthStatus.SERVING
            assert other.list_feedback_events(token=reader, page_size=1).events[0].event_id == 1
        assert stack.rating(1) == -1
        for peer in peers:
            peer.close()
    finally:
        stack.close()

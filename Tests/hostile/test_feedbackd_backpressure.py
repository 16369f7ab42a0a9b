"""A peer that sends calls and never reads the answers: feedbackd stops reading it (backpressure), so its
memory stays bounded, and other clients are served meanwhile."""
import pathlib
import select
import socket
import struct
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import Stack  # noqa: E402
from feedback_rpc import Client, HealthStatus  # noqa: E402
from feedback_rpc._frames import encode_hello  # noqa: E402
from feedback_rpc._payloads import encode_request  # noqa: E402
from feedback_rpc._protocol import Hello, Request  # noqa: E402

HEALTH = "/feedback.health.v1.Health/Check"


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def health_frames(first_id: int, count: int, payload: bytes) -> bytes:
    """`count` REQUEST frames for Health/Check with consecutive call ids (the payload has no call id)."""
    header = struct.Struct(">IIBB")
    return b"".join(header.pack(len(payload), call_id, 0x02, 0) + payload for call_id in range(first_id, first_id + count))


def test_a_peer_that_never_reads_is_stopped_and_costs_little_memory(tmp_path):
    stack = Stack(tmp_path)
    try:
        with Client(stack.socket) as warm:
            assert warm.check_health() == HealthStatus.SERVING
        before = rss_bytes(stack.feedbackd.pid)
        payload = encode_request(1, Request(method=HEALTH))[10:]
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.connect(stack.socket)
        peer.sendall(encode_hello(Hello()))
        peer.setblocking(False)
        sent, next_id, stopped = 0, 1, False
        started = time.monotonic()
        pending = b""
        # Up to 256 MB of calls: without backpressure feedbackd reads them all and keeps every answer.
        while sent < 256 * 1024 * 1024 and time.monotonic() - started < 60:
            if not pending:
                pending = health_frames(next_id, 10_000, payload)
                next_id += 10_000
            try:
                written = peer.send(pending)
                sent += written
                pending = pending[written:]
            except BlockingIOError:
                # The server stopped reading: nothing can be written for 2 s.
                _, writable, _ = select.select([], [peer], [], 2)
                if not writable:
                    stopped = True
                    break
        assert stopped, f"feedbackd kept reading ({sent} bytes sent)"
        grown = rss_bytes(stack.feedbackd.pid) - before
        assert grown < 16 * 1024 * 1024, f"feedbackd grew by {grown} bytes for a peer that never reads"
        # Everyone else is served as usual.
        with Client(stack.socket) as other:
            assert other.check_health() == HealthStatus.SERVING
            token = stack.token()
            other.submit_feedback(1, 1, token=token)
        assert stack.rating(1) == 1
        peer.close()
    finally:
        stack.close()


def test_an_idle_flood_does_not_lock_out_a_fresh_client(tmp_path):
    """1,100 connections that send HELLO and nothing else: feedbackd (limit 1,024) evicts the longest
    idle to admit a newcomer, who is served at once."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    stack = Stack(tmp_path)
    flood = []
    try:
        for _ in range(1100):
            peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            peer.connect(stack.socket)
            peer.sendall(encode_hello(Hello()))
            flood.append(peer)
        # Every flood connection has been accepted and greeted (its first bytes are feedbackd's HELLO).
        for peer in flood:
            peer.settimeout(10)
            assert len(peer.recv(16)) > 0
        started = time.monotonic()
        with Client(stack.socket, timeout=5) as fresh:
            assert fresh.check_health() == HealthStatus.SERVING
            fresh.submit_feedback(2, -1, token=stack.token())
        assert time.monotonic() - started < 5
        assert stack.rating(2) == -1
    finally:
        for peer in flood:
            peer.close()
        stack.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

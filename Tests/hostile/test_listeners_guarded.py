"""Every listener guarded (issue 21, item 5): a flood of idle connections to a metrics port (--metrics-listen)
holds at most its cap of descriptors, so that feedbackd keeps answering on its socket and the gateway on its
HTTP port under `nofile=1024`; the flood's extra connections are answered 503 and closed, the held ones
closed at the head deadline; a metrics port that cannot be bound stops start-up before anything listens.
Every wait is on an event (an answer, a close, an exit) with a generous upper bound."""
import os
import pathlib
import selectors
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import Stack, bin_path, free_port, nofile_limit, wait_until  # noqa: E402
from feedback_rpc import Client, HealthStatus  # noqa: E402

FLOOD = 1100
METRICS_CAP = 16  # MetricsEndpoint.defaultConnectionLimits
METRICS_HEAD_TIMEOUT_S = 10


class Flood:
    """Idle TCP connections to a port, opened in batches of `batch` (so that the kernel's accept queue never
    overflows and every connection reaches the server), each batch followed by reading the server's
    answers until all but `cap` of the connections so far were answered 503 and closed, or `bound` seconds
    pass (a server that holds every connection lets the flood go on all the same)."""

    def __init__(self, port: int, total: int = FLOOD, batch: int = 100, cap: int = METRICS_CAP, bound: float = 5):
        self.selector = selectors.DefaultSelector()
        self.refused = 0
        opened = 0
        while opened < total:
            for _ in range(min(batch, total - opened)):
                peer = socket.socket()
                peer.setblocking(False)
                peer.connect_ex(("127.0.0.1", port))
                self.selector.register(peer, selectors.EVENT_READ, b"")
                opened += 1
            self._read_until(lambda: self.refused >= opened - cap, bound)

    @property
    def held(self) -> list:
        """The connections the server keeps open."""
        return [key.fileobj for key in self.selector.get_map().values()]

    def _read_until(self, done, bound: float):
        deadline = time.monotonic() + bound
        while not done() and time.monotonic() < deadline:
            for key, _ in self.selector.select(timeout=max(0.05, deadline - time.monotonic())):
                peer = key.fileobj
                try:
                    chunk = peer.recv(65536)
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                if chunk:
                    self.selector.modify(peer, selectors.EVENT_READ, key.data + chunk)
                    continue
                if key.data.startswith(b"HTTP/1.1 503"):
                    self.refused += 1
                self.selector.unregister(peer)
                peer.close()

    def close(self):
        for peer in self.held:
            peer.close()
        self.selector.close()


def socket_descriptors(pid: int) -> int:
    """Sockets the process holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except FileNotFoundError:
            pass
    return count


def scrape_status(port: int):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def closed_by_peer(peer: socket.socket, timeout: float) -> bool:
    peer.setblocking(True)
    peer.settimeout(timeout)
    try:
        return peer.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_a_metrics_flood_leaves_feedbackd_answering_on_its_socket(tmp_path):
    """1,100 idle connections to feedbackd's metrics port under nofile=1024: its socket answers health and
    SubmitFeedback meanwhile (before: nothing until the flood closed); the port holds 16 of them and
    answers the rest 503."""
    metrics_port = free_port()
    stack = Stack(tmp_path, feedbackd_args=["--metrics-listen", f"127.0.0.1:{metrics_port}"], preexec_fn=nofile_limit(1024))
    token = stack.token()
    baseline = socket_descriptors(stack.feedbackd.pid)
    flood = Flood(metrics_port)
    try:
        # The point: the socket is not starved.
        with Client(stack.socket, timeout=10) as client:
            assert client.check_health() == HealthStatus.SERVING
            client.submit_feedback(1, 1, token=token)
        assert stack.rating(1) == 1
        assert flood.refused >= FLOOD - METRICS_CAP, f"only {flood.refused} of the extra connections were answered 503"
        # Sockets feedbackd holds beyond those it had: the metrics port's cap, and the Python client's
        # connection, which may still be closing on feedbackd's side.
        assert socket_descriptors(stack.feedbackd.pid) - baseline <= METRICS_CAP + 1
    finally:
        flood.close()
        stack.close()


def test_a_metrics_flood_leaves_the_gateway_answering(tmp_path):
    """The same flood against the gateway's metrics port: /feedback and /healthz keep answering."""
    metrics_port = free_port()
    stack = Stack(tmp_path, gateway_args=["--metrics-listen", f"127.0.0.1:{metrics_port}"], preexec_fn=nofile_limit(1024))
    token = stack.token()
    flood = Flood(metrics_port)
    try:
        with urllib.request.urlopen(stack.url + "/healthz", timeout=10) as response:
            assert response.status == 200
        request = urllib.request.Request(
            stack.url + "/feedback", data=b'{"interaction_id": 2, "rating": -1}', method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204
        assert stack.rating(2) == -1
        assert flood.refused >= FLOOD - METRICS_CAP, f"only {flood.refused} of the extra connections were answered 503"
    finally:
        flood.close()
        stack.close()


def test_an_idle_metrics_connection_is_closed_at_the_head_deadline(tmp_path):
    """A connection that sends nothing, and one that sends half a head, are closed 10 s after connecting
    (before: held for ever); a scrape on a fresh connection is served meanwhile."""
    metrics_port = free_port()
    stack = Stack(tmp_path, feedbackd_args=["--metrics-listen", f"127.0.0.1:{metrics_port}"])
    try:
        silent = socket.create_connection(("127.0.0.1", metrics_port), timeout=10)
        partial = socket.create_connection(("127.0.0.1", metrics_port), timeout=10)
        partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        assert scrape_status(metrics_port) == 200
        assert closed_by_peer(silent, METRICS_HEAD_TIMEOUT_S + 20), "an idle metrics connection outlived the head deadline"
        assert closed_by_peer(partial, 5), "a half-sent head outlived the head deadline"
        silent.close()
        partial.close()
    finally:
        stack.close()


def taken_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def test_feedbackd_with_a_metrics_port_it_cannot_bind_never_creates_its_socket(tmp_path):
    """Exit 2 naming --metrics-listen, and the socket never created (before: created, served, then exit 1)."""
    import sqlite3
    db = tmp_path / "chat.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE interactions (id INTEGER PRIMARY KEY, feedback INTEGER)")
    (tmp_path / "secret").write_text("s" * 48)
    socket_dir = tmp_path / "run"
    socket_dir.mkdir()
    before = os.stat(socket_dir).st_mtime_ns
    holder = taken_port()
    try:
        result = subprocess.run(
            [str(bin_path() / "feedbackd"), "--socket", str(socket_dir / "f.sock"), "--db", str(db),
             "--jwt-secret-file", str(tmp_path / "secret"), "--log-level", "info",
             "--metrics-listen", f"127.0.0.1:{holder.getsockname()[1]}"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.close()
    assert result.returncode == 2, result.stderr
    assert "feedbackd: --metrics-listen: cannot listen on 127.0.0.1:" in result.stderr, result.stderr
    assert "rpc.server_listening" not in result.stderr, result.stderr
    assert os.stat(socket_dir).st_mtime_ns == before, "the socket was created (and removed) in its directory"


def test_the_gateway_with_a_metrics_port_it_cannot_bind_never_listens(tmp_path):
    holder = taken_port()
    http_port = free_port()
    try:
        result = subprocess.run(
            [str(bin_path() / "feedback-gateway"), "--listen", f"127.0.0.1:{http_port}", "--socket", str(tmp_path / "none.sock"),
             "--log-level", "info", "--metrics-listen", f"127.0.0.1:{holder.getsockname()[1]}"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
    finally:
        holder.close()
    assert result.returncode == 2, result.stderr
    assert "feedback-gateway: --metrics-listen: cannot listen on 127.0.0.1:" in result.stderr, result.stderr
    assert "gateway.listening" not in result.stderr, result.stderr

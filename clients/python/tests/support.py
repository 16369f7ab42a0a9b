"""What the tests share: a real feedbackd process, and a fake server speaking protocol/SPEC.md's frames.

The fake server's frames are written here from SPEC.md with ``struct`` alone, not with the package's codec, so
that the client is checked against bytes it did not produce.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import socket
import sqlite3
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from feedback_rpc import MethodDescription, ServiceDescription

ROOT = pathlib.Path(__file__).resolve().parents[3]
SOURCE = ROOT / "clients" / "python"

HELLO, REQUEST, RESPONSE, CANCEL, PING, PONG, GOAWAY = 1, 2, 3, 4, 5, 6, 7
NO_ERROR, PROTOCOL_ERROR, REFUSED = 0, 1, 5
SERVING_BODY = b"\x08\x01"  # HealthCheckResponse{status: SERVING}
HEALTH = "/feedback.health.v1.Health/Check"
_HEADER = struct.Struct(">IIBB")


# ---------------------------------------------------------------- frames, from SPEC.md


def frame(frame_type: int, call_id: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(len(payload), call_id, frame_type, 0) + payload


def hello(settings: dict[int, int] | None = None, version: int = 1) -> bytes:
    """A server HELLO (a frame), version 1 unless told; ``settings`` by id (2: MAX_CONCURRENT_CALLS)."""
    payload = b"FBRP" + struct.pack(">H", version)
    payload += b"".join(struct.pack(">HI", key, value) for key, value in (settings or {}).items())
    return frame(HELLO, 0, payload)


def goaway(last_call_id: int, error_code: int = NO_ERROR, debug: str = "") -> bytes:
    return frame(GOAWAY, 0, struct.pack(">II", last_call_id, error_code) + debug.encode())


def response(call_id: int, code: int = 0, message: str = "", body: bytes = b"") -> bytes:
    text = message.encode()
    return frame(RESPONSE, call_id, struct.pack(">II", code, len(text)) + text + struct.pack(">I", 0) + body)


def request_method(payload: bytes) -> str:
    """The ``:method`` of a REQUEST payload (SPEC.md sections 5 and 7)."""
    (length,) = struct.unpack_from(">I", payload, 0)
    offset, end = 4, 4 + length
    while offset < end:
        key_length = payload[offset]
        key = payload[offset + 1 : offset + 1 + key_length]
        (value_length,) = struct.unpack_from(">H", payload, offset + 1 + key_length)
        value = payload[offset + 3 + key_length : offset + 3 + key_length + value_length]
        if key == b":method":
            return value.decode()
        offset += 3 + key_length + value_length
    raise AssertionError("REQUEST without :method")


# ---------------------------------------------------------------- the fake server


@dataclass
class Frame:
    type: int
    call_id: int
    payload: bytes


@dataclass
class Peer:
    """One connection the fake server accepted: what it read, and how to answer."""

    sock: socket.socket
    index: int
    requests: list[tuple[int, str]] = field(default_factory=list)
    """(call id, :method) of every REQUEST read."""
    _buffer: bytes = b""

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream (a 10 s read timeout fails the script)."""
        while True:
            if len(self._buffer) >= 10:
                length, call_id, frame_type, _ = _HEADER.unpack_from(self._buffer)
                if len(self._buffer) >= 10 + length:
                    payload = self._buffer[10 : 10 + length]
                    self._buffer = self._buffer[10 + length :]
                    if frame_type == REQUEST:
                        self.requests.append((call_id, request_method(payload)))
                    return Frame(frame_type, call_id, payload)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self._buffer += data

    def expect(self, frame_type: int) -> Frame:
        got = self.read()
        assert got is not None, f"connection {self.index}: the client closed, expected frame type {frame_type}"
        assert got.type == frame_type, f"connection {self.index}: frame type {got.type}, expected {frame_type}"
        return got

    def handshake(self, settings: dict[int, int] | None = None) -> None:
        """Sends the server's HELLO and reads the client's."""
        self.send(hello(settings))
        self.expect(HELLO)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def serve(self) -> None:
        """Answers every REQUEST: SERVING for Health/Check, an empty OK for anything else, until the client closes."""
        while (got := self.read()) is not None:
            if got.type == REQUEST:
                body = SERVING_BODY if request_method(got.payload) == HEALTH else b""
                self.send(response(got.call_id, body=body))
            elif got.type == PING:
                self.send(frame(PONG, 0, got.payload))
            elif got.type == GOAWAY:
                return


Script = Callable[[Peer], None]


def well_behaved(peer: Peer) -> None:
    """A correct server: HELLO, then an answer to every call."""
    peer.handshake()
    peer.serve()


class FakeServer:
    """A Unix socket served by threads: the n-th connection runs ``scripts[n]`` (a function of its ``Peer``), and
    connections beyond the scripts get ``well_behaved``: so a client that reconnects when it should not gets an
    answer, and the test that expected an error fails.

    The socket is bound and listening when the constructor returns: a client may connect at once (no sleep).
    A script's exception (a failed ``expect``) is raised again by ``close()``.
    """

    def __init__(self, scripts: list[Script]):
        self.path = f"/tmp/fbpy-fake-{secrets.token_hex(6)}.sock"
        self.scripts = scripts
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(16)
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def connections(self) -> int:
        return len(self.peers)

    def requests(self) -> list[list[tuple[int, str]]]:
        """The REQUESTs each connection read, connection by connection."""
        return [peer.requests for peer in self.peers]

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # closed
            sock.settimeout(10)
            peer = Peer(sock, len(self.peers))
            self.peers.append(peer)
            script = self.scripts[peer.index] if peer.index < len(self.scripts) else well_behaved
            thread = threading.Thread(target=self._run, args=(script, peer), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, script: Script, peer: Peer) -> None:
        try:
            script(peer)
        except BaseException as error:
            self.errors.append(error)
        finally:
            peer.sock.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(10)
        for thread in self._threads:
            thread.join(15)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self.errors:
            raise self.errors[0]


@contextlib.contextmanager
def fake_server(*scripts: Script) -> Iterator[FakeServer]:
    server = FakeServer(list(scripts))
    try:
        yield server
    finally:
        server.close()


# ---------------------------------------------------------------- a real feedbackd


def bin_path() -> pathlib.Path:
    """The debug products scripts/build.sh made (SwiftPM links .build/debug to them)."""
    path = ROOT / ".build" / "debug"
    if (path / "feedbackd").exists():
        return path
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True)
    return pathlib.Path(out.stdout.strip())


class Feedbackd:
    def __init__(self, tmp: pathlib.Path, busy_timeout_ms: int = 5000):
        self.bin = bin_path()
        self.tmp = tmp
        self.db = tmp / "chat.db"
        self.secret = tmp / "secret"
        self.socket = f"/tmp/fbpy-{secrets.token_hex(4)}.sock"
        self.busy_timeout_ms = busy_timeout_ms
        self.secret.write_text(secrets.token_urlsafe(48))
        with sqlite3.connect(self.db) as db:
            db.execute(
                "CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, feedback INTEGER)"
            )
            db.executemany("INSERT INTO interactions (id) VALUES (?)", [(i,) for i in range(1, 301)])
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with open(self.tmp / "feedbackd.log", "a") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "feedbackd"),
                    "--socket",
                    self.socket,
                    "--db",
                    str(self.db),
                    "--jwt-secret-file",
                    str(self.secret),
                    "--log-level",
                    "warning",
                    "--busy-timeout-ms",
                    str(self.busy_timeout_ms),
                ],
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):  # feedbackd creates the socket once it listens
            assert self.process.poll() is None, (self.tmp / "feedbackd.log").read_text()
            assert time.monotonic() < deadline, "feedbackd did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def token(self, sub: str = "py-client", ttl: int = 3600, scope: str | None = None) -> str:
        """A token feedbackd accepts; ``scope`` is its scope claim (``"feedback:read"`` to read the feed)."""
        scope_args = [] if scope is None else ["--scope", scope]
        return subprocess.run(
            [
                str(self.bin / "feedbackctl"),
                "token",
                "--secret-file",
                str(self.secret),
                "--sub",
                sub,
                f"--ttl={ttl}",
                *scope_args,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def rating(self, interaction_id: int) -> int | None:
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT feedback FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
            return None if row is None or row[0] is None else int(row[0])


# ---------------------------------------------------------------- what feedbackd serves

# (service, method, request type, response type, requires a token): feedbackd's ListServices answer, which the
# live test compares with the server's and the golden vector response-ok-list-services encodes.
SERVED_METHODS = [
    ("feedback.health.v1.Health", "Check", "feedback.health.v1.HealthCheckRequest",
     "feedback.health.v1.HealthCheckResponse", False),
    ("feedback.reflection.v1.Reflection", "ListServices", "feedback.reflection.v1.ListServicesRequest",
     "feedback.reflection.v1.ListServicesResponse", False),
    ("feedback.v1.FeedbackService", "ListFeedbackEvents", "feedback.v1.ListFeedbackEventsRequest",
     "feedback.v1.ListFeedbackEventsResponse", True),
    ("feedback.v1.FeedbackService", "SubmitFeedback", "feedback.v1.SubmitFeedbackRequest",
     "feedback.v1.SubmitFeedbackResponse", True),
    ("feedback.v1.FeedbackService", "VerifyToken", "feedback.v1.VerifyTokenRequest",
     "feedback.v1.VerifyTokenResponse", True),
    ("feedback.v1.FeedbackService", "WatchFeedbackEvents", "feedback.v1.WatchFeedbackEventsRequest",
     "feedback.v1.WatchFeedbackEventsResponse", True),
]
STREAMING_METHODS = {"WatchFeedbackEvents"}


def served_services() -> tuple[ServiceDescription, ...]:
    """SERVED_METHODS as list_services() returns them."""
    names = sorted({service for service, *_ in SERVED_METHODS})
    return tuple(
        ServiceDescription(
            name,
            tuple(
                MethodDescription(method, f"/{service}/{method}", request, response, token, method in STREAMING_METHODS)
                for service, method, request, response, token in SERVED_METHODS
                if service == name
            ),
        )
        for name in names
    )

"""Real feedbackd and feedback-gateway processes for Python tests (the widget's and the compat suite)."""
import base64
import hashlib
import hmac
import json
import os
import pathlib
import resource
import secrets
import socket
import sqlite3
import subprocess
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]


def bin_path() -> pathlib.Path:
    """The debug products scripts/build.sh made (SwiftPM links .build/debug to them)."""
    path = ROOT / ".build" / "debug"
    if (path / "feedbackd").exists():
        return path
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True)
    return pathlib.Path(out.stdout.strip())


def mint(secret: bytes, sub: str, ttl: int = 3600, scope: str | None = None) -> str:
    """An HS256 token, as feedbackctl token makes, without a process: a fresh subject is a token
    feedbackd never verified. `scope` is its scope claim ("feedback:read" to read the feed)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = {"sub": sub, "exp": int(time.time()) + ttl}
    if scope is not None:
        payload["scope"] = scope
    claims = b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=120.0, interval=0.05):
    """Polls `predicate` until it holds. `timeout` only stops a test that would otherwise hang: far above
    what any wait takes on a busy machine, so that load never turns a slow pass into a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def nofile_limit(limit: int):
    """A `preexec_fn` giving the child at most `limit` open descriptors (soft and hard: it cannot raise it)."""
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


class Stack:
    """feedbackd + feedback-gateway on a fresh database holding `interactions` (default 1, 2, 3)."""

    def __init__(self, tmp: pathlib.Path, allowed_origin: str = "", interactions=(1, 2, 3), gateway_args=(),
                 feedbackd_args=(), secret=None, preexec_fn=None):
        """`preexec_fn` runs in both children before they start (e.g. `nofile_limit(1024)`)."""
        self.bin = bin_path()
        self.preexec_fn = preexec_fn
        self.tmp = tmp
        self.db = tmp / "chat.db"
        self.secret = tmp / "secret"
        self.secret.write_text(secret or secrets.token_urlsafe(48))
        self.socket = f"/tmp/fbs-{secrets.token_hex(4)}.sock"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with sqlite3.connect(self.db) as db:
            db.execute("CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, feedback INTEGER)")
            db.executemany("INSERT INTO interactions (id, question) VALUES (?, 'q')", [(i,) for i in interactions])
        self.feedbackd = None
        self.feedbackd_args = list(feedbackd_args)
        self.start_feedbackd()
        origins = ["--allowed-origin", allowed_origin] if allowed_origin else []
        self.gateway = subprocess.Popen(
            [str(self.bin / "feedback-gateway"), "--listen", f"127.0.0.1:{self.port}", "--socket", self.socket,
             "--log-level", "warning", *origins, *gateway_args],
            stderr=open(tmp / "gateway.log", "w"),
            cwd=tmp,  # not the repository: the widget is the one compiled into the gateway
            preexec_fn=preexec_fn,
        )
        assert wait_until(lambda: self._get("/healthz") == 200), (tmp / "gateway.log").read_text()

    def start_feedbackd(self):
        self.feedbackd = subprocess.Popen(
            [str(self.bin / "feedbackd"), "--socket", self.socket, "--db", str(self.db),
             "--jwt-secret-file", str(self.secret), "--log-level", "warning", *self.feedbackd_args],
            stderr=open(self.tmp / "feedbackd.log", "a"),
            preexec_fn=self.preexec_fn,
        )
        assert wait_until(lambda: os.path.exists(self.socket)), (self.tmp / "feedbackd.log").read_text()

    def stop_feedbackd(self):
        self.feedbackd.terminate()
        self.feedbackd.wait(10)

    def _get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return response.status
        except Exception:
            return None

    def token(self, sub="test-user", ttl=3600) -> str:
        out = subprocess.run(
            [str(self.bin / "feedbackctl"), "token", "--secret-file", str(self.secret), "--sub", sub, f"--ttl={ttl}"],
            capture_output=True, text=True, check=True,
        )
        return out.stdout.strip()

    def rating(self, interaction_id: int):
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT feedback FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
            return row[0] if row else None

    def close(self):
        for process in (self.gateway, self.feedbackd):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        if os.path.exists(self.socket):
            os.unlink(self.socket)

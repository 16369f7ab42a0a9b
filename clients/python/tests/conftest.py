"""Fixtures: a real feedbackd (the built binary) on a temporary socket and database."""
import os
import pathlib
import secrets
import sqlite3
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))


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
            db.execute("CREATE TABLE interactions (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, feedback INTEGER)")
            db.executemany("INSERT INTO interactions (id) VALUES (?)", [(i,) for i in range(1, 301)])
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [str(self.bin / "feedbackd"), "--socket", self.socket, "--db", str(self.db), "--jwt-secret-file",
             str(self.secret), "--log-level", "warning", "--busy-timeout-ms", str(self.busy_timeout_ms)],
            stderr=open(self.tmp / "feedbackd.log", "a"),
        )
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):
            assert self.process.poll() is None, (self.tmp / "feedbackd.log").read_text()
            assert time.monotonic() < deadline, "feedbackd did not start"
            time.sleep(0.02)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def token(self, sub="py-client", ttl=3600, scope=None) -> str:
        """A token feedbackd accepts; ``scope`` is its scope claim (``"feedback:read"`` to read the feed)."""
        scope_args = [] if scope is None else ["--scope", scope]
        return subprocess.run(
            [str(self.bin / "feedbackctl"), "token", "--secret-file", str(self.secret), "--sub", sub, f"--ttl={ttl}",
             *scope_args],
            capture_output=True, text=True, check=True,
        ).stdout.strip()

    def rating(self, interaction_id: int):
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT feedback FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
            return row[0] if row else None


@pytest.fixture()
def feedbackd(tmp_path):
    server = Feedbackd(tmp_path)
    yield server
    server.stop()


@pytest.fixture()
def impatient_feedbackd(tmp_path):
    """A feedbackd that gives up on a locked database after 200 ms."""
    server = Feedbackd(tmp_path, busy_timeout_ms=200)
    yield server
    server.stop()

"""feedbackd on PostgreSQL, as processes: two feedbackd on one database, feedbackd killed, PostgreSQL
restarted, all under load. The invariant each time: every rating acknowledged OK is in the database
(its audit row, signed by the caller that got the OK); the service recovers by itself.

Needs the throw-away cluster scripts/test.sh starts (FEEDBACK_TEST_POSTGRES)."""
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import threading
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import bin_path, wait_until  # noqa: E402
from feedback_rpc import Client, HealthStatus, RpcError  # noqa: E402

CLUSTER = os.environ.get("FEEDBACK_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(not CLUSTER, reason="needs the cluster of scripts/test.sh (FEEDBACK_TEST_POSTGRES)")
ROWS = 200


def socket_dir() -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(CLUSTER).query)["host"][0]


def psql(database: str, sql: str) -> str:
    port = str(urllib.parse.urlparse(CLUSTER).port or 5432)
    out = subprocess.run(["psql", "-h", socket_dir(), "-p", port, "-U", "postgres", "-d", database, "-Atqc", sql],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret"
    path.write_text(secrets.token_urlsafe(48))
    return path


@pytest.fixture
def database():
    name = f"fbp_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {name}")
    psql(name, "CREATE TABLE interactions (id BIGINT PRIMARY KEY, question TEXT, feedback INTEGER)")
    psql(name, f"INSERT INTO interactions (id, question) SELECT g, 'q' FROM generate_series(1, {ROWS}) AS g")
    yield name
    psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


class Feedbackd:
    def __init__(self, tmp: pathlib.Path, database: str, secret: pathlib.Path):
        url = CLUSTER.replace("/postgres?", f"/{database}?")
        self.socket = f"/tmp/fbpg-{secrets.token_hex(4)}.sock"
        self.log = tmp / f"feedbackd-{secrets.token_hex(2)}.log"
        self.process = subprocess.Popen(
            [str(bin_path() / "feedbackd"), "--socket", self.socket, "--postgres-url", url,
             "--jwt-secret-file", str(secret), "--log-level", "warning"],
            stderr=open(self.log, "w"),
        )
        assert wait_until(self.serving), self.log.read_text()

    def serving(self) -> bool:
        try:
            with Client(self.socket, timeout=2, connect_timeout=1) as client:
                return client.check_health() == HealthStatus.SERVING
        except (OSError, RpcError):
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            # Only a hang guard: feedbackd's own shutdown may wait for work it gave up on up to the connect
            # timeout plus twice the statement timeout and a second (16 s), more on a busy machine.
            self.process.wait(60)


def token(secret: pathlib.Path, sub: str) -> str:
    out = subprocess.run([str(bin_path() / "feedbackctl"), "token", "--secret-file", str(secret), "--sub", sub, "--ttl=3600"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Load:
    """Threads rating interactions through one feedbackd each until stopped; each thread signs with a
    subject of its own and counts the OKs it got."""

    def __init__(self, sockets, secret):
        self.stop_event = threading.Event()
        self.acknowledged = {}
        self.threads = []
        for index, path in enumerate(sockets * 2):
            subject = f"load-{index}-{secrets.token_hex(2)}"
            self.acknowledged[subject] = 0
            thread = threading.Thread(target=self.run, args=(path, subject, token(secret, subject)), daemon=True)
            self.threads.append(thread)

    def run(self, path, subject, jwt):
        n = 0
        while not self.stop_event.is_set():
            n += 1
            try:
                with Client(path, timeout=10, connect_timeout=1) as client:
                    while not self.stop_event.is_set():
                        n += 1
                        client.submit_feedback(n % ROWS + 1, 1 if n % 2 else -1, token=jwt)
                        self.acknowledged[subject] += 1
            except (OSError, RpcError):
                self.stop_event.wait(0.01)  # reconnect after a failure (feedbackd or PostgreSQL away)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, calls: int):
        assert wait_until(lambda: sum(self.acknowledged.values()) >= calls, timeout=30), self.acknowledged

    def __exit__(self, *exc):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(15)


def assert_every_acknowledged_rating_stored(database: str, load: Load):
    for subject, count in load.acknowledged.items():
        stored = int(psql(database, f"SELECT count(*) FROM feedback_events WHERE subject = '{subject}'"))
        assert stored >= count, f"{subject}: {count} acknowledged, {stored} stored"


def test_two_feedbackd_on_one_database_under_load(tmp_path, database, secret):
    first, second = Feedbackd(tmp_path, database, secret), Feedbackd(tmp_path, database, secret)
    try:
        with Load([first.socket, second.socket], secret) as load:
            load.wait_for(2000)
        assert_every_acknowledged_rating_stored(database, load)
        assert all(count > 0 for count in load.acknowledged.values()), load.acknowledged
        # Both wrote the same rows and none deadlocked: every interaction holds a rating.
        assert psql(database, "SELECT count(*) FROM interactions WHERE feedback IS NULL") == "0"
    finally:
        first.stop()
        second.stop()


def test_feedbackd_killed_under_load_loses_nothing_acknowledged(tmp_path, database, secret):
    daemon = Feedbackd(tmp_path, database, secret)
    try:
        with Load([daemon.socket], secret) as load:
            load.wait_for(500)
            daemon.stop(signal.SIGKILL)
        assert_every_acknowledged_rating_stored(database, load)
    finally:
        daemon.stop()


def test_postgres_restarted_under_load_nothing_falsely_acknowledged_and_service_recovers(tmp_path, database, secret):
    daemon = Feedbackd(tmp_path, database, secret)
    try:
        with Load([daemon.socket], secret) as load:
            load.wait_for(300)
            subprocess.run([str(ROOT / "scripts" / "postgres-test-cluster.sh"), "restart", socket_dir()], check=True)
            before = sum(load.acknowledged.values())
            load.wait_for(before + 300)  # writes succeed again, feedbackd never restarted
        assert_every_acknowledged_rating_stored(database, load)
        assert daemon.process.poll() is None
        assert wait_until(daemon.serving)
    finally:
        daemon.stop()


def test_feedbackd_refuses_to_start_on_a_database_without_interactions(tmp_path, secret):
    name = f"fbp_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {name}")
    try:
        url = CLUSTER.replace("/postgres?", f"/{name}?")
        process = subprocess.run(
            [str(bin_path() / "feedbackd"), "--socket", f"/tmp/fbpg-{secrets.token_hex(4)}.sock", "--postgres-url", url,
             "--jwt-secret-file", str(secret)],
            capture_output=True, text=True, timeout=60,
        )
        assert process.returncode == 2, process.stderr
        assert "the database has no interactions table (feedbackd never creates it" in process.stderr
        assert psql(name, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'interactions'") == "0"
    finally:
        psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")

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
import time
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from feedback_stack import bin_path, mint, wait_until  # noqa: E402
from feedback_rpc import Client, HealthStatus, RpcError, StatusCode  # noqa: E402

CLUSTER = os.environ.get("FEEDBACK_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(not CLUSTER, reason="needs the cluster of scripts/test.sh (FEEDBACK_TEST_POSTGRES)")
ROWS = 200


def socket_dir() -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(CLUSTER).query)["host"][0]


def psql(database: str, sql: str, cluster: str | None = None) -> str:
    """`sql` in `database`, as the superuser, on the test cluster (or on the cluster whose URL is `cluster`)."""
    url = urllib.parse.urlparse(cluster or CLUSTER)
    host = urllib.parse.parse_qs(url.query)["host"][0]
    out = subprocess.run(["psql", "-h", host, "-p", str(url.port or 5432), "-U", "postgres", "-d", database, "-Atqc", sql],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret"
    path.write_text(secrets.token_urlsafe(48))
    path.chmod(0o600)
    return path


def url_of(database: str, user: str = "postgres") -> str:
    return CLUSTER.replace("/postgres?", f"/{database}?").replace("postgres://postgres@", f"postgres://{user}@")


def migrate(database: str, *args: str) -> subprocess.CompletedProcess:
    """`feedbackd migrate` on `database`, as the cluster's superuser (the schema's owner)."""
    return subprocess.run([str(bin_path() / "feedbackd"), "migrate", "--postgres-url", url_of(database), *args],
                          capture_output=True, text=True, timeout=120)


def make_database(prefix: str, rows: int) -> str:
    """A database holding the chat backend's interactions (1..rows, unrated) and feedbackd's schema."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {name}")
    psql(name, "CREATE TABLE interactions (id BIGINT PRIMARY KEY, question TEXT, feedback INTEGER)")
    psql(name, f"INSERT INTO interactions (id, question) SELECT g, 'q' FROM generate_series(1, {rows}) AS g")
    migrated = migrate(name)
    assert migrated.returncode == 0, migrated.stderr
    return name


@pytest.fixture
def database():
    name = make_database("fbp", ROWS)
    yield name
    psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


class Feedbackd:
    def __init__(self, tmp: pathlib.Path, database: str, secret: pathlib.Path, user: str = "postgres", args=(), url=None):
        self.socket = f"/tmp/fbpg-{secrets.token_hex(4)}.sock"
        self.log = tmp / f"feedbackd-{secrets.token_hex(2)}.log"
        self.process = subprocess.Popen(
            [str(bin_path() / "feedbackd"), "--socket", self.socket, "--postgres-url", url or url_of(database, user),
             "--jwt-secret-file", str(secret), "--log-level", "warning", *args],
            stderr=open(self.log, "w"),
        )
        assert wait_until(self.serving), self.log.read_text()

    def health(self):
        try:
            with Client(self.socket, timeout=2, connect_timeout=1) as client:
                return client.check_health()
        except (OSError, RpcError):
            return None

    def serving(self) -> bool:
        return self.health() == HealthStatus.SERVING

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            # Only a hang guard: feedbackd's own shutdown may wait for work it gave up on up to the connect
            # timeout plus twice the statement timeout and a second (16 s), more on a busy machine.
            self.process.wait(60)


class Load:
    """Threads rating interactions through one feedbackd each until stopped. Every call signs with a
    subject of its own (its audit row names it), and its answer is kept: OK, the status code of any
    other answer, or None when the connection failed before an answer."""

    def __init__(self, sockets, secret):
        self.stop_event = threading.Event()
        self.secret = secret.read_bytes()
        self.acknowledged = {}
        self.answers = {}
        self.oks = []  # when each OK came (monotonic)
        self.threads = []
        for index, path in enumerate(sockets * 2):
            prefix = f"load-{index}-{secrets.token_hex(2)}"
            self.acknowledged[prefix] = 0
            thread = threading.Thread(target=self.run, args=(path, prefix), daemon=True)
            self.threads.append(thread)

    def run(self, path, prefix):
        n = 0
        while not self.stop_event.is_set():
            try:
                with Client(path, timeout=10, connect_timeout=1) as client:
                    while not self.stop_event.is_set():
                        n += 1
                        subject = f"{prefix}-{n}"
                        self.answers[subject] = None
                        try:
                            client.submit_feedback(n % ROWS + 1, 1 if n % 2 else -1, token=mint(self.secret, subject))
                        except RpcError as error:
                            self.answers[subject] = error.code
                            raise
                        self.answers[subject] = StatusCode.OK
                        self.acknowledged[prefix] += 1
                        self.oks.append(time.monotonic())
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


def assert_every_answer_true(database: str, load: Load, cluster: str | None = None):
    """Every call answered OK is in the database; every call answered otherwise is not, unless its
    answer was UNKNOWN (or it got none)."""
    stored = set(psql(database, "SELECT subject FROM feedback_events WHERE subject LIKE 'load-%'", cluster).split())
    ok = {subject for subject, code in load.answers.items() if code == StatusCode.OK}
    assert ok, "no call was answered OK"
    assert not ok - stored, f"answered OK, not stored: {sorted(ok - stored)[:10]}"
    refused = {subject: code for subject, code in load.answers.items()
               if code is not None and code not in (StatusCode.OK, StatusCode.UNKNOWN)}
    falsely = {subject: code.name for subject, code in refused.items() if subject in stored}
    assert not falsely, f"answered as not written, yet stored: {falsely}"


def test_two_feedbackd_on_one_database_under_load(tmp_path, database, secret):
    first, second = Feedbackd(tmp_path, database, secret), Feedbackd(tmp_path, database, secret)
    try:
        with Load([first.socket, second.socket], secret) as load:
            load.wait_for(2000)
        assert_every_answer_true(database, load)
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
        assert_every_answer_true(database, load)
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
        assert_every_answer_true(database, load)
        assert daemon.process.poll() is None
        assert wait_until(daemon.serving)
    finally:
        daemon.stop()


def test_an_idle_feedbackd_notices_postgresql_gone_and_back_within_its_probe(tmp_path, database, secret):
    """Health tells the truth about PostgreSQL without a write to find out: feedbackd probes it every
    second, idle or not. Once it is known down, a rating is answered UNAVAILABLE at once (not after the
    connect timeout); once it is back, feedbackd serves again by itself."""
    daemon = Feedbackd(tmp_path, database, secret)
    cluster = [str(ROOT / "scripts" / "postgres-test-cluster.sh")]
    jwt = mint(secret.read_bytes(), "probe")
    try:
        subprocess.run(cluster + ["pause", socket_dir()], check=True)
        try:
            assert wait_until(lambda: daemon.health() == HealthStatus.NOT_SERVING)
            with Client(daemon.socket, timeout=30) as client:
                with pytest.raises(RpcError) as refused:
                    client.submit_feedback(1, 1, token=jwt)
                assert refused.value.code == StatusCode.UNAVAILABLE, refused.value
        finally:
            subprocess.run(cluster + ["resume", socket_dir()], check=True)
        assert wait_until(daemon.serving)
        with Client(daemon.socket, timeout=30) as client:
            client.submit_feedback(1, -1, token=jwt)
        assert psql(database, "SELECT feedback FROM interactions WHERE id = 1") == "-1"
    finally:
        daemon.stop()


def test_a_commit_refused_after_the_statement_is_never_answered_ok(tmp_path, database, secret):
    """PostgreSQL commits a statement's implicit transaction after the statement's CommandComplete; a
    commit that fails there (here a deferred constraint, checked at COMMIT; in production PostgreSQL
    shutting down between the two) must not be answered OK. feedbackd once took the end of the rows for
    the commit and answered OK for a rating that was never stored."""
    daemon = Feedbackd(tmp_path, database, secret)
    try:
        psql(database, """
            CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
            CREATE CONSTRAINT TRIGGER refuse_seven AFTER INSERT ON feedback_events
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.interaction_id = 7)
                EXECUTE FUNCTION refuse_at_commit();
        """)
        jwt = mint(secret.read_bytes(), "refused")
        with Client(daemon.socket, timeout=30) as client:
            with pytest.raises(RpcError) as refused:
                client.submit_feedback(7, 1, token=jwt)
            assert refused.value.code == StatusCode.UNKNOWN, refused.value
        assert psql(database, "SELECT count(*) FROM feedback_events WHERE interaction_id = 7") == "0"
        assert psql(database, "SELECT feedback IS NULL FROM interactions WHERE id = 7") == "t"
        # Nothing else is held against the store: the next rating is written and answered OK.
        assert wait_until(daemon.serving)
        with Client(daemon.socket, timeout=30) as client:
            client.submit_feedback(8, -1, token=jwt)
        assert psql(database, "SELECT feedback FROM interactions WHERE id = 8") == "-1"
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

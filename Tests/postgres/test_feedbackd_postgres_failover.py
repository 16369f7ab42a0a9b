"""feedbackd across a PostgreSQL failover, with real clusters on this machine: a primary and a streaming
standby (pg_basebackup -R), feedbackd given both (`?host=PRIMARY,STANDBY`). The primary is killed
(SIGKILL) under load and the standby promoted (pg_ctl promote): feedbackd finds the new primary by itself,
every rating it acknowledged is there (synchronous replication), and no refused rating is. And the
difference synchronous replication makes, shown honestly: with asynchronous replication, ratings the
primary acknowledged and the standby never received are lost at the failover.

Each test makes its own pair of clusters (scripts/postgres-test-cluster.sh start / standby)."""
import secrets
import subprocess
import threading
import time
import urllib.parse

import pytest

from test_feedbackd_postgres import (  # noqa: F401 (secret: a fixture)
    CLUSTER, ROOT, ROWS, Feedbackd, Load, assert_every_answer_true, bin_path, psql, secret,
)
from feedback_stack import mint, wait_until
from feedback_rpc import Client, RpcError, StatusCode

pytestmark = pytest.mark.skipif(not CLUSTER, reason="needs PostgreSQL's server binaries, as scripts/test.sh provides")
SCRIPT = str(ROOT / "scripts" / "postgres-test-cluster.sh")
DATABASE = "chat"


def cluster(*args: str) -> str:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def make_pair():
    """make_pair(mode) -> (primary directory, standby directory, the standby's URL, feedbackd's URL naming
    both); removed afterwards."""
    made = []

    def make(mode: str):
        primary, standby = (f"/tmp/fbfo{role}.{secrets.token_hex(3)}" for role in "PS")
        made.extend([primary, standby])
        at_primary = cluster("start", primary)
        psql("postgres", f"CREATE DATABASE {DATABASE}", at_primary)
        psql(DATABASE, "CREATE TABLE interactions (id BIGINT PRIMARY KEY, question TEXT, feedback INTEGER)", at_primary)
        psql(DATABASE, f"INSERT INTO interactions (id, question) SELECT g, 'q' FROM generate_series(1, {ROWS}) AS g", at_primary)
        at_standby = cluster("standby", primary, standby, mode)
        port = urllib.parse.urlparse(at_primary).port
        url = f"postgres://postgres@localhost:{port}/{DATABASE}?host={primary},{standby}"
        migrated = subprocess.run([str(bin_path() / "feedbackd"), "migrate", "--postgres-url", url],
                                  capture_output=True, text=True, timeout=120)
        assert migrated.returncode == 0 and primary in migrated.stdout, migrated.stdout + migrated.stderr
        return primary, standby, at_standby, url

    yield make
    for directory in made:
        subprocess.run([SCRIPT, "stop", directory], check=False)


class FeedReader:
    """Pages the ratings feed from event 0 until stopped, as a retraining job does, through the failover:
    every event read, in order."""

    def __init__(self, socket: str, jwt: str):
        self.socket, self.jwt = socket, jwt
        self.events = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        cursor = 0
        while not self.stop_event.is_set():
            try:
                with Client(self.socket, timeout=10, connect_timeout=1) as client:
                    while not self.stop_event.is_set():
                        page = client.list_feedback_events(cursor, token=self.jwt)
                        self.events.extend(page.events)
                        cursor = page.next_after_event_id
                        if not page.events:
                            self.stop_event.wait(0.05)  # caught up: the next page a little later
            except (OSError, RpcError):
                self.stop_event.wait(0.05)  # the store is unavailable during the failover: read again

    def caught_up_with(self, last_id: int) -> bool:
        return bool(self.events) and self.events[-1].event_id >= last_id


def test_synchronous_failover_under_load_loses_no_acknowledged_rating_and_feedbackd_follows(tmp_path, secret, make_pair, capsys):
    primary, standby, at_standby, url = make_pair("sync")
    # A short statement timeout, so that the feed's settle time (2 x it + 1 s) is short.
    daemon = Feedbackd(tmp_path, DATABASE, secret, url=url,
                       args=["--busy-timeout-ms", "1000", "--jwt-read-scope", "", "--log-level", "notice"])
    reader = FeedReader(daemon.socket, mint(secret.read_bytes(), "retraining-job"))
    reader.thread.start()
    try:
        with Load([daemon.socket], secret) as load:
            load.wait_for(300)
            cluster("kill", primary)
            killed = time.monotonic()
            cluster("promote", standby)
            promoted = time.monotonic()
            before = sum(load.acknowledged.values())
            load.wait_for(before + 300)  # feedbackd writes to the promoted standby: never restarted
        assert daemon.process.poll() is None
        assert_every_answer_true(DATABASE, load, at_standby)
        first_ok = min(t for t in load.oks if t > promoted)
        codes = {}
        for code in load.answers.values():
            name = "no answer" if code is None else code.name
            codes[name] = codes.get(name, 0) + 1
        # The feed read across the failover: every event of the new primary, once, in order.
        last_id = int(psql(DATABASE, "SELECT max(id) FROM feedback_events", at_standby))
        assert wait_until(lambda: reader.caught_up_with(last_id))
        reader.stop_event.set()
        stored = psql(DATABASE, f"SELECT id FROM feedback_events WHERE id <= {last_id} ORDER BY id", at_standby).split()
        read = [event.event_id for event in reader.events]
        assert read == sorted(set(read)), "the feed repeated an event or went back"
        assert [i for i in read if i <= last_id] == [int(i) for i in stored], "the feed missed an event, or listed one the new primary does not hold"
        with capsys.disabled():
            print(f"\n  failover (synchronous): promotion to first OK {first_ok - promoted:.2f} s "
                  f"(kill to promotion {promoted - killed:.2f} s); answers over the run: {codes}; "
                  f"the feed reader read {len(read)} events across it, none missed or repeated")
        assert wait_until(daemon.serving)
        # What the README tells an operator to look for.
        assert f"feedback.store_primary db.server={standby}/.s.PGSQL." in daemon.log.read_text()
    finally:
        reader.stop_event.set()
        daemon.stop()


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_what_synchronous_replication_changes_when_the_standby_lags(tmp_path, secret, make_pair, mode, capsys):
    """The standby stops receiving (paused), ratings are sent, the primary dies, the standby is promoted.
    Asynchronous: the primary acknowledged every rating, and the promoted standby has none of them.
    Synchronous: the primary waits for the standby at every commit, so no rating is acknowledged (the call
    is answered UNKNOWN: committed on the dead primary only), and none acknowledged is lost."""
    primary, standby, at_standby, url = make_pair(mode)
    daemon = Feedbackd(tmp_path, DATABASE, secret, url=url)
    sent = 10 if mode == "async" else 1  # synchronous: each call waits its deadline and the answer grace
    answers = {}
    try:
        cluster("pause", standby)
        with Client(daemon.socket, timeout=2, answer_grace=1) as client:
            for n in range(1, sent + 1):
                subject = f"lag-{mode}-{n}"
                try:
                    client.submit_feedback(n, 1, token=mint(secret.read_bytes(), subject))
                    answers[subject] = StatusCode.OK
                except RpcError as error:
                    answers[subject] = error.code
        cluster("kill", primary)
        cluster("resume", standby)
        cluster("promote", standby)
        stored = set(psql(DATABASE, "SELECT subject FROM feedback_events WHERE subject LIKE 'lag-%'", at_standby).split())
        acknowledged = {subject for subject, code in answers.items() if code == StatusCode.OK}
        lost = acknowledged - stored
        with capsys.disabled():
            print(f"\n  {mode} replication, standby not receiving: {len(acknowledged)} of {sent} ratings acknowledged, "
                  f"{len(lost)} of them lost at the failover; answers {sorted({c.name for c in answers.values()})}")
        if mode == "async":
            assert len(acknowledged) == sent and lost == acknowledged  # the risk asynchronous replication takes
        else:
            assert acknowledged == set() and lost == set()
            assert set(answers.values()) == {StatusCode.UNKNOWN}
        # Nothing answered as not written is on the new primary.
        refused = {s for s, code in answers.items() if code not in (StatusCode.OK, StatusCode.UNKNOWN)}
        assert not refused & stored
    finally:
        daemon.stop()

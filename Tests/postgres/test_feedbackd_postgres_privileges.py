"""feedbackd on PostgreSQL with least privilege, as processes: the schema is created by `feedbackd migrate`
(run by the owner, idempotent, versioned), and feedbackd serving needs only the grants the README lists:
it changes no schema, checks what it needs through the catalog, and names exactly what is missing.

Needs the throw-away cluster scripts/test.sh starts (FEEDBACK_TEST_POSTGRES)."""
import secrets
import subprocess

import pytest

from test_feedbackd_postgres import CLUSTER, Feedbackd, bin_path, make_database, migrate, psql, url_of, secret  # noqa: F401 (secret: a fixture)
from feedback_stack import mint, wait_until
from feedback_rpc import Client, RpcError, StatusCode

pytestmark = pytest.mark.skipif(not CLUSTER, reason="needs the cluster of scripts/test.sh (FEEDBACK_TEST_POSTGRES)")
GRANTS = [
    "GRANT SELECT, UPDATE (feedback) ON interactions TO {role}",
    "GRANT SELECT, INSERT ON feedback_events TO {role}",
    "GRANT USAGE ON SEQUENCE public.feedback_events_id_seq TO {role}",
]


@pytest.fixture
def database():
    name = make_database("fbg", 20)
    yield name
    psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def role(database):
    """A login role that owns nothing and may create nothing (PostgreSQL 15: no CREATE on public)."""
    name = f"fbr_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE ROLE {name} LOGIN")
    yield name
    psql(database, f"DROP OWNED BY {name}")  # its grants in the database
    psql("postgres", f"DROP ROLE {name}")


def start(database: str, secret, role: str) -> subprocess.CompletedProcess:
    """feedbackd as `role`, for a configuration it must refuse: its exit."""
    return subprocess.run(
        [str(bin_path() / "feedbackd"), "--socket", f"/tmp/fbg-{secrets.token_hex(4)}.sock",
         "--postgres-url", url_of(database, role), "--jwt-secret-file", str(secret)],
        capture_output=True, text=True, timeout=120,
    )


def test_a_role_with_just_the_documented_grants_serves_ratings_and_the_feed(tmp_path, database, role, secret):
    granted = migrate(database, "--grant-to", role)
    assert granted.returncode == 0, granted.stderr
    lines = granted.stdout.splitlines()
    assert lines[0].startswith("schema up to date") and lines[1:] == [grant.format(role=role) + ";" for grant in GRANTS]
    assert psql(database, f"SELECT has_schema_privilege('{role}', 'public', 'CREATE')") == "f"
    assert psql(database, "SELECT tableowner FROM pg_tables WHERE tablename = 'feedback_events'") == "postgres"
    # Short settle time (2 x statement timeout + 1 s) so that the feed lists the ratings soon.
    daemon = Feedbackd(tmp_path, database, secret, user=role, args=["--busy-timeout-ms", "500", "--jwt-read-scope", ""])
    try:
        jwt = mint(secret.read_bytes(), "least-privilege")
        with Client(daemon.socket, timeout=30) as client:
            client.submit_feedback(1, 1, token=jwt)
            client.submit_feedback(2, -1, token=jwt)
            assert wait_until(lambda: len(client.list_feedback_events(0, token=jwt).events) == 2)
            events = client.list_feedback_events(0, token=jwt).events
        assert [(e.interaction_id, e.rating, e.subject) for e in events] == [(1, 1, "least-privilege"), (2, -1, "least-privilege")]
        assert psql(database, "SELECT feedback FROM interactions WHERE id IN (1, 2) ORDER BY id") == "1\n-1"
    finally:
        daemon.stop()
    log = daemon.log.read_text()
    assert "error" not in log.lower() and "warning" not in log.lower(), log


def test_missing_grants_are_named_with_the_statements_that_add_them(database, role, secret):
    refused = start(database, secret, role)
    assert refused.returncode == 2, refused.stderr
    assert f"the role {role} lacks privileges the ratings need; as the tables' owner run: " + "; ".join(
        grant.format(role=role) for grant in GRANTS) in refused.stderr
    psql(database, GRANTS[0].format(role=role))
    refused = start(database, secret, role)
    assert refused.returncode == 2
    assert GRANTS[0].format(role=role) not in refused.stderr
    assert "; ".join(grant.format(role=role) for grant in GRANTS[1:]) in refused.stderr


def test_without_select_on_the_audit_trail_ratings_are_served_and_the_feed_is_refused_with_a_warning(tmp_path, database, role, secret):
    psql(database, f"GRANT SELECT, UPDATE (feedback) ON interactions TO {role}; GRANT INSERT ON feedback_events TO {role}; "
                   f"GRANT USAGE ON SEQUENCE feedback_events_id_seq TO {role}")
    daemon = Feedbackd(tmp_path, database, secret, user=role, args=["--jwt-read-scope", ""])
    try:
        jwt = mint(secret.read_bytes(), "writer-only")
        with Client(daemon.socket, timeout=30) as client:
            client.submit_feedback(3, 1, token=jwt)
            with pytest.raises(RpcError) as refused:
                client.list_feedback_events(0, token=jwt)
            assert refused.value.code == StatusCode.UNAVAILABLE
    finally:
        daemon.stop()
    assert psql(database, "SELECT feedback FROM interactions WHERE id = 3") == "1"
    log = daemon.log.read_text()
    assert "feedback.feed_unreadable" in log and f"GRANT SELECT, INSERT ON feedback_events TO {role}" in log, log


def test_without_feedback_events_feedbackd_refuses_and_names_the_migration(secret):
    name = f"fbg_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {name}")
    try:
        psql(name, "CREATE TABLE interactions (id BIGINT PRIMARY KEY, feedback INTEGER)")
        refused = start(name, secret, "postgres")
        assert refused.returncode == 2, refused.stderr
        assert "the database has no feedback_events table: create it once, as the schema's owner, with `feedbackd migrate" in refused.stderr
        assert psql(name, "SELECT to_regclass('feedback_events') IS NULL") == "t"  # feedbackd created nothing
    finally:
        psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


def test_migrate_is_idempotent_versioned_and_refused_plainly_without_the_right_to_create(database, role):
    again = migrate(database)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("schema up to date")
    assert psql(database, "SELECT version, name FROM feedback_schema_migrations") == "1|feedback_events"
    name = f"fbg_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {name}")
    try:
        refused = subprocess.run([str(bin_path() / "feedbackd"), "migrate", "--postgres-url", url_of(name, role)],
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2
        assert "PostgreSQL refused: permission denied for schema public" in refused.stderr, refused.stderr
        assert psql(name, "SELECT to_regclass('feedback_schema_migrations') IS NULL") == "t"
    finally:
        psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.parametrize("command", [[], ["migrate"]])
def test_a_bad_url_is_a_usage_error_that_systemd_does_not_retry(command, secret):
    for url in ["mysql://feedback@db/chat", "postgres://db/chat", "postgres://feedback:pw@db/chat"]:
        args = [str(bin_path() / "feedbackd"), *command, "--postgres-url", url]
        if not command:
            args += ["--jwt-secret-file", str(secret)]
        refused = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 64, (url, refused.stderr)
        assert "--postgres-url" in refused.stderr


def test_granting_public_is_refused_as_a_usage_error():
    refused = subprocess.run([str(bin_path() / "feedbackd"), "migrate", "--postgres-url", "postgres://owner@db/chat", "--grant-to", "PUBLIC"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 64
    assert "--grant-to public would grant every role" in refused.stderr


def test_two_migrations_at_once_apply_each_migration_once():
    """The README: safe to run from two hosts at once (an advisory lock)."""
    name = f"fbg_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {name}")
    try:
        psql(name, "CREATE TABLE interactions (id BIGINT PRIMARY KEY, feedback INTEGER)")
        command = [str(bin_path() / "feedbackd"), "migrate", "--postgres-url", url_of(name)]
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [run.communicate(timeout=120) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        said = sorted(out.splitlines()[0].split(" (")[0] for out, _ in outputs)
        assert said == ["applied migration 1 feedback_events", "schema up to date"], outputs
        assert psql(name, "SELECT version FROM feedback_schema_migrations") == "1"
    finally:
        psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")

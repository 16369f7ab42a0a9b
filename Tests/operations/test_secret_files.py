"""A secret file every user may read is used, with a warning naming it: feedbackd's JWT secret here (the
PostgreSQL password file goes through the same check, SecretFile.isReadableByOthers)."""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
from feedback_stack import Stack  # noqa: E402


def started_log(tmp_path, mode: int) -> str:
    """What feedbackd logged when started with a secret file of `mode`."""
    stack = Stack(tmp_path)
    try:
        os.chmod(stack.secret, mode)  # then restarted, so that it reads the file with that mode
        stack.stop_feedbackd()
        (tmp_path / "feedbackd.log").write_text("")
        stack.start_feedbackd()
        return (tmp_path / "feedbackd.log").read_text()
    finally:
        stack.close()


def test_a_world_readable_jwt_secret_file_is_warned_about(tmp_path):
    log = started_log(tmp_path, 0o644)
    assert "feedbackd.insecure_secret_file" in log and "readable by every user" in log, log


def test_an_owner_only_secret_file_gets_no_warning(tmp_path):
    log = started_log(tmp_path, 0o600)
    assert "insecure_secret_file" not in log, log

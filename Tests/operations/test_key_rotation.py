"""A key rotation by SIGHUP under load: four clients rate without pause, first with a token of the old
secret, then (once refused) with one of the new; feedbackd reloads between. Every call is answered: OK
(and stored) or UNAUTHENTICATED (an old token after the switch), never UNAVAILABLE or UNKNOWN."""
import pathlib
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack, wait_until  # noqa: E402


def token(stack, secret_file) -> str:
    return subprocess.run([str(stack.bin / "feedbackctl"), "token", "--secret-file", str(secret_file)],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_key_rotation_by_sighup_under_load_loses_no_call(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, 41), feedbackd_args=["--log-level", "info"])
    try:
        old = stack.token()
        rotated = tmp_path / "rotated"
        rotated.write_text(secrets.token_urlsafe(48))
        new = token(stack, rotated)
        results, stop = [], threading.Event()

        def rate(worker):
            current, n = old, 0
            while not stop.is_set():
                run = subprocess.run([str(stack.bin / "feedbackctl"), "submit", "--socket", stack.socket, "--token", current,
                                      "--timeout-ms", "60000", "--interaction-id", str(worker * 10 + n % 10 + 1), "--rating", "1"],
                                     capture_output=True, text=True)
                results.append((current == new, run.returncode, run.stderr.strip()))
                if run.returncode == 16:
                    current = new  # the switch: the old token is refused from now on
                n += 1

        workers = [threading.Thread(target=rate, args=(worker,)) for worker in range(4)]
        for worker in workers:
            worker.start()
        assert wait_until(lambda: len(results) >= 20)
        secret = stack.secret.read_text()
        stack.secret.write_text(rotated.read_text())
        stack.feedbackd.send_signal(signal.SIGHUP)
        assert wait_until(lambda: sum(1 for with_new, code, _ in results if with_new and code == 0) >= 20 or stack.feedbackd.poll() is not None)
        stop.set()
        for worker in workers:
            worker.join(120)
        assert stack.feedbackd.poll() is None, "SIGHUP does not end feedbackd"
        assert secret != stack.secret.read_text()
    finally:
        stop.set()
        stack.close()
    codes = {code for _, code, _ in results}
    assert codes <= {0, 16}, [r for r in results if r[1] not in (0, 16)][:5]
    assert not [r for r in results if r[0] and r[1] != 0], "a token of the new secret is accepted from the switch on"
    with sqlite3.connect(stack.db) as conn:
        stored = conn.execute("SELECT count(*) FROM feedback_events").fetchone()[0]
    assert stored == sum(1 for _, code, _ in results if code == 0), "every OK is stored"
    assert "feedbackd.keys_reloaded" in (tmp_path / "feedbackd.log").read_text()

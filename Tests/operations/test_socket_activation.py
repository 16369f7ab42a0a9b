"""feedbackd under socket activation (sd_listen_fds(3)): the listening socket is the service manager's, so
a restart of feedbackd under load refuses no connection and fails no call; connections made while no
feedbackd runs wait in the socket's backlog for the next one. The test holds the socket as systemd's
feedbackd.socket does, and restarts feedbackd twice while four clients rate without pause."""
import os
import pathlib
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import bin_path, wait_until  # noqa: E402
from service_manager import NotifySocket, listening_unix_socket, start_activated  # noqa: E402


def test_a_restart_under_socket_activation_refuses_no_call(tmp_path):
    db = tmp_path / "chat.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE interactions (id INTEGER PRIMARY KEY, feedback INTEGER)")
        conn.executemany("INSERT INTO interactions (id) VALUES (?)", [(i,) for i in range(1, 41)])
    secret = tmp_path / "secret"
    secret.write_text(secrets.token_urlsafe(48))
    os.chmod(secret, 0o600)
    path = f"/tmp/fba-{secrets.token_hex(4)}.sock"
    listener = listening_unix_socket(path)
    notify = NotifySocket()
    env = {**os.environ, "NOTIFY_SOCKET": notify.path}
    # --socket names another path: the inherited socket is served, and no file is made at --socket.
    elsewhere = f"/tmp/fba-{secrets.token_hex(4)}.sock"
    command = [str(bin_path() / "feedbackd"), "--socket", elsewhere, "--db", str(db), "--jwt-secret-file", str(secret)]
    log = open(tmp_path / "feedbackd.log", "a")
    feedbackctl = str(bin_path() / "feedbackctl")
    token = subprocess.run([feedbackctl, "token", "--secret-file", str(secret)], capture_output=True, text=True, check=True).stdout.strip()
    results, stop = [], threading.Event()

    def rate(worker):
        n = 0
        while not stop.is_set():
            run = subprocess.run([feedbackctl, "submit", "--socket", path, "--token", token, "--timeout-ms", "60000",
                                  "--interaction-id", str(worker * 10 + n % 10 + 1), "--rating", "1"], capture_output=True, text=True)
            results.append((run.returncode, run.stderr.strip()))
            n += 1

    process = start_activated(command, listener, env, log)
    workers = [threading.Thread(target=rate, args=(worker,)) for worker in range(4)]
    try:
        assert notify.next_except_watchdog().startswith("READY=1\nSTATUS=serving on " + path)
        for worker in workers:
            worker.start()
        assert wait_until(lambda: len(results) >= 20)
        for _ in range(2):
            process.send_signal(signal.SIGTERM)
            assert notify.next_except_watchdog().startswith("STOPPING=1")
            assert process.wait(60) == 0, (tmp_path / "feedbackd.log").read_text()
            assert os.path.exists(path), "the socket is the manager's: it stays"
            before = len(results)
            process = start_activated(command, listener, env, log)
            assert notify.next_except_watchdog().startswith("READY=1")
            assert wait_until(lambda: len(results) >= before + 20)
    finally:
        stop.set()
        for worker in workers:
            if worker.is_alive():
                worker.join(120)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        listener.close()
        os.unlink(path)
        notify.close()
    failures = [result for result in results if result[0] != 0]
    assert failures == [], (len(failures), len(results), failures[:5])
    assert not os.path.exists(elsewhere)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM feedback_events").fetchone() == (len(results),), "every OK is stored"

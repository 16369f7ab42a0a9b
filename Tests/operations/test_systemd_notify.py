"""feedbackd and feedback-gateway under a service manager's notification socket, as systemd runs them with
Type=notify and WatchdogSec= (sd_notify(3)): READY=1 only once they serve, WATCHDOG=1 while they run,
STOPPING=1 when SIGTERM begins their graceful shutdown. The socket here stands in for systemd's."""
import os
import pathlib
import secrets
import signal
import sqlite3
import subprocess
import sys
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import bin_path, free_port  # noqa: E402
from service_manager import NotifySocket  # noqa: E402


def environment(notify: NotifySocket) -> dict:
    # WATCHDOG_USEC as systemd sets it for WatchdogSec=0.4s (no WATCHDOG_PID: any process may ping).
    return {**os.environ, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}


def expect_lifecycle(process, notify, ready_status, is_serving):
    ready = notify.next()
    assert ready.split("\n")[0] == "READY=1", ready
    assert f"STATUS={ready_status}" in ready.split("\n"), ready
    assert is_serving(), "READY=1 only once it serves"
    assert [notify.next() for _ in range(3)] == ["WATCHDOG=1"] * 3
    process.send_signal(signal.SIGTERM)
    message = notify.next_except_watchdog()
    assert message.startswith("STOPPING=1\n"), message
    assert process.wait(60) == 0


def test_feedbackd_notifies_ready_watchdog_and_stopping(tmp_path):
    notify = NotifySocket()
    db = tmp_path / "chat.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE interactions (id INTEGER PRIMARY KEY, feedback INTEGER)")
    (tmp_path / "secret").write_text(secrets.token_urlsafe(48))
    os.chmod(tmp_path / "secret", 0o600)
    rpc_socket = f"/tmp/fbs-{secrets.token_hex(4)}.sock"
    process = subprocess.Popen(
        [str(bin_path() / "feedbackd"), "--socket", rpc_socket, "--db", str(db), "--jwt-secret-file", str(tmp_path / "secret")],
        env=environment(notify), stderr=open(tmp_path / "feedbackd.log", "w"),
    )
    try:
        def serving():
            health = subprocess.run([str(bin_path() / "feedbackctl"), "health", "--socket", rpc_socket], capture_output=True)
            return health.returncode == 0
        expect_lifecycle(process, notify, f"serving on {rpc_socket}", serving)
    finally:
        if process.poll() is None:
            process.kill()
        notify.close()


def test_the_gateway_notifies_ready_watchdog_and_stopping(tmp_path):
    notify = NotifySocket()
    port = free_port()
    process = subprocess.Popen(
        [str(bin_path() / "feedback-gateway"), "--listen", f"127.0.0.1:{port}", "--socket", "/nonexistent/feedback.sock"],
        env=environment(notify), stderr=open(tmp_path / "gateway.log", "w"),
    )
    try:
        def serving():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/widget/feedback.js", timeout=120) as response:
                return response.status == 200
        expect_lifecycle(process, notify, f"listening on http://127.0.0.1:{port}", serving)
    finally:
        if process.poll() is None:
            process.kill()
        notify.close()

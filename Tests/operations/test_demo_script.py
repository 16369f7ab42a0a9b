"""scripts/demo.sh as a newcomer runs it: the banner, a rating through the gateway, and feedbackd stopped
under it: the gateway stays up, the demo says so and brings feedbackd back."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import free_port, wait_until  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def post(port, token, interaction_id):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/feedback", data=json.dumps({"interaction_id": interaction_id, "rating": 1}).encode(),
        method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def children(pid: int, name: str) -> list:
    """The child processes of `pid` whose command is `name`."""
    found = []
    for child in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if pathlib.Path(f"/proc/{child}/comm").read_text().strip() == name[:15]:  # comm keeps 15 bytes
                found.append(int(child))
        except FileNotFoundError:
            pass  # it exited meanwhile
    return found


def test_the_demo_keeps_the_gateway_up_across_a_feedbackd_restart(tmp_path):
    port = free_port()
    demo = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "demo.sh")], cwd=ROOT, env={**os.environ, "PORT": str(port), "DEMO_DIR": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout), daemon=True)
    reader.start()
    try:
        # The build before it is a no-op after scripts/test.sh's own (the same command); on a cold tree it
        # is the 10-minute first build.
        assert wait_until(lambda: any("Ctrl-C stops both" in line for line in output) or demo.poll() is not None, timeout=1800)
        assert demo.poll() is None, "".join(output)
        text = "".join(output)
        token = text.split("FEEDBACK_TOKEN=")[1].split()[0]
        pid = int(text.split("(kill ")[1].split(",")[0])
        gateway = children(demo.pid, "feedback-gateway")
        assert len(gateway) == 1 and children(demo.pid, "feedbackd") == [pid]
        # The demo database holds the demo page's answers: a rating is stored, not NOT_FOUND.
        assert post(port, token, 2) == 204
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: any("feedbackd serves again" in line for line in output) or demo.poll() is not None), "".join(output)
        assert any("the gateway stays up" in line for line in output)
        assert post(port, token, 3) == 204
        assert demo.poll() is None
        assert children(demo.pid, "feedback-gateway") == gateway, "the same gateway process throughout"
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(60)
    rows = subprocess.run(["sqlite3", str(tmp_path / "chat.db"), "SELECT id, feedback FROM interactions ORDER BY id"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert rows == ["1|", "2|1", "3|1"]

"""The gateway's log as an operator reads it: one request id per line (the request's X-Request-Id), and a
feedbackd outage at warning while a refused rating stays at info."""
import json
import pathlib
import re
import sys
import urllib.error
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack  # noqa: E402


def post(stack, body, token, request_id):
    request = urllib.request.Request(
        stack.url + "/feedback", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", "X-Request-Id": request_id},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_one_request_id_per_line_and_outages_at_warning(tmp_path):
    stack = Stack(tmp_path, gateway_args=["--log-level", "info", "--log-requests", "all"])
    try:
        token = stack.token()
        assert post(stack, {"interaction_id": 1, "rating": 1}, token, "req-stored") == 204
        assert post(stack, {"interaction_id": 99, "rating": 1}, token, "req-refused") == 404
        stack.stop_feedbackd()
        assert post(stack, {"interaction_id": 2, "rating": 1}, token, "req-outage") == 503
        stack.gateway.terminate()
        stack.gateway.wait(10)
        lines = (tmp_path / "gateway.log").read_text().splitlines()
        requests = [line for line in lines if "req-" in line]
        assert requests, lines
        for line in requests:
            ids = re.findall(r"\b([a-z_.]*request[._]id)=", line)
            assert ids == ["hb.request.id"], line
        failed = {re.search(r"hb\.request\.id=(\S+)", line).group(1): line for line in requests if "gateway.rpc_failed" in line}
        assert " warning " in failed["req-outage"], failed
        assert " info " in failed["req-refused"], failed
        assert "http.status=503" in next(line for line in requests if "http.access" in line and "req-outage" in line)
    finally:
        stack.close()

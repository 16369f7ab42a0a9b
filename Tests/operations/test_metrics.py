"""Prometheus metrics of real feedbackd and feedback-gateway processes (--metrics-listen): both
endpoints scrape, the counters move with the calls made, names follow Prometheus' conventions, and the
gateway's access log keeps only failed requests by default."""
import json
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack, free_port, wait_until  # noqa: E402

SUBMIT = "/feedback.v1.FeedbackService/SubmitFeedback"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(port: int) -> dict:
    """Samples by name and label set, e.g. {('feedback_rpc_calls_total', (('code','OK'), ...)): 1.0}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', labels or "")))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples: dict, name: str, **labels) -> float:
    wanted = tuple(sorted(labels.items()))
    return samples.get((name, wanted), 0.0)


def scrapes(port: int) -> bool:
    try:
        scrape(port)
        return True
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture
def stack(tmp_path):
    feedbackd_port, gateway_port = free_port(), free_port()
    stack = Stack(
        tmp_path, allowed_origin="https://chat.example.com",
        feedbackd_args=["--metrics-listen", f"127.0.0.1:{feedbackd_port}"],
        gateway_args=["--metrics-listen", f"127.0.0.1:{gateway_port}"],
    )
    assert wait_until(lambda: scrapes(feedbackd_port) and scrapes(gateway_port))
    stack.metrics_ports = (feedbackd_port, gateway_port)
    yield stack
    stack.close()


def post(stack, body: dict, token: str, origin=None) -> int:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    request = urllib.request.Request(stack.url + "/feedback", data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def preflight(stack, origin: str) -> int:
    request = urllib.request.Request(
        stack.url + "/feedback", method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_counters_move_with_the_calls(stack):
    feedbackd, gateway = stack.metrics_ports
    before_d, before_g = scrape(feedbackd), scrape(gateway)
    token = stack.token()
    assert post(stack, {"interaction_id": 1, "rating": 1}, token) == 204
    assert post(stack, {"interaction_id": 2, "rating": -1}, token) == 204
    assert post(stack, {"interaction_id": 99, "rating": 1}, token) == 404
    assert preflight(stack, "https://evil.example.com") == 403
    with urllib.request.urlopen(stack.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    after_d, after_g = scrape(feedbackd), scrape(gateway)

    def moved(before, after, name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # feedbackd: calls by method and status, their durations, the batches, the token cache, gauges.
    assert moved(before_d, after_d, "feedback_rpc_calls_total", method=SUBMIT, code="OK") == 2
    assert moved(before_d, after_d, "feedback_rpc_calls_total", method=SUBMIT, code="NOT_FOUND") == 1
    assert moved(before_d, after_d, "feedback_rpc_call_duration_seconds_count", method=SUBMIT) == 3
    assert moved(before_d, after_d, "feedback_rpc_calls_total", method="/feedback.health.v1.Health/Check", code="OK") >= 1
    assert moved(before_d, after_d, "feedback_store_batch_size_sum", store="sqlite") == 3
    assert moved(before_d, after_d, "feedback_store_commit_duration_seconds_count", store="sqlite") >= 1
    lookups = sum(moved(before_d, after_d, "feedback_token_cache_lookups_total", result=r) for r in ("hit", "miss"))
    assert lookups == 3, "one cache lookup per SubmitFeedback"
    assert value(after_d, "feedback_store_serving") == 1
    assert value(after_d, "feedback_rpc_connections") >= 1, "the gateway's pool is connected"
    assert ("feedback_rpc_calls_in_flight", ()) in after_d
    # The gateway: requests by route and status, durations, upstream errors, CORS refusals.
    assert moved(before_g, after_g, "feedback_gateway_requests_total", route="/feedback", status="204") == 2
    assert moved(before_g, after_g, "feedback_gateway_requests_total", route="/feedback", status="404") == 1
    assert moved(before_g, after_g, "feedback_gateway_requests_total", route="/healthz", status="200") >= 1
    assert moved(before_g, after_g, "feedback_gateway_request_duration_seconds_count", route="/feedback") >= 3
    assert moved(before_g, after_g, "feedback_gateway_upstream_errors_total", code="NOT_FOUND") == 1
    assert moved(before_g, after_g, "feedback_gateway_cors_refusals_total") == 1


def test_names_follow_prometheus_conventions_and_paths_do_not_add_series(stack):
    feedbackd, gateway = stack.metrics_ports
    for path in ("/nope-1", "/nope-2", "/nope-3"):
        try:
            urllib.request.urlopen(stack.url + path, timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 404
    samples = {**scrape(feedbackd), **scrape(gateway)}
    routes = {dict(labels).get("route") for (name, labels) in samples if name == "feedback_gateway_requests_total"}
    assert "NotFound" in routes and not any(route and route.startswith("/nope") for route in routes)
    for (name, labels) in samples:
        assert name.startswith(("feedback_", "process_")), name
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert not re.search(r"_(ms|milliseconds|microseconds)$", base), f"{name}: base units only"
        if "duration" in base:
            assert base.endswith("_seconds"), name


@pytest.mark.parametrize("log_requests", ["errors", "all"])
def test_access_log_keeps_failed_requests_unless_asked_for_all(tmp_path, log_requests):
    stack = Stack(tmp_path, gateway_args=["--log-level", "info", "--log-requests", log_requests])
    try:
        token = stack.token()
        assert post(stack, {"interaction_id": 1, "rating": 1}, token) == 204
        assert post(stack, {"interaction_id": 99, "rating": 1}, token) == 404
        stack.gateway.terminate()
        stack.gateway.wait(10)
        access = [line for line in (tmp_path / "gateway.log").read_text().splitlines() if " http.access " in line]
        statuses = sorted(re.search(r"http\.status=(\d+)", line).group(1) for line in access if "http.path=/feedback" in line)
        assert statuses == (["204", "404"] if log_requests == "all" else ["404"]), access
    finally:
        stack.close()


def test_like_an_exporter_help_for_every_family_process_and_build_info_no_zero_series(stack):
    """Every family has # HELP before its # TYPE; process_* and feedback_build_info as exporters have
    them; a method never called has no series (no rows of zeros)."""
    for port, binary in zip(stack.metrics_ports, ("feedbackd", "feedback-gateway")):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
        families = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
        helps = {line.split()[2]: line.split(" ", 3)[3] for line in lines if line.startswith("# HELP ")}
        for index, line in enumerate(lines):
            if line.startswith("# TYPE "):
                assert lines[index - 1].startswith(f"# HELP {line.split()[2]} "), (binary, line)
        assert set(families) == set(helps), binary
        assert all(text.strip() and not text.startswith("feedback-rpc metric") for text in helps.values()), helps
        for family in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                       "process_open_fds", "process_max_fds", "process_start_time_seconds", "feedback_build_info"):
            assert family in families, (binary, family)
        samples = scrape(port)
        assert samples[("process_resident_memory_bytes", ())] > 1 << 20
        assert samples[("process_open_fds", ())] >= 3
        assert abs(samples[("process_start_time_seconds", ())] - time.time()) < 3600
        version = subprocess.run([str(stack.bin / binary), "--version"], capture_output=True, text=True, check=True).stdout.strip()
        assert samples[("feedback_build_info", (("version", version),))] == 1
        calls = [(labels, value) for (name, labels), value in samples.items() if name == "feedback_rpc_calls_total"]
        assert all(value > 0 for _, value in calls), calls
        assert not any(dict(labels)["method"].endswith("/ListFeedbackEvents") for labels, _ in calls), "never called"

"""`feedbackctl export --follow` as a user runs it: what is stored, then each rating as it is given, across a restart
of feedbackd without a gap or a repeat; SIGTERM ends it with `last_event_id=N` on stderr and exit code 0, and a later
run picks up after that id."""
import json
import os
import pathlib
import signal
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "clients" / "python"))
from feedback_stack import Stack, mint  # noqa: E402
from feedback_rpc import Client  # noqa: E402


def test_export_follow_prints_ratings_as_given_and_resumes_across_a_restart(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, 11))
    follow = None
    try:
        subject = 'chat "user" \\ é\x00\x1f\n'  # every kind of character a JSON string escapes, and one it need not
        writer = mint(stack.secret.read_bytes(), subject)
        reader = mint(stack.secret.read_bytes(), "retrain-job", scope="feedback:read")

        def rate(*interactions, rating=1):
            with Client(stack.socket) as client:
                for interaction in interactions:
                    client.submit_feedback(interaction, rating, token=writer)

        rate(1, 2, 3)
        follow = subprocess.Popen(
            [str(stack.bin / "feedbackctl"), "export", "--follow", "--socket", stack.socket],
            env={**os.environ, "FEEDBACK_TOKEN": reader}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

        def lines(count):
            return [json.loads(follow.stdout.readline()) for _ in range(count)]

        seen = lines(3)  # what was stored
        rate(4, 5, rating=-1)
        seen += lines(2)  # as given
        stack.stop_feedbackd()  # SIGTERM: the stream ends UNAVAILABLE; export --follow reconnects
        stack.start_feedbackd()
        rate(6, 7)
        seen += lines(2)
        assert [event["interaction_id"] for event in seen] == [1, 2, 3, 4, 5, 6, 7]
        assert [event["rating"] for event in seen] == [1, 1, 1, -1, -1, 1, 1]
        ids = [event["event_id"] for event in seen]
        assert ids == sorted(set(ids))
        assert {event["subject"] for event in seen} == {subject}

        follow.send_signal(signal.SIGTERM)
        out, err = follow.communicate()  # its exit is the signal: no clock
        assert follow.returncode == 0, err
        assert out == "", "nothing more was written after the last rating"
        assert f"last_event_id={ids[-1]}" in err.splitlines()

        # The next run resumes after that id: only what is new.
        rate(8)
        again = subprocess.run(
            [str(stack.bin / "feedbackctl"), "export", "--socket", stack.socket, "--after", str(ids[-1])],
            env={**os.environ, "FEEDBACK_TOKEN": reader}, capture_output=True, text=True,
        )
        assert again.returncode == 0, again.stderr
        assert [json.loads(line)["interaction_id"] for line in again.stdout.splitlines()] == [8]
    finally:
        if follow is not None and follow.poll() is None:
            follow.kill()
            follow.wait()
        stack.close()

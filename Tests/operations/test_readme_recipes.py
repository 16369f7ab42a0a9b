"""README.md's recipes, run as written (a shell, `feedbackctl` on PATH, the secret in the working
directory, FEEDBACK_SOCKET set as the README says), against a live feedbackd."""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pysupport"))
from feedback_stack import Stack, wait_until  # noqa: E402

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def recipe_after(marker: str) -> str:
    """The first ```sh block after `marker` in README.md."""
    text = README.read_text()
    start = text.index(marker)
    match = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert match, marker
    return match.group(1)


def test_the_export_recipe_runs_as_written_and_resumes_where_it_stopped(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, 6))
    try:
        recipe = recipe_after("**The ratings feed.**")
        env = {**os.environ, "PATH": f"{stack.bin}:{os.environ['PATH']}", "FEEDBACK_SOCKET": stack.socket}
        env.pop("FEEDBACK_TOKEN", None)

        def rate(interaction_id, rating):
            submit = subprocess.run(
                ["feedbackctl", "submit", "--interaction-id", str(interaction_id), "--rating", str(rating)],
                env={**env, "FEEDBACK_TOKEN": stack.token()}, capture_output=True, text=True,
            )
            assert submit.returncode == 0, submit.stderr

        def run_recipe():
            run = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe], cwd=tmp_path, env=env, capture_output=True, text=True)
            assert run.returncode == 0, (recipe, run.stdout, run.stderr)

        rate(1, 1)
        rate(2, -1)
        run_recipe()  # the first run: no cursor file yet
        assert (tmp_path / "cursor").read_text().strip() == "2"
        rate(3, 1)
        run_recipe()
        events = [json.loads(line) for line in (tmp_path / "ratings.jsonl").read_text().splitlines()]
        assert [(e["event_id"], e["interaction_id"], e["rating"]) for e in events] == [(1, 1, 1), (2, 2, -1), (3, 3, 1)]
        assert (tmp_path / "cursor").read_text().strip() == "3"
        run_recipe()  # nothing new: nothing appended, the cursor kept
        assert len((tmp_path / "ratings.jsonl").read_text().splitlines()) == 3
        assert (tmp_path / "cursor").read_text().strip() == "3"
    finally:
        stack.close()


def test_the_follow_recipe_keeps_the_cursor_until_it_is_stopped(tmp_path):
    stack = Stack(tmp_path, interactions=range(1, 6))
    try:
        recipe = recipe_after("**The live feed.**")
        token = stack.token()
        reader = subprocess.run(
            [str(stack.bin / "feedbackctl"), "token", "--secret-file", str(stack.secret), "--scope", "feedback:read"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        env = {**os.environ, "PATH": f"{stack.bin}:{os.environ['PATH']}", "FEEDBACK_SOCKET": stack.socket, "FEEDBACK_TOKEN": reader}
        (tmp_path / "cursor").write_text("1\n")  # an earlier run stopped after event 1
        for interaction_id in (1, 2):
            subprocess.run([str(stack.bin / "feedbackctl"), "submit", "--socket", stack.socket, "--token", token,
                            "--interaction-id", str(interaction_id), "--rating", "1"], check=True)
        follow = subprocess.Popen(["bash", "-c", recipe], cwd=tmp_path, env=env, start_new_session=True)
        lines = lambda: (tmp_path / "ratings.jsonl").read_text().splitlines() if (tmp_path / "ratings.jsonl").exists() else []
        assert wait_until(lambda: len(lines()) == 1), lines()
        subprocess.run([str(stack.bin / "feedbackctl"), "submit", "--socket", stack.socket, "--token", token,
                        "--interaction-id", "3", "--rating", "-1"], check=True)
        assert wait_until(lambda: (tmp_path / "cursor").read_text().strip() == "3"), (tmp_path / "cursor").read_text()
        # feedbackctl, not the shell around it, gets the SIGTERM (as from Ctrl-C or systemd): it ends with 0.
        children = pathlib.Path(f"/proc/{follow.pid}/task/{follow.pid}/children").read_text().split()
        assert children, "the shell runs feedbackctl as its child"
        for child in children:
            os.kill(int(child), signal.SIGTERM)
        assert follow.wait(30) == 0
        assert [json.loads(line)["event_id"] for line in lines()] == [2, 3]
        assert (tmp_path / "cursor").read_text().strip() == "3"
    finally:
        stack.close()

"""The README's examples do what it says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import SOURCE, Feedbackd

README = (SOURCE / "README.md").read_text()


def code_block(heading: str) -> str:
    """The first ```python block under the README heading ``## heading``."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python block under {heading}"
    return match.group(1)


def test_the_install_line_for_other_repositories() -> None:
    assert 'pip install "git+https://example.com/feedback-rpc.git@v1.0.0#subdirectory=clients/python"' in README
    assert "placeholder" in README


def test_the_fastapi_example(feedbackd: Feedbackd, monkeypatch: pytest.MonkeyPatch) -> None:
    """One AsyncClient, made in the lifespan, serves every request on one connection and is closed at shutdown."""
    monkeypatch.setenv("FEEDBACK_SOCKET", feedbackd.socket)
    example: dict[str, Any] = {"__name__": "readme_fastapi_example"}
    exec(compile(code_block("FastAPI"), "README.md (FastAPI)", "exec"), example)
    user = {"Authorization": f"Bearer {feedbackd.token(sub='fastapi-user')}"}
    with TestClient(example["app"]) as http:
        client = example["app"].state.feedback
        assert http.get("/healthz").json() == {"feedbackd": "SERVING"}
        for interaction in range(1, 6):
            answer = http.post("/feedback", json={"interaction_id": interaction, "rating": 1}, headers=user)
            assert answer.status_code == 204, answer.text
        answer = http.post("/feedback", json={"interaction_id": 999, "rating": 1}, headers=user)
        assert (answer.status_code, answer.json()) == (404, {"detail": "Interaction 999 not found."})
        answer = http.post("/feedback", json={"interaction_id": 1, "rating": 5}, headers=user)
        assert answer.status_code == 422
        answer = http.post("/feedback", json={"interaction_id": 1, "rating": 1}, headers={"Authorization": "Bearer x"})
        assert answer.status_code == 401
        assert client.connections_opened == 1
    assert client._connection is None  # closed by the lifespan at shutdown
    assert [feedbackd.rating(i) for i in range(1, 6)] == [1] * 5

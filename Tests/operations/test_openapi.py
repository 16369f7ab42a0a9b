"""The gateway's OpenAPI document (GET /openapi.json): a valid OpenAPI 3.1 document, in agreement with the
original FastAPI app's own document (its schemas, operation and security scheme), with the README's
status table, and with what the gateway really answers."""
import json
import pathlib
import re
import sys
import urllib.request

import pytest
from openapi_spec_validator import validate

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "pysupport"))
sys.path.insert(0, str(ROOT / "Tests" / "compat"))
from feedback_stack import Stack  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("openapi"), interactions=(42,))
    try:
        with urllib.request.urlopen(stack.url + "/openapi.json", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            document = json.loads(response.read())
        yield stack, document
    finally:
        stack.close()


@pytest.fixture(scope="module")
def original():
    import os
    os.environ.setdefault("ORIGINAL_SECRET", "unused")
    import original_app
    return original_app.app.openapi()


def test_is_a_valid_openapi_3_1_document_and_the_checked_in_file(served):
    _, document = served
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document == json.loads((ROOT / "Sources" / "FeedbackGateway" / "openapi.json").read_text())


def test_agrees_with_the_original_fastapi_document(served, original):
    _, ours = served
    theirs_post, ours_post = original["paths"]["/feedback"]["post"], ours["paths"]["/feedback"]["post"]
    assert ours_post["operationId"] == theirs_post["operationId"]
    assert ours_post["security"] == theirs_post["security"]
    assert ours_post["requestBody"]["content"]["application/json"]["schema"] == theirs_post["requestBody"]["content"]["application/json"]["schema"]
    # FastAPI's validation error shapes, exactly.
    for name in ("HTTPValidationError", "ValidationError"):
        assert ours["components"]["schemas"][name] == original["components"]["schemas"][name], name
    # The request model: the original's fields and types, with descriptions and an example added.
    model, theirs_model = ours["components"]["schemas"]["Feedback"], original["components"]["schemas"]["Feedback"]
    assert model["required"] == theirs_model["required"]
    for field, schema in theirs_model["properties"].items():
        assert model["properties"][field]["type"] == schema["type"]
        assert model["properties"][field]["description"]
    assert ours["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert set(theirs_post["responses"]) <= set(ours_post["responses"])


def readme_statuses() -> set:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Status mapping (RPC → HTTP)", 1)[1].split("\n### ", 1)[0]
    table = {int(m) for m in re.findall(r"^\|[^|]+\| (\d{3})\b", section, re.M)}
    own = re.search(r"\*\*Answered by the gateway itself\*\*[^:]*: ([\d, ]+)\.", section)
    return table | {int(code) for code in own.group(1).split(", ")}


def test_documents_exactly_the_statuses_the_readme_lists(served):
    _, document = served
    documented = {int(code) for code in document["paths"]["/feedback"]["post"]["responses"]}
    assert documented == readme_statuses()


def test_the_documented_example_and_error_bodies_are_what_the_gateway_answers(served):
    stack, document = served
    post = document["paths"]["/feedback"]["post"]
    example = post["requestBody"]["content"]["application/json"]["example"]

    def send(body: dict, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(stack.url + "/feedback", data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    token = stack.token()
    assert send(example, token) == (204, b"")
    status, body = send({"interaction_id": 7, "rating": 1}, token)
    assert status == 404 and json.loads(body) == {"detail": "Interaction 7 not found."}
    assert "404" in post["responses"]
    status, body = send({"interaction_id": 42, "rating": 2}, token)
    assert status == 422 and json.loads(body) == post["responses"]["422"]["content"]["application/json"]["examples"]["rating"]["value"]
    status, body = send(example)
    assert status == 401 and json.loads(body) == {"detail": "Not authenticated"}

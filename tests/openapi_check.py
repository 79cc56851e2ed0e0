"""Does an API response say what ``/api/v1/openapi.json`` declares for it? For regression tests
of what schemathesis found (tests/test_api_fuzz.py): the status code is declared for the
operation, the content type is declared for that status, and the body validates against it."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def openapi_document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def assert_declared(document: dict[str, Any], method: str, path: str, response) -> None:
    """``path`` is the template as published, e.g. ``/api/v1/persons/{person_id}``."""
    responses = document["paths"][path][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method} {path} answered {status}; declared: {sorted(responses)}"
    content = responses[status].get("content", {})
    media_type = response["Content-Type"].split(";")[0].strip()
    assert media_type in content, f"{method} {path} {status} came as {media_type}; declared: {sorted(content)}"
    schema = {**content[media_type]["schema"], "components": document.get("components", {})}
    errors = sorted(Draft202012Validator(schema).iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]

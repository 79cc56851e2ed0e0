"""Does an API response say what ``/api/v1/openapi.json`` declares for it? For regression tests
of what schemathesis found (tests/test_api_fuzz.py): the status code is declared for the
operation, the content type is declared for that status, and the body validates against it."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator


def _no_key_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    assert not twice, f"the schema names {twice} twice in one object (Swagger UI refuses it)"
    return dict(pairs)


def openapi_document(client) -> dict[str, Any]:
    """The published schema, parsed strictly: Python's json keeps the last of a repeated key, the
    YAML parser in Swagger UI refuses the whole document."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content, object_pairs_hook=_no_key_twice)


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

"""What the API answers when a request does not fit an operation's schema: one shape, declared.

django-ninja checks path, query and body against the operation's schemas before the handler
runs. Its default answer is a 422 with pydantic's error list, which no operation declared and
which differs from the handlers' own refusals. ``request_invalid`` answers instead with the
handlers' shape, ``{detail, errors: [{field, message}]}``, the field named as the sender wrote
it (``events.0.subject.local_id``, ``limit``, ``person_id``); operations declare it as
``RequestErrorOut``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import ValidationError
from pydantic import Field

from cylch.core.text import NOT_TEXT_MESSAGE, not_text_paths

NOT_DONE = "The request does not match the API's schema, so nothing was done: fix these and send it again."


class Message(Schema):
    detail: str


class FieldProblem(Schema):
    field: str = Field(description="Where: a body path such as events.0.subject.local_id, or a parameter's name.")
    message: str


class RequestErrorOut(Schema):
    detail: str
    errors: list[FieldProblem]


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "batch", "events", 0, "code")`` -> ``events.0.code``; ``("query", "limit")`` -> ``limit``.

    A body's second part is the handler's parameter name, which the sender never sees; the
    body as a whole (missing, or not an object) is ``body``.
    """
    where, *rest = loc
    if where == "body":
        rest = rest[1:]
    return ".".join(str(p) for p in rest) or str(where)


def refuse_not_text(values: dict[str, Any], *, location: str) -> None:
    """Refuse (422, in the shape above) a NUL or half a UTF-16 pair in a request's ``query``,
    ``path`` or ``body`` values (``core.text``): a query or write with one raises."""
    prefix = ("body", "body") if location == "body" else (location,)  # a body's second part is a name
    errors = [{"loc": (*prefix, *path), "msg": NOT_TEXT_MESSAGE} for path in not_text_paths(values)]
    if errors:
        raise ValidationError(errors)


def request_invalid(api, request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": field_name(e.get("loc") or ("body",)), "message": str(e.get("msg", e))} for e in exc.errors]
    return api.create_response(request, {"detail": NOT_DONE, "errors": errors}, status=422)

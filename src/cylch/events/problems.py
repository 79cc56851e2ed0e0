"""What the recording services tell a sender that something is wrong, in the sender's language.

Each message is translated when it is made (``gettext``): a CSV uploaded from a Welsh page is
answered in Welsh, and the API in the language its request asks for. The JSON Schema
library's own messages (“'x' is not of type 'integer'”) are for programmers and only in
English, so a detail's problem is said here instead, at the detail it is about.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _
from jsonschema import ValidationError as SchemaError

from cylch.core import taxonomy


def in_the_future() -> str:
    return _("This is in the future: give when it happened.")


def sensitivity_lowered(event_code: taxonomy.EventCode) -> str:
    return _("Use “%(class)s” (the code's class) or “special”; a class can be raised, not lowered.") % {
        "class": event_code.sensitivity
    }


def _kind(kind: Any) -> str:
    kinds = {
        "integer": _("Give a whole number."),
        "number": _("Give a number."),
        "string": _("Give text."),
        "boolean": _("Give yes or no."),
        "array": _("Give a list."),
        "object": _("Give named values."),
    }
    return kinds.get(kind if isinstance(kind, str) else next(iter(kind), ""), _("This is not the right kind of value."))


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def detail_problems(err: SchemaError) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path inside the details, message) for one schema error; a missing or unexpected
    detail is named at its own path, not at the object that holds it."""
    path, value, rule = tuple(err.path), err.instance, err.validator
    if rule == "required" and isinstance(value, dict):
        for name in err.validator_value:
            if name not in value:
                yield (*path, name), _("This detail is required.")
    elif rule == "additionalProperties" and isinstance(value, dict):
        allowed = set(err.schema.get("properties") or {})
        for name in sorted(set(value) - allowed):
            yield (*path, name), _("This code has no detail called “%(name)s”.") % {"name": name}
    elif rule == "type":
        yield path, _kind(err.validator_value)
    elif rule == "enum":
        choices = ", ".join(_shown(c) for c in err.validator_value)
        yield path, _("“%(value)s” is not one of: %(choices)s.") % {"value": _shown(value), "choices": choices}
    elif rule == "minimum":
        yield path, _("Give %(limit)s or more.") % {"limit": err.validator_value}
    elif rule == "maximum":
        yield path, _("Give %(limit)s or less.") % {"limit": err.validator_value}
    elif rule == "minItems":
        yield path, _("Give at least %(limit)s.") % {"limit": err.validator_value}
    elif rule == "uniqueItems":
        yield path, _("A value appears more than once in this list.")
    elif rule == "format" and err.validator_value == "date":
        yield path, _("“%(value)s” is not a date in the form YYYY-MM-DD.") % {"value": _shown(value)}
    elif rule == "format" and err.validator_value == "uuid":
        yield path, _("“%(value)s” is not an event's id (a UUID).") % {"value": _shown(value)}
    else:
        yield path, err.message

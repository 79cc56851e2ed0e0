"""Characters that are never text anyone typed, found so that intake can refuse them by name.

A NUL cannot be stored, or even compared in a query, by PostgreSQL; half of a UTF-16 pair
(JSON can carry ``"\\ud800"``) cannot be written as UTF-8 at all, so it fails on SQLite too.
Either would otherwise be a server error deep inside a write.
"""

from __future__ import annotations

import re
from typing import Any

NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
NOT_TEXT_MESSAGE = "This contains a character that is not text (a NUL, or half of a UTF-16 pair)."


def not_text_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every string (value or key) in a JSON-like value that holds such a character.

    A bad key is named by its own path, with the characters shown as U+FFFD.
    """
    if isinstance(value, str):
        return [path] if NOT_TEXT.search(value) else []
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(key, str) and NOT_TEXT.search(key):
                found.append((*path, NOT_TEXT.sub("\ufffd", key)))
            else:
                found += not_text_paths(inner, (*path, key))
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            found += not_text_paths(inner, (*path, i))
    return found

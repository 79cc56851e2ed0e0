"""Run a whole transaction again when PostgreSQL chose it as a deadlock's victim.

Two event batches can each hold a row the other wants (an alert, the audit head) and PostgreSQL
kills one (docs/bench.md, "The deadlock"). A batch is all or nothing and idempotent, so running
it again is safe and the sender gets its answer instead of a 500.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

T = TypeVar("T")
RETRYABLE = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def _retryable(exc: OperationalError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) in RETRYABLE


def on_deadlock(fn: Callable[[], T], *, attempts: int = 3) -> T:
    """``fn()`` (which opens its own transaction), again up to ``attempts`` times on a deadlock.
    Inside an outer transaction nothing is retried: the outer one is already lost."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == attempts or connection.in_atomic_block or not _retryable(exc):
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")

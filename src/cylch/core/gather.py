"""Writes queued for the end of a block, so a batch's rows go in together.

``audit.gathering`` and ``notify.gathering`` both hold what their block queues in a context
variable, join an outer block rather than nest, and write only if the block ends well; this is
that part, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def gathering_into(var: ContextVar[T | None], make: Callable[[], T]) -> Iterator[T | None]:
    """Set ``var`` to a new ``make()`` for the block and yield it; yield None inside an outer
    block of the same ``var`` (the outer one writes). After the block, the caller writes what
    was yielded; if the block raises, nothing is written, since its transaction rolls back."""
    if var.get() is not None:
        yield None
        return
    gathered = make()
    token = var.set(gathered)
    try:
        yield gathered
    finally:
        var.reset(token)

"""A transaction PostgreSQL killed as a deadlock's victim runs again; other errors do not."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from cylch.core.retry import on_deadlock


class _Cause(Exception):
    def __init__(self, sqlstate):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(times: int, sqlstate: str):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("deadlock") from _Cause(sqlstate)
        return len(calls)

    return fn, calls


def test_a_deadlock_victim_runs_again_and_other_errors_do_not():
    fn, calls = _failing(2, "40P01")
    assert on_deadlock(fn) == 3
    fn, calls = _failing(3, "40P01")
    with pytest.raises(OperationalError):
        on_deadlock(fn)
    assert len(calls) == 3
    fn, calls = _failing(1, "08006")  # connection failure: not ours to retry
    with pytest.raises(OperationalError):
        on_deadlock(fn)
    assert len(calls) == 1

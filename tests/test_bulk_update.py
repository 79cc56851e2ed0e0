"""``core.bulk.update_rows``: many rows' fields in one statement, as ``bulk_update`` would write
them, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cylch.core import bulk
from cylch.core.bulk import update_rows
from cylch.events.models import ImportRun, ImportStatus
from tests import factories

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def _runs(n: int) -> list[ImportRun]:
    org = factories.organisation(code="gp-bulk", kind="gp_practice")
    return ImportRun.objects.bulk_create(
        ImportRun(organisation=org, source="api", started_at=START, status=ImportStatus.STORED, errors=[])
        for _ in range(n)
    )


def test_each_row_gets_its_own_values_and_the_others_are_untouched():
    runs = _runs(4)
    changed, untouched = runs[:3], runs[3]
    values = [
        # a JSON list with quotes, a percent sign and Welsh; a time; a count
        ([{"line": 2, "message": "Dyddiad 'anghywir': 100% o'r rhesi"}], START + timedelta(minutes=1), 7),
        ([], None, 0),  # an empty list and a time that is not known
        ({"nested": {"ŵ": [1, None, True]}}, START + timedelta(days=400, microseconds=5), 2_000_000),
    ]
    for run, (errors, finished, rows) in zip(changed, values, strict=True):
        run.errors, run.finished_at, run.rows = errors, finished, rows
        run.filename = "not written"  # a field not named stays as it is in the database

    assert update_rows(ImportRun, changed, ["errors", "finished_at", "rows"]) == 3

    for run, (errors, finished, rows) in zip(changed, values, strict=True):
        stored = ImportRun.objects.get(pk=run.pk)
        assert (stored.errors, stored.finished_at, stored.rows, stored.filename) == (errors, finished, rows, "")
    stored = ImportRun.objects.get(pk=untouched.pk)
    assert (stored.errors, stored.finished_at, stored.rows) == ([], None, 0)


def test_a_null_in_every_row_is_written_as_null():
    """PostgreSQL types a VALUES column of NULLs as text: the cast makes it the field's type."""
    runs = _runs(2)
    ImportRun.objects.filter(pk__in=[r.pk for r in runs]).update(finished_at=START)
    for run in runs:
        run.finished_at = None
    assert update_rows(ImportRun, runs, ["finished_at"]) == 2
    assert list(ImportRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("finished_at", flat=True)) == [
        None,
        None,
    ]


def test_one_statement_per_chunk(monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 3)
    runs = _runs(7)
    for i, run in enumerate(runs):
        run.rows = i + 1
    with CaptureQueriesContext(connection) as queries:
        assert update_rows(ImportRun, runs, ["rows"]) == 7
    assert len(queries) == 3  # 3 + 3 + 1
    assert sorted(ImportRun.objects.values_list("rows", flat=True)) == [1, 2, 3, 4, 5, 6, 7]


def test_nothing_to_write_is_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert update_rows(ImportRun, [], ["rows"]) == 0
    assert len(queries) == 0


def test_refuses_what_it_cannot_write():
    runs = _runs(1)
    with pytest.raises(ValueError, match="plain columns"):
        update_rows(ImportRun, runs, ["id"])
    with pytest.raises(ValueError, match="no primary key"):
        update_rows(ImportRun, [ImportRun(rows=1)], ["rows"])

"""Write many event rows without building model instances: ``executemany`` on SQLite,
``COPY`` on PostgreSQL. Used only by the demo and benchmark loaders; every other writer goes
through ``cylch.events.services``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from django.db import connection

from cylch.events.models import Event

COLUMNS = (
    "public_id", "code", "person_id", "household_id", "agency_record_id", "organisation_id",
    "recorded_by_id", "recorder_name", "recorder_role", "recorder_contact", "occurred_at", "recorded_at",
    "sensitivity", "summary", "details", "external_id", "fingerprint", "supersedes_id", "source",
)  # fmt: skip


def _sqlite_value(value):
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def insert_events(rows: Iterable[Sequence]) -> int:
    """Insert tuples in ``COLUMNS`` order. Returns the number written."""
    table = Event._meta.db_table
    rows = list(rows)
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor, for COPY
            with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for v in row])
        else:
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                [[_sqlite_value(v) for v in row] for row in rows],
            )
    return len(rows)

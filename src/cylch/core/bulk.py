"""Writing a few fields of many rows in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` per row and field and copies
every one of those expressions while compiling: for a batch's 370 alerts that was 250 ms of
CPU, more than the rules' reads. ``update_rows`` sends the same rows as a ``VALUES`` list
joined on the primary key instead: one statement per chunk, whose cost is the values' own
preparation (docs/bench.md, "Intake: one statement for the alerts' new counts").

Like ``bulk_update`` it sends no signals and does not touch ``auto_now`` fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model

CHUNK = 500  # rows per statement: SQLite allows 32,766 parameters, PostgreSQL 65,535


def update_rows(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of each of ``objs`` (saved rows of ``model``) as they are in memory.
    Returns how many rows the database says it updated."""
    if not objs or not fields:
        return 0
    connection = connections[router.db_for_write(model)]
    quote, meta = connection.ops.quote_name, model._meta
    targets = [meta.get_field(name) for name in fields]
    if any(f.primary_key or not f.concrete or f.many_to_many for f in targets):
        raise ValueError(f"update_rows writes plain columns of {meta.label}, not {fields!r}")
    # VALUES names its columns column1, column2… in PostgreSQL and SQLite alike. PostgreSQL
    # types them by the first row and reads NULL or a literal as text, so each is cast to its
    # field's type there; SQLite keeps what it is given (a CAST there would turn a date's text
    # into a number).
    if connection.vendor == "postgresql":
        values = [f"CAST(v.column{i + 2} AS {f.cast_db_type(connection)})" for i, f in enumerate(targets)]
        pk_value = f"CAST(v.column1 AS {meta.pk.cast_db_type(connection)})"
    else:
        values = [f"v.column{i + 2}" for i in range(len(targets))]
        pk_value = "v.column1"
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = {v}" for f, v in zip(targets, values, strict=True))
    row = "(" + ", ".join(["%s"] * (len(targets) + 1)) + ")"
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            params: list[object] = []
            for obj in chunk:
                if obj.pk is None:
                    raise ValueError(f"update_rows needs saved {meta.label} rows; one has no primary key")
                params.append(meta.pk.get_db_prep_value(obj.pk, connection))
                params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in targets)
            sql = (
                f"UPDATE {table} SET {assignments} "
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE {table}.{quote(meta.pk.column)} = {pk_value}"
            )
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated

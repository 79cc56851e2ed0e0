"""Writing many rows at once, cheaper than Django's bulk methods where a batch's size shows it.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` per row and field and copies
every one of those expressions while compiling: for a batch's 370 alerts that was 250 ms of
CPU, more than the rules' reads. ``update_rows`` sends the same rows as a ``VALUES`` list
joined on the primary key instead: one statement per chunk, whose cost is the values' own
preparation (docs/bench.md, "Intake: one statement for the alerts' new counts").

Like ``bulk_update`` it sends no signals and does not touch ``auto_now`` fields.

``insert_rows`` is ``bulk_create`` by ``COPY`` on PostgreSQL: Django prepares each value of each
row through its field and then walks every value again to build an ``UNNEST`` insert, which for
a batch's 1,000 events was three times the database's own work. Here the ids are taken from the
table's sequence in one query and the rows streamed with ``COPY``; values psycopg already sends
as they are skip the field's preparation. Elsewhere it is ``bulk_create``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Field, ForeignKey, JSONField, Model, OneToOneField

M = TypeVar("M", bound=Model)

CHUNK = 500  # rows per statement: SQLite allows 32,766 parameters, PostgreSQL 65,535


def id_chunks(ids: Iterable, size: int = CHUNK) -> Iterator[list]:
    """``ids`` sorted, in lists of at most ``size``: one ``IN (...)`` each, read in a fixed order."""
    ordered = sorted(ids)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def new_row(model: type[M], **values: Any) -> M:
    """``model(**values)``, for the many rows a batch builds before inserting them.

    Django's keyword construction looks each field up in the keywords and sets a related object
    through its descriptor: 52 µs for an event, about a twentieth of a batch's Python. Built
    from the fields in order instead, it only sets attributes. ``values`` names fields as
    Django's keywords do (a related object by the field's name, its id by ``attname``); the
    rest take their defaults."""
    plan = _PLANS.get(model) or _plan(model)
    args: list[Any] = []
    related: list[tuple[ForeignKey, Model]] = []
    taken = 0
    for field, attname, name, is_fk, default in plan:
        if attname in values:
            args.append(values[attname])
            taken += 1
        elif is_fk and name in values:
            obj = values[name]
            taken += 1
            if obj is None:
                args.append(None)
            else:  # as the descriptor: the id now (None while obj is unsaved), the object cached
                args.append(getattr(obj, field.target_field.attname))
                related.append((field, obj))
        else:
            args.append(default())
    if taken != len(values):
        unknown = sorted(set(values) - {n for _f, a, b, _k, _d in plan for n in (a, b)})
        raise TypeError(f"{model.__name__} has no field named {', '.join(unknown)}")
    instance = model(*args)
    for field, obj in related:
        field.set_cached_value(instance, obj)
    return instance


_PLANS: dict[type[Model], list[tuple[Field, str, str, bool, Any]]] = {}


def _plan(model: type[Model]) -> list[tuple[Field, str, str, bool, Any]]:
    fields = model._meta.concrete_fields
    if any(isinstance(f, OneToOneField) for f in fields):  # a reverse cache to keep too: not here
        raise ValueError(f"new_row builds models without one-to-one fields; {model.__name__} has one")
    plan = [(f, f.attname, f.name, isinstance(f, ForeignKey), f._get_default) for f in fields]  # what get_default calls
    _PLANS[model] = plan
    return plan


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


# Values of these exact types go to psycopg as they are: a field's preparation would return them
# unchanged (a naive time, an enum member or anything else is prepared by its field).
_PLAIN = frozenset({str, int, float, bool, Decimal, uuid.UUID, date, type(None)})


def insert_rows(model: type[Model], objs: Sequence[Model]) -> list[Model]:
    """Insert ``objs`` (new rows of ``model``, no primary key yet), giving each its id, as
    ``bulk_create`` does: no signals, ``auto_now`` fields set. A constraint that fails raises
    ``IntegrityError`` and nothing is inserted."""
    objs = list(objs)
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    if any(obj.pk is not None for obj in objs):
        raise ValueError(f"insert_rows inserts new {meta.label} rows; one already has a primary key")
    if connection.vendor != "postgresql" or not objs:
        return model._default_manager.bulk_create(objs)
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    # Each field's own way of turning a value into a column, where it is not the plain value.
    saving = [type(f).pre_save is not Field.pre_save for f in fields]
    json = [isinstance(f, JSONField) for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in [meta.pk.column, *(f.column for f in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        rows = []
        for pk, obj in zip(ids, objs, strict=True):
            obj._prepare_related_fields_for_save(operation_name="insert_rows")  # as bulk_create
            row = [pk]
            for field, pre_save, is_json in zip(fields, saving, json, strict=True):
                value = field.pre_save(obj, add=True) if pre_save else getattr(obj, field.attname)
                if is_json or (type(value) not in _PLAIN and not (type(value) is datetime and value.tzinfo)):
                    value = field.get_db_prep_save(value, connection)
                row.append(value)
            rows.append(row)
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    for pk, obj in zip(ids, objs, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
    return objs

"""Where records to link come from: the hub's agency records, or any CSV file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

from cylch.identity.linkage import features
from cylch.identity.linkage.online import record_fields

HUB_FIELDS = frozenset(
    {"given_name", "surname", "date_of_birth", "sex", "postcode", "address", "nhs_number", "pupil_number"}
)


class SourceError(ValueError):
    """A problem in the input, with where it is (line and column)."""


def hub_rows(progress: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every agency record that is linked to a person, prepared for linkage (id = record pk)."""
    from cylch.identity.models import AgencyRecord

    cols = ("pk", "given_name", "family_name", "date_of_birth", "sex", "postcode", "address_line", "town",
            "nhs_number", "upn")  # fmt: skip
    qs = AgencyRecord.objects.filter(links__active=True).values_list(*cols).order_by("pk")
    for n, values in enumerate(qs.iterator(chunk_size=20000), start=1):
        data = dict(zip(cols, values, strict=True))
        yield features.prepare(data["pk"], record_fields(data))
        if progress and n % 10000 == 0:
            progress(10000)


def parse_map(text: str) -> dict[str, str]:
    """``given_name=First,surname=Last`` to {field: column}, refusing unknown fields."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, sep, column = part.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise SourceError(f"--map: “{part}” is not FIELD=COLUMN.")
        if field not in features.FIELDS:
            raise SourceError(f"--map: unknown field “{field}”; use one of {', '.join(features.FIELDS)}.")
        if field in out:
            raise SourceError(f"--map: field “{field}” is mapped twice.")
        out[field] = column
    if not out:
        raise SourceError("--map: map at least one field, e.g. given_name=First,surname=Last.")
    return out


def csv_rows(data: bytes, *, id_column: str, mapping: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Read and prepare a CSV; every problem names its line and column. Ids must be unique."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"the file is not UTF-8 text (byte {exc.start}).") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in [id_column, *mapping.values()] if c not in header]
    if missing:
        raise SourceError(
            f"line 1: no column named {', '.join(repr(c) for c in missing)} (columns: {', '.join(header)})."
        )
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        uid = (raw.get(id_column) or "").strip()
        if not uid:
            raise SourceError(f"line {line}: column {id_column!r} is empty; every row needs an id.")
        if uid in seen:
            raise SourceError(f"line {line}: id {uid!r} was already used on line {seen[uid]}.")
        seen[uid] = line
        record = {field: (raw.get(col) or "").strip() for field, col in mapping.items()}
        try:
            rows.append(features.prepare(uid, record))
        except ValueError:
            col = mapping["date_of_birth"]
            raise SourceError(
                f"line {line}: column {col!r}: “{record['date_of_birth']}” is not a date (use YYYY-MM-DD or YYYYMMDD)."
            ) from None
        ids.append(uid)
    if not rows:
        raise SourceError("the file has a header but no rows.")
    return ids, rows

"""CSV intake: one file from one organisation, all or nothing, errors by line and column.

The column specification is generated from the taxonomy, so it is always the one the
importer checks against (``columns_for(code)``; the template download and the spec page use
it too).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.core import taxonomy
from cylch.events.batch import item_problems
from cylch.events.models import ImportRun, ImportStatus, Source
from cylch.events.services import BatchRejected, record_event_batch
from cylch.rules.register import register_notices

LONDON = ZoneInfo("Europe/London")
MAX_ERRORS_KEPT = 200
NUL_MESSAGE = _("This contains a NUL character (\\0), which is not text: export the file again as “CSV UTF-8”.")


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: Any
    example: str = ""


COMMON = [
    Column(
        "external_id",
        True,
        _("Your system's own id for this event. Sending it again is safe: it is stored once."),
        "HV-2026-000123",
    ),
    Column("code", True, _("A code from the concern taxonomy."), "health.appointment.was_not_brought"),
    Column(
        "occurred_at",
        True,
        _("When it happened: 2026-03-01T09:30:00Z, 2026-03-01 09:30 or 01/03/2026 09:30 (UK time)."),
        "2026-03-01 09:30",
    ),
    Column("local_id", True, _("Your system's own id for the person."), "HV-44721"),
    Column("given_name", False, _("First name as you hold it."), "Alys"),
    Column("family_name", False, _("Last name as you hold it."), "Prydderch"),
    Column("date_of_birth", False, _("2019-04-03 or 03/04/2019."), "2019-04-03"),
    Column("sex", False, _("female, male, other or unknown."), "female"),
    Column("nhs_number", False, _("10 digits; checked."), ""),
    Column("upn", False, _("Unique pupil number; checked."), ""),
    Column("address_line", False, _("First line of the address."), "30 Stryd y Bont"),
    Column("town", False, _("Town."), "Cardiff"),
    Column("postcode", False, _("Postcode."), "CF10 7AX"),
    Column("summary", False, _("What happened, in a sentence or two."), ""),
    Column("recorder_name", False, _("Who recorded it."), ""),
    Column("recorder_role", False, _("Their role."), ""),
    Column("recorder_contact", False, _("How to reach them."), ""),
]
SUBJECT_FIELDS = {
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "nhs_number",
    "upn",
    "address_line",
    "town",
    "postcode",
}
TRUE = {"true", "yes", "y", "1", "ie", "do", "ydy"}
FALSE = {"false", "no", "n", "0", "na", "naddo", "nac ydy"}


def details_columns(code: str) -> list[Column]:
    event_code = taxonomy.get(code)
    if event_code is None:
        return []
    out = []
    required = set(event_code.details_schema.get("required") or [])
    for name, spec in (event_code.details_schema.get("properties") or {}).items():
        kind = spec.get("type", "string")
        if "enum" in spec:
            text = _("one of: %(values)s") % {"values": ", ".join(map(str, spec["enum"]))}
        elif kind == "array":
            items = spec.get("items", {})
            text = _("several, separated by ;") + (" – " + ", ".join(items["enum"]) if "enum" in items else "")
        elif kind == "boolean":
            text = _("yes or no")
        else:
            text = str(kind)
        out.append(Column(f"details.{name}", name in required, text))
    return out


def columns_for(code: str) -> list[Column]:
    return COMMON + details_columns(code)


def template(code: str) -> str:
    """A CSV header and one example row for ``code``."""
    columns = columns_for(code)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in columns])
    writer.writerow([code if c.name == "code" else c.example for c in columns])
    return buffer.getvalue()


def _parse_time(value: str) -> str | None:
    value = value.strip()
    try:
        parsed = parse_datetime(value)  # ISO forms, date alone included
    except ValueError:  # well formed but impossible, e.g. 30 February
        return None
    if parsed is None:
        for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y"):
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.isoformat()


def _parse_date(value: str) -> str:
    value = value.strip()
    try:
        return datetime.strptime(value, "%d/%m/%Y").date().isoformat()
    except ValueError:
        return value  # ISO or wrong: the identity service says which


def _typed(value: str, spec: dict[str, Any]):
    kind = spec.get("type", "string")
    if kind == "boolean":
        low = value.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        return value  # the schema check names it
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "array":
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


@dataclass
class ParsedFile:
    items: list[dict[str, Any]]
    lines: list[int]
    errors: list[dict[str, Any]]


def parse(text: str) -> ParsedFile:
    """Rows to event items. Problems found here (unknown columns, bad times) are kept, not raised."""
    # Strict: a quote left open would otherwise swallow every row after it into one cell, and
    # text after a closing quote would be glued on, both silently.
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    parsed = ParsedFile([], [], [])
    header = reader.fieldnames or []
    if any("\x00" in name for name in header):
        parsed.errors.append({"line": 1, "column": "", "message": str(NUL_MESSAGE)})
        return parsed
    missing = [c.name for c in COMMON if c.required and c.name not in header]
    if missing:
        parsed.errors.append(
            {
                "line": 1,
                "column": ", ".join(missing),
                "message": gettext("These required columns are missing from the header."),
            }
        )
        return parsed
    known = {c.name for c in COMMON}
    for i, name in enumerate(header):
        if name not in known and not name.startswith("details."):
            parsed.errors.append({"line": 1, "column": name, "message": gettext("Unknown column.")})
        elif name in header[:i]:  # only the last one's values would be read
            parsed.errors.append({"line": 1, "column": name, "message": gettext("This column appears twice.")})
    for line, row in _rows(reader, parsed):
        if None in row:  # more cells than the header: the values would be read into the wrong columns
            cells = len(header) + len(row[None])
            message = gettext(
                "This row has %(cells)s cells and the header %(header)s: a value with a comma in it needs quotes."
            )
            parsed.errors.append(
                {"line": line, "column": "", "message": message % {"cells": cells, "header": len(header)}}
            )
            continue
        # PostgreSQL cannot store a NUL, and a NUL is never part of what someone typed.
        nul = [{"line": line, "column": k, "message": str(NUL_MESSAGE)} for k, v in row.items() if v and "\x00" in v]
        if nul:
            parsed.errors.extend(nul)
            continue
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        code = taxonomy.get(row.get("code", ""))
        occurred = _parse_time(row.get("occurred_at", "")) if row.get("occurred_at") else ""
        if row.get("occurred_at") and occurred is None:
            parsed.errors.append(
                {
                    "line": line,
                    "column": "occurred_at",
                    "message": gettext("“%(value)s” is not a date and time.") % {"value": row["occurred_at"]},
                }
            )
        subject = {"local_id": row.get("local_id", "")}
        for name in SUBJECT_FIELDS:
            if row.get(name):
                subject[name] = _parse_date(row[name]) if name == "date_of_birth" else row[name]
        details = {}
        props = (code.details_schema.get("properties") or {}) if code else {}
        for name, value in row.items():
            if name.startswith("details.") and value:
                key = name.removeprefix("details.")
                details[key] = _typed(value, props.get(key, {}))
        parsed.items.append({
            "external_id": row.get("external_id", ""), "code": row.get("code", ""), "occurred_at": occurred or "",
            "subject": subject, "summary": row.get("summary", ""), "details": details,
            "recorder": {"name": row.get("recorder_name", ""), "role": row.get("recorder_role", ""), "contact": row.get("recorder_contact", "")},
        })  # fmt: skip
        parsed.lines.append(line)
    return parsed


def _rows(reader: csv.DictReader, parsed: ParsedFile):
    """Each row with the line it starts on (a quoted value may span lines); an unreadable row
    is reported where it is and ends the reading."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = gettext("This row cannot be read as CSV (%(error)s).") % {"error": exc}
            parsed.errors.append({"line": start, "column": "", "message": message})
            return
        yield start, row


def _column_for(field: str) -> str:
    if field.startswith("subject."):
        return field.removeprefix("subject.")
    return field


def import_csv(
    *, organisation: Organisation, data: bytes, filename: str = "", actor: User | None = None, progress=None
) -> ImportRun:
    """Import one CSV file. Returns the run; ``run.status`` says whether anything was stored."""
    started = timezone.now()
    run = ImportRun(organisation=organisation, source=Source.CSV, filename=filename.replace("\x00", "")[:255], sha256=hashlib.sha256(data).hexdigest(),
                    started_at=started, imported_by=actor, status=ImportStatus.REJECTED)  # fmt: skip
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        run.errors = [
            {
                "line": text_line(data, exc.start),
                "column": "",
                "message": gettext("The file is not UTF-8 text. Save it as “CSV UTF-8”."),
            }
        ]
        run.error_count = 1
        return _finish(run)
    parsed = parse(text)
    run.rows = len(parsed.items)
    errors = list(parsed.errors)
    if errors and parsed.items:  # refused already; its rows are checked too, so one round fixes all
        told = {(e["line"], e["column"]) for e in errors}
        for e in item_problems(parsed.items):
            line, column = parsed.lines[e["item"]], _column_for(e["field"])
            if (line, column) not in told:
                errors.append({"line": line, "column": column, "message": e["message"]})
    if not errors and not parsed.items:
        errors.append({"line": 2, "column": "", "message": gettext("The file has a header but no rows.")})
    if not errors:
        try:
            result = record_event_batch(
                organisation=organisation, items=parsed.items, source=Source.CSV, actor=actor, progress=progress
            )
        except BatchRejected as exc:
            errors = [
                {"line": parsed.lines[e["item"]], "column": _column_for(e["field"]), "message": e["message"]}
                for e in exc.errors
            ]
        else:
            run.status = ImportStatus.STORED
            run.created, run.unchanged = len(result.created), len(result.unchanged)
            run.new_persons, run.links = result.new_persons, result.links
            people = {e.person_id: e.person for e in [*result.created, *result.unchanged] if e.person_id}
            run.register_people = [str(people[pk].public_id) for pk in register_notices(list(people.values()))]
    run.error_count = len(errors)
    run.errors = sorted(errors, key=lambda e: (e["line"], e["column"]))[:MAX_ERRORS_KEPT]
    return _finish(run)


def text_line(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def _finish(run: ImportRun) -> ImportRun:
    run.finished_at = timezone.now()
    run.save()
    audit_record(
        action="write", actor=run.imported_by, actor_label="" if run.imported_by else f"{run.organisation.code} system",
        organisation_code=run.organisation.code, object_type="import", object_id=run.public_id,
        purpose=f"{run.source} import {run.status}",
        detail={"file": run.filename, "sha256": run.sha256, "rows": run.rows, "created": run.created, "errors": run.error_count},
    )  # fmt: skip
    return run

"""How ``record_event_batch`` stores a batch: set-based, with what one event at a time would do.

A batch of a hundred events used to cost some 25 queries per event (docs/bench.md, "Intake"):
each item read and wrote its agency record, looked up its external id and household, inserted
its event in a savepoint of its own, and the rules ran for it alone. Here the whole batch is
read in a fixed handful of queries (its agency records and their links, the external ids
already used, the subjects' households, placing anyone who lives nowhere yet at their agencies'
address: ``identity.households.place``), the new events go in with one multi-row insert, and
the rules run once for the batch (:data:`batch_recorded`), each over every scope the batch
touched. Records not held before are inserted together and each linked as it would be alone
(``identity/records_batch.py``).

What does not change: all or nothing; idempotent on ``(organisation, external_id)`` with the
same fingerprint; the problems found in the same stages (reading each item; then its subject,
its age, time, sensitivity and external id, in that order) and named by item and field;
``event_recorded`` once for each new event (with ``batch=True``); one audit entry per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.audit import gathering as audit_gathering
from cylch.access.models import Organisation, User
from cylch.core import taxonomy
from cylch.core.bulk import insert_rows, new_row
from cylch.core.text import NOT_TEXT_MESSAGE, not_text_paths
from cylch.events.models import Event
from cylch.events.problems import in_the_future, sensitivity_lowered
from cylch.events.services import (
    BatchRejected,
    BatchResult,
    _same_or_clash,
    check_subject,
    fingerprint,
    fingerprint_subject,
    recorder_of,
    validate_details,
)
from cylch.events.signals import batch_recorded, event_recorded
from cylch.identity.households import place
from cylch.identity.models import AgencyRecord
from cylch.identity.records_batch import agency_records_upsert
from cylch.identity.services import CHUNK, RecordResult, clean_record_fields

# A concurrent batch can store one of our external ids between our look and our insert; each
# retry settles at least one such id, so a few are plenty.
INSERT_ATTEMPTS = 5


@dataclass
class Item:
    """One item that read well: what it says, ready for its subject to be found."""

    index: int
    raw: dict[str, Any]
    external_id: str
    local_id: str
    data: dict[str, Any]
    occurred_at: datetime
    details: dict[str, Any]
    event_code: taxonomy.EventCode


def _flatten(index: int, exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        return [
            {"item": index, "field": f"{prefix}{name}", "message": message}
            for name, errs in exc.message_dict.items()
            for message in errs
        ]
    return [{"item": index, "field": prefix.rstrip(".") or "", "message": m} for m in exc.messages]


def _too_long(values: dict[str, Any], model) -> list[tuple[str, str]]:
    """Text longer than its column: PostgreSQL refuses it (a server error) and SQLite keeps it whole."""
    out = []
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length if isinstance(value, str) else None
        if limit and len(value) > limit:
            message = _("This is %(length)s characters long; at most %(limit)s can be kept.")
            out.append((name, message % {"length": len(value), "limit": limit}))
    return out


def _ids_problems(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item needs an external id, once in the batch."""
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        ext = item.get("external_id")
        if not ext:
            errors.append(
                {
                    "item": i,
                    "field": "external_id",
                    "message": _("Every event in a batch needs the sending system's own id, so a resend is safe."),
                }
            )
        elif ext in seen:
            errors.append(
                {
                    "item": i,
                    "field": "external_id",
                    "message": _("“%(id)s” appears twice in this batch (also item %(item)s).")
                    % {"id": ext, "item": seen[ext]},
                }
            )
        else:
            seen[ext] = i
    return errors


def read_item(index: int, item: dict[str, Any]) -> Item:
    """Check one item's own fields, without the database. Raises every problem at once."""
    errors: dict[str, list[str]] = {}
    subject = item.get("subject") or {}
    if not isinstance(subject, dict) or not subject.get("local_id"):
        errors["subject.local_id"] = [_("Name the person by your system's own id for them.")]
    occurred_raw = item.get("occurred_at")
    try:
        occurred_at = parse_datetime(str(occurred_raw)) if occurred_raw else None
    except ValueError:  # well formed but impossible, e.g. 30 February
        occurred_at = None
    if occurred_at is None:
        message = _("“%(value)s” is not a date and time (ISO 8601, e.g. 2026-03-01T09:30:00Z).")
        errors["occurred_at"] = [message % {"value": occurred_raw or ""}]
    if not item.get("code"):
        errors["code"] = [_("A taxonomy code is required.")]
    details = item.get("details") or {}
    if not isinstance(details, dict):
        errors["details"] = [_("Details must be an object.")]
    # Check the code, details and subject fields too, so every problem is named at once.
    event_code = None
    if item.get("code") and isinstance(details, dict):
        try:
            event_code = validate_details(item["code"], details)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    data = {k: v for k, v in subject.items() if k != "local_id"} if isinstance(subject, dict) else {}
    try:
        cleaned = clean_record_fields(data)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(f"subject.{name}", []).extend(messages)
    else:
        local_id = subject.get("local_id") if isinstance(subject, dict) else None
        for name, message in _too_long({"local_id": local_id, **cleaned}, AgencyRecord):
            errors.setdefault(f"subject.{name}", []).append(message)
    for name, message in _too_long({"external_id": item.get("external_id")}, Event):
        errors.setdefault(name, []).append(message)
    for path in not_text_paths(item):
        errors.setdefault(".".join(str(p) for p in path), []).append(NOT_TEXT_MESSAGE)
    if errors or occurred_at is None or event_code is None:  # (either missing is one of the errors)
        raise ValidationError(errors)
    return Item(index, item, str(item["external_id"]), str(subject["local_id"]), data, occurred_at, details, event_code)


def _existing(organisation: Organisation, external_ids: list[str]) -> dict[str, Event]:
    """The events this organisation already stored under any of these ids, with their person."""
    found: dict[str, Event] = {}
    for i in range(0, len(external_ids), CHUNK):
        rows = Event.objects.filter(organisation=organisation, external_id__in=external_ids[i : i + CHUNK])
        found.update((e.external_id, e) for e in rows.select_related("person"))
    return found


def _event_for(
    organisation: Organisation,
    it: Item,
    rec: RecordResult,
    source: str,
    actor: User | None,
    existing: dict[str, Event],
) -> Event:
    """``record_event``'s checks and row for one item, in its order. Raises ``ValidationError``.

    Returns the event already stored (or about to be) for a resend, else a new unsaved one.
    """
    item, code, event_code = it.raw, it.raw["code"], it.event_code
    occurred_at = it.occurred_at
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    check_subject(event_code, rec.person, occurred_at)
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": [in_the_future()]})
    sensitivity = item.get("sensitivity")
    if sensitivity not in (None, event_code.sensitivity, "special"):
        raise ValidationError({"sensitivity": [sensitivity_lowered(event_code)]})
    summary = str(item.get("summary") or "")
    external_id = it.external_id
    digest = fingerprint(
        code=code,
        occurred_at=occurred_at,
        subject=fingerprint_subject(rec.record, rec.person, None),
        summary=summary,
        details=it.details,
    )
    if external_id in existing:
        return _same_or_clash(existing[external_id], digest, external_id).event
    recorder = item.get("recorder") or {}
    name, role, contact = recorder_of(actor, *(str(recorder.get(k) or "") for k in ("name", "role", "contact")))
    return new_row(
        Event,
        code=code,
        person=rec.person,
        agency_record=rec.record,
        organisation=organisation,
        recorded_by=actor,
        recorder_name=name,
        recorder_role=role,
        recorder_contact=contact,
        occurred_at=occurred_at,
        recorded_at=timezone.now(),
        sensitivity=sensitivity or event_code.sensitivity,
        summary=summary,
        details=it.details,
        external_id=external_id,
        fingerprint=digest,
        source=source,
    )


def _insert(organisation: Organisation, new: list[Event], index: dict[str, int]) -> dict[str, Event]:
    """Insert the new events in one statement (each gets its id); returns any found to be resends.

    Between our look for the external ids and the insert, a concurrent batch may store one of
    them (a resend racing its original): the insert then fails in its savepoint, those ids are
    looked up again and each is settled as a resend or a clash, as ``record_event`` does.
    """
    resent: dict[str, Event] = {}
    if not new:
        return resent
    for _attempt in range(INSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                insert_rows(Event, new)
            return resent
        except IntegrityError:
            taken = _existing(organisation, [e.external_id for e in new])
            if not taken:
                raise
            problems: list[dict[str, Any]] = []
            for event in new:
                if event.external_id in taken:
                    try:
                        stored = _same_or_clash(taken[event.external_id], event.fingerprint, event.external_id)
                        resent[event.external_id] = stored.event
                    except ValidationError as exc:
                        problems.extend(_flatten(index[event.external_id], exc))
            if problems:
                raise BatchRejected(sorted(problems, key=lambda e: e["item"])) from None
            new = [e for e in new if e.external_id not in taken]
    raise RuntimeError("concurrent batches kept taking this batch's external ids")


def item_problems(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items' own problems (their ids, fields, code and details), found without the
    database: what a file refused for its header is still told about its rows, at once."""
    errors = _ids_problems(items)
    for i, item in enumerate(items):
        try:
            read_item(i, item)
        except ValidationError as exc:
            errors.extend(_flatten(i, exc))
    return errors


def record_batch(
    *,
    organisation: Organisation,
    items: list[dict[str, Any]],
    source: str,
    actor: User | None = None,
    progress=None,
) -> BatchResult:
    """The body of ``record_event_batch`` (which see)."""
    errors = _ids_problems(items)
    if errors:
        raise BatchRejected(errors)
    problems: dict[int, list[dict[str, Any]]] = {}
    readable: list[Item] = []
    for i, item in enumerate(items):
        try:
            readable.append(read_item(i, item))
        except ValidationError as exc:
            problems[i] = _flatten(i, exc)
            if progress is not None:
                progress(1)
    result = BatchResult()
    with transaction.atomic():
        records = agency_records_upsert(
            organisation=organisation, subjects=[(it.local_id, it.data) for it in readable], actor=actor
        )
        # After the records' locks: a concurrent batch about the same records has committed by
        # now, so a resend racing its original usually finds it here rather than on insert.
        existing = _existing(organisation, [it.external_id for it in readable])
        outcome: list[tuple[Item, Event]] = []
        # In the items' order, each checked as its record leaves its person (a later record in
        # the batch may fill in a date of birth), as when they were stored one by one.
        for it, rec in zip(readable, records, strict=True):
            if progress is not None:
                progress(1)
            if isinstance(rec, ValidationError):
                problems[it.index] = _flatten(it.index, rec, "subject.")
                continue
            result.new_persons += int(rec.person_created)
            result.links += int(rec.record_created and not rec.person_created)
            if rec.record_created:
                result.records.append(
                    {
                        "record": str(rec.record.public_id),
                        "person": str(rec.person.public_id),
                        "link": str(rec.link_method),
                    }
                )
            try:
                event = _event_for(organisation, it, rec, source, actor, existing)
            except ValidationError as exc:
                problems[it.index] = _flatten(it.index, exc)
                continue
            existing.setdefault(it.external_id, event)  # the same id again (1 and "1") is a resend of it
            outcome.append((it, event))
        if problems:
            raise BatchRejected([e for i in sorted(problems) for e in problems[i]])
        new = [event for _it, event in outcome if event.pk is None]
        new = list({id(e): e for e in new}.values())
        for event in new:
            event.person = event.person  # someone the batch made has an id only now it is stored
        # The audit entries of the placing join the batch's, appended as it ends: appended now,
        # they would take the recording lock here, and a concurrent sender's batch would wait
        # from this point rather than from its rules (access/audit.py).
        with audit_gathering():
            # Someone known only through intake lives nowhere yet: their agencies' address places
            # them (identity/households.py), before the new events take their household from it.
            homes = place({e.person_id for e in new}, actor=actor)
            for event in new:
                event.household_id = homes.get(event.person_id)
            _store(organisation, items, outcome, new, result, source, actor)
    return result


def _store(
    organisation: Organisation,
    items: list[dict[str, Any]],
    outcome: list[tuple[Item, Event]],
    new: list[Event],
    result: BatchResult,
    source: str,
    actor: User | None,
) -> None:
    """Insert and announce the batch's new events, and audit the batch.

    The audit entries this sets off (each alert the rules raise, the batch's own) are appended
    together as it ends (``audit.gathering``), in one statement. The recording lock is taken by
    the rules (``hold_recording``), else by that append; the chain's head only by the append."""
    fresh = {id(e) for e in new}
    resent = _insert(organisation, new, {it.external_id: it.index for it, _e in outcome})
    for it, event in outcome:
        if it.external_id in resent:
            result.unchanged.append(resent[it.external_id])
        elif id(event) in fresh:
            fresh.discard(id(event))
            result.created.append(event)
        else:
            result.unchanged.append(event)
    for event in result.created:
        event_recorded.send(sender=Event, event=event, batch=True)
    batch_recorded.send(sender=Event, events=result.created)
    audit_record(
        action="write",
        actor=actor,
        actor_label="" if actor else f"{organisation.code} system",
        organisation_code=organisation.code,
        object_type="event_batch",
        object_id=len(items),
        purpose="event batch received",
        detail={
            "created": [str(e.public_id) for e in result.created],
            "unchanged": len(result.unchanged),
            "records": result.records,
            "source": source,
        },
    )

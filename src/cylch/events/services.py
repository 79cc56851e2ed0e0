"""The one recording service every writer uses: forms, API, CSV, FHIR, the demo.

``record_event`` validates against the taxonomy, is idempotent on ``(organisation,
external_id)`` and audits the write in the same transaction. ``record_event_batch`` is all or
nothing: one bad item and nothing is stored, with every problem named by item and field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.core import taxonomy
from cylch.events.models import Event, Source
from cylch.events.problems import detail_problems, in_the_future, sensitivity_lowered
from cylch.events.signals import batch_recorded, event_recorded
from cylch.identity.models import AgencyRecord, HouseholdMembership, Person


def fingerprint(
    *, code: str, occurred_at: datetime, subject: str, summary: str, details: dict[str, Any], supersedes: str = ""
) -> str:
    # The moment in UTC, so a resend that writes the same time with another offset still matches.
    blob = json.dumps(
        [code, occurred_at.astimezone(UTC).isoformat(), subject, summary, details, supersedes],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def fingerprint_subject(agency_record, person, household) -> str:
    """Whom the sender said the event is about: their own record, when they sent one.

    Not the resolved person: that is Cylch's decision and changes when records are linked,
    merged or unlinked, and a resend of the same event must still be recognised afterwards.
    """
    if agency_record is not None:
        return f"record:{agency_record.public_id}"
    return str(person.public_id) if person is not None else f"household:{household.public_id}"


def validate_details(code: str, details: dict[str, Any]) -> taxonomy.EventCode:
    """Check a code and its details. Errors are keyed ``code`` or ``details.<path>``."""
    event_code = taxonomy.get(code)
    if event_code is None:
        raise ValidationError({"code": [_("“%(code)s” is not a code in the concern taxonomy.") % {"code": code}]})
    errors: dict[str, list[str]] = {}
    for err in sorted(event_code.validator.iter_errors(details or {}), key=lambda e: list(e.path)):
        for path, message in detail_problems(err):
            errors.setdefault(".".join(["details", *map(str, path)]), []).append(message)
    if errors:
        raise ValidationError(errors)
    return event_code


def check_subject(event_code: taxonomy.EventCode, person: Person, occurred_at: datetime) -> None:
    """A child's code needs a child (or an unborn baby); an adult's code needs someone 16 or over.

    Unknown dates of birth pass: absence of a record is not evidence.
    """
    born = person.date_of_birth
    if born is None:
        if event_code.subject == "adult" and person.is_unborn:
            message = _("“%(code)s” is about an adult, and this is an unborn baby.")
            raise ValidationError({"code": [message % {"code": event_code.code}]})
        return
    day = timezone.localtime(occurred_at).date() if timezone.is_aware(occurred_at) else occurred_at.date()
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if event_code.subject == "child" and age >= 18:
        message = _("“%(code)s” is about a child, and this person was %(age)s then.")
    elif event_code.subject == "adult" and age < 16:
        message = _("“%(code)s” is about an adult, and this person was %(age)s then.")
    else:
        return
    raise ValidationError({"code": [message % {"code": event_code.code, "age": age}]})


def current_household_id(person: Person) -> int | None:
    return (
        HouseholdMembership.objects.filter(person=person, to_date__isnull=True)
        .order_by("-from_date", "-id")
        .values_list("household_id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class Recorded:
    event: Event
    created: bool


def recorder_of(user, name: str, role: str, contact: str) -> tuple[str, str, str]:
    """Who recorded an entry, as kept on it (cut to its columns): what the sender said, else the
    signed-in user's name, role (in English, as stored) and contact."""
    if user is not None:
        name = name or user.get_full_name() or user.username
        with translation.override("en"):
            role = role or str(user.get_role_display())
        contact = contact or user.email or user.phone
    return name[:120], role[:120], contact[:200]


_together: ContextVar[list[Event] | None] = ContextVar("cylch_recording_together", default=None)


@contextmanager
def recording_together() -> Iterator[list[Event]]:
    """Hand the events recorded in this block to the listeners together when it ends
    (``batch_recorded``), as an agency batch's are: the rules then run once over every scope
    the events touched rather than once per event. Use inside the transaction that records
    them; if the block raises, nothing is sent (the transaction rolls back). A block inside
    another adds to the outer one."""
    outer = _together.get()
    if outer is not None:
        yield outer
        return
    events: list[Event] = []
    token = _together.set(events)
    try:
        yield events
    finally:
        _together.reset(token)
    if events:
        batch_recorded.send(sender=Event, events=events)


def record_event(
    *,
    organisation: Organisation,
    code: str,
    occurred_at: datetime,
    person: Person | None = None,
    household=None,
    agency_record: AgencyRecord | None = None,
    summary: str = "",
    details: dict[str, Any] | None = None,
    external_id: str | None = None,
    recorded_by: User | None = None,
    recorder_name: str = "",
    recorder_role: str = "",
    recorder_contact: str = "",
    sensitivity: str | None = None,
    source: str = Source.WEB,
    supersedes: Event | None = None,
    audit: bool = True,
) -> Recorded:
    """Append one event. Sending the same external id again returns the stored event."""
    details = details or {}
    event_code = validate_details(code, details)
    if person is None and household is None:
        raise ValidationError({"subject": [_("An event must be about a person or a household.")]})
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if person is not None:
        check_subject(event_code, person, occurred_at)
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": [in_the_future()]})
    if sensitivity not in (None, event_code.sensitivity, "special"):
        raise ValidationError({"sensitivity": [sensitivity_lowered(event_code)]})
    subject_key = str(person.public_id) if person else f"household:{household.public_id}"
    digest = fingerprint(
        code=code,
        occurred_at=occurred_at,
        subject=fingerprint_subject(agency_record, person, household),
        summary=summary,
        details=details,
        supersedes=str(supersedes.public_id) if supersedes else "",
    )
    if external_id:
        existing = (
            Event.objects.filter(organisation=organisation, external_id=external_id).select_related("person").first()
        )
        if existing:
            return _same_or_clash(existing, digest, external_id)
    recorder_name, recorder_role, recorder_contact = recorder_of(
        recorded_by, recorder_name, recorder_role, recorder_contact
    )
    event = Event(
        code=code,
        person=person,
        household_id=household.pk if household is not None else (current_household_id(person) if person else None),
        agency_record=agency_record,
        organisation=organisation,
        recorded_by=recorded_by,
        recorder_name=recorder_name,
        recorder_role=recorder_role,
        recorder_contact=recorder_contact,
        occurred_at=occurred_at,
        recorded_at=timezone.now(),
        sensitivity=sensitivity or event_code.sensitivity,
        summary=summary,
        details=details,
        external_id=external_id or None,
        fingerprint=digest,
        supersedes=supersedes,
        source=source,
    )
    try:
        with transaction.atomic():
            event.save()
            if audit:
                audit_record(
                    action="write",
                    actor=recorded_by,
                    actor_label="" if recorded_by else f"{organisation.code} system",
                    organisation_code=organisation.code,
                    object_type="event",
                    object_id=event.public_id,
                    purpose="event recorded" if not supersedes else "event corrected",
                    detail={"code": code, "person": subject_key, "external_id": external_id or ""},
                )
            together = _together.get()
            event_recorded.send(sender=Event, event=event, batch=together is not None)
            if together is not None:
                together.append(event)
    except IntegrityError:
        # Another request stored the same external id between our check and our insert.
        existing = (
            Event.objects.filter(organisation=organisation, external_id=external_id).select_related("person").first()
        )
        if existing is None:
            raise
        return _same_or_clash(existing, digest, external_id)
    return Recorded(event, True)


def _same_or_clash(existing: Event, digest: str, external_id: str | None) -> Recorded:
    if existing.fingerprint == digest:
        return Recorded(existing, False)
    message = _(
        "“%(id)s” was already used for a different event. To change an event, send a correction that names it "
        "in “supersedes”."
    )
    raise ValidationError({"external_id": [message % {"id": external_id}]})


def event_correct(
    *,
    original: Event,
    recorded_by: User | None,
    summary: str | None = None,
    details: dict[str, Any] | None = None,
    code: str | None = None,
    occurred_at: datetime | None = None,
    external_id: str | None = None,
    source: str = Source.WEB,
) -> Recorded:
    """Record a correction as a new event that supersedes ``original`` (which is kept)."""
    if original.superseded_by.exists():
        raise ValidationError({"supersedes": [_("That event has already been corrected; correct the latest version.")]})
    return record_event(
        organisation=original.organisation,
        code=code or original.code,
        occurred_at=occurred_at or original.occurred_at,
        person=original.person,
        household=original.household if original.person is None else None,
        agency_record=original.agency_record,
        summary=original.summary if summary is None else summary,
        details=original.details if details is None else details,
        external_id=external_id,
        recorded_by=recorded_by,
        sensitivity=original.sensitivity,
        source=source,
        supersedes=original,
    )


@dataclass
class BatchResult:
    created: list[Event] = field(default_factory=list)
    unchanged: list[Event] = field(default_factory=list)
    new_persons: int = 0
    links: int = 0
    # New agency records and how each was linked, for the batch's audit entry.
    records: list[dict[str, str]] = field(default_factory=list)


class BatchRejected(Exception):
    """Nothing was stored. ``errors`` lists every problem as {item, field, message}."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} problem(s); nothing was stored")
        self.errors = errors


def record_event_batch(
    *,
    organisation: Organisation,
    items: list[dict[str, Any]],
    source: str = Source.API,
    actor: User | None = None,
    progress=None,
) -> BatchResult:
    """Store a batch of events from one organisation's system, all or nothing.

    Each item names its subject as the organisation's own record of the person
    (``subject.local_id`` plus whatever demographics and identifiers it holds). The batch is
    stored set-based and the rules run once for it (``events/batch.py``); what is stored, the
    problems named and what each new event sets off are as if its items were sent one by one.
    """
    from cylch.events.batch import record_batch

    return record_batch(organisation=organisation, items=items, source=source, actor=actor, progress=progress)

"""The retention schedule (issue 11, item 2): how long each class of record is kept, legal
holds, and the run that removes what is past its period (docs/governance.md, "Retention").

The schedule is data (``retention.yaml``, or ``settings.CYLCH_RETENTION_FILE``): for each class
a list of rules, each a minimum period from a trigger (a child's birth, a death, an adoption,
when the record was made or closed). A record is due on the latest date the rules that apply
to it give. ``due_list`` says what is due (the dry run); ``retention_run`` removes it, in
batches of one transaction each, writing for every record removed a ``Removal`` row and an
audit entry that hold no content: the class, the record's id, the rule, the rows removed by
table and the SHA-256 of what went. What the classes are and how each is removed is
``retention_records``; the schedule itself (loading, deciding a date) is
``retention_schedule``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import AuditEntry, User
from cylch.governance.models import LegalHold, Removal, RemovalAction, RetentionRun, RunStatus
from cylch.governance.retention_records import (
    CLASSES,
    AuditLogClass,
    Candidate,
    RemovalContext,
    chunks,
    person_facts,
)
from cylch.governance.retention_records.base import live_person
from cylch.governance.retention_schedule import (
    DEFAULT_FILE,
    ClassRules,
    Rule,
    Schedule,
    ScheduleError,
    decide,
    load,
    schedule,
)

__all__ = [
    "DEFAULT_FILE", "DUE", "HELD", "NEEDED", "Due", "Listing", "RetentionBusy", "Schedule", "ScheduleError",
    "active_holds", "decide", "due_list", "hold_place", "hold_release", "load", "redactions_verify", "retention_run",
    "schedule",
]  # fmt: skip

log = logging.getLogger(__name__)

MIN_HOLD_REASON = 10
BATCH_SIZE = 100
# A run still "running" this long after it started died without finishing (the process was
# killed): the next run marks it failed and goes ahead.
STALE_RUN = timedelta(hours=12)
COMMAND_LABEL = "cylch retention"


# --- legal holds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holds:
    """The holds in force: the people (with everyone merged into or with them) and the records."""

    persons: dict[int, LegalHold]
    records: dict[tuple[str, str], LegalHold]
    ids: frozenset[str]  # the held people's and records' public ids, for audit entries naming them
    by_id: dict[str, LegalHold]  # the held records by their id alone

    def holding(self, candidate: Candidate) -> LegalHold | None:
        """The hold that keeps the record: on it (by any id it goes by: a hold placed on an entry
        that has since been corrected keeps the correction too; public ids are unique across
        classes, so a hold placed under the other spine class still counts) or on anyone it is about."""
        for record_id in (candidate.key, *candidate.aliases):
            hold = self.by_id.get(record_id)
            if hold is not None:
                return hold
        return next((self.persons[p] for p in candidate.persons if p in self.persons), None)

    def holds_entry(self, entry) -> bool:
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        return (
            entry.object_id in self.ids
            or str(detail.get("person", "")) in self.ids
            or ("audit_log", str(entry.seq)) in self.records
        )


def active_holds() -> Holds:
    from cylch.identity.models import Person

    holds = list(LegalHold.objects.filter(released_at__isnull=True).select_related("person"))
    merged = dict(Person.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id"))

    live = partial(live_person, merged=merged)

    persons: dict[int, LegalHold] = {}
    ids: set[str] = set()
    for hold in (h for h in holds if h.person_id):
        target = live(hold.person_id)
        for pk in {hold.person_id, target, *(p for p in merged if live(p) == target)}:
            persons.setdefault(pk, hold)
    for ids_chunk in chunks(sorted(persons)):
        ids.update(str(p) for p in Person.objects.filter(pk__in=ids_chunk).values_list("public_id", flat=True))
    records = {(h.record_class, h.record_id): h for h in holds if not h.person_id}
    ids.update(record_id for _cls, record_id in records)
    by_id = {record_id: hold for (_cls, record_id), hold in records.items()}
    return Holds(persons, records, frozenset(ids), by_id)


def _actor(user: User | None, actor_label: str) -> tuple[User | None, str]:
    if user is not None:
        return user, actor_label or f"{user.get_full_name() or user.username} ({user.role})"
    return None, actor_label or COMMAND_LABEL


def hold_place(
    *,
    reason: str,
    person=None,
    record_class: str = "",
    record_id: str = "",
    reference: str = "",
    user: User | None = None,
    actor_label: str = "",
) -> LegalHold:
    """Keep a person's records (every class) or one record until the hold is released."""
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if len(reason) < MIN_HOLD_REASON:
        errors["reason"] = [str(_("Say why the records must be kept (10 characters or more)."))]
    if (person is None) == (not record_class):
        errors["person"] = [str(_("Hold either a person's records or one record, not both."))]
    elif record_class and record_class not in CLASSES:
        errors["record_class"] = [str(_("Choose a class from the retention schedule."))]
    elif record_class and not CLASSES[record_class].exists(record_id):
        errors["record_id"] = [str(_("There is no record of that class with that id."))]
    if errors:
        raise ValidationError(errors)
    user, label = _actor(user, actor_label)
    with transaction.atomic():
        try:
            with transaction.atomic():
                hold = LegalHold.objects.create(
                    person=person, record_class=record_class, record_id=str(record_id), reason=reason,
                    reference=reference.strip()[:120], placed_by_label=label[:200], created_by=user,
                )  # fmt: skip
        except IntegrityError as exc:
            raise ValidationError({"person": [str(_("A hold is already in force on that."))]}) from exc
        audit_record(
            action="write", actor=user, actor_label=label, object_type="legal_hold", object_id=hold.public_id,
            purpose="legal hold placed",
            detail={"person": str(person.public_id) if person else "", "record_class": record_class,
                    "record_id": str(record_id), "reference": hold.reference},
        )  # fmt: skip
    return hold


def hold_release(*, hold: LegalHold, reason: str, user: User | None = None, actor_label: str = "") -> LegalHold:
    """End a hold: its records follow the schedule again (anything past its date goes at the next run)."""
    reason = (reason or "").strip()
    if len(reason) < MIN_HOLD_REASON:
        raise ValidationError({"reason": [str(_("Say why the hold can end (10 characters or more)."))]})
    user, label = _actor(user, actor_label)
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise ValidationError({"hold": [str(_("That hold has already been released."))]})
        hold.released_at, hold.released_by, hold.released_by_label = timezone.now(), user, label[:200]
        hold.release_reason = reason
        hold.save(update_fields=["released_at", "released_by", "released_by_label", "release_reason", "modified_at"])
        audit_record(action="write", actor=user, actor_label=label, object_type="legal_hold", object_id=hold.public_id,
                     purpose="legal hold released")  # fmt: skip
    return hold


# --- what is due -----------------------------------------------------------------------------

DUE, HELD, NEEDED = "due", "held", "needed"


@dataclass
class Due:
    """A record past its date: to go (``due``), or kept because a hold covers it (``held``) or a
    kept record still refers to it (``needed``; ``reason`` names that record)."""

    record_class: str
    record_id: str
    status: str
    due_on: date
    rule: Rule
    trigger_date: date | None
    reason: str = ""
    candidate: Candidate | None = field(default=None, repr=False)


@dataclass
class AuditDue:
    """Audit entries whose content is due to be erased."""

    due: int
    held: int
    before: date  # entries made before this day


@dataclass
class Listing:
    today: date
    items: list[Due] = field(default_factory=list)
    later: dict[str, int] = field(default_factory=dict)  # not yet due, by class
    open: dict[str, int] = field(default_factory=dict)  # still open (never due), by class
    audit: AuditDue | None = None

    def of(self, record_class: str, status: str = DUE) -> list[Due]:
        return [d for d in self.items if d.record_class == record_class and d.status == status]


def _removed_ids(record_class: str) -> set[str]:
    return set(Removal.objects.filter(record_class=record_class).values_list("record_id", flat=True))


def class_due(key: str, rules: ClassRules, today: date, holds: Holds, listing: Listing) -> list[Due]:
    """The records of one class past their date, each ``due`` or ``held`` (needs are checked
    by the caller); counts of the others go on ``listing``."""
    record_class = CLASSES[key]
    out: list[Due] = []
    later = opened = 0
    for batch in chunks(record_class.candidates(_removed_ids(key)), 2000):
        facts = person_facts({p for c in batch for p in c.age_persons})
        for candidate in batch:
            if candidate.open:
                opened += 1
                continue
            decision = decide(rules, candidate, facts)
            if decision.due_on is None or decision.due_on > today:
                later += 1
                continue
            hold = holds.holding(candidate)
            status, reason = (HELD, _hold_words(hold)) if hold else (DUE, "")
            out.append(Due(key, candidate.key, status, decision.due_on, decision.rule, decision.trigger_date, reason,
                           candidate))  # fmt: skip
    listing.later[key], listing.open[key] = later, opened
    return out


def _hold_words(hold: LegalHold) -> str:
    return f"legal hold {hold.public_id}" + (f" ({hold.reference})" if hold.reference else "")


def _audit_before(rules: ClassRules, today: date) -> date:
    """Entries made on a day before this are past the audit log's period (made on a day ``d``
    with ``add_years(d, years) <= today``)."""
    years = max(r.years for r in rules.rules)
    try:
        last = today.replace(year=today.year - years)
    except ValueError:  # today is 29 February and that year has none
        last = date(today.year - years, 2, 28)
    return last + timedelta(days=1)


def _audit_held(query, holds: Holds) -> int:
    from django.db.models import Q

    if not holds.ids and not holds.records:
        return 0
    seqs = [int(r) for c, r in holds.records if c == "audit_log" and r.isdigit()]
    ids = sorted(holds.ids)
    return query.filter(Q(object_id__in=ids) | Q(detail__person__in=ids) | Q(seq__in=seqs)).count()


def due_list(
    *, today: date | None = None, classes: Iterable[str] | None = None, plan: Schedule | None = None
) -> Listing:
    """What a run today would remove (the dry run), in the order a run takes the classes: each
    record ``due``, ``held``, or ``needed`` by a kept record. A record needed only by records
    this run would remove first counts as due."""
    plan = plan or schedule()
    today = today or timezone.localdate()
    wanted = set(classes or CLASSES)
    holds = active_holds()
    listing = Listing(today)
    going: set[tuple[str, str]] = set()
    # Every class before the last one asked for is worked out: what they remove first frees
    # records of the classes asked for. Only those asked for are listed.
    order = list(CLASSES)
    last = max((order.index(k) for k in wanted if not isinstance(CLASSES[k], AuditLogClass)), default=-1)
    for position, (key, record_class) in enumerate(CLASSES.items()):
        rules = plan.classes[key]
        if not rules.enabled or (position > last and key not in wanted):
            continue
        if isinstance(record_class, AuditLogClass):
            if key not in wanted:
                continue
            query = record_class.due_entries(_audit_before(rules, today))
            held = _audit_held(query, holds)
            listing.audit = AuditDue(query.count() - held, held, _audit_before(rules, today))
            continue
        for item in class_due(key, rules, today, holds, listing):
            if item.status == DUE:
                need = record_class.needed_by(item.candidate)
                if need is not None and need not in going:
                    item.status, item.reason = NEEDED, f"{need[0]} {need[1]}"
                else:
                    going.add((key, item.record_id))
            if key in wanted:
                listing.items.append(item)
    for key in set(listing.later) - wanted:
        listing.later.pop(key), listing.open.pop(key)
    return listing


# --- the run ---------------------------------------------------------------------------------


class RetentionBusy(RuntimeError):
    """Another run is in progress."""


def _begin(plan: Schedule, today: date, label: str, user: User | None) -> RetentionRun:
    now = timezone.now()
    RetentionRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=now - STALE_RUN).update(
        status=RunStatus.FAILED, finished_at=now, error="abandoned: the process running it stopped before it finished"
    )
    try:
        with transaction.atomic():
            return RetentionRun.objects.create(
                started_at=now, started_by_label=label[:200], today=today, schedule_sha256=plan.sha256, created_by=user
            )
    except IntegrityError as exc:
        raise RetentionBusy("another retention run is in progress; try again when it has finished") from exc


def _receipt(run: RetentionRun, plan: Schedule, *, key: str, record_id: str, action: str, rule: Rule,
             counts: dict[str, int], sha256: str, user: User | None, label: str, detail: dict[str, Any]) -> AuditEntry:  # fmt: skip
    """The audit entry that proves a removal: no content, only what identifies and checks it."""
    return audit_record(
        action="write", actor=user, actor_label=label, object_type=AuditLogClass.RECEIPT_TYPE, object_id=record_id,
        purpose=f"retention: {key} {action}",
        detail={"class": key, "record": record_id, "action": action, "rule": rule.id, "counts": counts,
                "sha256": sha256, "run": str(run.public_id), "schedule_sha256": plan.sha256, **detail},
    )  # fmt: skip


def _delete_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _run_class(run: RetentionRun, plan: Schedule, key: str, today: date, batch_size: int, user, label) -> None:
    record_class = CLASSES[key]
    listing = Listing(today)
    items = class_due(key, plan.classes[key], today, active_holds(), listing)
    kept = sum(1 for i in items if i.status == HELD)
    removed = 0
    action = {"delete": RemovalAction.DELETED, "anonymise": RemovalAction.ANONYMISED}[record_class.action]
    for batch in chunks([i for i in items if i.status == DUE], batch_size):
        with transaction.atomic():
            holds = active_holds()  # a hold placed since the list was made still counts
            context = RemovalContext()
            for item in batch:
                if holds.holding(item.candidate) is not None or record_class.needed_by(item.candidate):
                    kept += 1
                    continue
                done = record_class.remove(item.candidate, context)
                if done is None:
                    continue
                entry = _receipt(run, plan, key=key, record_id=item.record_id, action=action, rule=item.rule,
                                 counts=done.counts, sha256=done.sha256, user=user, label=label, detail=done.detail)  # fmt: skip
                Removal.objects.create(run=run, record_class=key, record_id=item.record_id, action=action,
                                       rule=item.rule.id, sha256=done.sha256, counts=done.counts, audit_seq=entry.seq,
                                       at=entry.at)  # fmt: skip
                if done.files:
                    transaction.on_commit(lambda files=done.files: _delete_files(files))
                removed += 1
        run.removed[key] = removed
    run.removed[key], run.kept[key] = removed, kept


def _run_audit(run: RetentionRun, plan: Schedule, today: date, batch_size: int, user, label) -> None:
    record_class: AuditLogClass = CLASSES["audit_log"]  # type: ignore[assignment]
    rules = plan.classes["audit_log"]
    query = record_class.due_entries(_audit_before(rules, today))
    removed = kept = 0
    cursor = 0
    while True:
        with transaction.atomic():
            holds = active_holds()
            page = list(query.filter(seq__gt=cursor)[:batch_size])
            if not page:
                break
            cursor = page[-1].seq
            entries = [e for e in page if not holds.holds_entry(e)]
            kept += len(page) - len(entries)
            if not entries:
                continue
            done = record_class.redact(entries)
            record_id = f"audit:{entries[0].seq}-{entries[-1].seq}"
            entry = _receipt(run, plan, key="audit_log", record_id=record_id, action=RemovalAction.REDACTED,
                             rule=rules.rules[0], counts=done.counts, sha256=done.sha256, user=user, label=label,
                             detail=done.detail)  # fmt: skip
            Removal.objects.create(run=run, record_class="audit_log", record_id=record_id, action=RemovalAction.REDACTED,
                                   rule=rules.rules[0].id, sha256=done.sha256, counts=done.counts, audit_seq=entry.seq,
                                   at=entry.at)  # fmt: skip
            removed += len(entries)
    run.removed["audit_log"], run.kept["audit_log"] = removed, kept


def retention_run(
    *,
    today: date | None = None,
    classes: Iterable[str] | None = None,
    user: User | None = None,
    actor_label: str = "",
    batch_size: int = BATCH_SIZE,
    plan: Schedule | None = None,
) -> RetentionRun:
    """Remove everything past its period, class by class, in batches of one transaction each.

    A batch that fails (a record some constraint still protects, a database error) is rolled
    back whole: none of its records is half removed and none of its audit entries is written.
    The run then stops and is recorded as failed with the error; batches before it stay done,
    and the next run picks up where it stopped. Running it again removes nothing more.
    """
    plan = plan or schedule()
    today = today or timezone.localdate()
    wanted = list(classes or CLASSES)
    unknown = [k for k in wanted if k not in CLASSES]
    if unknown:
        raise ValidationError({"classes": [f"unknown class {', '.join(unknown)}; one of {', '.join(CLASSES)}"]})
    user, label = _actor(user, actor_label)
    run = _begin(plan, today, label, user)
    current = ""
    try:
        for key in CLASSES:
            if key not in wanted or not plan.classes[key].enabled:
                continue
            current = key
            if key == "audit_log":
                _run_audit(run, plan, today, batch_size * 10, user, label)
            else:
                _run_class(run, plan, key, today, batch_size, user, label)
        run.status = RunStatus.COMPLETED
    except Exception as exc:  # the batch rolled back; the run says what stopped it and stops
        log.exception("retention run %s stopped in %s", run.public_id, current)
        run.status = RunStatus.FAILED
        run.error = f"{current}: {type(exc).__name__}: {exc}"[:2000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "removed", "kept", "modified_at"])
    return run


# --- checking erased audit entries ---------------------------------------------------------------


@dataclass(frozen=True)
class RedactionCheck:
    ok: bool
    erased: int
    problems: tuple[str, ...] = ()


def _expand(ranges: Any) -> list[int]:
    out: list[int] = []
    for pair in ranges if isinstance(ranges, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, int) for n in pair):
            out.extend(range(pair[0], pair[1] + 1))
    return out


def redactions_verify() -> RedactionCheck:
    """Every erased audit entry must be accounted for by a run's entry (a receipt) written after
    it, and what was kept of it (when, the action, the kind of object, the organisation and the
    digest of its content) must be what the receipt's SHA-256 says. ``cylch audit verify``
    checks the chain; this checks the erasures the chain cannot see."""
    problems: list[str] = []
    claimed: set[int] = set()
    receipts = AuditEntry.objects.filter(object_type=AuditLogClass.RECEIPT_TYPE, redacted_at__isnull=True).order_by(
        "seq"
    )
    for receipt in receipts.iterator():
        detail = receipt.detail if isinstance(receipt.detail, dict) else {}
        if detail.get("class") != "audit_log":
            continue
        seqs = _expand(detail.get("seqs"))
        entries = {}
        for ids in chunks(seqs):
            entries.update({e.seq: e for e in AuditEntry.objects.filter(seq__in=ids)})
        late = [s for s in seqs if s >= receipt.seq]
        missing = [s for s in seqs if s not in entries or entries[s].redacted_at is None]
        if late or missing:
            problems.append(f"entry #{receipt.seq} claims to have erased entries it could not have: "
                            f"#{(late or missing)[0]}")  # fmt: skip
        else:
            blob = "\n".join(AuditLogClass.envelope_line(entries[s]) for s in seqs)
            if hashlib.sha256(blob.encode()).hexdigest() != detail.get("sha256"):
                problems.append(f"what is kept of the entries entry #{receipt.seq} erased has changed since")
        claimed.update(seqs)
    erased = 0
    for seq in (
        AuditEntry.objects.filter(redacted_at__isnull=False).order_by("seq").values_list("seq", flat=True).iterator()
    ):
        erased += 1
        if seq not in claimed:
            problems.append(f"entry #{seq} was erased without a retention run's entry for it")
    return RedactionCheck(not problems, erased, tuple(problems[:20]))

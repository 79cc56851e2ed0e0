"""Every newly recorded event, in its own transaction: evaluate the rules that read its code,
tell a social worker about an entry for a child on the register, and propose a lead
coordinator when a second organisation becomes involved.

An event stored as part of a batch is left to :func:`on_batch`, which does the same once for the
whole batch (``events/batch.py``): the rules over each scope the batch touched, the notice for
each new entry about a child on the register or looked after, the lead-coordinator check for
each child the batch is about."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone

from cylch.access.audit import gathering as audit_gathering
from cylch.access.audit import hold_recording
from cylch.core.bulk import id_chunks
from cylch.events.models import Event
from cylch.events.signals import batch_recorded, event_recorded
from cylch.identity.events import HOUSEHOLD_MERGED
from cylch.identity.households import homes_with_merged
from cylch.identity.models import Person
from cylch.notify.services import gathering as notify_gathering
from cylch.rules import routing
from cylch.rules.coordinator import lead_coordinator_check, lead_coordinator_checks
from cylch.rules.engine import STATUS_CODES, Child
from cylch.rules.register import tell_social_worker, tell_social_workers
from cylch.rules.services import evaluate_event, evaluate_events

# How far ahead an entry may be dated (events.services.record_event refuses later ones).
FUTURE_MARGIN = timedelta(minutes=5)


@receiver(event_recorded, dispatch_uid="cylch.rules.on_event")
def on_event(sender, event, batch: bool = False, **kwargs) -> None:
    if batch or not getattr(settings, "CYLCH_RULES_ON_RECORD", True):
        return  # a batch's events: on_batch
    hold_recording()  # as on_batch: after any other recording commits, before the scope's entries are read
    evaluate_event(event)
    if event.code == HOUSEHOLD_MERGED:  # the merged half's entries now count at the home kept
        evaluate_events(list(Event.objects.filter(
            household_id__in=homes_with_merged([event.household_id]), person__isnull=True,
            superseded_by__isnull=True)))  # fmt: skip
    if event.person_id is not None or event.household_id is not None:
        tell_social_worker(event)  # a household's entry reaches the social workers of its children
    if event.person_id is not None and not event.code.startswith("process.lead_coordinator"):
        lead_coordinator_check(event.person)


@receiver(batch_recorded, dispatch_uid="cylch.rules.on_batch")
def on_batch(sender, events, **kwargs) -> None:
    """What :func:`on_event` does for each event, with the rules run once for the batch.

    The register notice runs only for the events a bulk look finds could need it
    (``register_candidates``), which then make the full check together (``tell_social_workers``,
    what ``tell_social_worker`` does for each, read once for them all); the lead-coordinator check reads once for all the batch's children (``lead_coordinator_checks``)."""
    if not events or not getattr(settings, "CYLCH_RULES_ON_RECORD", True):
        return
    # Wait for any other recording transaction to commit before reading the scopes' entries:
    # two batches whose events complete a rule only between them (through different agency
    # records, so no record's lock orders them) would otherwise each see only their own, and
    # neither would raise it (docs/rules.md, "Two senders at once"). Every recording audits, and an
    # entry appended inside a transaction takes this lock, so it is held to the commit anyway:
    # taking it here only takes it earlier.
    hold_recording()
    # Routing's reads (allocations, front doors, staff) once for the batch, not per alert; the
    # notices, emails and audit entries it sets off written together as it ends.
    people = {e.person_id for e in events if e.person_id is not None}
    with routing.remembering(people), audit_gathering(), notify_gathering():
        evaluate_events(events)
        # A household's entry reaches the social workers of its children: after the people's own.
        households = [e for e in events if e.person_id is None and e.household_id is not None]
        tell_social_workers(register_candidates(events) + households)
        lead_coordinator_checks(coordinator_candidates(events))


def register_candidates(events: list[Event]) -> list[Event]:
    """The events ``tell_social_worker`` could act on: not themselves a register or looked-after
    entry, about someone on the register or looked after now, or at any moment up to
    ``FUTURE_MARGIN`` ahead (an entry may be dated that far ahead, and the notice reads "now" a
    moment later than this). One query for the batch; each then makes its own check."""
    wanted = [e for e in events if e.person_id is not None and e.code not in STATUS_CODES]
    now = timezone.now()
    statuses: dict[int, list] = {}
    for chunk in id_chunks({e.person_id for e in wanted}):
        for person_id, code, at in (
            Event.objects.filter(person_id__in=chunk, code__in=STATUS_CODES, superseded_by__isnull=True)
            .order_by("occurred_at", "id")
            .values_list("person_id", "code", "occurred_at")
        ):
            statuses.setdefault(person_id, []).append((at, *STATUS_CODES[code]))
    flagged = set()
    for person_id, changes in statuses.items():
        child = Child(person_id, None, False, changes)
        moments = [now] + [at for at, _kind, _on in changes if now < at <= now + FUTURE_MARGIN]
        if any(child.status_on(moment) for moment in moments):
            flagged.add(person_id)
    return [e for e in wanted if e.person_id in flagged]


def coordinator_candidates(events: list[Event]) -> list[Person]:
    """The people ``lead_coordinator_check`` is for, each once, in the batch's order."""
    people: dict[int, Person] = {}
    for e in events:
        if e.person_id is not None and not e.code.startswith("process.lead_coordinator"):
            people.setdefault(e.person_id, e.person)
    return list(people.values())

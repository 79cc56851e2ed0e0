"""Every newly recorded event, in its own transaction: evaluate the rules that read its code,
tell a social worker about an entry for a child on the register, and propose a lead
coordinator when a second organisation becomes involved.

An event stored as part of a batch is left to :func:`on_batch`, which does the same once for the
whole batch (``events/batch.py``): the rules over each scope the batch touched, the notice for
each new entry about a child on the register or looked after, the lead-coordinator check for
each child the batch is about."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from django.dispatch import receiver
from django.utils import timezone

from cylch.events.batch import batch_recorded
from cylch.events.models import Event, Source
from cylch.events.signals import event_recorded
from cylch.identity.models import Allocation, AllocationKind, Person
from cylch.rules.coordinator import INVOLVED_WITHIN, NOT_COUNTED, lead_coordinator_check
from cylch.rules.engine import STATUS_CODES
from cylch.rules.models import LeadCoordinatorProposal, ProposalStatus
from cylch.rules.register import tell_social_worker
from cylch.rules.services import evaluate_event, evaluate_events
from cylch.rules.world import CHUNK


@receiver(event_recorded, dispatch_uid="cylch.rules.on_event")
def on_event(sender, event, batch: bool = False, **kwargs) -> None:
    if batch or not getattr(settings, "CYLCH_RULES_ON_RECORD", True):
        return  # a batch's events: on_batch
    evaluate_event(event)
    if event.person_id is not None:
        tell_social_worker(event)
        if not event.code.startswith("process.lead_coordinator"):
            lead_coordinator_check(event.person)


@receiver(batch_recorded, dispatch_uid="cylch.rules.on_batch")
def on_batch(sender, events, **kwargs) -> None:
    """What :func:`on_event` does for each event, with the rules run once for the batch.

    The register notice and the lead-coordinator check run only for the events and children a
    bulk look finds could need them (``register_candidates``, ``coordinator_candidates``); each
    then makes its own full check, as for a single event."""
    if not events or not getattr(settings, "CYLCH_RULES_ON_RECORD", True):
        return
    evaluate_events(events)
    for event in register_candidates(events):
        tell_social_worker(event)
    for person in coordinator_candidates(events):
        lead_coordinator_check(person)


def _chunks(ids):
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


def register_candidates(events: list[Event]) -> list[Event]:
    """The events ``tell_social_worker`` could act on: about someone with any register or
    looked-after entry at all (it then reads whether they are on the register now), and not
    themselves such an entry. One query for the batch."""
    wanted = [e for e in events if e.person_id is not None and e.code not in STATUS_CODES]
    with_status: set[int] = set()
    for chunk in _chunks({e.person_id for e in wanted}):
        with_status.update(
            Event.objects.filter(person_id__in=chunk, code__in=STATUS_CODES).values_list("person_id", flat=True)
        )
    return [e for e in wanted if e.person_id in with_status]


def coordinator_candidates(events: list[Event]) -> list[Person]:
    """The people ``lead_coordinator_check`` could propose for, each once, in the batch's order.

    Left out only on what its own first checks would stop at, read for the whole batch: a
    proposal already waiting, fewer than two organisations involved within the year (counted
    from a moment a little earlier than its own, so never fewer), or a lead coordinator or
    social worker allocated. Everyone else gets the full check."""
    people: dict[int, Person] = {}
    for e in events:
        if e.person_id is not None and not e.code.startswith("process.lead_coordinator"):
            people.setdefault(e.person_id, e.person)
    if not people:
        return []
    now, today = timezone.now(), timezone.localdate()
    keep = set(people)
    for chunk in _chunks(people):
        keep -= set(
            LeadCoordinatorProposal.objects.filter(person_id__in=chunk, status=ProposalStatus.PROPOSED).values_list(
                "person_id", flat=True
            )
        )
        involved = (
            Event.objects.filter(person_id__in=chunk, occurred_at__gte=now - INVOLVED_WITHIN)
            .exclude(source=Source.SYSTEM)
            .exclude(organisation__kind__in=NOT_COUNTED)
            .values("person_id")
            .annotate(n=Count("organisation_id", distinct=True))
            .filter(n__gte=2)
            .values_list("person_id", flat=True)
        )
        keep &= set(involved) | (keep - set(chunk))
        keep -= set(
            Allocation.objects.filter(
                person_id__in=chunk,
                kind__in=(AllocationKind.LEAD_COORDINATOR, AllocationKind.ALLOCATED_SOCIAL_WORKER),
                from_date__lte=today,
            )
            .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
            .values_list("person_id", flat=True)
        )
    return [person for pk, person in people.items() if pk in keep]

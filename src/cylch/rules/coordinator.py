"""The lead coordinator: a named person collecting the soft intelligence about a child when two
or more organisations are involved and no social worker is allocated (TA 2.2).

Who is proposed (documented in docs/rules.md, "Lead coordinator"):
1. an unborn baby: the midwifery service involved;
2. a child under five: the health visiting service;
3. a child of school age with a school: the school (its safeguarding lead);
4. otherwise, or when step 1-3 finds nobody: the organisation with most entries about the
   child in the last 12 months (the most recent breaks a tie).
Cylch only proposes; a front-door manager of the child's local authority confirms, chooses
someone else, or declines.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.access.roles import OrganisationKind, Role
from cylch.events.models import Event, Source
from cylch.identity.models import Allocation, AllocationKind, HouseholdMembership, Person
from cylch.identity.selectors import age_on, current_household
from cylch.notify.services import notify_user
from cylch.rules import routing
from cylch.rules.models import OPEN_STATUSES, Alert, AlertRecipient, AlertStep, LeadCoordinatorProposal, ProposalStatus

INVOLVED_WITHIN = timedelta(days=365)
# Organisations whose entries show involvement. Children's services are excluded: when they are
# involved the child has (or is about to have) a social worker, who coordinates.
NOT_COUNTED = {OrganisationKind.LA_CHILDRENS_SERVICES, OrganisationKind.SAFEGUARDING_BOARD, OrganisationKind.NATIONAL_BOARD}  # fmt: skip


def involved(person: Person, now: datetime) -> list[dict]:
    """Organisations with entries about the child in the last year, most entries first."""
    rows = (
        Event.objects.filter(person=person, occurred_at__gte=now - INVOLVED_WITHIN)
        .exclude(source=Source.SYSTEM)
        .exclude(organisation__kind__in=NOT_COUNTED)
        .values("organisation_id", "organisation__kind")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by("-n", "-last", "organisation_id")
    )
    return list(rows)


def _has_coordinator(person: Person) -> bool:
    return any(
        routing.current_allocation(person, kind) is not None
        for kind in (AllocationKind.LEAD_COORDINATOR, AllocationKind.ALLOCATED_SOCIAL_WORKER)
    )


def choose(person: Person, orgs: list[dict], today) -> tuple[int, str]:
    """(organisation id, reason) by the documented rule."""

    def first(kind):
        return next((o["organisation_id"] for o in orgs if o["organisation__kind"] == kind), None)

    age = age_on(person.date_of_birth, today)
    if person.is_unborn and first(OrganisationKind.MIDWIFERY):
        return first(OrganisationKind.MIDWIFERY), "unborn_midwife"
    if (person.is_unborn or (age is not None and age < 5)) and first(OrganisationKind.HEALTH_VISITING):
        return first(OrganisationKind.HEALTH_VISITING), "under_five_health_visitor"
    if age is not None and 4 <= age < 19:
        school = first(OrganisationKind.SCHOOL) or (
            Organisation.objects.filter(
                kind=OrganisationKind.SCHOOL, agency_records__links__person=person, agency_records__links__active=True
            )
            .values_list("pk", flat=True)
            .first()
        )
        if school:
            return school, "pupil_school"
    return orgs[0]["organisation_id"], "most_involved"


def lead_coordinator_check(person: Person, *, now: datetime | None = None) -> LeadCoordinatorProposal | None:
    """Propose a lead coordinator if the child needs one and has no proposal waiting."""
    now = now or timezone.now()
    if person.merged_into_id or (person.date_of_birth and age_on(person.date_of_birth, now.date()) >= 18):
        return None
    if LeadCoordinatorProposal.objects.filter(person=person, status=ProposalStatus.PROPOSED).exists():
        return None
    orgs = involved(person, now)
    if len(orgs) < 2 or _has_coordinator(person):
        return None
    ids = sorted(o["organisation_id"] for o in orgs)
    home = current_household(person)
    here = home.local_authority_id if home else None
    # A manager here said no: ask again only when another organisation joins. Another
    # authority's "no" (the family has moved since) does not speak for this one.
    declined = LeadCoordinatorProposal.objects.filter(person=person, status=ProposalStatus.DECLINED, local_authority_id=here).order_by("-decided_at").first()  # fmt: skip
    if declined and set(ids) <= set(declined.organisations_involved):
        return None
    org_id, reason = choose(person, orgs, now.date())
    recorder = (
        Event.objects.filter(
            person=person, organisation_id=org_id, recorded_by__isnull=False, recorded_by__is_active=True
        )
        .order_by("-occurred_at")
        .values_list("recorded_by", flat=True)
        .first()
    )
    try:
        with transaction.atomic():
            proposal = LeadCoordinatorProposal.objects.create(
                person=person, organisation_id=org_id, practitioner_id=recorder, reason=reason,
                organisations_involved=ids, created_at=now, local_authority=home.local_authority if home else None,
            )  # fmt: skip
    except IntegrityError:
        return None
    door = routing.front_door(proposal.local_authority)
    for manager in User.objects.filter(organisation=door, role=Role.TEAM_MANAGER, is_active=True):
        notify_user(
            recipient=manager,
            kind="lead_coordinator_proposed",
            url=reverse("rules:proposals"),
            dedupe_key=f"lead-proposal:{proposal.public_id}:{manager.pk}",
            subject=_("Lead coordinator to confirm"),
            body=_(
                "%(count)s organisations are involved with a child who has no social worker. Cylch proposes a lead coordinator for you to confirm."
            ),
            context={"count": len(ids)},
        )
    return proposal


def needing_a_check(people: dict[int, Person], now: datetime) -> list[Person]:
    """Of these people (by id), those ``lead_coordinator_check`` could propose for, read in bulk.

    Left out only where its own checks would stop: merged or 18 or over; a proposal already
    waiting; fewer than two organisations involved within the year; a lead coordinator or
    social worker allocated; or a proposal declined, in the authority they live in now, for
    these same organisations. The organisations are counted from a moment a little before its
    own, so never fewer than it would count. Everyone else gets the full check."""
    today = timezone.localdate()
    people = {
        pk: person
        for pk, person in people.items()
        if not person.merged_into_id and not (person.date_of_birth and age_on(person.date_of_birth, now.date()) >= 18)
    }
    keep = set(people)
    for chunk in _chunks(keep):
        waiting = LeadCoordinatorProposal.objects.filter(person_id__in=chunk, status=ProposalStatus.PROPOSED)
        allocated = Allocation.objects.filter(
            person_id__in=chunk,
            kind__in=(AllocationKind.LEAD_COORDINATOR, AllocationKind.ALLOCATED_SOCIAL_WORKER),
            from_date__lte=today,
        ).filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        keep -= set(waiting.values_list("person_id", flat=True)) | set(allocated.values_list("person_id", flat=True))
        involved: dict[int, set[int]] = {pk: set() for pk in chunk}
        for person_id, org_id in (
            Event.objects.filter(person_id__in=chunk, occurred_at__gte=now - INVOLVED_WITHIN)
            .exclude(source=Source.SYSTEM)
            .exclude(organisation__kind__in=NOT_COUNTED)
            .values_list("person_id", "organisation_id")
            .distinct()
        ):
            involved[person_id].add(org_id)
        keep -= {pk for pk, orgs in involved.items() if len(orgs) < 2}
        here: dict[int, int | None] = {}  # the authority of each one's current household, as current_household
        for person_id, la in (
            HouseholdMembership.objects.filter(person_id__in=chunk, to_date__isnull=True)
            .order_by("person_id", "-from_date", "-id")
            .values_list("person_id", "household__local_authority_id")
        ):
            here.setdefault(person_id, la)
        declined: dict[int, list[int]] = {}
        for person_id, orgs, la in (
            LeadCoordinatorProposal.objects.filter(person_id__in=chunk, status=ProposalStatus.DECLINED)
            .order_by("person_id", "-decided_at")
            .values_list("person_id", "organisations_involved", "local_authority_id")
        ):
            if la == here.get(person_id):
                declined.setdefault(person_id, orgs)
        keep -= {pk for pk, orgs in declined.items() if involved[pk] <= set(orgs)}
    return [person for pk, person in people.items() if pk in keep]


def _chunks(ids, size: int = 500):
    ordered = sorted(ids)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def propose_all(*, now: datetime | None = None) -> int:
    """The lead-coordinator check for every child someone recorded about in the last year, as new
    entries would have made it (``cylch rules run``; the demo's bulk-written history). Returns
    how many proposals were made."""
    now = now or timezone.now()
    ids = (
        Event.objects.filter(person__isnull=False, occurred_at__gte=now - INVOLVED_WITHIN)
        .values_list("person_id", flat=True)
        .distinct()
    )
    people = {p.pk: p for p in Person.objects.filter(pk__in=ids).order_by("pk")}
    made = 0
    for person in needing_a_check(people, now):
        made += lead_coordinator_check(person, now=now) is not None
    return made


def _check_manager(user: User, proposal: LeadCoordinatorProposal) -> None:
    door = routing.front_door(proposal.local_authority)
    if user.role != Role.TEAM_MANAGER or user.organisation_id != door.pk:
        raise PermissionDenied("Only a team manager at the child's front door confirms a lead coordinator.")


def proposal_confirm(
    *,
    proposal: LeadCoordinatorProposal,
    user: User,
    organisation: Organisation | None = None,
    practitioner: User | None = None,
) -> LeadCoordinatorProposal:
    """Allocate the lead coordinator, and move the child's open front-door alerts to them."""
    from cylch.events.services import record_event
    from cylch.identity.services import allocation_create

    _check_manager(user, proposal)
    with transaction.atomic():
        proposal = LeadCoordinatorProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status != ProposalStatus.PROPOSED:
            raise ValidationError({"proposal": ["This proposal has already been decided."]})
        organisation = organisation or proposal.organisation
        practitioner = practitioner if practitioner is not None else (proposal.practitioner if organisation == proposal.organisation else None)  # fmt: skip
        if practitioner is not None and practitioner.organisation_id != organisation.pk:
            raise ValidationError({"practitioner": ["The lead coordinator must work for the chosen organisation."]})
        now = timezone.now()
        allocation_create(person=proposal.person, organisation=organisation, kind=AllocationKind.LEAD_COORDINATOR,
                          practitioner=practitioner, actor=user)  # fmt: skip
        proposal.status, proposal.decided_at, proposal.decided_by = ProposalStatus.CONFIRMED, now, user
        proposal.organisation, proposal.practitioner = organisation, practitioner
        proposal.save()
        record_event(
            organisation=user.organisation, code="process.lead_coordinator.assigned", occurred_at=now,
            person=proposal.person, recorded_by=user, source=Source.WEB,
            details={"coordinator_org_kind": organisation.kind, "agencies_involved": len(proposal.organisations_involved), "statutory": False},
            summary=f"Lead coordinator: {organisation.name_en}",
        )  # fmt: skip
        _reroute_alerts(proposal.person, routing.Target(organisation, practitioner, "lead_coordinator"), user)
        for person in routing.people_to_tell(routing.Target(organisation, practitioner, "lead_coordinator")):
            notify_user(
                recipient=person,
                kind="lead_coordinator_confirmed",
                url=reverse("identity:person", args=[proposal.person.public_id]),
                dedupe_key=f"lead-confirmed:{proposal.public_id}:{person.pk}",
                subject=_("You are now a child's lead coordinator"),
                body=_(
                    "A manager has confirmed you (or your team) as lead coordinator for a child several organisations work with. Alerts about the child now come to you."
                ),
                context={},
            )
    return proposal


def _reroute_alerts(child: Person, target: routing.Target, actor: User) -> None:
    for alert in Alert.objects.filter(children=child, status__in=OPEN_STATUSES, owner_organisation__kind=OrganisationKind.LA_CHILDRENS_SERVICES):  # fmt: skip
        previous = alert.owner_organisation
        alert.owner_organisation, alert.owner = target.organisation, target.user
        alert.save(update_fields=["owner_organisation", "owner"])
        AlertRecipient.objects.get_or_create(alert=alert, organisation=target.organisation, user=target.user,
                                             part="lead_coordinator", defaults={"notified_at": timezone.now()})  # fmt: skip
        AlertStep.objects.create(alert=alert, at=timezone.now(), actor=actor, action="handed_over",
                                 detail={"from": previous.code, "to": target.organisation.code})  # fmt: skip


def proposal_decline(*, proposal: LeadCoordinatorProposal, user: User, note: str) -> LeadCoordinatorProposal:
    _check_manager(user, proposal)
    if not note.strip():
        raise ValidationError({"note": ["Say why no lead coordinator is needed."]})
    with transaction.atomic():
        proposal = LeadCoordinatorProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status != ProposalStatus.PROPOSED:
            raise ValidationError({"proposal": ["This proposal has already been decided."]})
        proposal.status, proposal.decided_at, proposal.decided_by = ProposalStatus.DECLINED, timezone.now(), user
        proposal.decision_note = note.strip()
        proposal.save()
        audit_record(action="write", actor=user, object_type="lead_proposal", object_id=proposal.public_id,
                     purpose="lead coordinator not confirmed", detail={"person": str(proposal.person.public_id)})  # fmt: skip
    return proposal

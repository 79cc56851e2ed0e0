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
from cylch.access.models import LocalAuthority, Organisation, User
from cylch.access.roles import OrganisationKind, Role
from cylch.events.models import Event, Source
from cylch.identity.models import Allocation, AllocationKind, HouseholdMembership, Person
from cylch.identity.selectors import age_on
from cylch.notify.services import notify_user
from cylch.rules import routing
from cylch.rules.models import OPEN_STATUSES, Alert, AlertRecipient, AlertStep, LeadCoordinatorProposal, ProposalStatus

INVOLVED_WITHIN = timedelta(days=365)
CHUNK = 500  # people read together
# Organisations whose entries show involvement. Children's services are excluded: when they are
# involved the child has (or is about to have) a social worker, who coordinates.
NOT_COUNTED = {OrganisationKind.LA_CHILDRENS_SERVICES, OrganisationKind.SAFEGUARDING_BOARD, OrganisationKind.NATIONAL_BOARD}  # fmt: skip


def involved(person: Person, now: datetime) -> list[dict]:
    """Organisations with entries about the child in the last year, most entries first."""
    return _involved([person.pk], now).get(person.pk, [])


def _involved(person_ids: list[int], now: datetime) -> dict[int, list[dict]]:
    """``involved`` for each of these people, in one query."""
    out: dict[int, list[dict]] = {}
    rows = (
        Event.objects.filter(person_id__in=person_ids, occurred_at__gte=now - INVOLVED_WITHIN)
        .exclude(source=Source.SYSTEM)
        .exclude(organisation__kind__in=NOT_COUNTED)
        .values("person_id", "organisation_id", "organisation__kind")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by("person_id", "-n", "-last", "organisation_id")
    )
    for row in rows:
        out.setdefault(row.pop("person_id"), []).append(row)
    return out


def choose(person: Person, orgs: list[dict], today, schools: dict[int, int] | None = None) -> tuple[int, str]:
    """(organisation id, reason) by the documented rule. ``schools``, if given, holds each
    person's school by its records (``_schools_of``), read beforehand for a batch."""

    def first(kind):
        return next((o["organisation_id"] for o in orgs if o["organisation__kind"] == kind), None)

    age = age_on(person.date_of_birth, today)
    if person.is_unborn and first(OrganisationKind.MIDWIFERY):
        return first(OrganisationKind.MIDWIFERY), "unborn_midwife"
    if (person.is_unborn or (age is not None and age < 5)) and first(OrganisationKind.HEALTH_VISITING):
        return first(OrganisationKind.HEALTH_VISITING), "under_five_health_visitor"
    if age is not None and 4 <= age < 19:
        school = first(OrganisationKind.SCHOOL) or (
            _schools_of([person.pk]).get(person.pk) if schools is None else schools.get(person.pk)
        )
        if school:
            return school, "pupil_school"
    return orgs[0]["organisation_id"], "most_involved"


def _schools_of(person_ids: list[int]) -> dict[int, int]:
    """The school (the first by id) holding an active record of each of these people, if any,
    in one query: the school a pupil with no entries from it is proposed to."""
    found: dict[int, int] = {}
    for person_id, school in (
        Organisation.objects.filter(
            kind=OrganisationKind.SCHOOL,
            agency_records__links__person_id__in=person_ids,
            agency_records__links__active=True,
        )
        .order_by("pk")
        .values_list("agency_records__links__person_id", "pk")
    ):
        found.setdefault(person_id, school)
    return found


def lead_coordinator_check(person: Person, *, now: datetime | None = None) -> LeadCoordinatorProposal | None:
    """Propose a lead coordinator if the child needs one and has no proposal waiting."""
    return lead_coordinator_checks([person], now=now).get(person.pk)


def lead_coordinator_checks(people: list[Person], *, now: datetime | None = None) -> dict[int, LeadCoordinatorProposal]:
    """``lead_coordinator_check`` for each of these people (a batch's children), with what it
    reads read for them all at once: proposals waiting and declined, organisations involved,
    allocations, current homes, recorders, authorities. Returns the proposals made, by person id.

    Nobody is proposed for who is merged or 18 or over; has a proposal waiting; has fewer than two
    organisations involved within the year; has a lead coordinator or social worker allocated;
    or had a proposal declined, in the authority they live in now, for these same organisations."""
    now = now or timezone.now()
    made: dict[int, LeadCoordinatorProposal] = {}
    unique = list({p.pk: p for p in people}.values())
    for i in range(0, len(unique), CHUNK):
        made.update(_check_chunk(unique[i : i + CHUNK], now))
    return made


def _check_chunk(people: list[Person], now: datetime) -> dict[int, LeadCoordinatorProposal]:
    """The checks for up to ``CHUNK`` people, each kind of fact read once for them all."""
    people = [
        p
        for p in people
        if not p.merged_into_id and not (p.date_of_birth and age_on(p.date_of_birth, now.date()) >= 18)
    ]
    ids = [p.pk for p in people]
    if not ids:
        return {}
    today = timezone.localdate()
    waiting = set(
        LeadCoordinatorProposal.objects.filter(person_id__in=ids, status=ProposalStatus.PROPOSED).values_list(
            "person_id", flat=True
        )
    )
    allocated = set(
        Allocation.objects.filter(
            person_id__in=ids,
            kind__in=(AllocationKind.LEAD_COORDINATOR, AllocationKind.ALLOCATED_SOCIAL_WORKER),
            from_date__lte=today,
        )
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .values_list("person_id", flat=True)
    )
    orgs_of = _involved(ids, now)
    here: dict[int, int | None] = {}  # the authority of each one's current household, as current_household
    for person_id, la in (
        HouseholdMembership.objects.filter(person_id__in=ids, to_date__isnull=True)
        .order_by("person_id", "-from_date", "-id")
        .values_list("person_id", "household__local_authority_id")
    ):
        here.setdefault(person_id, la)
    declined: dict[int, list[int]] = {}
    for person_id, orgs, la in (
        LeadCoordinatorProposal.objects.filter(person_id__in=ids, status=ProposalStatus.DECLINED)
        .order_by("person_id", "-decided_at")
        .values_list("person_id", "organisations_involved", "local_authority_id")
    ):
        if la == here.get(person_id) and person_id not in declined:
            declined[person_id] = orgs
    chosen: dict[int, tuple[int, str, list[int]]] = {}
    due: list[tuple[Person, list[dict], list[int]]] = []
    for person in people:
        orgs = orgs_of.get(person.pk, [])
        if person.pk in waiting or len(orgs) < 2 or person.pk in allocated:
            continue
        involved_ids = sorted(o["organisation_id"] for o in orgs)
        # A manager here said no: ask again only when another organisation joins. Another
        # authority's "no" (the family has moved since) does not speak for this one.
        if person.pk in declined and set(involved_ids) <= set(declined[person.pk]):
            continue
        due.append((person, orgs, involved_ids))
    schools = _schools_of([p.pk for p, orgs, _i in due if not any(o["organisation__kind"] == OrganisationKind.SCHOOL for o in orgs)]) if due else {}  # fmt: skip
    for person, orgs, involved_ids in due:
        org_id, reason = choose(person, orgs, now.date(), schools)
        chosen[person.pk] = (org_id, reason, involved_ids)
    return _propose(people, chosen, here, now)


def _propose(
    people: list[Person], chosen: dict[int, tuple[int, str, list[int]]], here: dict[int, int | None], now: datetime
) -> dict[int, LeadCoordinatorProposal]:
    """Make the proposals ``chosen`` (organisation, reason, organisations involved, by person),
    naming the last active practitioner at that organisation who recorded about the child, and
    ask the front door of the authority each lives in (``here``) to confirm."""
    if not chosen:
        return {}
    recorders: dict[tuple[int, int], int] = {}
    for person_id, org_id, user_id in (
        Event.objects.filter(
            person_id__in=list(chosen),
            organisation_id__in={org for org, _r, _i in chosen.values()},
            recorded_by__isnull=False,
            recorded_by__is_active=True,
        )
        .order_by("-occurred_at", "-id")
        .values_list("person_id", "organisation_id", "recorded_by")
    ):
        recorders.setdefault((person_id, org_id), user_id)
    authorities = LocalAuthority.objects.in_bulk({la for pk in chosen if (la := here.get(pk)) is not None})
    proposals = [
        LeadCoordinatorProposal(
            person=person, organisation_id=org_id, practitioner_id=recorders.get((person.pk, org_id)), reason=reason,
            organisations_involved=involved_ids, created_at=now, local_authority=authorities.get(here.get(person.pk)),
        )
        for person in people
        if person.pk in chosen
        for org_id, reason, involved_ids in [chosen[person.pk]]
    ]  # fmt: skip
    proposals = _insert(proposals)
    doors = {p.pk: routing.front_door(p.local_authority) for p in proposals}
    managers = _team_managers({door.pk for door in doors.values()})
    for proposal in proposals:
        _tell_front_door(proposal, managers[doors[proposal.pk].pk])
    return {p.person_id: p for p in proposals}


def _team_managers(organisation_ids: set[int]) -> dict[int, list[User]]:
    """``routing.team_managers`` of each of these organisations (the front doors of a batch's
    proposals), in one query for them all."""
    found: dict[int, list[User]] = {pk: [] for pk in organisation_ids}
    if organisation_ids:
        for user in User.objects.filter(
            organisation_id__in=sorted(organisation_ids), role=Role.TEAM_MANAGER, is_active=True
        ).order_by("pk"):
            found[user.organisation_id].append(user)
    return found


def _insert(proposals: list[LeadCoordinatorProposal]) -> list[LeadCoordinatorProposal]:
    """Insert the proposals together; if one clashes with a proposal made meanwhile (one waiting
    per child), each on its own, leaving out those that clash. Returns those stored."""
    try:
        with transaction.atomic():
            return LeadCoordinatorProposal.objects.bulk_create(proposals)
    except IntegrityError:
        pass
    stored = []
    for proposal in proposals:
        proposal.pk = None
        try:
            with transaction.atomic():
                proposal.save(force_insert=True)
        except IntegrityError:
            continue
        stored.append(proposal)
    return stored


def _tell_front_door(proposal: LeadCoordinatorProposal, managers: list[User]) -> None:
    """The team managers of the child's front door (``managers``), asked to confirm."""
    for manager in managers:
        notify_user(
            recipient=manager,
            kind="lead_coordinator_proposed",
            url=f"{reverse('rules:proposals')}#proposal-{proposal.public_id}",  # the child's card
            dedupe_key=f"lead-proposal:{proposal.public_id}:{manager.pk}",
            subject=_("Lead coordinator to confirm"),
            body=_(
                "%(count)s organisations are involved with a child who has no social worker. Cylch proposes a lead coordinator for you to confirm."
            ),
            context={"count": len(proposal.organisations_involved)},
        )


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
    return len(lead_coordinator_checks(list(Person.objects.filter(pk__in=ids).order_by("pk")), now=now))


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

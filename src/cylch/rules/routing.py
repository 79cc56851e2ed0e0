"""Who an alert goes to, and by when it must be acknowledged.

The rule lists parts (lead coordinator, GP, school...). Each part is resolved to an
organisation and, where Cylch knows one, a named person. The lead coordinator falls back to
the allocated social worker and then to the local authority front door, so an alert always
has someone accountable for it: the first target is the owner.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from cylch.access.models import LocalAuthority, Organisation, User
from cylch.access.roles import FRONT_DOOR_ROLES, OrganisationKind, Role
from cylch.core.calendar import add_working_days, is_school_day, is_working_day, next_school_day
from cylch.core.school_terms import MissingTermDates, SchoolTermsError
from cylch.identity.models import AgencyRecord, Allocation, AllocationKind, Person
from cylch.rules.pack import Deadline

log = logging.getLogger(__name__)

PART_KINDS = {
    "health_visitor": OrganisationKind.HEALTH_VISITING,
    "school_nurse": OrganisationKind.SCHOOL_NURSING,
    "midwife": OrganisationKind.MIDWIFERY,
    "gp": OrganisationKind.GP_PRACTICE,
    "school": OrganisationKind.SCHOOL,
}


@dataclass(frozen=True)
class Target:
    organisation: Organisation
    user: User | None
    part: str  # the part that was actually used: a lead coordinator may fall back to the front door


@dataclass
class Memo:
    """What routing has read during one batch's rules, so that each is read once for the batch
    rather than once per alert, proposal and notice (docs/bench.md, intake). It is only kept
    while the batch's rules run under the recording lock (``rules.receivers.on_batch``):
    every change to allocations, front doors and staff is recorded with an audit entry, so none
    can land in the meantime, and the rules themselves change none of them."""

    today: date
    allocations: dict[int, dict[str, Allocation]] = field(default_factory=dict)
    front_doors: dict[int | None, Organisation] = field(default_factory=dict)
    staff: dict[int, list[User]] = field(default_factory=dict)
    managers: dict[int, list[User]] = field(default_factory=dict)
    agencies: dict[tuple[int, str], list[Target]] = field(default_factory=dict)

    def load_allocations(self, person_ids: Iterable[int]) -> None:
        """The current allocation of each kind for each person, as ``current_allocation``
        chooses it (latest start, then latest made), in one query a thousand people."""
        wanted = sorted(set(person_ids) - self.allocations.keys())
        for i in range(0, len(wanted), 1000):
            chunk = wanted[i : i + 1000]
            for pk in chunk:
                self.allocations[pk] = {}
            for alloc in (
                _current(Allocation.objects.filter(person_id__in=chunk), self.today)
                .select_related("organisation", "practitioner")
                .order_by("person_id", "kind", "-from_date", "-id")
            ):
                self.allocations[alloc.person_id].setdefault(alloc.kind, alloc)

    def load_agencies(self, person_ids: Iterable[int]) -> None:
        """Each person's agencies of every kind a rule can route to (``_agencies_read``), with the
        named worker of each, in two queries a thousand people."""
        wanted = sorted({pk for pk in person_ids} - {pk for pk, _kind in self.agencies})
        kinds = sorted(set(PART_KINDS.values()))
        for i in range(0, len(wanted), 1000):
            chunk = wanted[i : i + 1000]
            found: dict[int, set[int]] = {pk: set() for pk in chunk}
            for person_id, org_id in (
                AgencyRecord.objects.filter(
                    links__person_id__in=chunk, links__active=True, organisation__kind__in=kinds
                )
                .values_list("links__person_id", "organisation_id")
                .distinct()
            ):
                found[person_id].add(org_id)
            orgs = Organisation.objects.in_bulk({o for ids in found.values() for o in ids})
            named: dict[tuple[int, int], User] = {}
            for alloc in (
                Allocation.objects.filter(person_id__in=chunk, organisation_id__in=list(orgs), to_date__isnull=True)
                .exclude(practitioner=None)
                .select_related("practitioner")
                .order_by("pk")
            ):
                named.setdefault((alloc.person_id, alloc.organisation_id), alloc.practitioner)
            for pk in chunk:
                for kind in kinds:
                    self.agencies[pk, kind] = [
                        Target(orgs[o], named.get((pk, o)), _part_for(kind))
                        for o in sorted(found[pk])
                        if orgs[o].kind == kind
                    ]


_memo: ContextVar[Memo | None] = ContextVar("cylch_routing_memo", default=None)


@contextmanager
def remembering(person_ids: Iterable[int] = ()) -> Iterator[Memo]:
    """Within this block, routing reads each person's allocations, each front door and each
    organisation's staff once (``Memo``); ``person_ids``' allocations are read at once."""
    memo = Memo(timezone.localdate())
    memo.load_allocations(person_ids)
    token = _memo.set(memo)
    try:
        yield memo
    finally:
        _memo.reset(token)


def expect(person_ids: Iterable[int]) -> None:
    """Inside ``remembering``: read these people's allocations and agencies now, together (else
    nothing)."""
    memo = _memo.get()
    if memo is not None:
        person_ids = set(person_ids)
        memo.load_allocations(person_ids)
        memo.load_agencies(person_ids)


def _current(allocations, today: date):
    return allocations.filter(from_date__lte=today).filter(Q(to_date__isnull=True) | Q(to_date__gte=today))


def current_allocation(person: Person, kind: str) -> Allocation | None:
    today = timezone.localdate()
    memo = _memo.get()
    if memo is not None and memo.today == today:
        memo.load_allocations([person.pk])
        return memo.allocations[person.pk].get(kind)
    return (
        _current(Allocation.objects.filter(person=person, kind=kind), today)
        .select_related("organisation", "practitioner")
        .order_by("-from_date", "-id")
        .first()
    )


def front_door(local_authority: LocalAuthority | None) -> Organisation:
    from cylch.reports.services import front_door_for

    memo = _memo.get()
    if memo is None:
        return front_door_for(local_authority)
    key = local_authority.pk if local_authority is not None else None
    if key not in memo.front_doors:
        memo.front_doors[key] = front_door_for(local_authority)
    return memo.front_doors[key]


def _coordinator(child: Person, la: LocalAuthority | None, prefer: tuple[str, ...]) -> Target:
    for kind in prefer:
        alloc = current_allocation(child, kind)
        if alloc is not None:
            return Target(alloc.organisation, alloc.practitioner, str(kind))
    return Target(front_door(la), None, "front_door")


def _agencies(child: Person, kind: str) -> list[Target]:
    memo = _memo.get()
    if memo is None:
        return _agencies_read(child, kind)
    if (child.pk, kind) not in memo.agencies:
        memo.agencies[child.pk, kind] = _agencies_read(child, kind)
    return memo.agencies[child.pk, kind]


def _agencies_read(child: Person, kind: str) -> list[Target]:
    orgs = (
        Organisation.objects.filter(kind=kind, agency_records__links__person=child, agency_records__links__active=True)
        .distinct()
        .order_by("pk")
    )
    out = []
    for org in orgs:
        named = (
            Allocation.objects.filter(person=child, organisation=org, to_date__isnull=True)
            .exclude(practitioner=None)
            .select_related("practitioner")
            .first()
        )
        out.append(Target(org, named.practitioner if named else None, _part_for(kind)))
    return out


def _part_for(kind: str) -> str:
    return next(part for part, k in PART_KINDS.items() if k == kind)


def targets(route_to: tuple[str, ...], children: list[Person], la: LocalAuthority | None) -> list[Target]:
    """Everyone to tell, owner first, without repeats."""
    found: list[Target] = []
    seen: set[tuple[int, int | None]] = set()

    def add(t: Target) -> None:
        key = (t.organisation.pk, t.user.pk if t.user else None)
        if key not in seen:
            seen.add(key)
            found.append(t)

    for part in route_to:
        for child in children:
            if part == "lead_coordinator":
                add(_coordinator(child, la, (AllocationKind.LEAD_COORDINATOR, AllocationKind.ALLOCATED_SOCIAL_WORKER)))
            elif part == "social_worker":
                add(_coordinator(child, la, (AllocationKind.ALLOCATED_SOCIAL_WORKER, AllocationKind.LEAD_COORDINATOR)))
            elif part == "front_door":
                add(Target(front_door(la), None, "front_door"))
            else:
                for t in _agencies(child, PART_KINDS[part]):
                    add(t)
    if not found:
        add(Target(front_door(la), None, "front_door"))
    return found


def people_to_tell(target: Target) -> list[User]:
    """The named person, or the organisation's safeguarding leads (its front-door team, for
    children's services)."""
    if target.user is not None:
        return [target.user] if target.user.is_active else []
    memo = _memo.get()
    if memo is None:
        return _leads(target.organisation)
    if target.organisation.pk not in memo.staff:
        memo.staff[target.organisation.pk] = _leads(target.organisation)
    return list(memo.staff[target.organisation.pk])


def team_managers(organisation: Organisation) -> list[User]:
    """The organisation's active team managers (who confirm a lead coordinator at a front door)."""
    memo = _memo.get()
    if memo is None:
        return _managers(organisation)
    if organisation.pk not in memo.managers:
        memo.managers[organisation.pk] = _managers(organisation)
    return list(memo.managers[organisation.pk])


def _managers(organisation: Organisation) -> list[User]:
    return list(User.objects.filter(organisation=organisation, role=Role.TEAM_MANAGER, is_active=True).order_by("pk"))


def expect_staff(organisations: Iterable[Organisation]) -> None:
    """Inside ``remembering``: read these organisations' leads (``people_to_tell``) now, in one
    query for them all (else nothing)."""
    memo = _memo.get()
    if memo is not None:
        wanted = [o for o in organisations if o.pk not in memo.staff]
        if wanted:
            memo.staff.update(_leads_of(wanted))


def _leads(organisation: Organisation) -> list[User]:
    return _leads_of([organisation])[organisation.pk]


_FRONT_DOOR_LEADS = FRONT_DOOR_ROLES - {Role.SOCIAL_WORKER}


def _leads_of(organisations: list[Organisation]) -> dict[int, list[User]]:
    """Each organisation's active safeguarding leads (children's services: its front-door team
    but the social workers), by organisation id, in one query."""
    kinds = {o.pk: o.kind for o in organisations}
    found: dict[int, list[User]] = {pk: [] for pk in kinds}
    for user in (
        User.objects.filter(organisation_id__in=list(kinds), is_active=True)
        .filter(Q(is_safeguarding_lead=True) | Q(role__in=_FRONT_DOOR_LEADS))
        .order_by("pk")
    ):
        if kinds[user.organisation_id] == OrganisationKind.LA_CHILDRENS_SERVICES:
            lead = user.role in _FRONT_DOOR_LEADS
        else:
            lead = user.is_safeguarding_lead
        if lead:
            found[user.organisation_id].append(user)
    return found


def school_days_authority(local_authority: LocalAuthority | None, targets=()) -> LocalAuthority | None:
    """Whose term dates a school-day deadline follows: the child's school's local authority when
    the alert goes to a school that has one (a pupil may live across the border), else the
    household's."""
    for t in targets:
        if t.organisation.kind == OrganisationKind.SCHOOL and t.organisation.local_authority_id:
            return t.organisation.local_authority
    return local_authority


def acknowledge_by(
    deadline: Deadline,
    now: datetime,
    *,
    local_authority: LocalAuthority | None = None,
    targets: list[Target] | tuple[Target, ...] = (),
) -> datetime:
    """When an alert raised at ``now`` must be acknowledged.

    ``next_school_day_at`` needs term dates: those of the school among ``targets`` (the alert's
    routing), else of ``local_authority`` (the household's). With neither, or when the term dates
    do not cover the days needed, it counts working days instead and logs why: a deadline that
    is early is safer than none (docs/rules.md, "School days and Operation Encompass")."""
    local = timezone.localtime(now)
    if deadline.hours is not None:
        return now + timedelta(hours=deadline.hours)
    if deadline.working_days is not None:
        day = add_working_days(local.date(), deadline.working_days)
        return local.replace(year=day.year, month=day.month, day=day.day)
    at = deadline.next_school_day_at or deadline.next_working_day_at or "08:30"
    hour, minute = map(int, at.split(":"))
    start = time(hour, minute)
    day = local.date()
    if deadline.next_school_day_at is not None:
        school_day = _school_day_for(day, local.time() < start, school_days_authority(local_authority, targets), at)
        if school_day is not None:
            return timezone.make_aware(datetime.combine(school_day, start))
    if not (is_working_day(day) and local.time() < start):
        day = add_working_days(day, 1)
    return timezone.make_aware(datetime.combine(day, start))


def _school_day_for(day: date, before_start: bool, la: LocalAuthority | None, at: str) -> date | None:
    """``day`` if schools are open and the start time is still to come, else the next school day;
    None (logged) when that cannot be known."""
    if la is None:
        log.info("School-day deadline (%s) with no local authority known: counted in working days instead", at)
        return None
    try:
        if before_start and is_school_day(day, la):
            return day
        return next_school_day(day, la)
    except MissingTermDates as exc:
        log.warning("School-day deadline (%s) for %s counted in working days instead: %s", at, la.code, exc)
    except (SchoolTermsError, LookupError) as exc:
        log.error("School-day deadline (%s) for %s counted in working days instead: %s", at, la.code, exc)
    return None

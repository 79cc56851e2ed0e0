"""Who an alert goes to, and by when it must be acknowledged.

The rule lists parts (lead coordinator, GP, school...). Each part is resolved to an
organisation and, where Cylch knows one, a named person. The lead coordinator falls back to
the allocated social worker and then to the local authority front door, so an alert always
has someone accountable for it: the first target is the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from cylch.access.models import LocalAuthority, Organisation, User
from cylch.access.roles import FRONT_DOOR_ROLES, OrganisationKind, Role
from cylch.core.calendar import add_working_days, is_working_day
from cylch.identity.models import Allocation, AllocationKind, Person
from cylch.rules.pack import Deadline

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


def current_allocation(person: Person, kind: str) -> Allocation | None:
    today = timezone.localdate()
    return (
        Allocation.objects.filter(person=person, kind=kind, from_date__lte=today)
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .select_related("organisation", "practitioner")
        .order_by("-from_date", "-id")
        .first()
    )


def front_door(local_authority: LocalAuthority | None) -> Organisation:
    from cylch.reports.services import front_door_for

    return front_door_for(local_authority)


def _coordinator(child: Person, la: LocalAuthority | None, prefer: tuple[str, ...]) -> Target:
    for kind in prefer:
        alloc = current_allocation(child, kind)
        if alloc is not None:
            return Target(alloc.organisation, alloc.practitioner, str(kind))
    return Target(front_door(la), None, "front_door")


def _agencies(child: Person, kind: str) -> list[Target]:
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
    staff = User.objects.filter(organisation=target.organisation, is_active=True)
    if target.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES:
        return list(staff.filter(role__in=FRONT_DOOR_ROLES - {Role.SOCIAL_WORKER}).order_by("pk"))
    return list(staff.filter(is_safeguarding_lead=True).order_by("pk"))


def acknowledge_by(deadline: Deadline, now: datetime) -> datetime:
    local = timezone.localtime(now)
    if deadline.hours is not None:
        return now + timedelta(hours=deadline.hours)
    if deadline.working_days is not None:
        day = add_working_days(local.date(), deadline.working_days)
        return local.replace(year=day.year, month=day.month, day=day.day)
    hour, minute = map(int, (deadline.next_working_day_at or "08:30").split(":"))
    start = time(hour, minute)
    day = local.date()
    if not (is_working_day(day) and local.time() < start):
        day = add_working_days(day, 1)
    return timezone.make_aware(datetime.combine(day, start))

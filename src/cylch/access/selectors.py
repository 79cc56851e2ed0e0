"""The choke point for reading a person's data. Views and API handlers go through here.

``access_person`` answers "absent" and "forbidden" the same way (``PersonNotFound``) so the
API cannot be used to probe who is on the index. ``visible_events`` applies the policy table
to every entry and keeps withheld entries visible as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from cylch.access.models import BreakGlass, Organisation, User
from cylch.access.policy import Level, Relationship, access_level
from cylch.access.roles import CASEWORK_ROLES, OrganisationKind


class PersonNotFound(Exception):
    """No such person, or the viewer may not open person records at all."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in practitioner or an organisation's system."""

    role: str
    organisation: Organisation | None
    user: User | None = None

    @classmethod
    def for_user(cls, user: User) -> Viewer:
        return cls(role=user.role, organisation=user.organisation, user=user)

    @classmethod
    def for_system(cls, organisation: Organisation) -> Viewer:
        return cls(role="system", organisation=organisation)


def active_break_glass(viewer: Viewer, person) -> BreakGlass | None:
    if viewer.user is None:
        return None
    return (
        BreakGlass.objects.filter(user=viewer.user, person=person, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def break_glass_over(viewer: Viewer, persons) -> set[int]:
    """The pks of those ``persons`` the viewer holds a break-glass grant for now (one query)."""
    if viewer.user is None:
        return set()
    return set(
        BreakGlass.objects.filter(
            user=viewer.user, person__in=list(persons), expires_at__gt=timezone.now()
        ).values_list("person_id", flat=True)
    )


# Other ways an organisation comes to be involved with a person, registered by the apps that
# know them (the statutory process: an agency invited to a child's conference or owning an action
# in the child's plan). Kept here as a list so access imports none of those apps.
_INVOLVEMENT_CHECKS: list = []


def register_involvement(check) -> None:
    """``check(organisation, persons) -> set of pks``: those of ``persons`` the organisation is
    involved with (asked once for all the people a question is about)."""
    if check not in _INVOLVEMENT_CHECKS:
        _INVOLVEMENT_CHECKS.append(check)


def relationship_to_person(viewer: Viewer, person) -> Relationship:
    """How the viewer's organisation stands to the person: allocated, involved or none."""
    return relationships_to_persons(viewer, [person])[person.pk]


def relationships_to_persons(viewer: Viewer, persons) -> dict[int, Relationship]:
    """``{person.pk: relationship}`` for each of ``persons``, in a fixed number of queries (a
    search's results, a family's members): allocated when the organisation holds a current
    allocation; involved when it holds a record of, or recorded an entry about, anyone in the
    person's household (or the household itself: a domestic-abuse notice has no one subject),
    when it is the children's services of the household's authority, or when an app's
    registered check says so (a conference invitation, a plan action); otherwise none."""
    from cylch.events.models import Event
    from cylch.identity.models import Allocation, HouseholdMembership, PersonLink

    persons = list(persons)
    org = viewer.organisation
    if org is None or not persons:
        return {p.pk: Relationship.NONE for p in persons}
    today = timezone.localdate()
    out = {
        pk: Relationship.ALLOCATED
        for pk in Allocation.objects.filter(person__in=persons, organisation=org)
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .values_list("person_id", flat=True)
    }
    rest = [p for p in persons if p.pk not in out]
    if not rest:
        return out
    # Everyone living now at any of these people's homes, with each home's authority, in one
    # query: a person's own homes are those they appear at.
    their_homes = HouseholdMembership.objects.filter(person__in=rest, to_date__isnull=True).values("household_id")
    homes: dict[int, set[int]] = {p.pk: set() for p in rest}
    living: dict[int, set[int]] = {}
    authority_of: dict[int, int | None] = {}
    for household, pk, authority in HouseholdMembership.objects.filter(
        household_id__in=their_homes, to_date__isnull=True
    ).values_list("household_id", "person_id", "household__local_authority_id"):
        living.setdefault(household, set()).add(pk)
        authority_of[household] = authority
        if pk in homes:
            homes[pk].add(household)
    every_home = set().union(*homes.values())
    circles = {p.pk: {p.pk}.union(*(living.get(h, set()) for h in homes[p.pk])) for p in rest}
    everyone = set().union(*circles.values())
    linked = set(
        PersonLink.objects.filter(person_id__in=everyone, active=True, agency_record__organisation=org).values_list(
            "person_id", flat=True
        )
    )
    recorded_about, recorded_at = set(), set()
    for pk, household in (
        Event.objects.filter(organisation=org)
        .filter(Q(person_id__in=everyone) | Q(household_id__in=every_home))
        .values_list("person_id", "household_id")
        .distinct()
    ):
        recorded_about.add(pk)
        recorded_at.add(household)
    authority_homes: set[int] = set()
    if org.kind == OrganisationKind.LA_CHILDRENS_SERVICES and org.local_authority_id:
        authority_homes = {h for h in every_home if authority_of[h] == org.local_authority_id}
    undecided = []
    for p in rest:
        circle, mine = circles[p.pk], homes[p.pk]
        if circle & linked or circle & recorded_about or mine & recorded_at or mine & authority_homes:
            out[p.pk] = Relationship.INVOLVED
        else:
            undecided.append(p)
    involved = set().union(*(check(org, undecided) for check in _INVOLVEMENT_CHECKS)) if undecided else set()
    for p in undecided:
        out[p.pk] = Relationship.INVOLVED if p.pk in involved else Relationship.NONE
    return out


@dataclass(frozen=True)
class PersonAccess:
    person: Any
    viewer: Viewer
    relationship: Relationship
    break_glass: BreakGlass | None
    # Opened with ``family=``: the family, and the viewer's standing to each of its members,
    # read with the person's own (see ``access_person``).
    family: Any = field(default=None, compare=False, repr=False)
    standing: dict = field(default_factory=dict, compare=False, repr=False)

    def level_for(self, *, sensitivity: str, organisation_id: int | None) -> Level:
        return access_level(
            role=self.viewer.role,
            sensitivity=sensitivity,
            relationship=self.relationship,
            own_organisation=bool(self.viewer.organisation and organisation_id == self.viewer.organisation.pk),
            break_glass=self.break_glass is not None,
        )

    @property
    def may_see_protection(self) -> bool:
        """The child protection page: more of the statutory process than that it exists."""
        return self.level_for(sensitivity="process", organisation_id=None) != Level.EXISTENCE

    @property
    def may_see_demographics(self) -> bool:
        """Names, dates of birth and addresses: for casework roles with any standing to the person."""
        return self.viewer.role in CASEWORK_ROLES and (
            self.relationship != Relationship.NONE or self.break_glass is not None
        )


def may_see_demographics_of(viewer: Viewer, persons) -> set[int]:
    """The pks of those ``persons`` whose details (NHS number, address, household) the viewer may
    see: the same answer ``access_person(...).may_see_demographics`` gives, for a list such as
    search results."""
    if viewer.role not in CASEWORK_ROLES:
        return set()
    persons = list(persons)
    standing = relationships_to_persons(viewer, persons)
    return {pk for pk, rel in standing.items() if rel != Relationship.NONE} | break_glass_over(viewer, persons)


def access_person(viewer: Viewer, public_id, *, family=None) -> PersonAccess:
    """Open one person's record for a viewer. Raises ``PersonNotFound`` for absent or forbidden.

    A person merged into another opens as the person they became, so old references still work.

    ``family(person)``, where given, is the family the caller reads next (``family_of``: an
    object whose ``members`` each have a ``person``). It is kept as ``PersonAccess.family``, and
    the viewer's standing to every member is read with the person's, in the same queries (the
    person's own standing already reads everyone at their home): a chronology used to read it
    twice, once for the person and again for the rest of the family.
    """
    from cylch.identity.models import Person

    if viewer.role not in CASEWORK_ROLES:
        raise PersonNotFound(public_id)
    try:
        person = Person.objects.get(public_id=public_id).live()
    except (Person.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise PersonNotFound(public_id) from exc
    around = family(person) if family is not None else None
    others = [m.person for m in around.members if m.person.pk != person.pk] if around is not None else []
    standing = relationships_to_persons(viewer, [person, *others])
    return PersonAccess(
        person, viewer, standing[person.pk], active_break_glass(viewer, person), family=around, standing=standing
    )


@dataclass(frozen=True)
class EventView:
    """One entry as the viewer may see it."""

    event: Any
    level: Level

    @property
    def withheld(self) -> bool:
        return self.level == Level.EXISTENCE

    @property
    def shows_content(self) -> bool:
        return self.level == Level.CONTENT


def visible_events(access: PersonAccess, *, limit: int | None = 500) -> list[EventView]:
    """The person's events, newest first, each at the level the policy allows.

    Superseded versions are left out (their correction stands in their place). Three queries
    whatever the number of events: events, organisations, superseded ids.
    """
    from cylch.events.models import Event

    qs = Event.objects.filter(person=access.person).select_related("organisation").order_by("-occurred_at", "-id")
    superseded = set(
        Event.objects.filter(person=access.person, supersedes__isnull=False).values_list("supersedes_id", flat=True)
    )
    events = [e for e in (qs[: limit + len(superseded)] if limit else qs) if e.pk not in superseded]
    if limit:
        events = events[:limit]
    return [
        EventView(e, access.level_for(sensitivity=e.sensitivity, organisation_id=e.organisation_id)) for e in events
    ]

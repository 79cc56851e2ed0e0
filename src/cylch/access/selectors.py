"""The choke point for reading a person's data. Views and API handlers go through here.

``access_person`` answers "absent" and "forbidden" the same way (``PersonNotFound``) so the
API cannot be used to probe who is on the index. ``visible_events`` applies the policy table
to every entry and keeps withheld entries visible as such.
"""

from __future__ import annotations

from dataclasses import dataclass
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


# Other ways an organisation comes to be involved with a person, registered by the apps that
# know them (the statutory process: an agency invited to a child's conference or owning an action
# in the child's plan). Kept here as a list so access imports none of those apps.
_INVOLVEMENT_CHECKS: list = []


def register_involvement(check) -> None:
    """``check(organisation, person) -> bool``: True when the organisation is involved."""
    if check not in _INVOLVEMENT_CHECKS:
        _INVOLVEMENT_CHECKS.append(check)


def relationship_to_person(viewer: Viewer, person) -> Relationship:
    """How the viewer's organisation stands to the person: allocated, involved or none."""
    from cylch.events.models import Event
    from cylch.identity.models import Allocation, HouseholdMembership, PersonLink

    org = viewer.organisation
    if org is None:
        return Relationship.NONE
    today = timezone.localdate()
    if (
        Allocation.objects.filter(person=person, organisation=org)
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .exists()
    ):
        return Relationship.ALLOCATED
    household_ids = list(
        HouseholdMembership.objects.filter(person=person, to_date__isnull=True).values_list("household_id", flat=True)
    )
    circle = set(
        HouseholdMembership.objects.filter(household_id__in=household_ids, to_date__isnull=True).values_list(
            "person_id", flat=True
        )
    ) | {person.pk}
    if PersonLink.objects.filter(person_id__in=circle, active=True, agency_record__organisation=org).exists():
        return Relationship.INVOLVED
    # An event the organisation recorded about anyone in the household, or about the household
    # itself (a domestic-abuse notice has no one subject), counts like a record would.
    if (
        Event.objects.filter(organisation=org)
        .filter(Q(person_id__in=circle) | Q(household_id__in=household_ids))
        .exists()
    ):
        return Relationship.INVOLVED
    if org.kind == OrganisationKind.LA_CHILDRENS_SERVICES and org.local_authority_id:
        from cylch.identity.models import Household

        if Household.objects.filter(pk__in=household_ids, local_authority_id=org.local_authority_id).exists():
            return Relationship.INVOLVED
    if any(check(org, person) for check in _INVOLVEMENT_CHECKS):
        return Relationship.INVOLVED
    return Relationship.NONE


@dataclass(frozen=True)
class PersonAccess:
    person: Any
    viewer: Viewer
    relationship: Relationship
    break_glass: BreakGlass | None

    def level_for(self, *, sensitivity: str, organisation_id: int | None) -> Level:
        return access_level(
            role=self.viewer.role,
            sensitivity=sensitivity,
            relationship=self.relationship,
            own_organisation=bool(self.viewer.organisation and organisation_id == self.viewer.organisation.pk),
            break_glass=self.break_glass is not None,
        )

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
    return {
        p.pk
        for p in persons
        if relationship_to_person(viewer, p) != Relationship.NONE or active_break_glass(viewer, p) is not None
    }


def access_person(viewer: Viewer, public_id) -> PersonAccess:
    """Open one person's record for a viewer. Raises ``PersonNotFound`` for absent or forbidden.

    A person merged into another opens as the person they became, so old references still work.
    """
    from cylch.identity.models import Person

    if viewer.role not in CASEWORK_ROLES:
        raise PersonNotFound(public_id)
    try:
        person = Person.objects.get(public_id=public_id).live()
    except (Person.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise PersonNotFound(public_id) from exc
    return PersonAccess(person, viewer, relationship_to_person(viewer, person), active_break_glass(viewer, person))


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

"""Who knows the child: the organisations with a record of the child or of anyone in the
child's home, or that have recorded something about them.

The strategy discussion prompts for health and education whenever they know the child, and a
conference invites everyone involved (RR KLOE 2, 1.4): this is the one place that says who
that is, so the prompt and the invitation list agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from cylch.access.models import Organisation, User
from cylch.access.roles import HEALTH_KINDS, OrganisationKind
from cylch.chronology.family import PARENT_KINDS
from cylch.events.models import Event
from cylch.identity.models import Allocation, HouseholdMembership, Person, PersonLink, Relationship

EDUCATION_KINDS = frozenset({OrganisationKind.SCHOOL})
# Kinds that run the process or sit over it, never "involved" as an agency.
NOT_AGENCIES = frozenset({OrganisationKind.SAFEGUARDING_BOARD, OrganisationKind.NATIONAL_BOARD})


@dataclass(frozen=True)
class Involvement:
    organisation: Organisation
    with_child: bool  # knows the child themselves, not only someone they live with
    named: User | None  # the practitioner allocated to the child, where there is one

    @property
    def is_health(self) -> bool:
        return self.organisation.kind in HEALTH_KINDS

    @property
    def is_education(self) -> bool:
        return self.organisation.kind in EDUCATION_KINDS


def home_circle(child: Person) -> set[int]:
    """The child and everyone living in the child's current home."""
    homes = HouseholdMembership.objects.filter(person=child, to_date__isnull=True).values("household_id")
    return set(
        HouseholdMembership.objects.filter(household_id__in=homes, to_date__isnull=True).values_list(
            "person_id", flat=True
        )
    ) | {child.pk}


def organisations_involved(child: Person) -> list[Involvement]:
    circle = home_circle(child)
    homes = list(
        HouseholdMembership.objects.filter(person=child, to_date__isnull=True).values_list("household_id", flat=True)
    )
    by_child: set[int] = set(
        PersonLink.objects.filter(person=child, active=True).values_list("agency_record__organisation_id", flat=True)
    )
    by_child |= set(Event.objects.filter(person=child).values_list("organisation_id", flat=True).distinct())
    by_child |= set(
        Allocation.objects.filter(person=child, to_date__isnull=True).values_list("organisation_id", flat=True)
    )
    others: set[int] = set(
        PersonLink.objects.filter(person_id__in=circle, active=True).values_list(
            "agency_record__organisation_id", flat=True
        )
    )
    others |= set(
        Event.objects.filter(Q(person_id__in=circle) | Q(household_id__in=homes, person__isnull=True))
        .values_list("organisation_id", flat=True)
        .distinct()
    )
    named = {
        a.organisation_id: a.practitioner
        for a in Allocation.objects.filter(person=child, to_date__isnull=True)
        .exclude(practitioner=None)
        .select_related("practitioner")
    }
    orgs = (
        Organisation.objects.filter(pk__in=by_child | others).exclude(kind__in=NOT_AGENCIES).order_by("kind", "name_en")
    )
    return [Involvement(o, o.pk in by_child, named.get(o.pk)) for o in orgs]


def parents_of(child: Person) -> list[Relationship]:
    """Parents and carers with a current relationship to the child, those with parental
    responsibility first."""
    return list(
        Relationship.objects.filter(relative=child, kind__in=PARENT_KINDS, to_date__isnull=True)
        .select_related("person")
        .order_by("-parental_responsibility", "person__family_name", "person__given_name")
    )

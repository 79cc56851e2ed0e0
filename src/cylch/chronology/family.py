"""Who belongs to a child's whole-family picture, and how each stands to the child.

Reviews found individual-focused pictures: fathers and partners living elsewhere, siblings
and half-siblings in other homes were never put beside the child (TA 1.3). The circle is
the child; brothers and sisters (recorded, or sharing a parent); everyone in the child's
home; parents, carers and other significant adults wherever they live; and the current
partners of those parents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.identity.models import HouseholdMembership, Person, Relationship, RelationshipKind

PARENT_KINDS = {RelationshipKind.PARENT, RelationshipKind.STEP_PARENT, RelationshipKind.CARER}
SIBLING_KINDS = {RelationshipKind.SIBLING, RelationshipKind.HALF_SIBLING}

# How a member stands to the child, most specific first (a parent who lives there is a parent).
ROLE_LABELS = {
    "child": _("The child"),
    "parent": _("Parent"),
    "step_parent": _("Step-parent"),
    "carer": _("Carer"),
    "partner_of_parent": _("Partner of a parent"),
    "sibling": _("Brother or sister"),
    "half_sibling": _("Half-brother or half-sister"),
    "grandparent": _("Grandparent"),
    "other_significant_adult": _("Other significant adult"),
    "household": _("Lives in the household"),
}
ROLE_ORDER = list(ROLE_LABELS)
# Said the way a family would say it, where the person's sex is known.
GENDERED_LABELS = {
    ("parent", "female"): _("Mother"),
    ("parent", "male"): _("Father"),
    ("sibling", "female"): _("Sister"),
    ("sibling", "male"): _("Brother"),
    ("half_sibling", "female"): _("Half-sister"),
    ("half_sibling", "male"): _("Half-brother"),
}


@dataclass
class Member:
    person: Person
    role: str
    lives_with_child: bool
    households: set[int] = field(default_factory=set)
    parental_responsibility: bool = False

    @property
    def role_label(self) -> str:
        return str(GENDERED_LABELS.get((self.role, self.person.sex)) or ROLE_LABELS[self.role])

    @property
    def neutral_label(self) -> str:
        """For a viewer who may not see this person's details: "Mother" would tell their sex."""
        return str(ROLE_LABELS[self.role])


@dataclass
class Family:
    child: Person
    members: list[Member]
    home: int | None
    households: set[int]  # every household a member has lived in: household-level events attach here

    @cached_property
    def relationships(self) -> list[Relationship]:
        """The relationships between members, for the family network: read when first asked for,
        since the chronology, which builds a family on every read, never asks."""
        ids = self.person_ids
        return list(
            Relationship.objects.filter(person_id__in=ids, relative_id__in=ids, recorded_in_error=False).select_related(
                "person", "relative"
            )
        )

    def member(self, person_id: int) -> Member | None:
        return next((m for m in self.members if m.person.pk == person_id), None)

    @property
    def person_ids(self) -> list[int]:
        return [m.person.pk for m in self.members]


def family_of(child: Person) -> Family:
    """The child's whole family in four queries, whatever its size (the relationships between
    its members, which only the family network draws, in one more when first asked for)."""
    direct = list(
        Relationship.objects.filter(Q(person=child) | Q(relative=child), recorded_in_error=False).select_related(
            "person", "relative"
        )
    )
    roles: dict[int, tuple[str, bool]] = {}  # person id -> (role, parental responsibility)
    people: dict[int, Person] = {child.pk: child}

    def consider(person: Person, role: str, pr: bool = False) -> None:
        people[person.pk] = person
        held = roles.get(person.pk)
        if held is None or ROLE_ORDER.index(role) < ROLE_ORDER.index(held[0]):
            roles[person.pk] = (role, pr or (held[1] if held else False))

    parents: set[int] = set()  # parents, step-parents and carers: their partners belong here
    birth: set[int] = set()  # parents only: their other children are brothers and sisters
    for rel in direct:
        if rel.relative_id == child.pk and rel.kind != RelationshipKind.PARTNER:
            # someone is <kind> of the child: a parent, carer, grandparent, sibling ...
            consider(rel.person, str(rel.kind), rel.parental_responsibility)
            if rel.kind in PARENT_KINDS and rel.to_date is None:
                parents.add(rel.person_id)
                if rel.kind == RelationshipKind.PARENT:
                    birth.add(rel.person_id)
        elif rel.person_id == child.pk and rel.kind in SIBLING_KINDS:
            consider(rel.relative, str(rel.kind))
    recorded = set(roles)
    if parents:
        # The parents' other children, and the parents' current partners.
        rows = Relationship.objects.filter(
            Q(person_id__in=parents, kind__in=[*PARENT_KINDS, RelationshipKind.PARTNER])
            | Q(relative_id__in=parents, kind=RelationshipKind.PARTNER_OF_PARENT),
            recorded_in_error=False,
        ).select_related("person", "relative")
        others: set[int] = set()
        for rel in rows:
            if rel.person_id in birth and rel.kind == RelationshipKind.PARENT and rel.relative_id != child.pk:
                others.add(rel.relative_id)
                people[rel.relative_id] = rel.relative
            elif rel.person_id in parents and rel.kind == RelationshipKind.PARTNER and rel.to_date is None:
                if rel.relative_id not in parents:
                    consider(rel.relative, "partner_of_parent")
            elif rel.kind == RelationshipKind.PARTNER_OF_PARENT and rel.to_date is None:
                consider(rel.person, "partner_of_parent")
        # A half-sibling only when each child has a recorded parent the other does not; with a
        # parent unrecorded on either side we cannot tell, so "brother or sister". What an
        # agency recorded directly stands over what is inferred here.
        their_parents: dict[int, set[int]] = {}
        for pk, parent in Relationship.objects.filter(
            relative_id__in=others, kind=RelationshipKind.PARENT, to_date__isnull=True, recorded_in_error=False
        ).values_list("relative_id", "person_id"):
            their_parents.setdefault(pk, set()).add(parent)
        for pk in others - recorded:
            theirs = their_parents.get(pk, set())
            consider(people[pk], "half_sibling" if (birth - theirs) and (theirs - birth) else "sibling")

    # Every membership of the people found so far, and everyone living now where the child
    # lives (with their person: some are not known yet), in one query.
    child_homes = HouseholdMembership.objects.filter(person=child, to_date__isnull=True).values("household_id")
    rows = list(
        HouseholdMembership.objects.filter(
            Q(person_id__in=list(people)) | Q(household_id__in=child_homes, to_date__isnull=True)
        ).select_related("person")
    )
    known = set(people)
    memberships = [(m.person_id, m.household_id, m.to_date, m.from_date) for m in rows if m.person_id in known]
    home = max(
        ((frm or date.min, hh) for pk, hh, to, frm in memberships if pk == child.pk and to is None),
        default=(None, None),
    )[1]
    if home is not None:
        for m in rows:
            if m.household_id != home or m.to_date is not None:
                continue
            if m.person_id not in known:
                people[m.person_id] = m.person
                memberships.append((m.person_id, home, None, m.from_date))
            if m.person_id != child.pk:
                consider(people[m.person_id], "household")
    households: dict[int, set[int]] = {}
    living: dict[int, set[int]] = {}
    for pk, hh, to, _frm in memberships:
        households.setdefault(pk, set()).add(hh)
        if to is None:
            living.setdefault(pk, set()).add(hh)

    members = [Member(child, "child", True, households.get(child.pk, set()))]
    for pk, (role, pr) in roles.items():
        if pk == child.pk or people[pk].merged_into_id:
            continue
        members.append(
            Member(
                people[pk],
                role,
                lives_with_child=home is not None and home in living.get(pk, set()),
                households=households.get(pk, set()),
                parental_responsibility=pr,
            )
        )
    members[1:] = sorted(members[1:], key=lambda m: (ROLE_ORDER.index(m.role), m.person.date_of_birth or date.max))
    return Family(
        child=child,
        members=members,
        home=home,
        households=set().union(*(m.households for m in members)),
    )

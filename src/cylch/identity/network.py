"""Checks on the family network: relationships that cannot all be true go to review.

A merge of two people, or an agency's relationship, can leave a child with three parents or
a parent younger than is possible. Nothing is changed automatically; a person decides
(``identity/conflicts.py``), and their decision binds every later check: the same
relationships never raise the same kind of conflict again. A new relationship does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cylch.identity.models import FamilyConflict, Person, Relationship

MIN_PARENT_AGE_GAP_YEARS = 12


@dataclass(frozen=True)
class Finding:
    kind: str
    detail: dict
    relationships: frozenset[int] = field(default_factory=frozenset)  # the relationships it is about


def current_parents(child: Person) -> list[Relationship]:
    """The child's parent relationships still believed: not ended, not recorded in error."""
    return list(
        Relationship.objects.filter(relative=child, kind="parent", to_date__isnull=True)
        .select_related("person", "source_organisation")
        .order_by("pk")
    )


def findings(child: Person) -> list[Finding]:
    """What is impossible about this child's parents now (at most one finding per kind)."""
    parents = current_parents(child)
    found = []
    if len(parents) > 2:
        found.append(
            Finding(
                "too_many_parents",
                {"parents": len(parents), "ids": [str(p.person.public_id) for p in parents]},
                frozenset(p.pk for p in parents),
            )
        )
    if child.date_of_birth:
        for rel in parents:
            born = rel.person.date_of_birth
            if born and (child.date_of_birth.year - born.year) < MIN_PARENT_AGE_GAP_YEARS:
                found.append(Finding("parent_too_young", {"parent": str(rel.person.public_id)}, frozenset({rel.pk})))
                break
    return found


def decided(child: Person, kind: str, relationships: frozenset[int]) -> bool:
    """A reviewer has already decided about all of these relationships for this kind of conflict."""
    for outcomes in (
        FamilyConflict.objects.filter(person=child, kind=kind, resolved=True)
        .exclude(decision="")
        .values_list("outcomes", flat=True)
    ):
        if relationships <= {o.get("relationship") for o in outcomes or []}:
            return True
    return False


def check_child(child: Person) -> list[FamilyConflict]:
    """Open a conflict for each impossible thing about this child's parents (once per kind),
    unless a reviewer has decided about the same relationships before."""
    out = []
    for finding in findings(child):
        if decided(child, finding.kind, finding.relationships):
            continue
        conflict, _ = FamilyConflict.objects.get_or_create(
            person=child, kind=finding.kind, resolved=False, defaults={"detail": finding.detail}
        )
        out.append(conflict)
    return out


def check_people(people: list[Person]) -> list[FamilyConflict]:
    """Check each person as a child and each of their children."""
    out: list[FamilyConflict] = []
    seen: set[int] = set()
    for person in people:
        children = [
            r.relative for r in Relationship.objects.filter(person=person, kind="parent").select_related("relative")
        ]
        for child in [person, *children]:
            if child.pk not in seen:
                seen.add(child.pk)
                out.extend(check_child(child))
    return out

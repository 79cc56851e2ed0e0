"""Checks on the family network: relationships that cannot all be true go to review.

A merge of two people, or an agency's relationship, can leave a child with three parents or
a parent younger than is possible. Nothing is changed automatically; a person decides.
"""

from __future__ import annotations

from cylch.identity.models import FamilyConflict, Person, Relationship

MIN_PARENT_AGE_GAP_YEARS = 12


def check_child(child: Person) -> list[FamilyConflict]:
    """Open a conflict for each impossible thing about this child's parents (once per kind)."""
    parents = list(
        Relationship.objects.filter(relative=child, kind="parent", to_date__isnull=True).select_related("person")
    )
    found = []
    if len(parents) > 2:
        found.append(("too_many_parents", {"parents": len(parents), "ids": [str(p.person.public_id) for p in parents]}))
    if child.date_of_birth:
        for rel in parents:
            born = rel.person.date_of_birth
            if born and (child.date_of_birth.year - born.year) < MIN_PARENT_AGE_GAP_YEARS:
                found.append(("parent_too_young", {"parent": str(rel.person.public_id)}))
                break
    out = []
    for kind, detail in found:
        conflict, _ = FamilyConflict.objects.get_or_create(
            person=child, kind=kind, resolved=False, defaults={"detail": detail}
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

"""Reads over the person index: search, a person's household and family, and the matching queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet
from rapidfuzz import fuzz

from cylch.identity.models import FamilyConflict, HouseholdMembership, MatchReview, Person, PersonLink, Relationship
from cylch.identity.names import fold, variants
from cylch.identity.validators import normalise_nhs_number

MAX_CANDIDATES = 5000
SYMMETRIC_KINDS = {"sibling", "half_sibling", "partner"}


@dataclass(frozen=True)
class SearchHit:
    person: Person
    score: float


def person_search(
    *, name: str = "", date_of_birth: date | None = None, nhs_number: str = "", limit: int = 25
) -> list[SearchHit]:
    """Find people by name (fuzzy, Welsh/English variants), date of birth and NHS number.

    An NHS number alone is an exact search. A name is matched against every spelling the
    person is known by across agencies; a date of birth narrows, and also matches when an
    agency swapped day and month.
    """
    qs = Person.objects.current()
    nhs = normalise_nhs_number(nhs_number)
    if nhs:
        qs = qs.filter(Q(nhs_number=nhs) | Q(links__agency_record__nhs_number=nhs)).distinct()
    if date_of_birth:
        dobs = {date_of_birth}
        if date_of_birth.day <= 12 and date_of_birth.day != date_of_birth.month:
            dobs.add(date(date_of_birth.year, date_of_birth.day, date_of_birth.month))
        qs = qs.filter(date_of_birth__in=dobs)
    query = fold(name)
    tokens = query.split()
    if tokens:
        # Pre-filter in the database on any spelling of any token's first three letters,
        # then rank in Python. Cheap enough for a region; a trigram index takes over at scale.
        # First and last three letters, so one slip at either end of a name still finds it.
        stems: set[str] = set()
        for token in tokens:
            for v in variants(token) | {token}:
                stems.update({v[:3], v[-3:]} if len(v) >= 5 else {v[:3]})
        cond = Q()
        for stem in stems:
            cond |= Q(search_name__contains=stem)
        candidates = list(qs.filter(cond)[:MAX_CANDIDATES])
        hits = []
        for person in candidates:
            score = _name_score(tokens, person.search_name)
            if score >= 70:
                if date_of_birth and person.date_of_birth == date_of_birth:
                    score += 5
                hits.append(SearchHit(person, score))
        hits.sort(key=lambda h: (-h.score, h.person.family_name, h.person.given_name))
        return hits[:limit]
    if not (nhs or date_of_birth):
        return []
    return [SearchHit(p, 100.0) for p in qs.order_by("family_name", "given_name")[:limit]]


def _name_score(tokens: list[str], search_name: str) -> float:
    """Each query token against its best-matching known name, averaged."""
    known = search_name.split()
    if not known:
        return 0.0
    total = 0.0
    for token in tokens:
        options = variants(token) | {token}
        total += max(fuzz.ratio(o, k) for o in options for k in known)
    return total / len(tokens)


@dataclass(frozen=True)
class Member:
    person: Person
    relationship: str


def current_household(person: Person):
    membership = (
        HouseholdMembership.objects.filter(person=person, to_date__isnull=True)
        .select_related("household", "household__local_authority")
        .order_by("-from_date", "-id")
        .first()
    )
    return membership.household if membership else None


def household_members(household) -> list[Person]:
    if household is None:
        return []
    return [
        m.person
        for m in HouseholdMembership.objects.filter(household=household, to_date__isnull=True)
        .select_related("person")
        .order_by("person__date_of_birth")
    ]


def relationships_of(person: Person) -> list[Relationship]:
    """Everyone the person is related to, in either direction, with the other person loaded.
    A relationship a reviewer found recorded in error is left out (the family-conflict page
    keeps it); one that has ended is kept, and says so."""
    rows = (
        Relationship.objects.filter(Q(person=person) | Q(relative=person), recorded_in_error=False)
        .select_related("person", "relative")
        .order_by("kind", "pk")
    )
    # Sibling and partner links are stored both ways: show each pair once, from this person.
    return [r for r in rows if not (r.relative_id == person.pk and r.kind in SYMMETRIC_KINDS)]


def agency_records_of(person: Person) -> list:
    return [
        link.agency_record
        for link in PersonLink.objects.filter(person=person, active=True)
        .select_related("agency_record", "agency_record__organisation")
        .order_by("agency_record__organisation__name_en")
    ]


def age_on(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def unique_exact_match(*, given_name: str, family_name: str, date_of_birth: date | None) -> Person | None:
    """The one person known by exactly this name and date of birth, or None (none, or several).

    A deliberately strict rule for forms where a practitioner types a child in: probabilistic
    matching proposes the rest for review instead of linking silently.
    """
    if not (given_name and family_name and date_of_birth):
        return None
    given, family = fold(given_name), fold(family_name)
    candidates = [
        p
        for p in Person.objects.current().filter(date_of_birth=date_of_birth, search_name__contains=family)
        if given in p.search_name.split() and family in p.search_name
    ]
    return candidates[0] if len(candidates) == 1 else None


# --- the matching queue: whose review tasks are whose ------------------------------------------------


def match_reviews_for(user) -> QuerySet[MatchReview]:
    """The review tasks a children's services reviewer may open: about people of their own
    local authority, since both records' names, dates of birth and addresses are on the page.

    A task is an authority's when either record comes from an organisation in it, or either
    record belongs to someone living there. A task no authority can claim (national
    organisations, nobody housed) is open to every reviewer, so none is left unreviewed.
    """
    from cylch.access.roles import FRONT_DOOR_ROLES

    org = user.organisation
    if user.role not in FRONT_DOOR_ROLES or org is None:
        return MatchReview.objects.none()
    housed = HouseholdMembership.objects.filter(to_date__isnull=True, household__local_authority__isnull=False)
    records_of_housed = PersonLink.objects.filter(active=True, person_id__in=housed.values("person_id"))
    nowhere = (
        Q(record_a__organisation__local_authority__isnull=True, record_b__organisation__local_authority__isnull=True)
        & ~Q(record_a_id__in=records_of_housed.values("agency_record_id"))
        & ~Q(record_b_id__in=records_of_housed.values("agency_record_id"))
    )
    if org.local_authority_id is None:
        return MatchReview.objects.filter(nowhere)
    la = org.local_authority_id
    here = records_of_housed.filter(
        person_id__in=housed.filter(household__local_authority_id=la).values("person_id")
    ).values("agency_record_id")
    ours = (
        Q(record_a__organisation__local_authority_id=la)
        | Q(record_b__organisation__local_authority_id=la)
        | Q(record_a_id__in=here)
        | Q(record_b_id__in=here)
    )
    return MatchReview.objects.filter(ours | nowhere)


def family_conflicts_for(user) -> QuerySet[FamilyConflict]:
    """Family conflicts about people living in the reviewer's local authority (or nowhere known)."""
    from cylch.access.roles import FRONT_DOOR_ROLES

    org = user.organisation
    if user.role not in FRONT_DOOR_ROLES or org is None:
        return FamilyConflict.objects.none()
    housed = HouseholdMembership.objects.filter(to_date__isnull=True, household__local_authority__isnull=False)
    nowhere = ~Q(person_id__in=housed.values("person_id"))
    if org.local_authority_id is None:
        return FamilyConflict.objects.filter(nowhere)
    here = housed.filter(household__local_authority_id=org.local_authority_id).values("person_id")
    return FamilyConflict.objects.filter(Q(person_id__in=here) | nowhere)

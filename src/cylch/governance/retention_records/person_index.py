"""The person index as a record class: a person's entry (name, date of birth, identifiers) with
everything the index holds only because of them: the agency records linked to them and to no one
else, the links, household memberships, relationships, allocations, matching tasks on their
records and family conflicts; the people merged into them (pointers left by a merge); their
released legal holds; and a household once no one is a member and nothing refers to it.

An entry is the last thing of a person Cylch removes. It is due by the rules of the last record
about them (a child then: the children's rules; an adult: 8 years from it), and it is never
removed while **anything else Cylch keeps refers to them**: a spine entry, a report subject, an
alert, a protection process, a referral, a story, a proposal, a break-glass grant, a
rectification, or a table added later. That test is generic, read from Django's own list of the
relations pointing at a person or an agency record (so a new table that points at a person keeps
people until the coverage gives it a class), and made again inside the batch before the removal.
Nor while they are related to someone whose records are kept: a child's kept record must still say
who her parents are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from functools import partial
from typing import Any

from django.db.models import Min, Model, Q
from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    CHILD_TRIGGERS,
    Candidate,
    RecordClass,
    RemovalContext,
    Removed,
    chunks,
    count_rows,
    digest,
    live_person,
    local_day,
    serialised,
    valid_uuid,
)

# The tables this class removes: a reference from one of them never keeps a person.
INDEX_MODELS = frozenset({
    "identity.Person", "identity.AgencyRecord", "identity.PersonLink", "identity.Household",
    "identity.HouseholdMembership", "identity.Relationship", "identity.Allocation", "identity.MatchReview",
    "identity.FamilyConflict", "governance.LegalHold", "governance.RightsRequest",
})  # fmt: skip
RELATED = "relative"  # a relative whose records are kept: "needed by relative <public id>"


def _merged() -> dict[int, int]:
    from cylch.identity.models import Person

    return dict(Person.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id"))


def _groups(merged: dict[int, int]) -> dict[int, set[int]]:
    """Each live person's group: them and everyone merged into them, at any depth."""

    live = partial(live_person, merged=merged)

    out: dict[int, set[int]] = {}
    for pk in merged:
        out.setdefault(live(pk), set()).add(pk)
    return out


def group_of(person_id: int) -> set[int]:
    """The person and every pointer that leads to them, read afresh (merges happen at any time):
    one query per level of merging."""
    from cylch.identity.models import Person

    group, frontier = {person_id}, {person_id}
    while frontier:
        frontier = set(Person.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True)) - group
        group |= frontier
    return group


def live_of(person_id: int) -> int:
    """The person a pointer leads to (the person themselves if not merged)."""
    from cylch.identity.models import Person

    seen = {person_id}
    while (after := Person.objects.filter(pk=person_id).values_list("merged_into_id", flat=True).first()) is not None:
        if after in seen:
            break
        seen.add(after)
        person_id = after
    return person_id


def references(model: type[Model], ids: Iterable[int]) -> tuple[str, str] | None:
    """The first row outside the person index that refers to one of ``ids`` of ``model``, as
    (table, its public id or primary key); None when nothing does. Every reverse relation
    counts, whatever its ``on_delete``: a CASCADE would take a kept record with the person."""
    wanted = sorted(set(ids))
    if not wanted:
        return None
    for rel in _outside(model):
        other = rel.related_model
        ident = "public_id" if any(f.name == "public_id" for f in other._meta.concrete_fields) else "pk"
        for batch in chunks(wanted):
            row = other._base_manager.filter(**{f"{rel.field.name}__in": batch}).values_list(ident, flat=True)[:1]
            for value in row:
                return other._meta.label, str(value)
    return None


def merged_into_it(household: int) -> tuple[str, str] | None:
    """A household merged into this one (one home held twice): it is read as this home's, so this
    one stays until it has gone (``references`` does not look inside the index)."""
    from cylch.identity.models import Household

    for public_id in Household.objects.filter(merged_into_id=household).values_list("public_id", flat=True)[:1]:
        return "identity.Household", str(public_id)
    return None


def _outside(model: type[Model]) -> Iterator[Any]:
    """The relations pointing at ``model`` from outside the person index (a many-to-many's own
    table is reached through the relation itself)."""
    for rel in model._meta.get_fields(include_hidden=True):
        if rel.is_relation and rel.auto_created and not rel.concrete:
            other = rel.related_model
            if not other._meta.auto_created and other._meta.label not in INDEX_MODELS:
                yield rel


def referencing(model: type[Model], ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """``references`` for many at once: for each of ``ids`` something outside the index refers
    to, one such row (table, id). Two queries per relation per ``CHUNK`` ids, for the list."""
    out: dict[int, tuple[str, str]] = {}
    wanted = sorted(set(ids))
    for rel in _outside(model):
        other, name = rel.related_model, rel.field.name
        firsts: dict[int, Any] = {}
        for batch in chunks([i for i in wanted if i not in out]):
            rows = other._base_manager.filter(**{f"{name}__in": batch}).order_by().values(name)
            firsts.update(rows.annotate(first=Min("pk")).values_list(name, "first"))
        if not firsts:
            continue
        ident = "public_id" if any(f.name == "public_id" for f in other._meta.concrete_fields) else "pk"
        shown: dict[Any, Any] = {}
        for batch in chunks(sorted(set(firsts.values()))):
            shown.update(other._base_manager.filter(pk__in=batch).values_list("pk", ident))
        for target, first in firsts.items():
            out.setdefault(target, (other._meta.label, str(shown.get(first, first))))
    return out


def _own_records(group: set[int]) -> tuple[list[int], set[int]]:
    """The agency records linked to the group: those linked to no one else (they go) and all."""
    from cylch.identity.models import PersonLink

    linked = set(PersonLink.objects.filter(person_id__in=group).values_list("agency_record_id", flat=True))
    shared = set(
        PersonLink.objects.filter(agency_record_id__in=linked)
        .exclude(person_id__in=group)
        .values_list("agency_record_id", flat=True)
    )
    return sorted(linked - shared), linked


def _last_dates(groups: dict[int, set[int]]) -> dict[int, date]:
    """The day of the last record about each person in the index itself: their entry, their
    agency records, links, memberships and allocations (an agency updates its record whenever it
    records something about them)."""
    from cylch.identity.models import AgencyRecord, Allocation, HouseholdMembership, Person, PersonLink

    owner = {pk: live for live, group in groups.items() for pk in group}
    last: dict[int, date] = {}

    def seen(pk: int, *moments: Any) -> None:
        for moment in moments:
            day = local_day(moment)
            if day is not None and owner.get(pk) is not None:
                live = owner[pk]
                last[live] = max(last.get(live, day), day)

    for ids in chunks(sorted(owner)):
        for pk, created, modified in Person.objects.filter(pk__in=ids).values_list("pk", "created_at", "modified_at"):
            seen(pk, created, modified)
        records: dict[int, int] = {}
        for pk, record, *moments in PersonLink.objects.filter(person_id__in=ids).values_list(
            "person_id", "agency_record_id", "created_at", "confirmed_at", "undone_at"
        ):
            records[record] = pk
            seen(pk, *moments)
        for record_ids in chunks(sorted(records)):
            for record, modified in AgencyRecord.objects.filter(pk__in=record_ids).values_list("pk", "modified_at"):
                seen(records[record], modified)
        for pk, *days in HouseholdMembership.objects.filter(person_id__in=ids).values_list(
            "person_id", "from_date", "to_date"
        ):
            seen(pk, *days)
        for pk, *moments in Allocation.objects.filter(person_id__in=ids).values_list(
            "person_id", "modified_at", "from_date", "to_date"
        ):
            seen(pk, *moments)
    return last


def _needs(groups: dict[int, set[int]], merged: dict[int, int], pointers: dict[int, set[int]]) -> dict[int, Any]:
    """``needed_by`` for a chunk of live people at once (their groups given): a fixed number of
    queries per relation, not per person."""
    from cylch.identity.models import AgencyRecord, Person, PersonLink, Relationship

    owner = {pk: live for live, group in groups.items() for pk in group}
    members = sorted(owner)
    by_person = referencing(Person, members)
    linked: dict[int, set[int]] = {}  # agency record -> everyone linked to it, ever
    for ids in chunks(members):
        records = set(PersonLink.objects.filter(person_id__in=ids).values_list("agency_record_id", flat=True))
        for record_ids in chunks(sorted(records)):
            for record, person in PersonLink.objects.filter(agency_record_id__in=record_ids).values_list(
                "agency_record_id", "person_id"
            ):
                linked.setdefault(record, set()).add(person)
    own: dict[int, list[int]] = {}
    for record, people in linked.items():
        lives = {owner.get(p) for p in people}
        if len(lives) == 1 and None not in lives:
            own.setdefault(lives.pop(), []).append(record)
    by_record = referencing(AgencyRecord, [r for records in own.values() for r in records])

    live = partial(live_person, merged=merged)

    relatives: dict[int, set[int]] = {}
    for ids in chunks(members):
        for person, relative in Relationship.objects.filter(Q(person_id__in=ids) | Q(relative_id__in=ids)).values_list(
            "person_id", "relative_id"
        ):
            for me, other in ((person, relative), (relative, person)):
                if me in owner and owner.get(other) != owner[me]:
                    relatives.setdefault(owner[me], set()).add(live(other))
    wanted = {r for rs in relatives.values() for r in rs}
    family = {r: {r, *pointers.get(r, set())} for r in wanted}
    by_relative = referencing(Person, {p for g in family.values() for p in g} - set(by_person))
    by_relative.update(by_person)
    kept_relatives = sorted(r for r, g in family.items() if any(p in by_relative for p in g))
    public: dict[int, str] = {}
    for ids in chunks(kept_relatives):
        public.update((pk, str(pid)) for pk, pid in Person.objects.filter(pk__in=ids).values_list("pk", "public_id"))
    out: dict[int, Any] = {}
    for pk, group in groups.items():
        found = next((by_person[p] for p in sorted(group) if p in by_person), None)
        found = found or next((by_record[r] for r in sorted(own.get(pk, [])) if r in by_record), None)
        if found is None:
            related = [r for r in sorted(relatives.get(pk, set())) if r in public]
            found = (RELATED, public[related[0]]) if related else None
        out[pk] = found
    return out


class PersonIndexClass(RecordClass):
    """A person's entry in the index with the rows that exist only because of them (module
    docstring). A record of this class is a live person, by their public id; a pointer left by
    a merge goes with the person it points to."""

    key = "person_index"
    label = _("The person index: a person's entry, agency records, links and family")
    action = "delete"
    triggers = CHILD_TRIGGERS | {"recorded"}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.identity.models import Person

        merged = _merged()
        pointers = _groups(merged)
        rows = Person.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", "public_id")
        for batch in chunks(rows.iterator(chunk_size=2000), 2000):
            groups = {pk: {pk, *pointers.get(pk, set())} for pk, _public_id in batch}
            last = _last_dates(groups)
            needs = _needs(groups, merged, pointers)
            for pk, public_id in batch:
                key = str(public_id)
                if key in removed:
                    continue
                day = last.get(pk)
                yield Candidate(key=key, pk=pk, on=day, recorded=day, persons=frozenset(groups[pk]),
                                age_persons=(pk,), extra={"group": sorted(groups[pk]), "needed": needs.get(pk)})  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.identity.models import Person

        return valid_uuid(record_id) and Person.objects.filter(public_id=record_id, merged_into__isnull=True).exists()

    def needed_by(self, candidate: Candidate) -> tuple[str, str] | None:
        """What still refers to the person (or a pointer to them, or an agency record that would
        go with them), as (its table, its id): ``cylch retention list`` says "kept: needed by
        events.Event <id>"; or a relative whose records are kept, as ("relative", their public id).
        Read for a whole chunk when the class is listed (at its turn in a run, after the classes
        before it have removed theirs); ``remove`` checks again, exactly, under the person's lock."""
        if "needed" in candidate.extra:
            return candidate.extra["needed"]
        return self.need(group_of(candidate.pk))

    def need(self, group: set[int]) -> tuple[str, str] | None:
        """``needed_by`` for one person's group, read now."""
        from cylch.identity.models import AgencyRecord, Person, Relationship

        found = references(Person, group) or references(AgencyRecord, _own_records(group)[0])
        if found is not None:
            return found
        relatives = set()
        for person, relative in Relationship.objects.filter(
            Q(person_id__in=group) | Q(relative_id__in=group)
        ).values_list("person_id", "relative_id"):
            relatives.update({person, relative} - group)
        for relative in sorted(relatives):
            live = live_of(relative)
            if references(Person, group_of(live)) is not None:
                public_id = Person.objects.filter(pk=live).values_list("public_id", flat=True).first()
                return RELATED, str(public_id)
        return None

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.governance.models import LegalHold, RightsRequest
        from cylch.identity.models import (
            AgencyRecord,
            Allocation,
            FamilyConflict,
            Household,
            HouseholdMembership,
            MatchReview,
            Person,
            PersonLink,
            Relationship,
        )

        person = Person.objects.select_for_update().filter(pk=candidate.pk, merged_into__isnull=True).first()
        if person is None:  # gone, or merged into someone since the list was made
            return None
        group = group_of(person.pk)
        if LegalHold.objects.filter(person_id__in=group, released_at__isnull=True).exists():
            return None  # the run checks holds first; this only guards the lock's window
        if RightsRequest.objects.filter(person_id__in=group, answered_on__isnull=True).exists():
            return None  # a request about them is being answered: what it asks about stays until it is
        records, _linked = _own_records(group)
        if self.need(group) is not None:
            return None  # written since the class was listed, before the lock: kept (the next run says why)
        households = set(HouseholdMembership.objects.filter(person_id__in=group).values_list("household_id", flat=True))
        parts = [
            MatchReview.objects.filter(Q(record_a_id__in=records) | Q(record_b_id__in=records)),
            PersonLink.objects.filter(Q(person_id__in=group) | Q(agency_record_id__in=records)),
            HouseholdMembership.objects.filter(person_id__in=group),
            Relationship.objects.filter(Q(person_id__in=group) | Q(relative_id__in=group)),
            Allocation.objects.filter(person_id__in=group),
            FamilyConflict.objects.filter(person_id__in=group),
            LegalHold.objects.filter(person_id__in=group),  # released holds only (checked above)
            RightsRequest.objects.filter(person_id__in=group),  # answered ones only (checked above)
            AgencyRecord.objects.filter(pk__in=records),
        ]
        rows = [row for query in parts for row in serialised(query.order_by("pk"))]
        rows += serialised(Person.objects.filter(pk__in=group).order_by("pk"))
        for query in parts:
            query.delete()
        # A pointer protects the person it points to: cut the pointers, then every person goes
        # at once (a reference nobody foresaw raises here and rolls the batch back).
        Person.objects.filter(pk__in=group, merged_into__isnull=False).update(merged_into=None)
        Person.objects.filter(pk__in=group).delete()
        emptied = []
        for household in sorted(households):
            if HouseholdMembership.objects.filter(household_id=household).exists():
                continue  # someone still lives (or lived) there: the household is theirs too
            if merged_into_it(household) is None and references(Household, [household]) is None:
                emptied.append(household)
        if emptied:
            gone = Household.objects.filter(pk__in=emptied).order_by("pk")
            rows += serialised(gone)
            gone.delete()
        return Removed(count_rows(rows), digest(rows), detail={"merged": len(group) - 1, "households": len(emptied)})


class HouseholdsClass(RecordClass):
    """A household no one is a member of: an address the index keeps for no one. One goes with
    its last member (above) unless an entry or an alert still refers to it; this class takes it
    once nothing does, and one that never had a member. A household with a member, past or
    present, is the members' and is never a record of this class."""

    key = "households"
    label = _("Households no one is left in")
    action = "delete"
    triggers = frozenset({"recorded"})

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.identity.models import Household

        rows = Household.objects.filter(memberships__isnull=True).order_by("pk").values_list("pk", "public_id",
                                                                                             "modified_at")  # fmt: skip
        for pk, public_id, modified_at in rows.iterator(chunk_size=2000):
            if str(public_id) in removed:
                continue
            day = local_day(modified_at)
            yield Candidate(key=str(public_id), pk=pk, on=day, recorded=day, persons=frozenset(), age_persons=())

    def exists(self, record_id: str) -> bool:
        from cylch.identity.models import Household

        return valid_uuid(record_id) and Household.objects.filter(public_id=record_id).exists()

    def needed_by(self, candidate: Candidate) -> tuple[str, str] | None:
        from cylch.identity.models import Household

        return merged_into_it(candidate.pk) or references(Household, [candidate.pk])

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.identity.models import Household, HouseholdMembership

        household = Household.objects.select_for_update().filter(pk=candidate.pk).first()
        if household is None or HouseholdMembership.objects.filter(household=household).exists():
            return None  # gone, or someone has moved in since the list was made
        rows = serialised([household])
        household.delete()
        return Removed(count_rows(rows), digest(rows))

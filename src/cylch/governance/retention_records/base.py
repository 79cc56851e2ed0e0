"""What every record class shares: what is known about a person, a record as the schedule sees
it, the digest of what a removal takes, and the base class (docs/governance.md, "Retention")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from django.core import serializers
from django.db.models import Model
from django.utils import timezone

LAC_STARTED = "social_care.looked_after.started"
ADOPTION = "social_care.adoption"
ADULT_AGE = 18
CHUNK = 500  # ids per IN (...) query: well inside SQLite's limit on bound variables
# Spine entries written for a report or its challenge belong to the report: they carry its text.
REPORT_EVENT_PREFIXES = ("report:", "challenge:")


def add_years(day: date, years: int) -> date:
    """``day`` moved on ``years`` years. A 29 February lands on 1 March in a common year: the
    anniversary is reached a day later rather than a day early, so a record is never removed
    before its last day."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def live_person(pk: int, merged: dict[int, int]) -> int:
    """The person a merged pointer leads to, at any depth (``merged``: pointer id -> the id it
    was merged into); a person not merged is their own. A cycle stops where it repeats."""
    seen = set()
    while pk in merged and pk not in seen:
        seen.add(pk)
        pk = merged[pk]
    return pk


def local_day(moment) -> date | None:
    if moment is None:
        return None
    if hasattr(moment, "hour"):
        return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()
    return moment


# --- what is known about a person, for the rules -------------------------------------------


@dataclass(frozen=True)
class PersonFacts:
    born: date | None  # the date of birth, or an unborn baby's expected date of delivery
    died: date | None
    looked_after: bool
    adopted_on: date | None

    def child_on(self, day: date) -> bool | None:
        """Whether they were a child (or not yet born) on ``day``; None when their age is not known."""
        if self.born is None:
            return None
        return day < add_years(self.born, ADULT_AGE)

    @property
    def died_under_18(self) -> bool:
        return self.born is not None and self.died is not None and self.died < add_years(self.born, ADULT_AGE)


def person_facts(person_ids: Iterable[int]) -> dict[int, PersonFacts]:
    """Facts for each person, read from the person they are now (after merges) and from the
    spine of everyone merged into them: a looked-after start recorded against a duplicate
    counts. Three queries per ``CHUNK`` people, and one for the hub's merges."""
    from cylch.events.models import Event
    from cylch.identity.models import Person

    wanted = set(person_ids)
    if not wanted:
        return {}
    merged = dict(Person.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id"))

    live = partial(live_person, merged=merged)

    live_of = {pk: live(pk) for pk in wanted}
    group = {pk: live(pk) for pk in merged if live(pk) in set(live_of.values())}
    group.update({pk: pk for pk in live_of.values()})
    people: dict[int, tuple] = {}
    looked_after: set[int] = set()
    adopted: dict[int, date] = {}
    for ids in chunks(sorted(set(live_of.values()))):
        for pk, dob, unborn, edd, died in Person.objects.filter(pk__in=ids).values_list(
            "pk", "date_of_birth", "is_unborn", "expected_date_of_delivery", "date_of_death"
        ):
            people[pk] = (dob or (edd if unborn else None), died)
    members = sorted(group)
    for ids in chunks(members):
        spine = Event.objects.filter(person_id__in=ids, code__in=[LAC_STARTED, ADOPTION], superseded_by__isnull=True)
        for pk, code, occurred_at, details in spine.values_list("person_id", "code", "occurred_at", "details"):
            target = group[pk]
            if code == LAC_STARTED:
                looked_after.add(target)
            elif (details or {}).get("stage") == "adoption_order":
                day = local_day(occurred_at)
                adopted[target] = max(adopted.get(target, day), day)
    out = {}
    for pk, target in live_of.items():
        born, died = people.get(target, (None, None))
        out[pk] = PersonFacts(born, died, target in looked_after, adopted.get(target))
    return out


# --- a record, as the schedule sees it -----------------------------------------------------


@dataclass
class Candidate:
    """One record of a class: who it is about and its dates. ``key`` is its public id."""

    key: str
    pk: Any
    on: date  # the record's own date, to tell whether a person was a child then
    recorded: date | None
    persons: frozenset[int]  # everyone it is about (a legal hold on any of them keeps it)
    age_persons: tuple[int, ...]  # those whose age decides: the children of a report, an event's subject
    all_children: bool = False  # a report's, an alert's or an episode's children are children by definition
    closed: date | None = None
    open: bool = False
    aliases: frozenset[str] = frozenset()  # other public ids it goes by (earlier versions of an entry)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Removed:
    """What a remover did: rows by table, their digest, files to delete once committed."""

    counts: dict[str, int]
    sha256: str
    files: list[Path] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def serialised(objects: Iterable[Model]) -> list[dict[str, Any]]:
    return serializers.serialize("python", list(objects))


def digest(rows: list[dict[str, Any]]) -> str:
    """The SHA-256 of rows in the canonical form the module docstring describes."""
    ordered = sorted(rows, key=lambda r: (r["model"], str(r["pk"])))
    blob = json.dumps(ordered, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def count_rows(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["model"]] = counts.get(row["model"], 0) + 1
    return dict(sorted(counts.items()))


def erase(objects: Iterable[Model], values: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Set ``values`` on each object, keeping the old values of the fields that change in
    ``rows`` (for the digest). Saved with ``update_fields``: no ``save()`` logic runs."""
    for obj in objects:
        old = {}
        for name, value in values.items():
            column = obj._meta.get_field(name).attname
            new = value.pk if isinstance(value, Model) else value
            before = getattr(obj, column)
            if before != new:
                old[column] = before
                setattr(obj, column, new)
        if old:
            rows.append({"model": obj._meta.label_lower, "pk": obj.pk, "fields": old})
            obj.save(update_fields=list(old))


def household_members(household_ids: set[int]) -> dict[int, list[tuple[int, date | None, date | None]]]:
    from cylch.identity.models import HouseholdMembership

    out: dict[int, list[tuple[int, date | None, date | None]]] = {}
    for ids in chunks(sorted(household_ids)):
        for hh, person, since, until in HouseholdMembership.objects.filter(household_id__in=ids).values_list(
            "household_id", "person_id", "from_date", "to_date"
        ):
            out.setdefault(hh, []).append((person, since, until))
    return out


def member_on(since: date | None, until: date | None, day: date) -> bool:
    return (since is None or since <= day) and (until is None or until >= day)


class RecordClass:
    """One class of the schedule. Subclasses say how to find, keep and remove its records."""

    key = ""
    label: Any = ""
    action = ""
    triggers: frozenset[str] = frozenset()

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        raise NotImplementedError

    def exists(self, record_id: str) -> bool:
        raise NotImplementedError

    def needed_by(self, candidate: Candidate) -> tuple[str, str] | None:
        """A record that is kept and still refers to this one (class, public id), or None."""
        return None

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        """Remove the record; None when it is already gone."""
        raise NotImplementedError


CHILD_TRIGGERS = frozenset({"birth", "death", "adoption"})


@dataclass
class RemovalContext:
    """What removers in one batch share: a stand-in person for each child whose process is
    anonymised (so the statutory skeleton still counts children, not one person for all)."""

    stand_ins: dict[int, Any] = field(default_factory=dict)

    def stand_in(self, person_id: int):
        from cylch.identity.models import Person

        if person_id not in self.stand_ins:
            self.stand_ins[person_id] = Person.objects.create()  # no name, no date, no identifiers
        return self.stand_ins[person_id]


def valid_uuid(record_id: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(record_id))
    except ValueError:
        return False
    return True

"""The merged chronology of a child, or of the child's whole family, as one viewer may see it.

Every entry passes through the access policy (``cylch.access.policy``). The viewer's standing
to the child carries to the family: an entry about a father living elsewhere is part of the
child's picture, so it is shown at the better of the viewer's relationship to the child and
to the father. Withheld entries stay in the list as withheld, so a filtered view is never
mistaken for the whole truth.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.models import Organisation
from cylch.access.policy import Level, Relationship
from cylch.access.selectors import PersonAccess, relationships_to_persons
from cylch.chronology.family import Family, Member, family_of
from cylch.chronology.grouping import Group, group_entries
from cylch.chronology.models import Significance
from cylch.core import taxonomy
from cylch.events.models import Event
from cylch.identity.households import homes_with_merged

_RANK = {Relationship.NONE: 0, Relationship.INVOLVED: 1, Relationship.ALLOCATED: 2}
_EXISTENCE, _CONTENT = Level.EXISTENCE, Level.CONTENT  # an enum member read from its class is slow


@dataclass(frozen=True)
class Filters:
    person: UUID | None = None
    organisation: str = ""  # organisation code
    category: str = ""  # taxonomy domain key
    significant_only: bool = False
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        return bool(
            self.person or self.organisation or self.category or self.significant_only or self.since or self.until
        )


@dataclass
class _Shared:
    """What every entry of one chronology shares: the viewer's language, the family's
    organisations and names, and the labels worked out once per code rather than per entry."""

    language: str
    organisations: dict[int, Organisation]
    names: dict[int, str]  # member's person pk -> name, empty where not the viewer's to see
    domains: dict
    # The chronology's entries, which a first read of an unfetched event fetches together. Weak:
    # entries point here, so a strong reference would make every chronology a reference cycle
    # that only the garbage collector frees (full collections made the slowest requests).
    entries: weakref.ReferenceType[_Entries] | None = None
    _labels: dict[str, str] = field(default_factory=dict)
    _contacts: dict[int, tuple[str, str]] = field(default_factory=dict)

    def label(self, code: str) -> str:
        if code not in self._labels:
            found = taxonomy.get(code)
            self._labels[code] = found.label(self.language) if found else code
        return self._labels[code]

    def category_label(self, category: str) -> str:
        return self.domains[category].label(self.language) if category in self.domains else category

    def contact(self, organisation_id: int) -> tuple[str, str]:
        if organisation_id not in self._contacts:
            self._contacts[organisation_id] = _contact_of(self.organisations[organisation_id], self.language)
        return self._contacts[organisation_id]


class Entry:
    """One entry of the chronology as the viewer may see it.

    Filtering and grouping need only a few columns of each event, so an entry starts with
    those. Its ``event`` (public id, and the content where the viewer may read it) is fetched
    when the entry is shown: ``Chronology.hydrate`` for a page of entries in two queries, or,
    for a caller that does not prepare, every entry of its chronology at the first read.
    A withheld entry's event never carries content: summary, details and recorder are empty.
    """

    __slots__ = (
        "_event",
        "_shared",
        "category",
        "code",
        "household_id",
        "level",
        "mark",
        "member",
        "occurred_at",
        "organisation_id",
        "person_id",
        "pk",
        "sensitivity",
        "shows_content",
        "significant",
        "supersedes_id",
        "withheld",
    )

    def __init__(
        self, row: tuple, member: Member | None, level: Level, mark: Significance | None, category: str, shared: _Shared
    ) -> None:
        (
            self.pk,
            self.person_id,
            self.household_id,
            self.organisation_id,
            self.code,
            self.sensitivity,
            self.occurred_at,
            self.supersedes_id,
        ) = row
        self.member = member  # None for an entry about the household as a whole
        self.level = level
        self.mark = mark
        # Worked out once: grouping, filters and the page ask each of them several times.
        self.withheld = level == _EXISTENCE
        self.shows_content = level == _CONTENT
        self.significant = mark is not None and not self.withheld
        self.category = category
        self._shared = shared
        self._event: Event | None = None

    def __repr__(self) -> str:
        return f"<Entry {self.pk} {self.code} {self.level.value}>"

    @property
    def event(self) -> Event:
        if self._event is None:
            entries = self._shared.entries() if self._shared.entries else None
            hydrate([*entries, self] if entries is not None else [self])
        return self._event  # type: ignore[return-value]

    @property
    def label(self) -> str:
        return self._shared.label(self.code)

    @property
    def category_label(self) -> str:
        return self._shared.category_label(self.category)

    @property
    def organisation(self) -> Organisation:
        return self._shared.organisations[self.organisation_id]

    @property
    def organisation_name(self) -> str:
        return self.organisation.name(self._shared.language)

    @property
    def contact_role(self) -> str:
        return self._shared.contact(self.organisation_id)[0]

    @property
    def contact(self) -> str:
        return self._shared.contact(self.organisation_id)[1]

    @property
    def marked_by(self) -> str:
        """The organisation that marked it significant, in the viewer's language."""
        return self.mark.organisation.name(self._shared.language) if self.mark is not None else ""

    @property
    def name(self) -> str:
        """The member's name, empty where names are not the viewer's to see."""
        return self._shared.names[self.member.person.pk] if self.member else ""

    @property
    def who(self) -> str:
        if self.member is None:
            return _("The household")
        if self.member.role == "child":
            return self.name or self.member.neutral_label
        return f"{self.name} ({self.member.role_label})" if self.name else self.member.neutral_label

    @property
    def relation(self) -> str:
        """How the person stands to the child, said neutrally where their details are withheld."""
        if self.member is None:
            return _("The household")
        return self.member.role_label if self.name else self.member.neutral_label

    def group_key(self) -> tuple:
        who = self.member.person.pk if self.member else None
        if self.withheld:
            return (who, "withheld", self.organisation_id)
        return (who, self.code, self.level)


class _Entries(list):
    """A chronology's entries: a list its entries can refer to weakly."""

    __slots__ = ("__weakref__",)


@dataclass
class Chronology:
    family: Family
    whole_family: bool
    filters: Filters
    entries: list[Entry]  # after filters, newest first
    total: int  # before filters
    withheld: int  # in ``entries``
    organisations: list[tuple[str, str]] = field(default_factory=list)  # (code, name) for the filter
    people: list[tuple[UUID, str]] = field(default_factory=list)  # (public id, who) for the filter
    categories: list[tuple[str, str]] = field(default_factory=list)

    @cached_property
    def groups(self) -> list[Group]:
        return group_entries(self.entries)

    def hydrate(self, entries: Iterable[Entry]) -> None:
        """Fetch the events of ``entries`` (the ones about to be shown) in two queries."""
        hydrate(entries)


# Ids per query when fetching events: well inside SQLite's limit on bound parameters.
HYDRATE_BATCH = 2000
# What filtering, grouping and the access check need of each event; ``Entry`` takes them in order.
_LIGHT = ("pk", "person_id", "household_id", "organisation_id", "code", "sensitivity", "occurred_at", "supersedes_id")


def hydrate(entries: Iterable[Entry]) -> None:
    """Give each of ``entries`` its event: the whole row where the viewer may read it (in
    full or as a summary), and only the public id beside the columns already read where it is
    withheld, so content the viewer may not see is never loaded."""
    todo = list({e.pk: e for e in entries if e._event is None}.values())
    if not todo:
        return
    readable = [e.pk for e in todo if not e.withheld]
    withheld = [e.pk for e in todo if e.withheld]
    rows: dict[int, Event] = {}
    public_ids: dict[int, UUID] = {}
    for i in range(0, len(readable), HYDRATE_BATCH):
        rows.update((ev.pk, ev) for ev in Event.objects.filter(pk__in=readable[i : i + HYDRATE_BATCH]))
    for i in range(0, len(withheld), HYDRATE_BATCH):
        public_ids.update(Event.objects.filter(pk__in=withheld[i : i + HYDRATE_BATCH]).values_list("pk", "public_id"))
    organisation_field = Event._meta.get_field("organisation")
    for e in todo:
        if e.withheld:
            known = {name if name != "pk" else "id": getattr(e, name) for name in _LIGHT}
            event = Event(**known, public_id=public_ids[e.pk])
            event._state.adding = False
            event._state.db = DEFAULT_DB_ALIAS
        else:
            event = rows[e.pk]
        organisation_field.set_cached_value(event, e.organisation)
        e._event = event


def _contact_of(organisation, language: str) -> tuple[str, str]:
    role = (organisation.contact_role_cy if language == "cy" else organisation.contact_role_en) or _(
        "Safeguarding lead"
    )
    return role, organisation.safeguarding_email or organisation.safeguarding_phone


def member_levels(access: PersonAccess, family: Family, people: list[Member]) -> dict[int, PersonAccess]:
    """Each member's access: the better of the viewer's standing to the child and to them (read
    when the person was opened with their family, else here)."""
    others = [] if access.relationship == Relationship.ALLOCATED else [
        m.person for m in people if m.person.pk != access.person.pk
    ]  # fmt: skip
    own = {p.pk: access.standing[p.pk] for p in others if p.pk in access.standing}
    own |= relationships_to_persons(access.viewer, [p for p in others if p.pk not in own])
    out = {}
    for member in people:
        relationship = own.get(member.person.pk, access.relationship)
        if _RANK[relationship] < _RANK[access.relationship]:
            relationship = access.relationship
        out[member.person.pk] = PersonAccess(member.person, access.viewer, relationship, access.break_glass)
    return out


def chronology(
    access: PersonAccess, *, whole_family: bool = False, filters: Filters | None = None, family: Family | None = None
) -> Chronology:
    """One time axis for the child (or the family), newest first, filtered and access-checked.

    Five queries plus a few per family member the viewer is not already allocated to. Each
    entry holds what filtering and grouping need; the events themselves are fetched for the
    entries shown (``Chronology.hydrate``; every entry at the first read otherwise).
    """
    filters = filters or Filters()
    language = get_language() or "en"
    family = family or access.family or family_of(access.person)
    members = family.members if whole_family else family.members[:1]
    accesses = member_levels(access, family, members)
    by_pk = {m.person.pk: m for m in members}
    names = {
        pk: m.person.display_name if accesses[pk].may_see_demographics or m.role == "child" else ""
        for pk, m in by_pk.items()
    }
    # A household merged into one of these homes is part of it: its entries keep the household
    # they were recorded at, so they are read through the pointer, in the same query.
    households = homes_with_merged(family.households if whole_family else family.members[0].households)

    # Two index-backed reads rather than one OR: SQLite does not use both indexes for an OR
    # and scans the table instead (seconds at ten million events). Only the columns needed to
    # filter and group: building two thousand model instances was most of the time.
    by_person = Event.objects.filter(person_id__in=list(by_pk))
    by_household = Event.objects.filter(household_id__in=households, person__isnull=True)
    rows = [*by_person.values_list(*_LIGHT), *by_household.values_list(*_LIGHT)]
    # A correction keeps its original's person and household, so it is always read with it:
    # what it supersedes is known from the rows themselves, without another query.
    superseded = {r[7] for r in rows if r[7]}
    rows = sorted((r for r in rows if r[0] not in superseded), key=lambda r: (r[6], r[0]), reverse=True)
    # A family's entries come from a handful of organisations: load each once, not per row.
    by_org = {o.pk: o for o in Organisation.objects.filter(pk__in={r[3] for r in rows})}
    # Marks on the family's events by a join, not a list of two thousand ids.
    marks = {
        m.event_id: m
        for m in Significance.objects.filter(
            Q(event__person_id__in=list(by_pk)) | Q(event__household_id__in=households, event__person__isnull=True),
            removed_at__isnull=True,
        ).select_related("organisation")
    }
    shared = _Shared(language=language, organisations=by_org, names=names, domains=taxonomy.domains())
    categories_of: dict[str, str] = {}
    levels: dict[tuple, Level] = {}
    seen: set[str] = set()  # categories of the entries the viewer may see
    entries = _Entries()
    for row in rows:
        pk, person_id, _household, organisation_id, code, sensitivity = row[:6]
        member = by_pk.get(person_id) if person_id else None
        key = (person_id if member else None, sensitivity, organisation_id)
        level = levels.get(key)
        if level is None:
            person_access = accesses[member.person.pk] if member else access
            level = levels[key] = person_access.level_for(sensitivity=sensitivity, organisation_id=organisation_id)
        category = categories_of.get(code)
        if category is None:
            found = taxonomy.get(code)
            category = categories_of[code] = found.domain if found else code.split(".", 1)[0]
        if level != _EXISTENCE:
            seen.add(category)
        entries.append(Entry(row, member, level, marks.get(pk), category, shared))
    categories = {category: shared.category_label(category) for category in seen}
    organisations = {o.code: o.name(language) for o in by_org.values()}
    total = len(entries)
    kept = _Entries(e for e in entries if _passes(e, filters)) if filters.active else entries
    shared.entries = weakref.ref(kept)
    return Chronology(
        family=family,
        whole_family=whole_family,
        filters=filters,
        entries=kept,
        total=total,
        withheld=sum(1 for e in kept if e.withheld),
        organisations=sorted(organisations.items(), key=lambda kv: kv[1]),
        categories=sorted(categories.items(), key=lambda kv: kv[1]),
        people=[
            (m.person.public_id, f"{names[m.person.pk]} ({m.role_label})" if names[m.person.pk] else m.neutral_label)
            for m in members
        ],
    )


def _passes(entry: Entry, f: Filters) -> bool:
    """Filters apply to what the viewer may know: a withheld entry's category is not theirs to
    see, so a category filter keeps withheld entries (from the chosen organisation, if any)."""
    if f.since and timezone.localtime(entry.occurred_at) < timezone.make_aware(datetime.combine(f.since, time.min)):
        return False
    if f.until and timezone.localtime(entry.occurred_at).date() > f.until:
        return False
    if f.person and (entry.member is None or entry.member.person.public_id != f.person):
        return False
    if f.organisation and entry.organisation.code != f.organisation:
        return False
    if f.significant_only and not entry.significant:
        return False
    return not (f.category and not entry.withheld and entry.category != f.category)

"""The merged chronology of a child, or of the child's whole family, as one viewer may see it.

Every entry passes through the access policy (``cylch.access.policy``). The viewer's standing
to the child carries to the family: an entry about a father living elsewhere is part of the
child's picture, so it is shown at the better of the viewer's relationship to the child and
to the father. Withheld entries stay in the list as withheld, so a filtered view is never
mistaken for the whole truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from uuid import UUID

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.models import Organisation
from cylch.access.policy import Level, Relationship
from cylch.access.selectors import PersonAccess, relationship_to_person
from cylch.chronology.family import Family, Member, family_of
from cylch.chronology.grouping import Group, group_entries
from cylch.chronology.models import Significance
from cylch.core import taxonomy
from cylch.events.models import Event

_RANK = {Relationship.NONE: 0, Relationship.INVOLVED: 1, Relationship.ALLOCATED: 2}


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
class Entry:
    event: Event
    member: Member | None  # None for an entry about the household as a whole
    level: Level
    mark: Significance | None
    label: str
    category: str
    category_label: str
    organisation_name: str
    contact_role: str
    contact: str
    marked_by: str = ""  # the organisation that marked it significant, in the viewer's language
    name: str = ""  # the member's name, empty where names are not the viewer's to see

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

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at

    @property
    def withheld(self) -> bool:
        return self.level == Level.EXISTENCE

    @property
    def shows_content(self) -> bool:
        return self.level == Level.CONTENT

    @property
    def significant(self) -> bool:
        return self.mark is not None and not self.withheld

    def group_key(self) -> tuple:
        who = self.member.person.pk if self.member else None
        if self.withheld:
            return (who, "withheld", self.event.organisation_id)
        return (who, self.event.code, self.level.value)


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


def _contact_of(organisation, language: str) -> tuple[str, str]:
    role = (organisation.contact_role_cy if language == "cy" else organisation.contact_role_en) or _(
        "Safeguarding lead"
    )
    return role, organisation.safeguarding_email or organisation.safeguarding_phone


def member_levels(access: PersonAccess, family: Family, people: list[Member]) -> dict[int, PersonAccess]:
    """Each member's access: the better of the viewer's standing to the child and to them."""
    out = {}
    for member in people:
        if member.person.pk == access.person.pk or access.relationship == Relationship.ALLOCATED:
            relationship = access.relationship
        else:
            own = relationship_to_person(access.viewer, member.person)
            relationship = own if _RANK[own] > _RANK[access.relationship] else access.relationship
        out[member.person.pk] = PersonAccess(member.person, access.viewer, relationship, access.break_glass)
    return out


def chronology(
    access: PersonAccess, *, whole_family: bool = False, filters: Filters | None = None, family: Family | None = None
) -> Chronology:
    """One time axis for the child (or the family), newest first, filtered and access-checked.

    Six queries plus a few per family member the viewer is not already allocated to.
    """
    filters = filters or Filters()
    language = get_language() or "en"
    family = family or family_of(access.person)
    members = family.members if whole_family else family.members[:1]
    accesses = member_levels(access, family, members)
    by_pk = {m.person.pk: m for m in members}
    names = {
        pk: m.person.display_name if accesses[pk].may_see_demographics or m.role == "child" else ""
        for pk, m in by_pk.items()
    }
    households = family.households if whole_family else family.members[0].households

    # Two index-backed reads rather than one OR: SQLite does not use both indexes for an OR
    # and scans the table instead (seconds at ten million events).
    parts = [
        Event.objects.filter(person_id__in=list(by_pk)),
        Event.objects.filter(household_id__in=list(households), person__isnull=True),
    ]
    # A correction keeps its original's person and household, so it is always read with it:
    # what it supersedes is known from the rows themselves, without another query.
    rows = [e for part in parts for e in part]
    superseded = {e.supersedes_id for e in rows if e.supersedes_id}
    events = sorted((e for e in rows if e.pk not in superseded), key=lambda e: (e.occurred_at, e.pk), reverse=True)
    # A family's entries come from a handful of organisations: load each once, not per row.
    by_org = {o.pk: o for o in Organisation.objects.filter(pk__in={e.organisation_id for e in events})}
    organisation_field = Event._meta.get_field("organisation")
    for e in events:
        organisation_field.set_cached_value(e, by_org[e.organisation_id])
    marks = {
        m.event_id: m
        for m in Significance.objects.filter(
            event_id__in=[e.pk for e in events], removed_at__isnull=True
        ).select_related("organisation")
    }
    domains = taxonomy.domains()
    contacts: dict[int, tuple[str, str]] = {}
    organisations: dict[str, str] = {}
    categories: dict[str, str] = {}
    entries: list[Entry] = []
    for event in events:
        member = by_pk.get(event.person_id) if event.person_id else None
        person_access = accesses[member.person.pk] if member else access
        level = person_access.level_for(sensitivity=event.sensitivity, organisation_id=event.organisation_id)
        code = taxonomy.get(event.code)
        category = code.domain if code else event.code.split(".", 1)[0]
        if event.organisation_id not in contacts:
            contacts[event.organisation_id] = _contact_of(event.organisation, language)
        organisation_name = event.organisation.name(language)
        organisations[event.organisation.code] = organisation_name
        entry = Entry(
            event=event,
            member=member,
            level=level,
            mark=marks.get(event.pk),
            label=code.label(language) if code else event.code,
            category=category,
            category_label=domains[category].label(language) if category in domains else category,
            organisation_name=organisation_name,
            contact_role=contacts[event.organisation_id][0],
            contact=contacts[event.organisation_id][1],
            marked_by=marks[event.pk].organisation.name(language) if event.pk in marks else "",
            name=names[member.person.pk] if member else "",
        )
        if level != Level.EXISTENCE:
            categories[category] = entry.category_label
        entries.append(entry)
    total = len(entries)
    kept = [e for e in entries if _passes(e, filters)]
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
    at = timezone.localtime(entry.occurred_at)
    if f.since and at < timezone.make_aware(datetime.combine(f.since, time.min)):
        return False
    if f.until and at.date() > f.until:
        return False
    if f.person and (entry.member is None or entry.member.person.public_id != f.person):
        return False
    if f.organisation and entry.event.organisation.code != f.organisation:
        return False
    if f.significant_only and not entry.significant:
        return False
    return not (f.category and not entry.withheld and entry.category != f.category)

"""Households from the addresses agencies send (docs/identity.md, "Households from agency addresses").

Intake (CSV, ``POST /api/v1/events``, FHIR) stores what each agency holds about a person, address
included, but only the front door and the demo used to put anyone in a household. ``place`` puts
a person who lives nowhere yet at their agencies' address, so that people sent at one address
share one household and household-level entries and rules reach everyone who lives there.

It is deliberately narrow. A wrong household mixes two families' chronologies, and a move to
another local authority hands the child's alerts over (``rules/handover.py``), so nobody who has
a current household is ever moved by an agency's address: ``differing_addresses`` shows a newer
address to the people who may see addresses, and a person records the move
(``move_to_agency_address``) after checking it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Replace, Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.identity.linkage.features import postcode_forms
from cylch.identity.models import AgencyRecord, Household, HouseholdMembership, Person, PersonLink
from cylch.identity.names import fold
from cylch.identity.services import CHUNK, household_add_member, household_create

# Dropped before folding, so "St. Mary's" and "St Marys" read alike; other punctuation separates
# words ("Flat 2,18" is "flat 2 18").
_JOINING = re.compile(r"[.'’‘`]")


@dataclass(frozen=True)
class Address:
    """An address as compared: the line folded (case, accents and punctuation gone, single
    spaces), the postcode upper case with no spaces, and the UPRN's digits if there is one."""

    line: str
    postcode: str
    uprn: str = ""

    def same_as(self, other: Address) -> bool:
        """The same place: by UPRN when both have one, else by postcode and line, both present."""
        if self.uprn and other.uprn:
            return self.uprn == other.uprn
        return bool(self.line and self.postcode) and (self.line, self.postcode) == (other.line, other.postcode)


def normalise(*, address_line: str, postcode: str, uprn: str = "") -> Address:
    """The form in which two addresses are compared (``Address.same_as``)."""
    return Address(
        line=fold(_JOINING.sub("", address_line or "")),
        postcode=re.sub(r"[^A-Z0-9]", "", (postcode or "").upper()),
        uprn=re.sub(r"\D", "", str(uprn or "")),
    )


def address_of_record(record: AgencyRecord) -> Address | None:
    """The record's address, or None unless it has both a first line and a postcode.

    A UPRN comes from ``extra["uprn"]`` when the agency sent one (the JSON API's ``extra``)."""
    uprn = record.extra.get("uprn", "") if isinstance(record.extra, dict) else ""
    address = normalise(address_line=record.address_line, postcode=record.postcode, uprn=str(uprn or ""))
    return address if address.line and address.postcode else None


def address_of_household(household: Household) -> Address:
    return normalise(address_line=household.address_line, postcode=household.postcode, uprn=household.uprn)


def _chunks(pks: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(pks), CHUNK):
        yield pks[i : i + CHUNK]


def current_homes(person_ids: Iterable[int]) -> dict[int, int]:
    """Each person's current household, as ``events.services.current_household_id`` reads it."""
    homes: dict[int, int] = {}
    for chunk in _chunks(sorted(set(person_ids))):
        rows = (
            HouseholdMembership.objects.filter(person_id__in=chunk, to_date__isnull=True)
            .order_by("person_id", "-from_date", "-id")
            .values_list("person_id", "household_id")
        )
        for person_id, household_id in rows:
            homes.setdefault(person_id, household_id)
    return homes


class _Finder:
    """Households by address for a set of addresses: looked up once, created when missing."""

    def __init__(self, addresses: Iterable[Address]):
        addresses = list(addresses)
        postcodes = sorted({form for a in addresses for form in postcode_forms(a.postcode)})
        uprns = sorted({a.uprn for a in addresses if a.uprn})
        found: dict[int, Household] = {}
        for i in range(0, max(len(postcodes), len(uprns)), CHUNK):
            rows = Household.objects.filter(
                Q(postcode__in=postcodes[i : i + CHUNK]) | Q(uprn__in=uprns[i : i + CHUNK])
            ).select_related("local_authority", "merged_into__local_authority")
            found.update((h.pk, h) for h in rows)
        # A household merged into another is found by its own spelling of the address, and
        # stands for the home it was merged into: nobody is placed in a merged household.
        live = {pk: h.live() for pk, h in found.items()}
        lived_in: set[int] = set()
        for chunk in _chunks(sorted({h.pk for h in live.values()})):
            lived_in.update(
                HouseholdMembership.objects.filter(household_id__in=chunk, to_date__isnull=True)
                .values_list("household_id", flat=True)
                .distinct()
            )
        # Where an address is held twice (reports made their own households before
        # ``household_at``), the one somebody lives in now, then the oldest.
        ranked = sorted(found.values(), key=lambda h: (live[h.pk].pk not in lived_in, live[h.pk].pk, h.pk))
        self.households = [(address_of_household(h), live[h.pk]) for h in ranked]

    def find(self, address: Address) -> Household | None:
        return next((h for held, h in self.households if held.same_as(address)), None)

    def find_or_create(self, address: Address, record: AgencyRecord, actor: User | None) -> tuple[Household, bool]:
        household = self.find(address)
        if household is not None:
            return household, False
        household = household_create(
            address_line=record.address_line,
            town=record.town,
            postcode=record.postcode,
            local_authority=record.organisation.local_authority,
            actor=actor,
        )
        if address.uprn:
            household.uprn = address.uprn[: Household._meta.get_field("uprn").max_length]
            household.save(update_fields=["uprn", "modified_at"])
        self.households.append((address_of_household(household), household))
        return household, True


def household_at(
    *, address_line: str, town: str, postcode: str, local_authority, actor: User | None
) -> tuple[Household, bool]:
    """The household already held at this address, as intake finds it (the one somebody lives in
    now, then the oldest), or a new one; and whether it is new.

    A report names a child's address the way the reporter writes it. Making a household for
    each report split one home into several, each with part of the family's chronology; found
    like this, the reported child joins the family the agencies already place there."""
    address = normalise(address_line=address_line, postcode=postcode)
    found = _Finder([address]).find(address) if address.line and address.postcode else None
    if found is not None:
        return found, False
    household = household_create(
        address_line=address_line, town=town, postcode=postcode, local_authority=local_authority, actor=actor
    )
    return household, True


def place(person_ids: Iterable[int], *, actor: User | None = None) -> dict[int, int]:
    """Put each person who lives nowhere at their agencies' address; returns everyone's home.

    For each person with no current household: the address of their most recently updated
    active agency record with a first line and a postcode; the household held at that address
    (``Address.same_as``), or a new one in the sending organisation's local authority; and a
    membership from today (``household_add_member``, so a move across an authority border hands
    over as any other). People at one address share one household. Nobody with a current
    household is moved, nor anyone whose last household ended after the agency last wrote
    (the address may be the one they left), nor anyone who has died.

    Returns ``{person id: current household id}`` for every person given who has one, after
    placing. The lookups are a fixed handful of queries for the whole set; each person placed
    costs the writes of ``household_add_member`` once (sent again, they live somewhere).
    """
    pks = sorted(set(person_ids))
    homes = current_homes(pks)
    unhoused = [pk for pk in pks if pk not in homes]
    if not unhoused:
        return homes
    with transaction.atomic():
        # Locked, then read again: a concurrent batch placing the same person waits here and
        # then finds them housed, instead of giving them two homes.
        persons: dict[int, Person] = {}
        for chunk in _chunks(unhoused):
            rows = Person.objects.select_for_update().filter(
                pk__in=chunk, merged_into__isnull=True, date_of_death__isnull=True
            )
            persons.update((p.pk, p) for p in rows.order_by("pk"))
        left: dict[int, date] = {}
        for chunk in _chunks(sorted(persons)):
            rows = HouseholdMembership.objects.filter(person_id__in=chunk).order_by("person_id", "-from_date", "-id")
            for person_id, household_id, to_date in rows.values_list("person_id", "household_id", "to_date"):
                if to_date is None:
                    homes.setdefault(person_id, household_id)
                else:
                    left[person_id] = max(to_date, left.get(person_id, to_date))
        chosen: dict[int, tuple[AgencyRecord, Address]] = {}
        for chunk in _chunks(sorted(set(persons) - set(homes))):
            links = (
                PersonLink.objects.filter(person_id__in=chunk, active=True)
                .exclude(agency_record__address_line="")
                .exclude(agency_record__postcode="")
                .select_related("agency_record__organisation__local_authority")
                .order_by("person_id", "-agency_record__modified_at", "-agency_record_id")
            )
            for link in links:
                record = link.agency_record
                address = address_of_record(record)
                if link.person_id in chosen or address is None:
                    continue
                if link.person_id in left and timezone.localdate(record.modified_at) <= left[link.person_id]:
                    continue  # sent before they left their last home: perhaps the address they left
                chosen[link.person_id] = (record, address)
        if not chosen:
            return homes
        finder = _Finder(address for _record, address in chosen.values())
        placed = []
        today = timezone.localdate()
        for person_id in sorted(chosen):
            record, address = chosen[person_id]
            household, created = finder.find_or_create(address, record, actor)
            household_add_member(household=household, person=persons[person_id], from_date=today, actor=actor)
            homes[person_id] = household.pk
            placed.append({"person": str(persons[person_id].public_id), "household": str(household.public_id),
                           "new_household": created, "record": str(record.public_id)})  # fmt: skip
        audit_record(
            action="write",
            actor=actor,
            actor_label="" if actor else "Cylch households",
            object_type="household",
            object_id=len(placed),
            purpose="households from agency addresses",
            detail={"placed": placed},
        )
    return homes


# --- an address that differs: shown, and moved to only by a person ------------------------------


@dataclass(frozen=True)
class DifferingAddress:
    """An agency's address for the person, sent after their current household began, elsewhere."""

    record: AgencyRecord
    household: Household

    @property
    def address(self) -> str:
        return display_address(self.record)

    @property
    def given_on(self) -> date:
        return timezone.localdate(self.record.modified_at)


def display_address(record: AgencyRecord) -> str:
    """The address as the agency sent it, on one line."""
    return ", ".join(p for p in [record.address_line, record.town, record.postcode] if p)


def destination(record: AgencyRecord) -> tuple[Household | None, object]:
    """Where a move to the record's address would go: the household held there (None: a new one)
    and the local authority it is in (the household's, else the sending organisation's)."""
    address = address_of_record(record)
    household = _Finder([address]).find(address) if address is not None else None
    return household, household.local_authority if household is not None else record.organisation.local_authority


def _current_membership(person: Person) -> HouseholdMembership | None:
    return (
        HouseholdMembership.objects.filter(person=person, to_date__isnull=True)
        .select_related("household__local_authority")
        .order_by("-from_date", "-id")
        .first()
    )


def _sent_after(record: AgencyRecord, membership: HouseholdMembership) -> bool:
    """Whether the agency wrote the record after the membership began. A start not recorded is
    bounded by the household's own recording: the membership cannot be older than that."""
    if membership.from_date is not None:
        return timezone.localdate(record.modified_at) > membership.from_date
    return record.modified_at > membership.household.created_at


def differing_addresses(person: Person) -> list[DifferingAddress]:
    """The agencies' addresses for ``person`` that differ from their current household's and were
    sent after they began living there, newest first (one per address). Empty when they live
    nowhere (``place`` houses them) or every agency agrees. Two queries."""
    membership = _current_membership(person)
    if membership is None:
        return []
    home = address_of_household(membership.household)
    links = (
        PersonLink.objects.filter(person=person, active=True)
        .exclude(agency_record__address_line="")
        .exclude(agency_record__postcode="")
        .select_related("agency_record__organisation")
        .order_by("-agency_record__modified_at", "-agency_record_id")
    )
    out: list[DifferingAddress] = []
    for link in links:
        record = link.agency_record
        address = address_of_record(record)
        if address is None or address.same_as(home) or not _sent_after(record, membership):
            continue
        if any(address.same_as(address_of_record(d.record)) for d in out):
            continue  # the same new address from another agency (or older): the newest says it
        out.append(DifferingAddress(record=record, household=membership.household))
    return out


def differing_address(person: Person, record_public_id) -> DifferingAddress | None:
    """The one ``differing_addresses`` entry for this agency record, or None (agreeing now,
    older than the household, not the person's, or not a record at all)."""
    return next((d for d in differing_addresses(person) if str(d.record.public_id) == str(record_public_id)), None)


def move_to_agency_address(*, person: Person, record: AgencyRecord, shown: str, actor: User) -> HouseholdMembership:
    """Record that ``person`` lives at the address ``record`` gives, as a person decided.

    ``shown`` is the address as the person confirming saw it: if the agency has changed it since,
    nothing is done (the decision was about another address). The household held at the address
    is used, else one is made in the sending organisation's authority; ``household_add_member``
    ends the current membership and begins the new one today, and a move into another authority
    hands over what the old one holds (``rules/handover.py``). Audited with the record it came from.
    """
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        current = _current_membership(person)
        record = AgencyRecord.objects.select_related("organisation__local_authority").get(pk=record.pk)
        if not PersonLink.objects.filter(person=person, agency_record=record, active=True).exists():
            raise ValidationError({"record": [_("That agency record is no longer linked to this person.")]})
        address = address_of_record(record)
        if address is None or display_address(record) != shown:
            raise ValidationError(
                {"address": [_("The agency has changed this address since you looked. Check it again.")]}
            )
        if current is not None and address.same_as(address_of_household(current.household)):
            raise ValidationError({"address": [_("Cylch already holds this person at this address.")]})
        household, created = _Finder([address]).find_or_create(address, record, actor)
        membership = household_add_member(
            household=household, person=person, from_date=timezone.localdate(), actor=actor
        )
        audit_record(
            action="write",
            actor=actor,
            object_type="household_membership",
            object_id=membership.pk,
            purpose="move recorded from an agency address",
            detail={
                "person": str(person.public_id),
                "from_household": str(current.household.public_id) if current else "",
                "to_household": str(household.public_id),
                "new_household": created,
                "record": str(record.public_id),
                "organisation": record.organisation.code,
            },
        )
    return membership


# --- one home held twice: found, merged by a person (or the command), and the merge undone -----
#
# Older data (reports made their own households before ``household_at``) and spellings that only
# normalise alike since a later change leave one home as two households, each with part of the
# family's chronology. Entries are append-only and keep the household they were recorded at, so a
# merge moves the memberships and leaves a pointer (``Household.merged_into``) that the readers of
# a home follow; undoing it puts the memberships back and marks the two as different homes.

MERGED, SEPARATED = "households merged", "household merge undone"


@dataclass
class HomeTwice:
    """Two live households that look like one home: ``other`` would merge into ``keep``."""

    keep: Household
    other: Household
    keep_members: list[Person]
    other_members: list[Person]
    exact: bool  # every household of the group reads as one address, in one local authority


def duplicate_households(households: QuerySet[Household] | None = None) -> list[HomeTwice]:
    """Live households among ``households`` (default: all) held at one address by
    ``Address.same_as`` (one UPRN, else one first line and postcode) that both have somebody
    living there now or entries about them, and that no reviewer has said are other homes.

    Each group keeps the household others were merged into before, else the one somebody lives
    in now, then the oldest (as ``household_at`` finds one). A group is ``exact`` when every pair
    in it is the same address and all are in one local authority; only those are the command's
    to merge. Six queries however many households (and one more per 500 households in pairs,
    for who lives there): the candidates, those sharing a compact postcode or a UPRN, are a
    subquery of the other reads, never a list of ids (at 50,500 households with 500 pairs,
    seven queries and 2.6 s of CPU on SQLite).
    """
    base = (households if households is not None else Household.objects.all()).filter(merged_into__isnull=True)
    compact = base.annotate(compact=Upper(Replace("postcode", Value(" "), Value(""))))
    postcodes = compact.exclude(postcode="").values("compact").annotate(n=Count("pk")).filter(n__gt=1)
    uprns = base.exclude(uprn="").values("uprn").annotate(n=Count("pk")).filter(n__gt=1)
    candidates = compact.filter(Q(compact__in=postcodes.values("compact")) | Q(uprn__in=uprns.values("uprn")))
    found = {h.pk: h for h in candidates.select_related("local_authority").order_by("pk")}
    lived_in, used = _in_use(candidates)
    found = {pk: h for pk, h in found.items() if pk in lived_in or pk in used}
    pairs = _same_address_pairs(found, candidates)
    groups = _groups(pairs)
    members = _members_now(sorted({pk for pair in pairs for pk in pair}))
    kept_before = set(
        Household.objects.filter(merged_into__in=candidates.values("pk")).values_list("merged_into_id", flat=True)
    )
    out = []
    for group in groups:
        ranked = sorted(group, key=lambda pk: (pk not in kept_before, pk not in lived_in, pk))
        keep = found[ranked[0]]
        exact = len({found[pk].local_authority_id for pk in group}) == 1 and all(
            frozenset((a, b)) in pairs for i, a in enumerate(ranked) for b in ranked[i + 1 :]
        )
        for pk in ranked[1:]:
            if frozenset((keep.pk, pk)) in pairs:
                out.append(HomeTwice(keep, found[pk], members.get(keep.pk, []), members.get(pk, []), exact))
    return sorted(out, key=lambda d: (d.keep.postcode, d.keep.address_line, d.keep.pk, d.other.pk))


def _in_use(candidates: QuerySet[Household]) -> tuple[set[int], set[int]]:
    """Of the candidates, those somebody lives in now, and (of the rest) those entries refer to."""
    from cylch.events.models import Event

    now = HouseholdMembership.objects.filter(to_date__isnull=True)
    lived_in = set(now.filter(household_id__in=candidates.values("pk")).values_list("household_id", flat=True))
    empty = candidates.exclude(pk__in=now.values("household_id")).values("pk")
    used = set(Event.objects.filter(household_id__in=empty).values_list("household_id", flat=True).distinct())
    return lived_in, used


def _same_address_pairs(found: dict[int, Household], candidates: QuerySet[Household]) -> set[frozenset[int]]:
    """Pairs of the same address that no reviewer has said are other homes."""
    addresses = {pk: address_of_household(h) for pk, h in found.items()}
    buckets: dict[str, list[int]] = defaultdict(list)
    for pk, address in addresses.items():
        for key in {f"p:{address.postcode}", f"u:{address.uprn}" if address.uprn else ""} - {""}:
            buckets[key].append(pk)
    through = Household.not_same_as.through
    different = {
        frozenset(pair)
        for pair in through.objects.filter(from_household_id__in=candidates.values("pk")).values_list(
            "from_household_id", "to_household_id"
        )
    }
    pairs = set()
    for pks in buckets.values():
        for i, a in enumerate(pks):
            for b in pks[i + 1 :]:
                pair = frozenset((a, b))
                if pair not in different and addresses[a].same_as(addresses[b]):
                    pairs.add(pair)
    return pairs


def _groups(pairs: set[frozenset[int]]) -> list[set[int]]:
    """The households joined by same-address pairs, each group once."""
    parent: dict[int, int] = {}

    def root(pk: int) -> int:
        while parent.setdefault(pk, pk) != pk:
            pk = parent[pk]
        return pk

    for a, b in (tuple(sorted(p)) for p in pairs):
        parent[root(b)] = root(a)
    groups: dict[int, set[int]] = defaultdict(set)
    for pk in parent:
        groups[root(pk)].add(pk)
    return [groups[k] for k in sorted(groups)]


def _members_now(pks: list[int]) -> dict[int, list[Person]]:
    members: dict[int, list[Person]] = defaultdict(list)
    for chunk in _chunks(pks):
        for m in (
            HouseholdMembership.objects.filter(household_id__in=chunk, to_date__isnull=True)
            .select_related("person")
            .order_by("person__date_of_birth", "person_id")
        ):
            members[m.household_id].append(m.person)
    return members


def homes_with_merged(household_ids) -> QuerySet[Household]:
    """These households and those merged into them, as a subquery of primary keys: what a reader
    of a home's entries filters on (``household_id__in=...``), in the same query as its own read.
    Entries keep the household they were recorded at, so a merged home's are found this way."""
    ids = list(household_ids)
    return Household.objects.filter(Q(pk__in=ids) | Q(merged_into_id__in=ids)).values("pk")


def duplicates_for(user) -> list[HomeTwice]:
    """The duplicates a reviewer may decide: the family-conflict reviewers (front door, social
    worker, team manager), for households in their local authority or in none."""
    from cylch.access.roles import FRONT_DOOR_ROLES

    org = user.organisation
    if user.role not in FRONT_DOOR_ROLES or org is None:
        return []
    nowhere = Q(local_authority__isnull=True)
    scope = nowhere if org.local_authority_id is None else nowhere | Q(local_authority_id=org.local_authority_id)
    return duplicate_households(Household.objects.filter(scope))


def duplicate_for(user, keep_id, other_id) -> HomeTwice | None:
    """The one pair shown to ``user`` with these public ids, or None (not theirs, or not a pair)."""
    return next(
        (d for d in duplicates_for(user) if (str(d.keep.public_id), str(d.other.public_id)) == (keep_id, other_id)),
        None,
    )


def merged_for(user) -> QuerySet[Household]:
    """Households merged into another within the reviewer's scope (as ``duplicates_for``),
    newest first: what they may undo."""
    from cylch.access.roles import FRONT_DOOR_ROLES

    org = user.organisation
    if user.role not in FRONT_DOOR_ROLES or org is None:
        return Household.objects.none()
    rows = Household.objects.filter(merged_into__isnull=False).select_related("merged_into")
    scope = Q(local_authority__isnull=True)
    if org.local_authority_id is not None:
        scope |= Q(local_authority_id=org.local_authority_id)
    return rows.filter(scope).order_by("-merged_at", "-pk")


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _overlap(a: HouseholdMembership, b: HouseholdMembership) -> bool:
    """Whether two memberships' periods meet (no start: since ever; no end: still living there)."""
    return (a.from_date is None or b.to_date is None or a.from_date <= b.to_date) and (
        b.from_date is None or a.to_date is None or b.from_date <= a.to_date
    )


def _join_memberships(keep: Household, merged: Household) -> list[dict]:
    """Move ``merged``'s memberships to ``keep``. One that overlaps the same person's membership
    of ``keep`` is joined to it instead (the wider period; a living-there-now one stays open), so
    nobody is a member twice at once. Returns each as it was, for the undo."""
    held: dict[int, list[HouseholdMembership]] = defaultdict(list)
    for m in HouseholdMembership.objects.select_for_update().filter(household=keep).order_by("pk"):
        held[m.person_id].append(m)
    moves = []
    for m in HouseholdMembership.objects.select_for_update().filter(household=merged).order_by("pk"):
        entry: dict[str, Any] = {"id": m.pk, "person": m.person_id, "from": _iso(m.from_date), "to": _iso(m.to_date)}
        twin = next((k for k in held[m.person_id] if _overlap(k, m)), None)
        if twin is None:
            m.household = keep
            m.save(update_fields=["household"])
            held[m.person_id].append(m)
        else:
            entry["joined"] = {"id": twin.pk, "from": _iso(twin.from_date), "to": _iso(twin.to_date)}
            starts = [d for d in (twin.from_date, m.from_date) if d]
            twin.from_date = min(starts) if starts else None
            twin.to_date = None if twin.to_date is None or m.to_date is None else max(twin.to_date, m.to_date)
            twin.save(update_fields=["from_date", "to_date"])
            entry["joined"].update(now_from=_iso(twin.from_date), now_to=_iso(twin.to_date))
            m.delete()
        moves.append(entry)
    return moves


def _part_memberships(keep: Household, merged: Household, moves: list[dict]) -> None:
    """Put back what ``_join_memberships`` did, latest first. A joined membership that changed
    since (the person moved out) keeps its end, and the one restored ends then too."""
    for entry in reversed(moves):
        joined = entry.get("joined")
        if joined is None:
            HouseholdMembership.objects.filter(pk=entry["id"], household=keep).update(household=merged)
            continue
        to_date = _day(entry["to"])
        twin = HouseholdMembership.objects.select_for_update().filter(pk=joined["id"]).first()
        if twin is not None:
            unchanged = (_iso(twin.from_date), _iso(twin.to_date)) == (joined["now_from"], joined["now_to"])
            if not unchanged and to_date is None:
                to_date = twin.to_date
            twin.from_date = _day(joined["from"])
            twin.to_date = _day(joined["to"]) if unchanged else twin.to_date
            twin.save(update_fields=["from_date", "to_date"])
        # The person may have been merged into someone since: the membership is theirs now.
        person = Person.objects.get(pk=entry["person"]).live()
        HouseholdMembership.objects.create(
            pk=entry["id"], household=merged, person=person, from_date=_day(entry["from"]), to_date=to_date
        )


def check_household_merge(*, keep: Household, merged: Household, reason: str) -> None:
    """Whether ``merged`` may be made part of ``keep``; raises ``ValidationError`` if not."""
    errors = []
    if not reason.strip():
        errors.append(_("Say why these are one home: what you checked, and with whom."))
    if keep.pk == merged.pk:
        errors.append(_("A household cannot be merged into itself."))
    elif keep.merged_into_id or merged.merged_into_id:
        errors.append(_("One of these households has already been merged into another."))
    elif merged.merged_from.exists():
        errors.append(_("Other households were merged into this one: keep it, and merge the other into it."))
    elif keep.local_authority_id != merged.local_authority_id:
        errors.append(_("These households are in different local authorities: record a move instead."))
    elif keep.not_same_as.filter(pk=merged.pk).exists():
        errors.append(_("A reviewer has said these are different homes."))
    if errors:
        raise ValidationError({"__all__": errors})


def household_merge(*, keep: Household, merged: Household, actor: User | None, reason: str) -> Household:
    """Make ``merged`` part of ``keep``: one home, its whole chronology together.

    The memberships move to ``keep`` (``_join_memberships``: history kept, nobody a member
    twice at once); entries stay as recorded and ``merged`` points to ``keep``, which the
    chronology follows. Audited, with an entry on the home's chronology saying who merged what
    and why. Merging a pair already merged this way round returns ``keep`` and changes nothing.
    """
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = Household.objects.select_for_update().filter(pk__in=[keep.pk, merged.pk]).order_by("pk")
        rows = {h.pk: h for h in locked.select_related("local_authority")}
        keep, merged = rows[keep.pk], rows[merged.pk]
        if merged.merged_into_id == keep.pk:
            return keep
        check_household_merge(keep=keep, merged=merged, reason=reason)
        now = timezone.now()
        moves = _join_memberships(keep, merged)
        merged.merged_into, merged.merged_at = keep, now
        merged.merge_detail = {"reason": reason, "by": actor.username if actor else "", "memberships": moves}
        merged.save(update_fields=["merged_into", "merged_at", "merge_detail", "modified_at"])
        detail = {"into": str(keep.public_id), "reason": reason, "memberships": len(moves),
                  "joined": sum(1 for m in moves if m.get("joined"))}  # fmt: skip
        _audit(actor, merged, MERGED, detail)
        _on_spine(keep, actor=actor, when=now, text=f"Recorded as one home with {merged} (household {merged.public_id}), "
                  f"which was held separately. Reason: {reason}", code="merged")  # fmt: skip
    return keep


def household_unmerge(*, merged: Household, actor: User | None, reason: str) -> Household:
    """Undo ``household_merge``: the memberships go back as they were, ``merged`` is a home of
    its own again, and the two are marked as different homes so neither the review page nor
    the command offers them again. Audited and on the chronology of the home it left."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"__all__": [_("Say why these are different homes.")]})
    with transaction.atomic():
        merged = Household.objects.select_for_update().get(pk=merged.pk)
        if merged.merged_into_id is None:
            raise ValidationError({"__all__": [_("This household is not merged into another.")]})
        keep = Household.objects.select_for_update().select_related("local_authority").get(pk=merged.merged_into_id)
        moves = merged.merge_detail.get("memberships", [])
        _part_memberships(keep, merged, moves)
        merged.merged_into, merged.merged_at, merged.merge_detail = None, None, {}
        merged.save(update_fields=["merged_into", "merged_at", "merge_detail", "modified_at"])
        merged.not_same_as.add(keep)
        _audit(actor, merged, SEPARATED, {"from": str(keep.public_id), "reason": reason, "memberships": len(moves)})
        _on_spine(keep, actor=actor, when=timezone.now(), code="separated",
                  text=f"No longer recorded as one home with {merged} (household {merged.public_id}). Reason: {reason}")  # fmt: skip
    return merged


def household_not_same(*, a: Household, b: Household, actor: User, reason: str) -> None:
    """A reviewer's word that two households that read alike are different homes (flats at one
    address without flat numbers, say): never offered as one again. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"__all__": [_("Say why these are different homes.")]})
    with transaction.atomic():
        a.not_same_as.add(b)
        _audit(actor, a, "households are different homes", {"other": str(b.public_id), "reason": reason})


def _audit(actor: User | None, household: Household, purpose: str, detail: dict) -> None:
    audit_record(
        action="write",
        actor=actor,
        actor_label="" if actor else "cylch households",
        object_type="household",
        object_id=household.public_id,
        purpose=purpose,
        detail=detail,
    )


def _on_spine(home: Household, *, actor: User | None, when, text: str, code: str) -> None:
    """An entry about the home as a whole, recorded by the worker's organisation (the home's
    children's services for the command). None where neither is known: the audit still is."""
    from cylch.access.models import Organisation
    from cylch.access.roles import OrganisationKind
    from cylch.events.models import Source
    from cylch.events.services import record_event
    from cylch.identity.events import HOUSEHOLD_MERGED, HOUSEHOLD_SEPARATED

    organisation = actor.organisation if actor is not None else None
    if organisation is None and home.local_authority_id:
        organisation = (
            Organisation.objects.filter(
                local_authority_id=home.local_authority_id, kind=OrganisationKind.LA_CHILDRENS_SERVICES
            )
            .order_by("pk")
            .first()
        )
    if organisation is None:
        return
    record_event(
        organisation=organisation, code=HOUSEHOLD_MERGED if code == "merged" else HOUSEHOLD_SEPARATED,
        occurred_at=when, household=home, summary=text, recorded_by=actor, audit=False,
        source=Source.WEB if actor is not None else Source.SYSTEM,
    )  # fmt: skip

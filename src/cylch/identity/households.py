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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
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
            ).select_related("local_authority")
            found.update((h.pk, h) for h in rows)
        lived_in: set[int] = set()
        for chunk in _chunks(sorted(found)):
            lived_in.update(
                HouseholdMembership.objects.filter(household_id__in=chunk, to_date__isnull=True)
                .values_list("household_id", flat=True)
                .distinct()
            )
        # Where an address is held twice (reports made their own households before
        # ``household_at``), the one somebody lives in now, then the oldest.
        ranked = sorted(found.values(), key=lambda h: (h.pk not in lived_in, h.pk))
        self.households = [(address_of_household(h), h) for h in ranked]

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

"""Households from the addresses agencies send (docs/identity.md, "Households from agency addresses").

Intake (CSV, ``POST /api/v1/events``, FHIR) stores what each agency holds about a person, address
included, but only the front door and the demo used to put anyone in a household. ``place`` puts
a person who lives nowhere yet at their agencies' address, so that people sent at one address
share one household and household-level entries and rules reach everyone who lives there.

It is deliberately narrow. A wrong household mixes two families' chronologies, and a move to
another local authority hands the child's alerts over (``rules/handover.py``), so nobody who has
a current household is ever moved by an agency's address: ``differing_addresses`` shows a newer
address to the people who may see addresses, and a person records the move
(``moves.move_to_agency_address``) after checking it. One home held as two households is found
and merged in ``merge``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cylch.access.audit import audit_record
from cylch.access.audit import gathering as audit_gathering
from cylch.access.models import User
from cylch.identity.households.authority import authorities_among
from cylch.identity.models import AgencyRecord, Household, HouseholdMembership, Person, PersonLink
from cylch.identity.names import fold
from cylch.identity.postcodes import held_forms
from cylch.identity.services import CHUNK, audit_member_added, household_add_member, household_create

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


def chunks(pks: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(pks), CHUNK):
        yield pks[i : i + CHUNK]


def current_homes(person_ids: Iterable[int]) -> dict[int, int]:
    """Each person's current household, as ``events.services.current_household_id`` reads it."""
    homes: dict[int, int] = {}
    for chunk in chunks(sorted(set(person_ids))):
        rows = (
            HouseholdMembership.objects.filter(person_id__in=chunk, to_date__isnull=True)
            .order_by("person_id", "-from_date", "-id")
            .values_list("person_id", "household_id")
        )
        for person_id, household_id in rows:
            homes.setdefault(person_id, household_id)
    return homes


class AddressFinder:
    """Households by address for a set of addresses: looked up once, created when missing."""

    def __init__(self, addresses: Iterable[Address]):
        addresses = list(addresses)
        postcodes = sorted({form for a in addresses for form in held_forms(a.postcode)})
        uprns = sorted({a.uprn for a in addresses if a.uprn})
        found: dict[int, Household] = {}
        for i in range(0, max(len(postcodes), len(uprns)), CHUNK):
            rows = Household.objects.filter(
                Q(postcode__in=postcodes[i : i + CHUNK]) | Q(uprn__in=uprns[i : i + CHUNK])
            ).select_related("local_authority", "merged_into__local_authority")
            found.update((h.pk, h) for h in rows)
        # A household made here is in the authority of those held at its postcode when they
        # clearly agree (``authority``), else the sender's: read from the rows already here.
        self.authorities = authorities_among(found.values())
        # A household merged into another is found by its own spelling of the address, and
        # stands for the home it was merged into: nobody is placed in a merged household.
        live = {pk: h.live() for pk, h in found.items()}
        lived_in: set[int] = set()
        for chunk in chunks(sorted({h.pk for h in live.values()})):
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
            local_authority=self.authorities.get(address.postcode, record.organisation.local_authority),
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
    now, then the oldest), or a new one; and whether it is new. A new one is in
    ``local_authority``, the one the report is routed to; when that is not known ("Not known"),
    in the authority of the households held at its postcode when they clearly agree
    (``authority``). The report maker's answer wins: the household and the report's queue stay
    in one authority, and the front door that receives it moves the family if it is wrong.

    A report names a child's address the way the reporter writes it. Making a household for
    each report split one home into several, each with part of the family's chronology; found
    like this, the reported child joins the family the agencies already place there."""
    address = normalise(address_line=address_line, postcode=postcode)
    finder = AddressFinder([address]) if address.line and address.postcode else None
    found = finder.find(address) if finder is not None else None
    if found is not None:
        return found, False
    if finder is not None and local_authority is None:
        local_authority = finder.authorities.get(address.postcode)
    household = household_create(
        address_line=address_line, town=town, postcode=postcode, local_authority=local_authority, actor=actor
    )
    return household, True


def place(person_ids: Iterable[int], *, actor: User | None = None) -> dict[int, int]:
    """Put each person who lives nowhere at their agencies' address; returns everyone's home.

    For each person with no current household: the address of their most recently updated
    active agency record with a first line and a postcode; the household held at that address
    (``Address.same_as``), or a new one in the authority of those held at its postcode when they
    clearly agree, else in the sending organisation's (``authority``); and a
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
        for chunk in chunks(unhoused):
            rows = Person.objects.select_for_update().filter(
                pk__in=chunk, merged_into__isnull=True, date_of_death__isnull=True
            )
            persons.update((p.pk, p) for p in rows.order_by("pk"))
        left: dict[int, date] = {}
        for chunk in chunks(sorted(persons)):
            rows = HouseholdMembership.objects.filter(person_id__in=chunk).order_by("person_id", "-from_date", "-id")
            for person_id, household_id, to_date in rows.values_list("person_id", "household_id", "to_date"):
                if to_date is None:
                    homes.setdefault(person_id, household_id)
                else:
                    left[person_id] = max(to_date, left.get(person_id, to_date))
        chosen: dict[int, tuple[AgencyRecord, Address]] = {}
        for chunk in chunks(sorted(set(persons) - set(homes))):
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
        finder = AddressFinder(address for _record, address in chosen.values())
        placed = []
        today = timezone.localdate()
        first_homes: list[HouseholdMembership] = []
        # The audit entries (each new home, each member added, then the placing) queued and
        # appended together, in the order they were recorded: one lock, insert and head update.
        with audit_gathering():
            for person_id in sorted(chosen):
                record, address = chosen[person_id]
                household, created = finder.find_or_create(address, record, actor)
                if person_id in left:  # lived somewhere before: a move, which may hand over (rules/handover.py)
                    household_add_member(household=household, person=persons[person_id], from_date=today, actor=actor)
                else:
                    first_homes.append(_first_home(household, persons[person_id], today, actor))
                homes[person_id] = household.pk
                placed.append({"person": str(persons[person_id].public_id), "household": str(household.public_id),
                               "new_household": created, "record": str(record.public_id)})  # fmt: skip
            HouseholdMembership.objects.bulk_create(first_homes)
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


def _first_home(household: Household, person: Person, today: date, actor: User | None) -> HouseholdMembership:
    """``household_add_member`` for someone who has never lived anywhere, unsaved (inserted with
    the others placed): nothing to close, no membership to find (they are locked and have none),
    and no move to hand over (the ``post_save`` receiver returns at once for a first home). The
    same audit entry, queued."""
    audit_member_added(household, person, actor)
    return HouseholdMembership(household=household, person=person, from_date=today, to_date=None)


def homes_with_merged(household_ids) -> QuerySet[Household]:
    """These households and those merged into them, as a subquery of primary keys: what a reader
    of a home's entries filters on (``household_id__in=...``), in the same query as its own read.
    Entries keep the household they were recorded at, so a merged home's are found this way."""
    ids = list(household_ids)
    return Household.objects.filter(Q(pk__in=ids) | Q(merged_into_id__in=ids)).values("pk")

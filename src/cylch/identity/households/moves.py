"""A newer, different agency address for someone already housed: shown to those who may see
addresses, and moved to only by a person (docs/identity.md, "Households from agency addresses")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.identity.households import AddressFinder, address_of_household, address_of_record
from cylch.identity.models import AgencyRecord, Household, HouseholdMembership, Person, PersonLink
from cylch.identity.services import household_add_member

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
    and the local authority it is in (the household's; for a new one, as ``find_or_create`` makes
    it: that of the households held at the postcode when they clearly agree, else the sending
    organisation's)."""
    address = address_of_record(record)
    if address is None:
        return None, record.organisation.local_authority
    finder = AddressFinder([address])
    household = finder.find(address)
    if household is not None:
        return household, household.local_authority
    return None, finder.authorities.get(address.postcode, record.organisation.local_authority)


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
    is used, else one is made as ``destination`` says; ``household_add_member``
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
        household, created = AddressFinder([address]).find_or_create(address, record, actor)
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

"""One stored form for households' postcodes (identity/postcodes.py, migration 0009): every writer
stores "CF10 1AA" however it was given, and the households held before in other spellings are
rewritten, so intake's look-up by postcode finds them instead of making the home a second time."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cylch.identity.households import AddressFinder, household_at, normalise, place
from cylch.identity.models import Household
from cylch.identity.postcodes import stored_postcode
from cylch.identity.services import agency_record_upsert, household_create
from tests import factories

migration = importlib.import_module("cylch.identity.migrations.0009_household_postcode_stored_form")

STORED = [
    ("CF10 1AA", "CF10 1AA"),
    ("cf10 1aa", "CF10 1AA"),
    ("CF101AA", "CF10 1AA"),
    ("cf10  1AA", "CF10 1AA"),
    (" sa46\t0aa ", "SA46 0AA"),
    ("c f 1 0 1 a a", "CF10 1AA"),
    ("m11ae", "M1 1AE"),  # A9
    ("b338th", "B33 8TH"),  # A99
    ("cr26xh", "CR2 6XH"),  # AA9
    ("w1a0ax", "W1A 0AX"),  # A9A
    ("ec1a1bb", "EC1A 1BB"),  # AA9A
    ("DN551PT", "DN55 1PT"),  # AA99
]
NOT_POSTCODES = [
    ("", ""),
    (None, ""),
    ("cf10", "CF10"),  # a district only
    ("cf10 1a", "CF10 1A"),  # the inward code cut short
    ("cf10-1aa", "CF10-1AA"),  # punctuation is not guessed at
    ("1234  ab", "1234 AB"),  # Dutch: digit and two letters at the end, but no outward letter
    ("k1a 0b6", "K1A 0B6"),  # Canadian
    ("d02x285", "D02X285"),  # Irish (an Eircode): kept as written
    ("75008   paris", "75008 PARIS"),
    ("not  known", "NOT KNOWN"),
    ("CF10 1AAA", "CF10 1AAA"),  # too long
]


@pytest.mark.parametrize(("given", "stored"), STORED + NOT_POSTCODES)
def test_the_stored_form_of_a_postcode(given, stored):
    """A UK postcode upper case with one space before its inward code; anything else upper case
    with its whitespace collapsed, kept rather than rejected."""
    assert stored_postcode(given) == stored


@pytest.mark.parametrize(("given", "stored"), STORED + NOT_POSTCODES)
def test_the_migration_keeps_the_rule_of_the_module(given, stored):
    """The migration carries its own copy of the rule (migrations are history): the same answers."""
    assert migration.stored_postcode(given) == stored_postcode(given) == stored


# --- written ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["cf101aa", "CF10  1aa", " cf10 1AA"])
def test_a_new_household_stores_the_one_form(given):
    """``household_create`` (intake, reports, moves and the fixtures all make households through
    it) stores the one form, whatever the sender wrote."""
    where = factories.places()
    home = household_create(address_line="12 Heol y Bont", postcode=given, local_authority=where.ceredigion)
    home.refresh_from_db()
    assert home.postcode == "CF10 1AA"


# --- legacy households, rewritten and then found -------------------------------------------------

LEGACY = ["cf10 1aa", "CF101AA", "cf10  1AA", "cf101aa", "CF10 1aa"]


def rewrite() -> int:
    """Run the migration's function against the current models, as ``migrate`` would."""
    return migration.store_postcodes(apps, SimpleNamespace(connection=connection))


def legacy_household(postcode: str, local_authority) -> Household:
    """A household as older code wrote it: straight to the table, the postcode as given."""
    return Household.objects.create(
        address_line="12 Heol y Bont", town="Caerdydd", postcode=postcode, local_authority=local_authority
    )


@pytest.mark.django_db
@pytest.mark.parametrize("legacy", LEGACY)
def test_a_legacy_household_is_found_by_intake_after_the_rewrite(prydderch, legacy):
    """A home held as "cf10 1aa" (or unspaced, or double spaced): after the migration, a GP's
    patient sent at "CF10 1AA" is placed in it, ``AddressFinder`` and ``household_at`` find it,
    and no second household is made for the home."""
    old = legacy_household(legacy, prydderch.places.ceredigion)
    rewrite()
    old.refresh_from_db()
    assert old.postcode == "CF10 1AA"

    address = normalise(address_line="12 Heol y Bont", postcode="CF10 1AA")
    assert AddressFinder([address]).find(address) == old
    found, created = household_at(
        address_line="12, heol y bont", town="Caerdydd", postcode="CF10 1AA", local_authority=None, actor=None
    )
    assert (found, created) == (old, False)
    patient = agency_record_upsert(
        organisation=prydderch.orgs.gp,
        local_id="GP-CF10",
        data={"given_name": "Iolo", "family_name": "Pugh", "address_line": "12 Heol y Bont", "postcode": "CF10 1AA"},
    ).person
    assert place([patient.pk]) == {patient.pk: old.pk}
    assert Household.objects.filter(town="Caerdydd").count() == 1


@pytest.mark.django_db
def test_the_rewrite_changes_only_what_differs_in_batches_and_keeps_the_rest(monkeypatch):
    """Across several batches (two rows each here): every spelling rewritten, the stored forms and
    what is not a postcode kept as they are (only collapsed), nothing else about a household
    touched; run again, nothing changes (a migration re-run after a failure is harmless)."""
    monkeypatch.setattr(migration, "BATCH", 2)
    where = factories.places()
    given = ["cf10 1aa", "CF10 1AA", "SA461AA", "", "d02  x285", "w1a0ax", "SA46 0AA", "ll23 7aa"]
    rows = [legacy_household(p, where.ceredigion) for p in given]
    before = {h.pk: (h.address_line, h.town, h.local_authority_id, h.modified_at) for h in rows}

    assert rewrite() == 5
    held = dict(Household.objects.filter(pk__in=before).values_list("pk", "postcode"))
    assert [held[h.pk] for h in rows] == [
        "CF10 1AA", "CF10 1AA", "SA46 1AA", "", "D02 X285", "W1A 0AX", "SA46 0AA", "LL23 7AA",
    ]  # fmt: skip
    after = Household.objects.filter(pk__in=before)
    assert {h.pk: (h.address_line, h.town, h.local_authority_id, h.modified_at) for h in after} == before
    assert rewrite() == 0


@pytest.mark.django_db
def test_the_rewrite_reads_and_writes_a_batch_at_a_time(monkeypatch):
    """One read per batch and one write per batch that changes something (the last read finds
    nothing): the migration's cost grows with the batches, never a query per row."""
    monkeypatch.setattr(migration, "BATCH", 3)
    where = factories.places()
    for p in ["cf10 1aa", "CF10 1AA", "CF10 1AA", "CF10 1AA", "CF10 1AA", "CF10 1AA", "sa461aa"]:
        legacy_household(p, where.ceredigion)
    # Batches: [changed, kept, kept], [kept, kept, kept], [changed], then the empty read.
    with CaptureQueriesContext(connection) as captured:
        assert rewrite() == 2
    verbs = [q["sql"].lstrip().split()[0].upper() for q in captured.captured_queries]
    assert (verbs.count("SELECT"), verbs.count("UPDATE")) == (4, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("sent", ["1234 AB", "1234AB", "1234  ab"])
def test_a_home_abroad_held_with_its_space_is_found_however_it_is_sent(prydderch, sent):
    """A Dutch home held as "1234 AB" (as its sender spaced it): intake at "1234AB" or
    "1234  ab" places the patient in it, ``AddressFinder`` finds it, and no second household
    is made."""
    held = household_create(address_line="Kerkstraat 7", town="Utrecht", postcode="1234 ab",
                            local_authority=prydderch.places.ceredigion)  # fmt: skip
    assert held.postcode == "1234 AB"
    address = normalise(address_line="Kerkstraat 7", postcode=sent)
    assert AddressFinder([address]).find(address) == held
    patient = agency_record_upsert(
        organisation=prydderch.orgs.gp,
        local_id="GP-NL",
        data={"given_name": "Iolo", "family_name": "Pugh", "address_line": "Kerkstraat 7", "postcode": sent},
    ).person
    assert place([patient.pk]) == {patient.pk: held.pk}
    assert Household.objects.filter(town="Utrecht").count() == 1

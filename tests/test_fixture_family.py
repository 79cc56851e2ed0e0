"""The Prydderch household builds as described, through the real services."""

from __future__ import annotations

from datetime import date

from cylch.identity.models import AgencyRecord, LinkMethod, Person, PersonLink, Relationship
from cylch.identity.selectors import current_household, household_members, relationships_of
from tests import factories


def test_family_members_are_one_person_each_across_agencies(prydderch):
    """The school's record of "Alice" links to the GP's Alys by NHS number: one person, two records."""
    assert Person.objects.filter(given_name="Alys").count() == 1
    links = PersonLink.objects.filter(person=prydderch.alys, active=True).select_related("agency_record__organisation")
    assert {link.agency_record.organisation.code for link in links} == {"meddygfa-r-bont", "ysgol-glan-y-mor"}
    school_link = next(link for link in links if link.agency_record.organisation.code == "ysgol-glan-y-mor")
    assert school_link.method == LinkMethod.NHS_NUMBER
    prydderch.alys.refresh_from_db()
    assert prydderch.alys.upn == factories.ALYS_UPN
    assert "alice" in prydderch.alys.search_name.split()
    # GP: Ceri, Dafydd, Alys, Twm; school: Alys; health visiting: Twm, unborn; Carmarthenshire: Efa.
    assert AgencyRecord.objects.count() == 8
    assert Person.objects.count() == 6


def test_household_and_ages(prydderch):
    """Ceri, Dafydd, Alys, Twm and the unborn baby share 4 Maes y Felin in Ceredigion; Efa lives in Carmarthenshire."""
    home = current_household(prydderch.alys)
    assert home == prydderch.home
    assert home.local_authority.code == "ceredigion"
    assert {p.pk for p in household_members(home)} == {
        p.pk for p in (prydderch.ceri, prydderch.dafydd, prydderch.alys, prydderch.twm, prydderch.unborn)
    }
    assert current_household(prydderch.efa).local_authority.code == "carmarthenshire"
    assert prydderch.unborn.is_unborn and prydderch.unborn.expected_date_of_delivery == date(2027, 2, 14)
    assert prydderch.unborn.display_name == "Unborn baby Prydderch"


def test_relationships_are_recorded_both_ways_for_siblings(prydderch):
    """Half-sibling links are stored in both directions and shown once, from the child's side;
    parent links are stored once."""
    stored = {
        (r.person.given_name, r.kind, r.relative.given_name)
        for r in Relationship.objects.filter(kind="half_sibling").select_related("person", "relative")
    }
    assert stored == {
        ("Alys", "half_sibling", "Twm"),
        ("Twm", "half_sibling", "Alys"),
        ("Efa", "half_sibling", "Twm"),
        ("Twm", "half_sibling", "Efa"),
    }
    shown = [(r.person.given_name, r.kind, r.relative.given_name) for r in relationships_of(prydderch.twm)]
    assert sorted(shown) == sorted(
        [
            ("Ceri", "parent", "Twm"),
            ("Dafydd", "parent", "Twm"),
            ("Twm", "half_sibling", "Alys"),
            ("Twm", "half_sibling", "Efa"),
        ]
    )

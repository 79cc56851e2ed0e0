"""The local authority of a household made for an address the hub does not hold yet
(identity/households/authority.py): the authority of the households already held at its full
postcode when they clearly agree, else the sender's. Newcastle Emlyn (Carmarthenshire) and
Adpar (Ceredigion) face each other across the Teifi: a Ceredigion GP has patients in both."""

from __future__ import annotations

from collections import Counter

import pytest

from cylch.identity.households.authority import (
    authorities_among,
    authorities_for,
    authority_for,
    clear_lead,
)
from cylch.identity.households.merge import household_merge
from cylch.identity.models import Household
from cylch.identity.services import household_create
from tests import factories

pytestmark = pytest.mark.django_db

EMLYN = "SA38 9AB"  # a street in Newcastle Emlyn, Carmarthenshire
ADPAR = "SA38 9QZ"  # across the bridge, in Ceredigion


@pytest.fixture
def teifi():
    return factories.places()


def homes(postcode: str, local_authority, n: int, *, line: str = "Heol y Bont") -> list[Household]:
    return [
        household_create(address_line=f"{i + 1} {line}", town="Castellnewydd Emlyn", postcode=postcode,
                         local_authority=local_authority)
        for i in range(n)
    ]  # fmt: skip


def test_a_new_home_takes_the_authority_of_the_homes_held_at_its_postcode(teifi):
    """Carmarthenshire holds three homes on the street: a Ceredigion GP's patient there gets a
    Carmarthenshire household, not the GP's Ceredigion."""
    homes(EMLYN, teifi.carmarthenshire, 3)
    assert authority_for(EMLYN, teifi.ceredigion) == teifi.carmarthenshire
    assert authority_for(ADPAR, teifi.ceredigion) == teifi.ceredigion  # nothing held there yet


def test_one_home_held_at_the_postcode_is_enough(teifi):
    """One household on the same street says where the street is."""
    homes(EMLYN, teifi.carmarthenshire, 1)
    assert authority_for(EMLYN, teifi.ceredigion) == teifi.carmarthenshire


def test_without_a_postcode_or_a_household_there_the_sender_s_authority(teifi):
    """No postcode, or none held: the fallback, whatever it is (None stays None)."""
    homes(EMLYN, teifi.carmarthenshire, 2)
    assert authority_for("", teifi.ceredigion) == teifi.ceredigion
    assert authority_for("  ", None) is None
    assert authority_for("SA38 9ZZ", None) is None
    assert authority_for(EMLYN, None) == teifi.carmarthenshire


def test_an_earlier_mistake_is_outvoted_but_a_split_street_falls_back(teifi):
    """One Ceredigion household made from the GP's authority among three Carmarthenshire ones
    does not decide (three to one: more than two thirds); two to one and one to one do not
    clearly agree, and the sender's authority stands."""
    homes(EMLYN, teifi.carmarthenshire, 3)
    homes(EMLYN, teifi.ceredigion, 1, line="Stryd Fawr")
    assert authority_for(EMLYN, teifi.ceredigion) == teifi.carmarthenshire
    homes(ADPAR, teifi.carmarthenshire, 2)
    homes(ADPAR, teifi.ceredigion, 1)
    assert authority_for(ADPAR, teifi.ceredigion) == teifi.ceredigion
    assert authority_for(ADPAR, teifi.carmarthenshire) == teifi.carmarthenshire


@pytest.mark.parametrize(
    ("counts", "lead"),
    [({}, None), ({1: 1}, 1), ({1: 1, 2: 1}, None), ({1: 2, 2: 1}, None), ({1: 3, 2: 1}, 1), ({1: 5, 2: 2}, 1),
     ({1: 4, 2: 2}, None), ({1: 3, 2: 1, 3: 1}, None), ({1: 7, 2: 1, 3: 1}, 1)],
)  # fmt: skip
def test_the_lead_must_hold_more_than_two_thirds(counts, lead):
    """Just over two thirds leads (3 of 4, 5 of 7); two thirds exactly (2 of 3, 4 of 6) does not."""
    assert clear_lead(Counter(counts)) == lead


def test_the_postcode_is_compared_however_it_was_written(teifi):
    """The postcodes "sa38 9ab", "SA389AB" and "SA38 9AB" are one, written or asked for: three
    Carmarthenshire homes to one (stored as given, the lower case and the unspaced would leave
    one to one)."""
    household_create(address_line="1 Heol y Bont", postcode="sa38 9ab", local_authority=teifi.carmarthenshire)
    household_create(address_line="2 Heol y Bont", postcode="SA389AB", local_authority=teifi.carmarthenshire)
    homes(EMLYN, teifi.carmarthenshire, 1, line="Lôn Isaf")
    homes(EMLYN, teifi.ceredigion, 1, line="Stryd Fawr")
    for asked in (" sa389ab", "SA38 9AB", "sa38  9ab"):
        assert authority_for(asked, teifi.ceredigion) == teifi.carmarthenshire, asked


def test_a_postcode_from_abroad_is_found_however_its_sender_spaced_it(teifi):
    """A Dutch "1234 AB" and an Irish "D02 X285" are held as their senders spaced them (upper
    case, whitespace collapsed): asked for with or without the space, the homes there are found."""
    for code, spaced in (("1234AB", "1234 ab"), ("D02X285", "d02  x285")):
        homes(spaced, teifi.carmarthenshire, 3, line="Kerkstraat")
        for asked in (code, spaced, code.lower()):
            assert authority_for(asked, teifi.ceredigion) == teifi.carmarthenshire, asked


def test_a_merged_household_counts_once_in_the_home_it_joined(teifi):
    """Three Carmarthenshire homes and two Ceredigion households that are one home: counted as
    one (3 of 4), not two (3 of 5, which would not clearly agree). Households with no authority
    are not counted."""
    homes(EMLYN, teifi.carmarthenshire, 3)
    keep, other = homes(EMLYN, teifi.ceredigion, 2, line="Stryd Fawr")
    Household.objects.create(address_line="9 Heol y Bont", postcode=EMLYN, local_authority=None)
    assert authority_for(EMLYN, None) is None
    household_merge(keep=keep, merged=other, actor=None, reason="One house: the flat above the shop")
    assert authority_for(EMLYN, None) == teifi.carmarthenshire


def test_a_batch_of_postcodes_is_answered_in_two_queries(teifi, django_assert_num_queries):
    """However many postcodes and households, one query counts them and one reads the
    authorities found; postcodes with no clear answer are left out, for the caller's fallback."""
    homes(EMLYN, teifi.carmarthenshire, 4)
    homes(ADPAR, teifi.ceredigion, 2)
    homes("SA38 9DD", teifi.ceredigion, 1)
    homes("SA38 9DD", teifi.carmarthenshire, 1)
    asked = [EMLYN, "sa389qz", "SA38 9DD", "SA38 9EE", ""]
    with django_assert_num_queries(2):
        found = authorities_for(asked)
    assert found == {"SA389AB": teifi.carmarthenshire, "SA389QZ": teifi.ceredigion}
    with django_assert_num_queries(1):
        assert authorities_for(["SA38 9DD", "SA38 9EE"]) == {}
    with django_assert_num_queries(0):
        assert authorities_for(["", " "]) == {}


def test_households_already_read_give_the_same_answer_without_a_query(teifi, django_assert_num_queries):
    """``authorities_among`` (for ``AddressFinder``, which has read the households at the
    addresses' postcodes already) agrees with ``authorities_for``."""
    homes(EMLYN, teifi.carmarthenshire, 3)
    homes(EMLYN, teifi.ceredigion, 1, line="Stryd Fawr")
    homes(ADPAR, teifi.ceredigion, 1)
    held = list(Household.objects.select_related("local_authority"))
    with django_assert_num_queries(0):
        among = authorities_among(held)
    assert among == authorities_for([EMLYN, ADPAR]) == {"SA389AB": teifi.carmarthenshire, "SA389QZ": teifi.ceredigion}


# --- where a new household is made: intake's placing, a report, a move to an agency address ----


def test_intake_places_a_ceredigion_gp_s_patient_in_a_carmarthenshire_home(prydderch, teifi):
    """The Ceredigion GP sends a patient at a new address on a Newcastle Emlyn street that
    Carmarthenshire's homes are on: ``place`` makes the household in Carmarthenshire. At a
    postcode the hub does not hold, the GP's Ceredigion, as before."""
    from cylch.identity.households import place
    from cylch.identity.services import agency_record_upsert

    homes(EMLYN, teifi.carmarthenshire, 3)
    gp = prydderch.orgs.gp
    assert gp.local_authority == teifi.ceredigion
    there, elsewhere = (
        agency_record_upsert(
            organisation=gp,
            local_id=f"GP-{n}",
            data={"given_name": "Iolo", "family_name": name, "address_line": "5 Heol y Bont", "postcode": postcode},
        ).person
        for n, (name, postcode) in enumerate([("Pugh", "sa38 9ab"), ("Bowen", "SA38 9ZZ")])
    )
    placed = place([there.pk, elsewhere.pk])
    assert Household.objects.get(pk=placed[there.pk]).local_authority == teifi.carmarthenshire
    assert Household.objects.get(pk=placed[elsewhere.pk]).local_authority == teifi.ceredigion


def test_a_report_s_new_household_and_a_move_s_destination_follow_the_postcode(prydderch, teifi):
    """``destination`` (a move to an agency address, shown before it is confirmed) gives a new
    home at the Carmarthenshire street Carmarthenshire's authority, whoever sent it; so does
    ``household_at`` (a report) when the report maker did not know the council area. When they
    named one, the report is routed there and its new household stays with it."""
    from cylch.identity.households import household_at
    from cylch.identity.households.moves import destination
    from cylch.identity.services import agency_record_upsert

    homes(EMLYN, teifi.carmarthenshire, 2)
    household, created = household_at(address_line="8 Heol y Bont", town="Castellnewydd Emlyn", postcode=EMLYN,
                                      local_authority=None, actor=None)  # fmt: skip
    assert created and household.local_authority == teifi.carmarthenshire
    household, created = household_at(address_line="9 Heol y Bont", town="Castellnewydd Emlyn", postcode=EMLYN,
                                      local_authority=teifi.ceredigion, actor=None)  # fmt: skip
    assert created and household.local_authority == teifi.ceredigion
    record = agency_record_upsert(organisation=prydderch.orgs.gp, local_id="GP-M", data={"given_name": "Mair",
        "family_name": "Huws", "address_line": "11 Heol y Bont", "postcode": EMLYN}).record  # fmt: skip
    assert destination(record) == (None, teifi.carmarthenshire)
    household, created = household_at(address_line="1 Lôn Goch", town="", postcode="SA38 9ZZ",
                                      local_authority=teifi.ceredigion, actor=None)  # fmt: skip
    assert created and household.local_authority == teifi.ceredigion

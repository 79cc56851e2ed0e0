"""Finding a person: forgiving of typos, Welsh and English forms of a name, swapped day and
month, and exact on NHS number. Every search is audited."""

from __future__ import annotations

from datetime import date

import pytest

from cylch.access.models import AuditEntry
from cylch.identity.selectors import person_search
from cylch.identity.services import agency_record_upsert
from tests import factories


@pytest.fixture
def neighbours(prydderch):
    """Other people in the index, so that a search has something to leave out."""
    for local_id, data in {
        "GP-2001": {"given_name": "Megan", "family_name": "Jones", "date_of_birth": "2019-04-09"},
        "GP-2002": {"given_name": "Siân", "family_name": "Prys", "date_of_birth": "1988-01-15"},
        "GP-2003": {"given_name": "Alun", "family_name": "Pritchard", "date_of_birth": "2019-09-04"},
        "GP-2004": {"given_name": "David", "family_name": "Morgan", "date_of_birth": "1960-03-03"},
    }.items():
        agency_record_upsert(organisation=prydderch.orgs.gp, local_id=local_id, data=data)
    return prydderch


def names(hits) -> list[str]:
    return [h.person.display_name for h in hits]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Ceri Pryderch", "Ceri Prydderch"),
        ("Alys Prydderh", "Alys Prydderch"),
        ("Alis Prydderch", "Alys Prydderch"),
        ("prydderch twm", "Twm Prydderch"),
        ("ALYS PRYDDERCH", "Alys Prydderch"),
    ],
)
def test_a_misspelt_name_still_finds_the_person_first(neighbours, typed, expected):
    """A dropped or swapped letter, other word order or capitals: the right person comes first."""
    hits = person_search(name=typed)
    assert names(hits)[0] == expected, names(hits)


def test_welsh_and_english_forms_of_a_name_find_each_other(neighbours):
    """ "David" finds Dafydd Morgan (and the David Morgan who really is David); "Thomas" finds Twm;
    "Sian" without the accent finds Siân."""
    assert {"Dafydd Morgan", "David Morgan"} <= set(names(person_search(name="David Morgan")))
    assert "Dafydd Morgan" in names(person_search(name="Dafydd Morgan"))[:2]
    assert names(person_search(name="Thomas Prydderch"))[0] == "Twm Prydderch"
    assert names(person_search(name="Sian Prys"))[0] == "Siân Prys"
    assert names(person_search(name="Jane Prys"))[0] == "Siân Prys"


def test_every_spelling_an_agency_uses_is_searchable(neighbours):
    """The school calls her Alice: searching for Alice Prydderch finds Alys."""
    assert names(person_search(name="Alice Prydderch"))[0] == "Alys Prydderch"


def test_a_search_leaves_out_people_who_do_not_match(neighbours):
    """Searching for Alys Prydderch does not return Megan Jones or the Morgans."""
    found = set(names(person_search(name="Alys Prydderch")))
    assert "Megan Jones" not in found and "Dafydd Morgan" not in found and "David Morgan" not in found


def test_a_date_of_birth_with_day_and_month_swapped_still_finds_the_child(neighbours):
    """Alys was born on 9 April 2019; an agency that wrote 4 September 2019 still finds her, and
    the exact date ranks above the swapped one."""
    swapped = person_search(name="Alys Prydderch", date_of_birth=date(2019, 9, 4))
    assert names(swapped)[0] == "Alys Prydderch"
    by_date = names(person_search(date_of_birth=date(2019, 9, 4)))
    assert set(by_date) == {"Alys Prydderch", "Megan Jones", "Alun Pritchard"}  # 9 April 2019 and 4 September 2019
    exact = person_search(name="Alys Prydderch", date_of_birth=date(2019, 4, 9))
    assert names(exact)[0] == "Alys Prydderch" and exact[0].score > swapped[0].score


def test_a_date_of_birth_narrows_a_name_search(neighbours):
    """Prydderch born 2 May 2023 is Twm only."""
    assert names(person_search(name="Prydderch", date_of_birth=date(2023, 5, 2))) == ["Twm Prydderch"]


def test_an_nhs_number_is_an_exact_search(neighbours):
    """Twm's NHS number finds Twm and nobody else, however it is spaced; a near miss finds nobody."""
    assert names(person_search(nhs_number="9434765870")) == ["Twm Prydderch"]
    assert names(person_search(nhs_number="943 476 5870")) == ["Twm Prydderch"]
    assert person_search(nhs_number=factories.nhs_number("943476570")) == []


def test_an_empty_search_finds_nobody(neighbours):
    """No name, date or number: no results rather than the whole index."""
    assert person_search() == []


def test_searching_on_the_web_is_audited(neighbours, client, demo_hub):
    """Gwen searches for "David Morgan" by date of birth: the page lists Dafydd, and the audit log
    records who searched for what and how many people were found."""
    gwen = neighbours.staff.social_worker
    client.force_login(gwen)
    response = client.get("/search/", {"name": "David Morgan", "dob_day": "11", "dob_month": "2", "dob_year": "1991"})
    assert response.status_code == 200
    assert [person.display_name for person, _age in response.context["rows"]] == ["Dafydd Morgan"]  # not the 1960 David
    assert "Dafydd Morgan" in response.content.decode()
    entry = AuditEntry.objects.filter(action="search").latest("seq")
    assert entry.actor == gwen and entry.purpose == "person search"
    assert entry.detail == {"name": "David Morgan", "dob": "1991-02-11", "nhs": "", "results": 1, "more": False}


def test_a_search_with_a_bad_nhs_number_explains_and_is_not_run(neighbours, client, demo_hub):
    """A mistyped NHS number is explained on the form and no search is run or audited."""
    client.force_login(neighbours.staff.social_worker)
    before = AuditEntry.objects.filter(action="search").count()
    response = client.get("/search/", {"nhs_number": "9434765871"})
    assert "check digit does not match" in response.content.decode()
    assert AuditEntry.objects.filter(action="search").count() == before


@pytest.mark.parametrize(
    ("day", "month", "year", "told"),
    [("31", "2", "2020", "Date of birth must be a real date"), ("31", "2", "20", "Enter the year as four figures"),
     ("", "2", "2020", "A date of birth needs a day, month and year"), ("1", "x", "2020", "must be a real date"),
     ("1", "2", "1850", "must be a real date"), ("1", "2", "2099", "Date of birth must be in the past")],
)  # fmt: skip
def test_a_date_of_birth_is_told_once_what_is_wrong_at_the_date(neighbours, client, demo_hub, day, month, year, told):
    """One message about the date of birth, at the date, before the NHS number's in the summary
    (the year's own range check spoke of "this value" and left the date saying a part was missing)."""
    client.force_login(neighbours.staff.social_worker)
    before = AuditEntry.objects.filter(action="search").count()
    response = client.get("/search/", {"name": "Twm Prydderch", "dob_day": day, "dob_month": month,
                                       "dob_year": year, "nhs_number": "12345"})  # fmt: skip
    summary = [message for _anchor, message in response.context["form_errors"]]
    assert len(summary) == 2 and told in summary[0] and "NHS" in summary[1], summary
    assert response.context["form_errors"][0][0] == "id_dob_day"
    page = response.content.decode()
    assert "this value" not in page and f'value="{year}"' in page
    assert AuditEntry.objects.filter(action="search").count() == before


def test_a_slip_in_the_first_letters_still_finds_the_name(prydderch):
    """ "Pyrdderch" (letters swapped near the start) still finds Prydderch."""
    from cylch.identity.selectors import person_search

    found = {h.person.pk for h in person_search(name="Pyrdderch")}
    assert prydderch.alys.pk in found


def test_a_search_that_finds_more_than_the_page_shows_says_so(prydderch, client, demo_hub):
    """ "25 people found" was shown for a name shared by thirty: the list stopped at 25 without
    a word. Now the page says there are more and how to narrow the search."""
    for i in range(30):
        agency_record_upsert(organisation=prydderch.orgs.gp, local_id=f"GP-JONES-{i}",
                             data={"given_name": f"Gwyn{chr(97 + i % 26)}", "family_name": "Jones",
                                   "date_of_birth": f"20{10 + i % 10}-0{1 + i % 9}-1{i % 10}"})  # fmt: skip
    client.force_login(prydderch.staff.social_worker)
    response = client.get("/search/", {"name": "Jones"})
    page = response.content.decode()
    assert len(response.context["rows"]) == 25 and "More than 25 people found" in page
    assert "Only the 25 closest matches are shown." in page
    narrow = client.get("/search/", {"name": "Jones", "dob_day": "10", "dob_month": "1", "dob_year": "2010"})
    assert "More than" not in narrow.content.decode() and len(narrow.context["rows"]) < 25

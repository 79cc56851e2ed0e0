"""A front-door worker settles a child recorded with three mothers: from the matching queue to
the conflict, the relationships side by side, a reason forgotten and given, the decision made."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.access.models import Organisation, User
from cylch.access.roles import OrganisationKind
from cylch.demo.builder import build
from cylch.identity.models import ConflictDecision, FamilyConflict, Relationship
from cylch.identity.services import agency_record_upsert, household_add_member, household_create, relationship_add
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub_with_a_conflict(live_server):
    build(seed=17, persons=120, as_of=date(2026, 11, 1), events_per_person=1, progress=False)
    la = User.objects.get(username="front-door").organisation.local_authority
    gp = Organisation.objects.filter(kind=OrganisationKind.GP_PRACTICE, local_authority=la).order_by("pk").first()
    school = Organisation.objects.filter(kind=OrganisationKind.SCHOOL).order_by("pk").first()
    police = Organisation.objects.filter(kind=OrganisationKind.POLICE).order_by("pk").first()

    def person(org, local_id, given, born):
        data = {"given_name": given, "family_name": "Ffrwythlon", "date_of_birth": born}
        return agency_record_upsert(organisation=org, local_id=local_id, data=data).person

    child = person(gp, "FC-1", "Mabli", "2016-04-04")
    home = household_create(address_line="3 Heol y Berllan", town="Caerdydd", local_authority=la)
    for member in (child, mam := person(gp, "FC-2", "Nest", "1988-01-01")):
        household_add_member(household=home, person=member, from_date=date(2016, 4, 4))
    relationship_add(person=mam, kind="parent", relative=child, parental_responsibility=True, lives_with=True,
                     source_organisation=gp)  # fmt: skip
    relationship_add(person=person(school, "FC-3", "Dilys", "1990-02-02"), kind="parent", relative=child,
                     source_organisation=school)  # fmt: skip
    relationship_add(person=person(police, "FC-4", "Begw", "1979-03-03"), kind="parent", relative=child,
                     source_organisation=police)  # fmt: skip
    assert FamilyConflict.objects.filter(person=child, resolved=False).exists()
    return live_server.url


def test_settle_a_child_with_three_mothers(page, hub_with_a_conflict):
    page.goto(f"{hub_with_a_conflict}/sign-in/")
    page.get_by_label("Username").fill("front-door")
    page.get_by_label("Password").fill("cylch-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Matching").click()
    page.get_by_role("link", name="All family conflicts, and those decided recently").click()
    expect(page.get_by_role("heading", name="Family relationships that cannot all be true")).to_be_visible()
    assert_accessible(page, "33-family-conflicts")
    page.get_by_role("link", name="Mabli Ffrwythlon").click()
    expect(page.get_by_role("heading", name="Which of these relationships are right?")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Relationship recorded by"))).to_contain_text("Police")
    assert_accessible(page, "34-family-conflict")

    def group(name: str):
        return page.get_by_role("group", name=re.compile(f"^{name} Ffrwythlon, recorded as parent"))

    group("Nest").get_by_label("Right: keep it").check()
    group("Dilys").get_by_label("It was right, but it has ended").check()
    group("Dilys").get_by_label("Date Dilys Ffrwythlon's relationship ended").fill("01/09/2024")
    group("Begw").get_by_label("Wrong: it was recorded in error").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("link", name="Say why: what you checked, and with whom")).to_be_visible()
    expect(group("Begw").get_by_label("Wrong: it was recorded in error")).to_be_checked()
    assert_accessible(page, "35-family-conflict-reason-missing")
    page.get_by_label("Why: what you checked, and with whom").fill(
        "Nest is Mabli's mother (GP). Dilys fostered her until September 2024. Begw is a neighbour the police "
        "recorded in error."
    )
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded.")).to_be_visible()
    page.get_by_role("link", name="Mabli Ffrwythlon").click()  # now under "Decided recently"
    expect(page.get_by_role("row", name=re.compile("^Decision"))).to_contain_text("Recorded in error")
    expect(page.get_by_text("Begw is a neighbour")).to_be_visible()
    assert_accessible(page, "36-family-conflict-decided")
    decided = FamilyConflict.objects.get(person__given_name="Mabli", person__family_name="Ffrwythlon")
    assert decided.resolved and decided.decision == ConflictDecision.CORRECTED
    begw = Relationship.objects.get(person__given_name="Begw", relative=decided.person)
    assert begw.recorded_in_error and begw.to_date is not None
    assert Relationship.objects.get(person__given_name="Dilys", relative=decided.person).to_date == date(2024, 9, 1)

"""A front-door social worker works the matching queue: reads the evidence, decides, moves on."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.access.models import Organisation
from cylch.access.roles import OrganisationKind
from cylch.demo.builder import build
from cylch.identity.models import MatchReview, ReviewStatus
from cylch.identity.services import agency_record_upsert
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub_with_a_pair(live_server):
    build(seed=17, persons=120, as_of=date(2026, 11, 1), events_per_person=1, progress=False)
    school = Organisation.objects.filter(kind=OrganisationKind.SCHOOL).order_by("pk").first()
    police = Organisation.objects.filter(kind=OrganisationKind.POLICE).order_by("pk").first()
    base = {"given_name": "Osian", "family_name": "Hopkins", "date_of_birth": "2016-05-09", "sex": "male"}
    agency_record_upsert(organisation=school, local_id="S-1", data={**base, "postcode": "SA48 7AB",
                                                                    "address_line": "12 Heol y Bryn"})  # fmt: skip
    # The police hold the day and month the other way round, an address after a move and the
    # surname misspelt: the review band (since default-4 the swap and the move alone link at the
    # cluster-level score; a same-birthday move alone links outright).
    agency_record_upsert(organisation=police, local_id="P-1", data={**base, "family_name": "Hopkin",
                                                                    "date_of_birth": "2016-09-05",
                                                                    "postcode": "LL55 1AA", "address_line": "3 Stryd Fawr"})  # fmt: skip
    assert MatchReview.objects.filter(status=ReviewStatus.OPEN).exists()
    return live_server.url


def test_review_a_pair_with_the_evidence_in_view(page, hub_with_a_pair):
    page.goto(f"{hub_with_a_pair}/sign-in/")
    page.get_by_label("Username").fill("front-door")
    page.get_by_label("Password").fill("cylch-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Matching").click()
    expect(page.get_by_role("heading", name="Records that may be the same person")).to_be_visible()
    assert_accessible(page, "30-matching-queue")
    page.get_by_role("link", name=re.compile("Osian Hopkins")).first.click()
    expect(page.get_by_role("heading", name="Are these the same person?")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Date of birth"))).to_contain_text("Day and month swapped")
    expect(page.get_by_role("row", name=re.compile("Address and postcode"))).to_contain_text("Elsewhere")
    assert_accessible(page, "31-matching-pair")
    page.get_by_label("Different people: never link these records").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Say what shows they are different people.")).to_be_visible()
    page.get_by_label("The same person: put their records together").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Recorded: the same person.")).to_be_visible()
    assert_accessible(page, "32-matching-decided")
    assert MatchReview.objects.get(status=ReviewStatus.SAME)

"""A review sub-group member records a referral, reads Cylch's proposal, decides, and records a
key date, in English and Welsh; axe-core checks every page."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.access.roles import Role
from tests import factories
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "cylch-demo-pass"


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None)  # fmt: skip
    board.board_area = fam.places.mid_and_west_wales
    board.save()
    chair = factories.demo_practitioner(username="review.chair", role=Role.REVIEW_PANEL, organisation=board)
    chair.set_password(PASSWORD)
    chair.save()
    factories.event(organisation=fam.orgs.childrens_services, person=fam.alys, code="process.register.registered",
                    occurred_at=factories.at(date(2026, 6, 1)), details={"categories": ["neglect"]})  # fmt: skip
    return live_server.url, fam, chair


def sign_in(page, url, username, language="en"):
    page.context.clear_cookies()
    page.goto(f"{url}/sign-in/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/search/$"))
    page.goto(f"{url}/language/{language}/?next=/search/")


def test_referral_proposal_decision_and_timeline(page, hub):
    url, fam, chair = hub
    sign_in(page, url, chair.username)
    page.goto(f"{url}/reviews/")
    assert_accessible(page, "reviews-board")
    page.get_by_role("link", name="Record a referral").click()
    page.locator("[name=child]").fill(str(fam.alys.public_id))
    page.check("input[name=incident][value=potentially_life_threatening_injury]")
    page.locator("[name=incident_on]").fill("15/09/2026")
    page.locator("[name=referred_on]").fill("20/09/2026")
    assert_accessible(page, "reviews-refer")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Extended Child Practice Review")
    assert_accessible(page, "reviews-referral")
    page.locator("[name=reasons]").fill("On the register in the six months before; extended as proposed.")
    page.locator("[name=scope_from]").fill("15/09/2025")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Extended Child Practice Review")
    assert_accessible(page, "reviews-timeline")
    sign_in(page, url, chair.username, "cy")
    page.goto(f"{url}/reviews/")
    expect(page.locator("h1")).to_have_text("Adolygiadau diogelu")
    assert_accessible(page, "reviews-board-cy")

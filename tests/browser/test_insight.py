"""A board analyst reads the measures, a measure's charts and the data-return form, in English
and Welsh; a team manager opens the records behind a figure. axe-core checks every page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.access.roles import Role
from cylch.insight import periods
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD
from tests.test_insight_views import _reports

sign_in = signin.signer(language="en", lands=None)


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None)  # fmt: skip
    analyst = factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=board)
    for user in (analyst, fam.staff.team_manager):
        user.set_password(PASSWORD)
        user.save()
    _reports(fam, 7, 6)
    return live_server.url, fam, analyst


def test_board_analyst_and_team_manager_read_the_measures(page, hub):
    url, fam, analyst = hub
    sign_in(page, url, analyst.username)
    page.goto(f"{url}/insight/")
    assert_accessible(page, "insight-index")
    page.get_by_role("link", name="Report makers told the outcome within 7 working days").click()
    page.locator("#area").select_option("ceredigion")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("svg[role=img]")).to_have_count(2)
    expect(page.locator("main")).to_contain_text("7 of 13")
    assert_accessible(page, "insight-measure")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page, "insight-measure-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/insight/return/")
    assert_accessible(page, "insight-return")

    sign_in(page, url, analyst.username, "cy")
    page.goto(f"{url}/insight/report-feedback-7wd/?area=ceredigion")
    expect(page.locator("h1")).to_have_text(
        "Y sawl a wnaeth adroddiadau a gafodd wybod y canlyniad cyn pen 7 diwrnod gwaith"
    )
    assert_accessible(page, "insight-measure-cy")
    page.goto(f"{url}/insight/")
    assert_accessible(page, "insight-index-cy")
    # A measure by kind, on a phone, in Welsh, as things stood on a past day.
    page.set_viewport_size({"width": 390, "height": 844})
    as_of = (timezone.localdate() - timedelta(days=40)).isoformat()
    page.goto(f"{url}/insight/attendance-by-agency/?area=ceredigion&as_of={as_of}")
    expect(page.locator("svg[role=img]")).to_have_count(2)
    assert_accessible(page, "insight-measure-kinds-cy-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, url, fam.staff.team_manager.username)
    quarter = periods.containing(timezone.localdate() - timedelta(days=40))
    page.goto(f"{url}/insight/report-feedback-7wd/records/?area=ceredigion&period={quarter.key}")
    expect(page.locator("tbody tr")).to_have_count(13)
    assert_accessible(page, "insight-records")

"""People's rights in a browser: the GP corrects Alys's entry at her mother's request (errors
first), lands on every version of it, and the team manager sees the subject access form; each
page axe-clean in Welsh and English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cylch.events.services import record_event
from cylch.governance.models import Rectification
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD

sign_in = signin.signer(language="en")


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    for user in (fam.staff.gp, fam.staff.team_manager):
        user.set_password(PASSWORD)
        user.save()
    entry = record_event(organisation=fam.orgs.gp, code="health.appointment.was_not_brought", person=fam.alys,
                         occurred_at=factories.at("2026-10-05", 11), details={"service": "dental"},
                         summary="Not brought to the dentist", recorded_by=fam.staff.gp).event  # fmt: skip
    return live_server.url, fam, entry


def test_a_correction_at_a_parents_request_and_every_version_in_welsh_and_english(page, hub):
    url, fam, entry = hub
    sign_in(page, url, "dr.owen")
    page.goto(f"{url}/people/{fam.alys.public_id}/rights/")
    expect(page.get_by_role("heading", level=1)).to_have_text("People's rights")
    expect(page.get_by_role("button", name="Make the subject access file")).to_have_count(0)
    assert_accessible(page, "90-rights-en")
    page.get_by_role("link", name=re.compile(r"^Correct")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Correct an entry at the person's request")
    page.get_by_label("What the entry should say").fill("")
    page.get_by_role("button", name="Record the correction").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter what the entry should say")
    expect(summary).to_contain_text("Choose who asked")
    assert_accessible(page, "91-rectify-errors-en")
    page.get_by_label("What the entry should say").fill("Not brought to the GP: the practice cancelled")
    page.get_by_label("Name of the person who asked").fill("Ceri Prydderch")
    page.get_by_label("A parent or carer with parental responsibility").check()
    page.get_by_label("What was wrong").fill("The practice cancelled the appointment, not the family.")
    page.get_by_role("button", name="Record the correction").click()
    expect(page).to_have_url(re.compile(r"/versions/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Every version of an entry")
    expect(page.locator(".govuk-summary-card")).to_have_count(2)
    expect(page.locator("main")).to_contain_text("Not brought to the dentist")
    expect(page.locator("main")).to_contain_text("Asked for by a parent or carer with parental responsibility")
    assert_accessible(page, "92-versions-en")
    assert Rectification.objects.get().original == entry

    page.goto(f"{url}/language/cy/?next=/people/{fam.alys.public_id}/rights/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    assert_accessible(page, "93-rights-cy")

    sign_in(page, url, "aled.manager", language="cy")
    page.goto(f"{url}/people/{fam.alys.public_id}/rights/")
    expect(page.locator("form[action$='/rights/access/'] button")).to_have_count(1)
    assert_accessible(page, "94-rights-manager-cy")
    page.goto(f"{url}/language/en/?next=/people/{fam.alys.public_id}/rights/")
    expect(page.get_by_role("button", name="Make the subject access file")).to_be_visible()
    assert_accessible(page, "95-rights-manager-en")

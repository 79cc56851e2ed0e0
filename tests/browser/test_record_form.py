"""A health visitor records a missed appointment on Twm's record from his page, sees it there,
and the form reads in Welsh and on a phone; axe-core finds nothing on any step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    hv = fam.staff.health_visitor
    hv.set_password(PASSWORD)
    hv.save()
    return live_server.url, fam


def test_a_health_visitor_records_a_missed_appointment(page, hub):
    url, fam = hub
    sign_in(page, url, "nia.hv")
    page.goto(f"{url}/people/{fam.twm.public_id}/")
    page.get_by_role("button", name="Record something").click()
    expect(page.get_by_role("heading", name="What do you want to record?")).to_be_visible()
    assert_accessible(page, "80-record-choose")

    page.get_by_role("button", name="Continue").click()  # nothing chosen
    expect(page.get_by_text("Choose what you want to record")).to_have_count(2)  # summary and field
    assert_accessible(page, "81-record-choose-error")
    page.get_by_label("Child not brought to a health appointment").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Child not brought to a health appointment")).to_be_visible()

    page.get_by_role("button", name="Save on the record").click()  # no words: refused, by name
    expect(page.get_by_text("Write what happened, in your own words")).to_have_count(2)
    assert_accessible(page, "82-record-form-error")

    page.get_by_label("What happened, in your own words").fill("Twm was not brought to his 27-month review.")
    page.get_by_label("Service", exact=True).select_option("health_visiting")
    page.locator("#id_details_rebooked_2").check()  # No
    page.get_by_label("Appointment type").fill("27-month review")
    assert_accessible(page, "83-record-form")
    page.get_by_role("button", name="Save on the record").click()
    expect(page).to_have_url(re.compile(rf"/people/{fam.twm.public_id}/$"))
    expect(page.get_by_text("Saved on the record: Child not brought to a health appointment.")).to_be_visible()
    expect(page.locator("li.cylch-event", has_text="27-month review").first).to_be_visible()
    assert_accessible(page, "84-record-saved")

    page.goto(f"{url}/language/cy/?next=/people/{fam.twm.public_id}/record/")
    expect(page.get_by_role("heading", level=2, name="Iechyd")).to_be_visible()
    expect(page.get_by_label("Plentyn heb ei ddwyn i apwyntiad iechyd")).to_be_visible()
    assert_accessible(page, "85-record-choose-cy")
    page.get_by_label("Plentyn heb ei ddwyn i apwyntiad iechyd").check()
    page.locator("form button.govuk-button").click()
    expect(page.get_by_role("heading", name="Plentyn heb ei ddwyn i apwyntiad iechyd")).to_be_visible()
    assert_accessible(page, "86-record-form-cy")


def test_the_form_fits_a_phone(browser, hub):
    url, fam = hub
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="en-GB", is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, url, "nia.hv")
        page.goto(f"{url}/people/{fam.twm.public_id}/record/?code=health.injury.non_mobile_baby")
        expect(page.get_by_role("heading", name="Injury or bruising in a non-mobile baby")).to_be_visible()
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert_accessible(page, "87-record-form-phone")
    finally:
        context.close()

"""A practitioner signs in, finds a child and opens their record, in English and in Welsh."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.demo.builder import build
from tests.browser import signin
from tests.browser.conftest import assert_accessible

sign_in = signin.signer(password="cylch-demo", lands=False)


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_hub(live_server):
    build(seed=11, persons=150, as_of=date(2026, 11, 1), events_per_person=1, progress=False)
    return live_server.url


def test_sign_in_search_and_person_page_in_english_and_welsh(page, demo_hub):
    """The front door signs in, finds Alys by a misspelt name, reads her record, then switches to Welsh."""
    page.goto(f"{demo_hub}/sign-in/")
    expect(page.get_by_role("heading", name="Sign in to Cylch")).to_be_visible()
    expect(page.get_by_role("cell", name="front-door", exact=True)).to_be_visible()  # demo accounts listed in demo mode
    assert_accessible(page, "01-sign-in-en")

    sign_in(page, demo_hub, "front-door")
    expect(page).to_have_url(re.compile(r"/search/$"))
    assert_accessible(page, "02-search-en")

    page.get_by_label("Name").fill("Alis Prydderch")  # a typo: Alis for Alys
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row").filter(has_text="2019").get_by_role("link", name="Alys Prydderch")).to_be_visible()
    assert_accessible(page, "03-search-results-en")

    page.get_by_role("row").filter(has_text="2019").get_by_role("link", name="Alys Prydderch").click()
    expect(page.get_by_role("heading", level=1, name="Alys Prydderch")).to_be_visible()
    expect(page.get_by_role("heading", name="What has happened")).to_be_visible()
    expect(page.get_by_text("Recorded by").first).to_be_visible()
    assert_accessible(page, "04-person-en")

    page.get_by_role("link", name="Cymraeg").click()
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", level=1, name="Alys Prydderch")).to_be_visible()
    expect(page.get_by_role("heading", name="Beth sydd wedi digwydd")).to_be_visible()
    assert_accessible(page, "05-person-cy")

    page.get_by_role("link", name="Dod o hyd i berson").click()
    expect(page.get_by_role("heading", level=1, name="Dod o hyd i berson")).to_be_visible()
    assert_accessible(page, "06-search-cy")


def test_outside_the_circle_sees_existence_and_whom_to_contact(page, demo_hub):
    """A housing officer with no link to the Prydderch family sees that records exist, not what they say."""
    sign_in(page, demo_hub, "third-sector-worker")
    page.get_by_label("Name").fill("Twm Prydderch")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Twm Prydderch").click()
    expect(page.get_by_text("your organisation is not working with them")).to_be_visible()
    expect(page.get_by_text("Withheld").first).to_be_visible()
    expect(page.get_by_text("was not brought to his appointment")).to_have_count(0)
    expect(page.get_by_role("button", name="Use break-glass access")).to_be_visible()
    assert_accessible(page, "07-person-outside-circle-en")

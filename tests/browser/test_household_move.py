"""A newer address from the school, in a browser: the social worker reads the notice on Alys's
record, opens the confirmation, records the move and finds her at the new address; the pages
axe-clean in English and Welsh."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cylch.events.services import record_event_batch
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD

sign_in = signin.signer(language="en")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW = "9 Ffordd Newydd, Aberystwyth, SY23 1AB"


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    fam.staff.social_worker.set_password(PASSWORD)
    fam.staff.social_worker.save()
    record_event_batch(organisation=fam.orgs.school, items=[{
        "external_id": "SCH-MOVE-1", "code": "education.wetting", "occurred_at": "2026-11-20T10:00:00Z",
        "details": {}, "subject": {"local_id": "PUPIL-2041-017", "address_line": "9 Ffordd Newydd",
                                   "town": "Aberystwyth", "postcode": "SY23 1AB"}}])  # fmt: skip
    return live_server.url, fam


def test_a_social_worker_records_a_move_to_the_address_the_school_gave(page, hub):
    url, fam = hub
    sign_in(page, url, "gwen.social")
    page.goto(f"{url}/people/{fam.alys.public_id}/")
    notice = page.locator(".cylch-address-notice")
    expect(notice).to_contain_text("Cylch holds Alys Prydderch at 4 Maes y Felin, Llanbadarn Fawr, SY23 3ZZ.")
    expect(notice).to_contain_text(f"Ysgol Glan-y-Môr gave {NEW} on")
    assert_accessible(page, "95-address-notice")
    notice.get_by_role("button", name=re.compile("^Record a move to this address")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record a move to this address")
    expect(page.get_by_role("definition").filter(has_text=NEW)).to_be_visible()
    assert_accessible(page, "96-move-confirm")
    page.goto(f"{url}/language/cy/?next={page.url.removeprefix(url)}")
    assert_accessible(page, "96-move-confirm-cy")
    page.goto(f"{url}/language/en/?next={page.url.removeprefix(url)}")
    page.get_by_role("button", name="Record the move").click()
    expect(page.get_by_text(f"Alys Prydderch now lives at {NEW}.")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text=NEW)).to_be_visible()  # "Lives at"
    expect(page.locator(".cylch-address-notice")).to_have_count(0)

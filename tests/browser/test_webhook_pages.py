"""A safeguarding lead adds a webhook subscription, copies its secret from the one page that shows
it, sends a test message to a real receiver and reads the delivery log; axe-clean in English and
Welsh."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cylch.governance import webhooks
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD
from tests.test_webhooks import receiver  # noqa: F401  (the real HTTP receiver fixture)

sign_in = signin.signer(language="en")


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    lead = fam.staff.team_manager  # Aled Rees: children's services' safeguarding lead
    lead.set_password(PASSWORD)
    lead.save()
    return live_server.url, fam


def test_a_lead_adds_a_subscription_tests_it_and_reads_the_log(page, hub, receiver):  # noqa: F811
    url, _fam = hub
    sign_in(page, url, "aled.manager")
    page.goto(f"{url}/webhooks/")
    expect(page.locator("main")).to_contain_text("Your organisation has no webhook subscriptions.")
    assert_accessible(page, "80-webhooks-none")
    page.get_by_role("link", name="Add a subscription").click()
    page.get_by_role("button", name="Add the subscription").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name for the receiving system")
    expect(page).to_have_title(re.compile(r"^Error:"))
    assert_accessible(page, "81-webhook-new-errors")
    page.get_by_label("Name of the receiving system").fill("Children's services case system")
    page.get_by_label("Address Cylch sends to").fill(receiver.url)
    page.get_by_label("Child placed on the child protection register").check()
    page.get_by_label("Alert about a child sent to your organisation").check()
    page.get_by_role("button", name="Add the subscription").click()
    expect(page.locator("h1")).to_have_text("Subscription added: copy its secret")
    secret = page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    assert_accessible(page, "82-webhook-secret")
    page.get_by_role("link", name="I have copied it: go to the subscription").click()
    expect(page.locator("main")).not_to_contain_text(secret)
    page.get_by_role("button", name="Send a test message").click()
    expect(page.locator("main")).to_contain_text("Test delivered: the receiver answered 200.")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table tbody tr")).to_contain_text("Test message")
    [got] = receiver.received
    assert webhooks.verify(secret, got.body, got.headers["cylch-signature"])
    assert_accessible(page, "83-webhook-log")

    page.goto(f"{url}/language/cy/?next=/webhooks/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    assert_accessible(page, "84-webhooks-cy")
    page.locator("main table a").first.click()
    assert_accessible(page, "85-webhook-log-cy")

"""A social worker's "no further action" on a repeat report waits for a manager; the manager's
queue and the request read in Welsh and English, axe-clean, and approving makes it take effect."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.governance.models import ApprovalRequest
from cylch.reports.models import Outcome, Report, Status
from cylch.reports.services import SubjectIn, report_decide, report_submit
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD

sign_in = signin.signer(language="en")


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
REASONS = "Seen at home with the health visitor; the home was warm and stocked."


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    for user in (fam.staff.social_worker, fam.staff.team_manager):
        user.set_password(PASSWORD)
        user.save()

    def report(days: int) -> Report:
        return report_submit(channel="practitioner", children=[SubjectIn(person=fam.alys)],
                             concern_codes=["social_care.neglect.concern"], maker=fam.staff.health_visitor,
                             what_happened="Alys came to clinic hungry and with head lice again.",
                             received_at=timezone.now() - timedelta(days=days, hours=1))  # fmt: skip

    report_decide(report=report(30), user=fam.staff.social_worker, outcome=Outcome.NO_FURTHER_ACTION, rationale=REASONS)
    return live_server.url, fam, report(0)


@pytest.fixture
def page(browser):
    """As the shared fixture, but axe-core goes in as an inline script, which the hub's strict
    Content-Security-Policy refuses: this context lets it in (tests/browser/test_csp.py checks
    the policy itself)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def test_a_held_decision_in_the_managers_queue_in_welsh_and_english(page, hub):
    url, _fam, report = hub
    sign_in(page, url, "gwen.social")
    page.goto(f"{url}/front-door/{report.reference}/")
    expect(page.locator("#approval-needed")).to_contain_text(
        "If you choose “No further action”, a manager must approve it"
    )
    page.get_by_label("No further action").check()
    page.get_by_label("Reasons for the decision").fill(REASONS)
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("#awaiting-approval")).to_contain_text("This has not taken effect")
    expect(page.get_by_role("button", name="Record decision")).to_have_count(0)
    assert_accessible(page, "70-decision-waiting")

    sign_in(page, url, "aled.manager", language="cy")
    page.goto(f"{url}/approvals/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("link", name="Dod o hyd i berson")).to_be_visible()  # the Welsh menu
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table tbody tr")).to_contain_text(report.reference)
    assert_accessible(page, "71-approvals-cy")

    page.goto(f"{url}/language/en/?next=/approvals/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Waiting for your approval")).to_be_visible()
    assert_accessible(page, "72-approvals-en")
    page.locator("main table tbody tr a").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("No further action on a repeat report")
    expect(page.locator("main")).to_contain_text(REASONS)
    assert_accessible(page, "73-approval-en")
    page.get_by_role("button", name="Send your answer").click()  # nothing chosen
    expect(page.locator(".govuk-error-summary")).to_contain_text("Choose whether to approve the decision or return it")
    assert_accessible(page, "74-approval-error-en")
    page.get_by_label("Yes, approve it: it takes effect now").check()
    page.get_by_role("button", name="Send your answer").click()
    expect(page).to_have_url(re.compile(r"/approvals/$"))
    expect(page.locator("main")).to_contain_text("Nothing is waiting for your approval.")
    report.refresh_from_db()
    assert report.status == Status.DECIDED and report.outcome == Outcome.NO_FURTHER_ACTION
    assert ApprovalRequest.objects.get().state == "approved"

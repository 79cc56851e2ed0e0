"""A board's review sub-group uploads a published review, reads Cylch's suggestions with their
sentences, accepts and rejects them, and sees the agreement; a board analyst answers a framework
self-assessment and compares the years. In English and Welsh; axe-core checks every page."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.access.roles import Role
from cylch.reviews import assessments, coded
from cylch.reviews.assessments import Answer
from cylch.reviews.frameworks import framework
from tests import factories
from tests.browser import signin
from tests.browser.conftest import ARTIFACTS, AXE
from tests.browser.signin import PASSWORD
from tests.test_review_coded import REVIEW_TEXT

sign_in = signin.signer(language="en", lands=None)


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    area = factories.places().mid_and_west_wales
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None)  # fmt: skip
    board.board_area = area
    board.save()
    panel = factories.demo_practitioner(username="review.panel", role=Role.REVIEW_PANEL, organisation=board)
    panel.set_password(PASSWORD)
    panel.save()
    review = coded.coded_review_create(user=panel, board_area=area, details=coded.ReviewDetails(
        reference="MWWSB 1/2024", type="cpr_concise", title="Baby N", child_age_months=2))  # fmt: skip
    return live_server.url, panel, review


def assert_accessible(page, name: str) -> None:
    """As conftest's, but axe is evaluated rather than added as a script tag, which the strict
    Content-Security-Policy (5a7f778) refuses; the pages are checked under that policy."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    assert violations == [], f"axe-core found problems on {name}:\n{json.dumps(violations, indent=2)}"


def test_upload_suggest_accept_and_agreement(page, hub):
    url, panel, review = hub
    page.set_default_timeout(180_000)  # the first upload loads the embedding model in this process
    sign_in(page, url, panel.username)
    page.goto(f"{url}/reviews/coded/")
    assert_accessible(page, "coding-list")
    page.get_by_role("link", name="MWWSB 1/2024").click()
    expect(page.locator("h1")).to_have_text("MWWSB 1/2024")
    assert_accessible(page, "coding-edit")
    page.get_by_role("link", name="Upload the published review").click()
    assert_accessible(page, "coding-upload")
    page.locator("input[name=file]").set_input_files(
        {"name": "review.txt", "mimeType": "text/plain", "buffer": REVIEW_TEXT.encode()}
    )
    page.get_by_label("This is the published, anonymised version").check()
    page.get_by_role("button", name="Upload and suggest codes").click()
    expect(page.locator("h1")).to_have_text("Suggested codes")
    expect(page.locator("main")).to_contain_text("0 of 7 suggestions decided.")
    expect(page.locator("mark", has_text="cannabis")).to_be_visible()
    assert_accessible(page, "coding-suggestions")
    # One click each, no JavaScript needed: a plain form post that returns to the next one waiting.
    page.get_by_role("button", name="Reject Health visiting").click()
    expect(page).to_have_url(re.compile(r"#s-"))
    for code in ("parent.substance_misuse", "finding.missed_health_appointments", "parent.domestic_abuse",
                 "agency.police", "age.0_3m", "age_panel.under_1"):  # fmt: skip
        page.locator(f"[id='s-{code}'] button[value=accept]").click()
        expect(page.locator(f"[id='s-{code}'] .govuk-tag")).to_have_text("Accepted")
    expect(page).to_have_url(re.compile(r"#agreement$"))
    expect(page.locator("#agreement + dl")).to_contain_text("6 of the 7 codes Cylch suggested are in your coding")
    assert_accessible(page, "coding-agreement")
    sign_in(page, url, panel.username, "cy")
    page.goto(f"{url}/reviews/coded/{review.public_id}/suggestions/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    assert_accessible(page, "coding-suggestions-cy")
    page.goto(f"{url}/reviews/coded/{review.public_id}/")
    assert_accessible(page, "coding-edit-cy")


def test_a_self_assessment_and_the_years(page, hub):
    url, panel, _review = hub
    rr = framework("rapid-review-2023")
    year = timezone.localdate().year
    last = assessments.assessment_start(user=panel, assessor=assessments.assessor_for(panel), framework_id=rr.id,
                                        year=year - 1)  # fmt: skip
    assessments.assessment_save(
        last, user=panel, answers={c.id: Answer(2, "Protocol drafted", "Agree it") for c in rr.components}
    )
    assessments.assessment_submit(last, user=panel)
    sign_in(page, url, panel.username)
    page.goto(f"{url}/reviews/assessments/")
    assert_accessible(page, "assessments-index")
    page.get_by_role("button", name=re.compile(f"Start the {year} assessment")).click()
    expect(page.locator("main")).to_contain_text("0 of 20 components graded")
    page.locator("input[name='c1_1-grade'][value='3']").check()
    page.get_by_role("button", name="Submit the assessment").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("1.2 ")
    assert_accessible(page, "assessment-errors")
    page.get_by_role("link", name="Self-assessments").first.click()
    page.get_by_role("link", name=re.compile("Compare the years")).click()
    expect(page.locator("table").first).to_contain_text("up from 2")
    assert_accessible(page, "assessments-compare")
    sign_in(page, url, panel.username, "cy")
    page.goto(f"{url}/reviews/assessments/")
    assert_accessible(page, "assessments-index-cy")
    page.get_by_role("link", name=re.compile(str(year))).first.click()
    assert_accessible(page, "assessment-cy")

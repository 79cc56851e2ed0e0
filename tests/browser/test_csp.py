"""The strict Content-Security-Policy as Chromium enforces it: the main pages load, their
scripts run (GOV.UK Frontend, the body map) and the browser reports no violation.

Violations are caught two ways: the ``securitypolicyviolation`` event (recorded by a script the
browser runs before the page's own, outside the policy) and the console. The detector is first
shown to work on a deliberate violation, so a quiet run means something.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.access.roles import Role
from cylch.events.services import record_event
from cylch.identity.models import AllocationKind
from cylch.identity.services import allocation_create
from tests import factories
from tests.browser import signin
from tests.browser.signin import PASSWORD
from tests.test_insight_views import _reports

sign_in = signin.signer(language="en", lands=None)


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    sw = fam.staff.social_worker
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None)  # fmt: skip
    board.board_area = fam.places.mid_and_west_wales
    board.save()
    analyst = factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=board)
    chair = factories.demo_practitioner(username="review.chair", role=Role.REVIEW_PANEL, organisation=board)
    real = factories.practitioner(username="gwen.real", role=Role.SOCIAL_WORKER, password=PASSWORD,
                                  organisation=fam.orgs.childrens_services)  # fmt: skip
    for user in (sw, analyst, chair):
        user.set_password(PASSWORD)
        user.save()
    for child in (fam.twm, fam.alys):
        allocation_create(person=child, organisation=fam.orgs.childrens_services, practitioner=sw,
                          kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    now = timezone.now()
    for days in (150, 110, 70):
        record_event(organisation=fam.orgs.gp, code="health.appointment.was_not_brought", person=fam.twm,
                     occurred_at=now - timedelta(days=days), details={"service": "immunisation"},
                     recorded_by=fam.staff.gp, summary="Twm was not brought to his immunisations.")  # fmt: skip
    factories.event(organisation=fam.orgs.childrens_services, person=fam.alys, code="process.register.registered",
                    occurred_at=factories.at(date(2026, 6, 1)), details={"categories": ["neglect"]})  # fmt: skip
    _reports(fam, 7, 6)
    return live_server.url, fam, real


class Watch:
    """Everything the browser says about the policy while the test runs."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Permissions-Policy" in text or "Permissions Policy" in text:
            self.console.append(text)

    def problems(self) -> list[str]:
        return self.page.evaluate("window.__csp || []") + self.console

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"]
        self.check(url)

    def check(self, where: str) -> None:
        self.page.wait_for_load_state("networkidle")
        # GOV.UK Frontend's two scripts ran: the class at the top of <body> and initAll().
        assert self.page.evaluate("document.body.classList.contains('govuk-frontend-supported')"), where
        problems = self.problems()
        assert problems == [], f"{where}: {problems}"


def test_the_detector_sees_a_violation(page, live_server):
    """A style attribute added to the page is blocked and reported: the watch is not blind."""
    url = live_server.url
    watch = Watch(page)
    page.goto(f"{url}/sign-in/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.wait_for_timeout(200)
    assert any("style-src" in p for p in watch.problems())
    assert page.evaluate("getComputedStyle(document.body.lastElementChild).color") != "rgb(255, 0, 0)"


def test_the_main_pages_run_under_the_policy_without_a_violation(page, hub):
    """Sign-in, search, a person, the chronology, the family network, the report form with its
    body map, alerts, a measure with its charts, the reviews board and two-factor set-up."""
    url, fam, _real = hub
    watch = Watch(page)
    watch.visit(f"{url}/sign-in/")

    sign_in(page, url, "gwen.social")
    watch.check("search")
    expect(page).to_have_url(re.compile(r"/search/$"))
    page.get_by_label("Name").fill("Alys Prydderch")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Alys Prydderch").first).to_be_visible()
    watch.check("search results")
    watch.visit(f"{url}/people/{fam.twm.public_id}/")
    watch.visit(f"{url}/people/{fam.twm.public_id}/chronology/")
    page.get_by_text("Filter the chronology").click()  # a <details> GOV.UK Frontend drives
    watch.check("chronology filters open")

    watch.visit(f"{url}/people/{fam.twm.public_id}/family/")
    diagram = page.locator("svg.cylch-network")
    expect(diagram).to_be_visible()
    box = diagram.bounding_box()
    assert box is not None and box["width"] >= 300  # sized by drawings.css, not a style attribute

    watch.visit(f"{url}/report/new/")
    page.get_by_text("Mark injuries (for a physical concern)").click()
    body_map = page.locator("svg.cylch-body-map--clickable").first
    body_map.click(position={"x": 75, "y": 100})
    expect(page.locator("#id_injury0-side")).to_have_value("front")
    assert page.locator("svg.cylch-body-map--clickable circle").count() >= 1
    watch.check("body map clicked")
    # GOV.UK Frontend's file upload draws its button and status: its script ran, under the policy.
    expect(page.locator(".govuk-drop-zone").get_by_role("button", name="Choose files")).to_be_visible()
    watch.check("file upload drawn")

    watch.visit(f"{url}/alerts/")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()  # the service navigation toggle, from initAll()
    expect(page.get_by_role("link", name="Find a person")).to_be_visible()
    watch.check("menu on a phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, url, "board.analyst")
    watch.visit(f"{url}/insight/")
    watch.visit(f"{url}/insight/report-feedback-7wd/?area=ceredigion")
    charts = page.locator("svg.cylch-chart")
    expect(charts).to_have_count(2)
    widths = [c.bounding_box()["width"] for c in charts.all()]
    assert all(0 < w <= 500 for w in widths), widths  # drawings.css caps them at MAX_WIDTH

    sign_in(page, url, "review.chair", "cy")
    watch.visit(f"{url}/reviews/")

    sign_in(page, url, "gwen.real", language=None, lands=False)  # a second step follows
    expect(page).to_have_url(re.compile(r"/sign-in/set-up/"))
    expect(page.locator(".cylch-qr svg")).to_be_visible()
    watch.check("two-factor set-up")


def test_the_api_documentation_runs_under_the_policy(page, live_server):
    """Swagger UI is served by the hub itself and draws the operations without a violation."""
    url = live_server.url
    watch = Watch(page)
    response = page.goto(f"{url}/api/v1/docs")
    assert response is not None and response.status == 200
    expect(page.get_by_text("/api/v1/events", exact=False).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert watch.problems() == []

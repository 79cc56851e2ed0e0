"""The thematic analysis pages for a board member and the public repository for anyone, in
English and Welsh, on a desk and on a phone; axe-core checks every page."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.access.models import BoardArea
from cylch.access.roles import Role
from cylch.reviews import analysis
from tests import factories
from tests.browser import signin
from tests.browser.conftest import ARTIFACTS, AXE
from tests.browser.signin import PASSWORD

sign_in = signin.signer(language="en", lands=None, next_="/reviews/analysis/")


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}

BOARDS = [("north-wales", "North Wales", "Gogledd Cymru"), ("gwent", "Gwent", "Gwent"),
          ("cardiff-vale", "Cardiff and Vale", "Caerdydd a'r Fro")]  # fmt: skip


def _coded_reviews(areas: list[BoardArea]) -> None:
    """36 fictional coded reviews with co-occurring indicators (a shared cause in some), so every
    table, the phi matrices and both maps are drawn."""
    rng = random.Random(9)
    book = analysis.load_codebook()
    by_group = {g: [c.id for c in book.codes if c.group == g] for g in book.groups if g not in book.age_bands}
    for i in range(36):
        latent = rng.random() < 0.45
        codes = [rng.choice(by_group["harm"])]
        for group in ("parent", "child"):
            codes += [
                c for j, c in enumerate(by_group[group]) if rng.random() < (0.85 if latent and j % 2 == 0 else 0.08)
            ]
        for group in ("agency", "theme", "finding"):
            codes += [c for c in by_group[group] if rng.random() < 0.35]
        published = date(2019 + i % 5, 1 + i % 12, 10)
        analysis.build_coded_review(
            board_area=areas[i % len(areas)], reference=f"CPR {i + 1}/{published.year}", codes=codes,
            type="cpr_extended" if i % 3 == 0 else "cpr_concise",
            title=f"Child {chr(65 + i % 26)}{i}: learning about {'neglect and home conditions' if latent else 'agency working'}",
            child_age_months=rng.choice([None, 1, 2, 8, 20, 50, 100, 170, 200]),
            previous_history=rng.choice(["below_threshold", "looked_after", "register", "not_known", "adopted"]),
            incident_on=date(published.year - 2, 6, 1), published_on=published, signed_off_on=published,
            public_summary=("A fictional summary. Health visitors and the GP did not share that the baby was not "
                            "brought to appointments; the review asks agencies to follow up together."),
            public_text="The full, anonymised review (fictional).", is_public=i % 4 != 3,
        )  # fmt: skip


@pytest.fixture
def hub(live_server, settings, prydderch):
    settings.DEMO_MODE = True
    areas = [prydderch.places.mid_and_west_wales]
    for code, en, cy in BOARDS:
        areas.append(BoardArea.objects.get_or_create(code=code, defaults={"name_en": en, "name_cy": cy})[0])
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru")  # fmt: skip
    board.board_area = areas[0]
    board.save()
    analyst = factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=board,
                                          password=PASSWORD)  # fmt: skip
    _coded_reviews(areas)
    return live_server.url, analyst


def assert_accessible(page, name: str) -> None:
    """A screenshot, then axe-core (WCAG 2.2 A/AA and best practice). axe is evaluated through
    the browser's debugging protocol rather than added as a script tag, which the pages'
    Content-Security-Policy (script-src 'self') refuses; the policy stays on while we browse."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    assert violations == [], f"axe-core found problems on {name}: {json.dumps(violations, indent=2)}"


def _watch_csp(page) -> list[str]:
    """Messages of anything the Content-Security-Policy blocked (a style attribute, say)."""
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    return blocked


def _open_details(page):
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


def test_analysis_page_in_english_and_welsh(page, hub):
    url, analyst = hub
    blocked = _watch_csp(page)
    sign_in(page, url, analyst.username)
    page.goto(f"{url}/reviews/analysis/")
    expect(page.locator("h1")).to_have_text("Thematic analysis of reviews")
    expect(page.locator("main")).to_contain_text("reviews selected")
    assert page.locator("svg.cylch-chart--map").count() >= 1
    _open_details(page)
    assert_accessible(page, "review-analysis")
    # A narrower selection: the associations say there are too few reviews.
    page.check("input[name=boards][value=gwent]")
    page.get_by_role("button", name="Show the analysis").click()
    expect(page.locator("main")).to_contain_text("Associations between indicators need at least 20")
    assert_accessible(page, "review-analysis-gwent")

    sign_in(page, url, analyst.username, "cy")
    page.goto(f"{url}/reviews/analysis/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.locator("main")).to_contain_text("Esgeulustod")
    _open_details(page)
    assert_accessible(page, "review-analysis-cy")
    assert blocked == []


def test_public_repository_on_a_phone_in_english_and_welsh(browser, hub):
    url, _analyst = hub
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True)
    page = context.new_page()
    blocked = _watch_csp(page)
    try:
        page.goto(f"{url}/repository/")
        expect(page.locator("h1")).to_have_text("Learning from safeguarding reviews")
        assert_accessible(page, "repository-phone")
        page.get_by_text("Narrow it down by theme, risk, age, board or year").click()
        page.locator("#board").select_option("gwent")
        page.locator("#q").fill("not brought")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("#results")).to_contain_text("reviews found")
        assert_accessible(page, "repository-phone-results")
        page.locator("main .cylch-event a").first.click()
        expect(page.locator("main")).to_contain_text("What the review records")
        assert_accessible(page, "repository-phone-entry")

        page.goto(f"{url}/language/cy/?next=/repository/")
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        assert_accessible(page, "repository-phone-cy")
        page.locator("main .cylch-event a").first.click()
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        assert_accessible(page, "repository-phone-entry-cy")
        assert blocked == []
    finally:
        context.close()

"""A review sub-group member records a referral, reads Cylch's proposal, decides, and records a
key date, in English and Welsh; axe-core checks every page."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.access.roles import Role
from tests import factories
from tests.browser import signin
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD

sign_in = signin.signer(language="en", lands=None)


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
                                   name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None)  # fmt: skip
    board.board_area = fam.places.mid_and_west_wales
    board.save()
    chair = factories.demo_practitioner(username="review.chair", role=Role.REVIEW_PANEL, organisation=board)
    chair.set_password(PASSWORD)
    chair.save()
    factories.event(organisation=fam.orgs.childrens_services, person=fam.alys, code="process.register.registered",
                    occurred_at=factories.at(date(2026, 6, 1)), details={"categories": ["neglect"]})  # fmt: skip
    return live_server.url, fam, chair


def test_referral_proposal_decision_and_timeline(page, hub):
    url, fam, chair = hub
    sign_in(page, url, chair.username)
    page.goto(f"{url}/reviews/")
    assert_accessible(page, "reviews-board")
    page.get_by_role("link", name="Record a referral").click()
    page.locator("[name=child]").fill(str(fam.alys.public_id))
    page.check("input[name=incident][value=potentially_life_threatening_injury]")
    page.locator("[name=incident_on]").fill("15/09/2026")
    page.locator("[name=referred_on]").fill("20/09/2026")
    assert_accessible(page, "reviews-refer")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Extended Child Practice Review")
    assert_accessible(page, "reviews-referral")
    page.locator("[name=reasons]").fill("On the register in the six months before; extended as proposed.")
    page.locator("[name=scope_from]").fill("15/09/2025")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Extended Child Practice Review")
    assert_accessible(page, "reviews-timeline")
    sign_in(page, url, chair.username, "cy")
    page.goto(f"{url}/reviews/")
    expect(page.locator("h1")).to_have_text("Adolygiadau diogelu")
    assert_accessible(page, "reviews-board-cy")


def test_report_checklist_and_recommendations_in_english_and_welsh(page, hub):
    """A panel member writes a section, sees the checklist move, adds a recommendation, and finds
    it in the tracker; every page axe-clean, in English and in Welsh."""
    from cylch.reviews import services
    from cylch.reviews.models import Incident

    url, fam, chair = hub
    referral = services.refer(board_area=fam.places.mid_and_west_wales, child=fam.alys, incident=Incident.DIED,
                              incident_on=date(2026, 9, 15), user=chair, referred_on=date(2026, 9, 20))  # fmt: skip
    review = services.decide(referral, user=chair, review_type="cpr_extended", reasons="Extended, as proposed.",
                             scope_from=date(2025, 9, 15))  # fmt: skip
    sign_in(page, url, chair.username)
    page.goto(f"{url}/reviews/{review.public_id}/report/")
    assert_accessible(page, "review-report")
    page.get_by_role("link", name="Write The child: age and gender").click()
    page.locator("textarea[name=text]").fill("Girl, aged 7.")
    assert_accessible(page, "review-report-section")
    page.get_by_role("button", name="Save section").click()
    expect(page.locator(".govuk-summary-list").nth(1)).to_contain_text("Written")
    page.get_by_role("link", name="Write Family members' perspectives").click()
    page.locator("#r0c0").fill("Mother")
    page.locator("#r0c1").fill("Interview")
    page.locator("#r0c2").fill("Nobody asked how she was coping.")
    assert_accessible(page, "review-report-rows")
    page.get_by_role("button", name="Save section").click()
    page.get_by_role("link", name=re.compile(r"Quality checklist")).click()
    expect(page.locator("main")).to_contain_text("minimum standards met")
    assert_accessible(page, "review-quality")
    page.get_by_role("link", name="Recommendations", exact=True).click()
    page.get_by_role("link", name="Add a recommendation").click()
    page.locator("[name=text]").fill("Health visitors tell the GP of every second missed contact within a week.")
    page.locator("[name=success_measure]").fill("An audit of 20 files shows it done.")
    page.locator("[name=owner_agency]").fill("Hywel Dda University Health Board")
    page.check("input[name=kind][value=operational]")
    page.check("input[name=level][value=regional]")
    page.check("input[name=urgency][value=immediate]")
    page.locator("[name=due_on]").fill("31/03/2027")
    assert_accessible(page, "review-recommendation-new")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main table")).to_contain_text("Hywel Dda University Health Board")
    assert_accessible(page, "review-recommendations")
    page.goto(f"{url}/reviews/recommendations/")
    expect(page.locator("main")).to_contain_text("Health visitors tell the GP")
    assert_accessible(page, "review-tracker")
    sign_in(page, url, chair.username, "cy")
    for path, name in ((f"reviews/{review.public_id}/report/", "review-report-cy"), (f"reviews/{review.public_id}/quality/",
                       "review-quality-cy"), ("reviews/recommendations/", "review-tracker-cy")):  # fmt: skip
        page.goto(f"{url}/{path}")
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        assert_accessible(page, name)


def test_the_welsh_version_of_a_section_and_the_boards_view_of_progress(page, hub):
    """A panel member writes a section in English, then its Welsh version from the link on the
    page; the overview shows it bilingual; the board page gives each review's next step and
    checklist score, and the timeline what to fix before sign-off; axe-clean in both languages."""
    from cylch.reviews import recommendations as tracker
    from cylch.reviews import services
    from cylch.reviews.models import Incident

    url, fam, chair = hub
    referral = services.refer(board_area=fam.places.mid_and_west_wales, child=fam.alys, incident=Incident.DIED,
                              incident_on=date(2026, 9, 15), user=chair, referred_on=date(2026, 9, 20))  # fmt: skip
    review = services.decide(referral, user=chair, review_type="cpr_concise", reasons="Concise, as proposed.",
                             scope_from=date(2025, 9, 15))  # fmt: skip
    rec = tracker.recommendation_add(review, user=chair, text="Health visitors tell the GP of a second missed contact.",
                                     success_measure="Audit of 20 files.", owner_agency="Health board",
                                     kind="operational", level="regional", urgency="immediate", due_on=date(2027, 3, 31))  # fmt: skip
    sign_in(page, url, chair.username)
    page.goto(f"{url}/reviews/{review.public_id}/report/child/")
    page.locator("textarea[name=text]").fill("Girl, aged 7.")
    page.get_by_role("button", name="Save section").click()
    expect(page.locator("main")).to_contain_text("In English only: the Welsh version is still to write")
    page.goto(f"{url}/reviews/{review.public_id}/report/child/")
    page.get_by_role("link", name="Write the Welsh version").click()
    expect(page.locator(".govuk-caption-l")).to_contain_text("Welsh version")
    page.get_by_text("The English version, to translate").click()
    expect(page.locator("main")).to_contain_text("Girl, aged 7.")
    page.locator("textarea[name=text]").fill("Merch, 7 oed.")
    assert_accessible(page, "review-section-welsh")
    page.get_by_role("button", name="Save section").click()
    expect(page.locator("main")).to_contain_text("In English and Welsh")
    page.goto(f"{url}/reviews/recommendations/{rec.public_id}/")
    page.locator("[name=text_cy]").fill("Mae ymwelwyr iechyd yn rhoi gwybod i'r meddyg teulu am ail gyswllt a gollwyd.")
    assert_accessible(page, "review-recommendation-welsh")
    page.get_by_role("button", name="Save the Welsh wording").click()
    expect(page.locator("main")).to_contain_text("Mae ymwelwyr iechyd")
    page.goto(f"{url}/reviews/")
    expect(page.locator("main table").first).to_contain_text("standards to fix")
    expect(page.locator("main table").first).to_contain_text("Next step")
    assert_accessible(page, "reviews-board-progress")
    page.goto(f"{url}/reviews/{review.public_id}/")
    expect(page.locator("#before-sign-off")).to_contain_text("Sign-off waits until each of these")
    assert_accessible(page, "reviews-timeline-before-sign-off")
    sign_in(page, url, chair.username, "cy")
    for path, name in (("reviews/", "reviews-board-progress-cy"), (f"reviews/{review.public_id}/", "reviews-timeline-cy"),
                       (f"reviews/{review.public_id}/report/child/", "review-section-cy")):  # fmt: skip
        page.goto(f"{url}/{path}")
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        assert_accessible(page, name)

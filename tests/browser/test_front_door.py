"""A health visitor reports two siblings in Welsh; the front door decides; the health visitor sees the outcome."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.demo.builder import build
from cylch.reports.models import Report
from tests.browser import signin
from tests.browser.conftest import assert_accessible

sign_in = signin.signer(password="cylch-demo")
# The smallest valid PNG (one transparent pixel) and PDF, as a reporter's photo and letter.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_hub(live_server):
    build(seed=12, persons=150, as_of=date(2026, 11, 1), events_per_person=1, progress=False)
    return live_server.url


def test_report_in_welsh_decide_and_see_the_outcome(page, demo_hub):
    sign_in(page, demo_hub, "health-visitor")
    # The active offer: choose Welsh before anything else.
    page.goto(f"{demo_hub}/report/")
    assert_accessible(page, "10-report-start")
    page.get_by_role("button", name="Parhau yn Gymraeg").click()
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", level=1, name="Rhoi gwybod am bryder am blentyn")).to_be_visible()
    assert_accessible(page, "11-report-form-cy")

    page.locator("#id_child0-given_name").fill("Alys")
    page.locator("#id_child0-family_name").fill("Prydderch")
    page.locator("#id_child0-date_of_birth").fill("03/04/2019")
    page.locator("details").filter(has=page.locator("#id_child1-given_name")).locator("summary").click()
    page.locator("#id_child1-given_name").fill("Twm")
    page.locator("#id_child1-family_name").fill("Prydderch")
    page.locator("#id_local_authority").select_option(label="Caerdydd")
    page.locator("input[name=concern_codes][value='social_care.neglect.concern']").check()
    page.locator("input[name=concern_codes][value='social_care.abuse.physical.concern']").check()
    page.locator("details").filter(has=page.locator("#id_injury0-location")).locator("summary").click()
    page.locator("svg[data-side=front]").click(position={"x": 60, "y": 30})  # the face
    expect(page.locator("#id_injury0-x")).not_to_have_value("")
    page.locator("#id_injury0-location").fill("Boch chwith")
    page.locator("#id_injury0-size").fill("2 cm")
    page.locator("#id_what_happened").fill("Roedd y ddau blentyn yn llwglyd yn y clinig eto heddiw.")
    page.locator("#id_child_words").fill("Does dim bwyd adre.")
    # The file upload's button and status are GOV.UK Frontend's script's, told their words in Welsh.
    upload = page.locator(".govuk-drop-zone")
    expect(upload.get_by_role("button", name="Dewis ffeiliau")).to_be_visible()
    expect(upload).to_contain_text("Dim ffeiliau wedi'u dewis")
    expect(upload).not_to_contain_text("Choose")
    page.locator("input[name=attachments]").set_input_files(
        [
            {"name": "llun.png", "mimeType": "image/png", "buffer": PNG},
            {"name": "nodyn.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )
    expect(upload).to_contain_text("2 o ffeiliau wedi'u dewis")
    page.locator("#id_immediate_danger_no").check()  # "Na" (no)
    page.get_by_role("button", name="Anfon adroddiad").click()

    expect(page.get_by_role("heading", name="Adroddiad wedi'i anfon")).to_be_visible()
    reference = page.locator(".cylch-reference").inner_text().strip()
    report = Report.objects.get(reference=reference)
    assert report.language == "cy" and report.subjects.filter(role="child").count() == 2
    assert sorted(a.original_name for a in report.attachments.all()) == ["llun.png", "nodyn.pdf"]
    assert_accessible(page, "12-report-sent-cy")
    page.get_by_role("link", name="English").click()

    # The front door of Cardiff decides.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, demo_hub, "front-door")
    page.get_by_role("link", name="Front door").click()
    # Out of hours the report is also listed under the emergency duty team: use the main queue.
    queued = page.get_by_role("region", name="Reports to decide").get_by_role("link", name=reference)
    expect(queued).to_be_visible()
    assert_accessible(page, "13-front-door-queue")
    queued.click()
    expect(page.get_by_role("heading", name="What is already known")).to_be_visible()
    expect(page.locator("svg[data-side=front] circle[fill='#d4351c']")).to_have_count(1)  # the injury on the body map
    expect(page.get_by_text("Boch chwith").first).to_be_visible()
    assert_accessible(page, "14-triage")
    page.get_by_label("Early help or family support").check()
    page.get_by_label("Reasons for the decision").fill(
        "Family support team to visit; health visitor to review weight in two weeks."
    )
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded")).to_be_visible()

    # The health visitor finds the outcome.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, demo_hub, "health-visitor")
    page.get_by_role("link", name="My reports").click()
    page.get_by_label("Report reference").fill(reference.replace("-", " ").lower())
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("Early help or family support").first).to_be_visible()
    assert_accessible(page, "15-find-my-report")

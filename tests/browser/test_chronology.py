"""A social worker reads Twm's whole-family chronology, filters and marks it, downloads it,
records and answers Alys's wish, and reads the family network, in English and Welsh."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.events.services import record_event
from cylch.identity.models import AllocationKind
from cylch.identity.services import allocation_create
from tests import factories
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "cylch-demo-pass"


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    sw = fam.staff.social_worker
    sw.set_password(PASSWORD)
    sw.save()
    allocation_create(person=fam.twm, organisation=fam.orgs.childrens_services, practitioner=sw,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=sw,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    now = timezone.now()
    for days in (150, 110, 70):
        record_event(organisation=fam.orgs.gp, code="health.appointment.was_not_brought", person=fam.twm,
                     occurred_at=now - timedelta(days=days), details={"service": "immunisation"},
                     recorded_by=fam.staff.gp, summary="Twm was not brought to his immunisations.")  # fmt: skip
    record_event(organisation=fam.orgs.police, code="police.ppn.domestic_abuse", household=fam.home,
                 occurred_at=now - timedelta(days=40), details=factories.minimal_details("police.ppn.domestic_abuse"),
                 recorded_by=fam.staff.police_officer, summary="Shouting reported by a neighbour; Dafydd left before police arrived.")  # fmt: skip
    record_event(organisation=fam.orgs.school, code="education.attendance.concern", person=fam.alys,
                 occurred_at=now - timedelta(days=20), details=factories.minimal_details("education.attendance.concern"),
                 recorded_by=fam.staff.school_lead, summary="Alys missed 9 days this half term.")  # fmt: skip
    record_event(organisation=fam.orgs.other_la_childrens_services, code="voice.wish.expressed", person=fam.efa,
                 occurred_at=now - timedelta(days=10), details={"topic": "sibling_contact"},
                 recorded_by=fam.staff.other_la_social_worker, summary="I want to see my little brother Twm.")  # fmt: skip
    return live_server.url, fam


def sign_in(page, url, username):
    page.goto(f"{url}/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/search/$"))


def test_whole_family_chronology_voice_and_network(page, hub):
    url, fam = hub
    sign_in(page, url, "gwen.social")
    page.goto(f"{url}/people/{fam.twm.public_id}/")
    page.get_by_role("link", name="Chronology", exact=True).click()
    expect(page.get_by_role("heading", name="Whole-family chronology")).to_be_visible()
    grouped = page.locator("li.cylch-event", has_text="3 ×")
    expect(grouped).to_contain_text("Child not brought")
    expect(page.locator("li.cylch-event", has_text="Efa Morgan")).to_contain_text("I want to see my little brother")
    expect(page.locator("li.cylch-event", has_text="The household")).to_contain_text("Shouting reported")
    assert_accessible(page, "50-chronology")

    page.locator("li.cylch-event", has_text="The household").get_by_role("button", name="Mark as significant").click()
    expect(page.get_by_text("Marked as significant.")).to_be_visible()
    page.get_by_text("Filter the chronology").click()
    page.get_by_label("Significant entries only").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("li.cylch-event")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    body = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert body.lstrip('"').startswith("Exported from Cylch by Gwen Thomas"), body[:120]
    assert "Shouting reported" in body and "immunisations" not in body  # the filter applies to the copy

    page.goto(f"{url}/people/{fam.alys.public_id}/voice/")
    page.get_by_role("button", name="Record what the child said").click()
    page.get_by_label("A wish or feeling that needs an answer").check()
    page.get_by_label("What the child said, in their own words").fill("Dw i eisiau gweld Efa bob penwythnos.")
    page.get_by_label("What the wish is about").select_option("sibling_contact")
    page.locator("#id_seen_alone").check()
    page.get_by_label("Where").select_option("school")
    page.get_by_label("Welsh").check()
    page.locator("#id_advocate_present_2").check()
    page.get_by_role("button", name="Save on the child's record").click()
    expect(page.get_by_text("Saved on the child's record.")).to_be_visible()
    page.get_by_role("link", name=re.compile("Say what was done")).click()
    page.get_by_label("What we did about it").fill("Asked Carmarthenshire to arrange contact.")
    page.get_by_label("Still being looked at: come back to it").check()
    page.locator("#id_child_told").check()
    page.get_by_role("button", name="Save response").click()
    expect(page.get_by_text("Give a date to come back to this wish")).to_have_count(2)  # summary and field
    assert_accessible(page, "51-wish-response-error")
    page.get_by_label("Follow-up date").fill((timezone.localdate() + timedelta(days=14)).strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Save response").click()
    expect(page.get_by_text("Your response is saved with the wish.")).to_be_visible()
    page.get_by_role("link", name="Write the child's story").click()
    page.get_by_label("The child's story").fill("Alys is seven. She loves horses and her little brother Twm, and misses her school friends when she is off.")  # fmt: skip
    page.get_by_role("button", name="Save the story").click()
    expect(page.locator(".cylch-story")).to_contain_text("She loves horses")
    expect(page.locator(".cylch-wish")).to_contain_text("Follow up by")
    assert_accessible(page, "52-voice")
    page.get_by_role("link", name="Record", exact=True).click()
    expect(page.locator(".cylch-story-card")).to_contain_text("Dw i eisiau gweld Efa bob penwythnos.")
    assert_accessible(page, "53-record-opens-with-story")

    page.goto(f"{url}/people/{fam.twm.public_id}/family/")
    expect(page.get_by_role("heading", name="Family network")).to_be_visible()
    expect(page.locator("svg[role=img]")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Efa Morgan")
    assert_accessible(page, "54-family")

    page.get_by_role("link", name="Cymraeg").click()
    expect(page.get_by_role("heading", name="Rhwydwaith y teulu")).to_be_visible()
    assert_accessible(page, "55-family-cy")
    page.goto(f"{url}/people/{fam.twm.public_id}/chronology/")
    expect(page.get_by_role("heading", name="Cronoleg y teulu cyfan")).to_be_visible()
    expect(page.locator("li.cylch-event", has_text="3 ×")).to_contain_text("Plentyn heb ei ddwyn")
    assert_accessible(page, "56-chronology-cy")
    page.goto(f"{url}/people/{fam.alys.public_id}/voice/")
    expect(page.get_by_role("heading", name="Llais y plentyn")).to_be_visible()
    assert_accessible(page, "57-voice-cy")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/people/{fam.twm.public_id}/chronology/")
    assert_accessible(page, "58-chronology-phone-cy")

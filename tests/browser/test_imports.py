"""A health visitor's data manager reads the spec, uploads a CSV with a bad row, sees the line, fixes it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cylch.demo.builder import build
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HEADER = "external_id,code,occurred_at,local_id,given_name,family_name,details.service\n"


@pytest.fixture
def demo_hub(live_server):
    build(seed=13, persons=120, as_of=date(2026, 11, 1), events_per_person=1, progress=False)
    return live_server.url


def test_upload_a_csv_see_problems_by_line_then_store_it(page, demo_hub, tmp_path):
    page.goto(f"{demo_hub}/sign-in/")
    page.get_by_label("Username").fill("health-visitor")
    page.get_by_label("Password").fill("cylch-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/search/$"))
    page.get_by_role("link", name="Imports").click()
    assert_accessible(page, "20-imports")
    page.get_by_role("link", name="Column specification and templates").click()
    expect(page.get_by_role("heading", name="Column specification")).to_be_visible()
    assert_accessible(page, "21-import-spec")

    bad = tmp_path / "hv.csv"
    bad.write_text(HEADER + "HV-1,health.appointment.was_not_brought,2026-10-01 09:30,HV-7,Twm,Prydderch,gp\n"
                   "HV-2,health.appointment.was_not_brought,yesterday,HV-8,Alys,Prydderch,gp\n")  # fmt: skip
    page.goto(f"{demo_hub}/imports/")
    expect(page.locator(".govuk-drop-zone")).to_contain_text("No file chosen")
    page.locator("input[name=file]").set_input_files(str(bad))
    expect(page.get_by_role("button", name="CSV file")).to_contain_text("hv.csv")  # the label names the button
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Nothing was stored")).to_be_visible()
    expect(page.get_by_role("cell", name="occurred_at")).to_be_visible()
    assert_accessible(page, "22-import-rejected")

    bad.write_text(HEADER + "HV-1,health.appointment.was_not_brought,2026-10-01 09:30,HV-7,Twm,Prydderch,gp\n")
    page.goto(f"{demo_hub}/imports/")
    page.locator("input[name=file]").set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Stored")).to_be_visible()
    assert_accessible(page, "23-import-stored")

"""A health visitor sends a second missed appointment for a child the GP knows under another
spelling; the child's lead coordinator sees one alert with both, explained, in English and Welsh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cylch.access.roles import OrganisationKind, Role
from cylch.events.services import record_event
from cylch.identity.models import AllocationKind
from cylch.identity.services import allocation_create
from tests import factories
from tests.browser.conftest import assert_accessible
from tests.browser.signin import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HEADER = "external_id,code,occurred_at,local_id,given_name,family_name,date_of_birth,postcode,details.service\n"


@pytest.fixture
def hub(live_server, settings):
    settings.DEMO_MODE = True
    fam = factories.prydderch_household()
    family_support = factories.organisation(code="teulu-ceredigion", kind=OrganisationKind.THIRD_SECTOR,
                                            name_en="Teulu Ceredigion Family Support", local_authority=fam.places.ceredigion)  # fmt: skip
    lead = factories.demo_practitioner(username="ffion.lead", role=Role.THIRD_SECTOR_WORKER, organisation=family_support,
                                       first_name="Ffion", last_name="Jones", password=PASSWORD)  # fmt: skip
    allocation_create(
        person=fam.twm, organisation=family_support, practitioner=lead, kind=AllocationKind.LEAD_COORDINATOR
    )
    hv = fam.staff.health_visitor
    hv.set_password(PASSWORD)
    hv.save()
    record_event(organisation=fam.orgs.gp, code="health.appointment.was_not_brought", person=fam.twm,
                 occurred_at=timezone.now() - timedelta(days=60), details={"service": "immunisation"},
                 recorded_by=fam.staff.gp, summary="Twm was not brought to his immunisations.")  # fmt: skip
    return live_server.url, fam


def test_second_missed_appointment_reaches_the_lead_coordinator_with_both(page, hub, tmp_path):
    url, _fam = hub
    sign_in(page, url, "nia.hv")
    when = (timezone.localtime() - timedelta(days=3)).strftime("%Y-%m-%d 09:30")
    csv = tmp_path / "clinic.csv"
    csv.write_text(HEADER + f"HVC-1,health.appointment.was_not_brought,{when},HV-CLINIC-9,Tom,Pryderch,2023-05-02,SY23 3ZZ,health_visiting\n")  # fmt: skip
    page.get_by_role("link", name="Imports").click()
    page.locator("input[name=file]").set_input_files(str(csv))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Stored")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, url, "ffion.lead")
    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="My alerts")).to_be_visible()
    page.get_by_role("link", name="Child not brought to health appointments more than once").click()
    expect(page.get_by_role("heading", name="Child not brought to health appointments more than once")).to_be_visible()
    summary = page.locator("main li", has_text="2 × Child not brought to a health appointment")
    expect(summary).to_contain_text("Meddygfa'r Bont")
    expect(summary).to_contain_text("Ceredigion Health Visiting Service")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Rhodri Owen")
    expect(rows.nth(1)).to_contain_text("Nia Hughes")
    assert_accessible(page, "40-alert")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged")).to_be_visible()
    page.get_by_label("Multi-agency meeting arranged").check()
    page.get_by_role("button", name="Record the outcome").click()
    expect(page.get_by_text("Outcome recorded. Everyone")).to_be_visible()
    assert_accessible(page, "41-alert-actioned")

    page.get_by_role("link", name="Cymraeg").click()
    expect(
        page.get_by_role("heading", name="Plentyn heb ei ddwyn i apwyntiadau iechyd fwy nag unwaith")
    ).to_be_visible()
    assert_accessible(page, "42-alert-cy")
    page.goto(f"{url}/alerts/rules/")
    expect(page.get_by_role("heading", name="Rheolau cenedlaethol Cymru")).to_be_visible()
    assert_accessible(page, "43-rules-cy")
    page.goto(f"{url}/alerts/?show=closed")
    assert_accessible(page, "44-my-alerts-cy")

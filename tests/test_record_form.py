"""Recording on the record (issue 5, "where do I log it?"): a practitioner logs one concern or
event about a person from their page, with the code's details as real form fields, and it joins
the chronology and the rules like anything an agency system sends."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import OrganisationKind, Role
from cylch.core import taxonomy
from cylch.events.models import Event, Source
from cylch.events.record_forms import recordable
from cylch.events.services import record_event
from cylch.identity.models import AllocationKind
from cylch.identity.selectors import current_household
from cylch.identity.services import allocation_create
from cylch.rules.models import Alert
from tests import factories

WNB = "health.appointment.was_not_brought"
DNA = "health.appointment.did_not_attend"
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def url(person, code=None):
    base = reverse("events:record", args=[person.public_id])
    return f"{base}?code={code}" if code else base


def today() -> str:
    return timezone.localdate().strftime("%d/%m/%Y")


def token(client, person, code) -> str:
    """The form's token, as the page gives it when shown."""
    response = client.get(url(person, code))
    assert response.status_code == 200, response.content[:300]
    return TOKEN.search(response.content.decode()).group(1)


def post(client, person, code, **fields):
    data = {"token": fields.pop("token", None) or token(client, person, code), "occurred_on": today(),
            "summary": "Not brought to the 27-month review; mother said she forgot.", **fields}  # fmt: skip
    return client.post(url(person, code), data)


def codes_for(user, person):
    return {c.code for c in recordable(organisation=user.organisation, person=person,
                                       household=current_household(person))}  # fmt: skip


# --- what is offered ---------------------------------------------------------------------------


def test_the_list_fits_the_person_and_the_organisation(prydderch, client):
    """A GP sees a child's missed appointment for Alys, not police codes nor an adult's; for Ceri,
    the adult's missed appointment; household codes the GP records for the household."""
    p = prydderch
    alys, ceri = codes_for(p.staff.gp, p.alys), codes_for(p.staff.gp, p.ceri)
    assert WNB in alys and DNA not in alys
    assert DNA in ceri and WNB not in ceri
    assert not any(c.startswith("police.") for c in alys | ceri)
    assert "housing.address.change" in alys  # the GP records a change of address, about the household
    assert not any(c.startswith("process.") for c in alys)  # the statutory process has its own pages
    assert "voice.wish.expressed" not in codes_for(p.staff.school_lead, p.alys)  # the voice form's
    for code in alys | ceri:
        assert OrganisationKind.GP_PRACTICE in taxonomy.get(code).recorded_by

    client.force_login(p.staff.gp)
    page = client.get(url(p.alys)).content.decode()
    assert "Child not brought to a health appointment" in page
    assert "Adult did not attend" not in page and "Police" not in page
    # Grouped by domain, soft concerns first within each and said to be soft.
    health = page[page.index(">Health</h2>") :]
    assert health.index("Soft concerns</h3>") < health.index("Child not brought") < health.index("Other entries</h3>")
    assert health.index("Other entries</h3>") < health.index("Injury or bruising in a non-mobile baby")
    assert "About the whole household" in page
    adult = client.get(url(p.ceri)).content.decode()
    assert "Adult did not attend a health appointment" in adult and "Child not brought" not in adult


def test_nothing_chosen_or_a_code_not_offered_is_named_on_the_list(prydderch, client):
    p = prydderch
    client.force_login(p.staff.gp)
    page = client.get(url(p.alys) + "?code=").content.decode()
    assert "There is a problem" in page and "Choose what you want to record" in page
    page = client.get(url(p.alys, "police.ppn.vulnerability")).content.decode()
    assert "Choose one of the things listed" in page


# --- the form ----------------------------------------------------------------------------------


def test_the_details_are_form_fields_built_from_the_schema(prydderch, client):
    p = prydderch
    client.force_login(p.staff.health_visitor)
    page = client.get(url(p.twm, "health.injury.non_mobile_baby")).content.decode()
    assert '<select class="govuk-select" id="id_details_injury_type"' in page  # 7 values: a select
    assert 'name="details_explanation_given" type="radio" value="yes"' in page  # a boolean: yes or no
    assert 'name="details_age_weeks" type="text"' in page and 'inputmode="decimal"' in page
    assert 'name="details_body_site" type="text"' in page
    page = client.get(url(p.twm, "health.home_visit.no_access")).content.decode()
    assert 'name="details_visit_type" type="radio" value="new_birth"' in page  # 6 values: radios
    assert "Not known" in page
    page = client.get(url(p.twm, "health.child.neglect_indicator")).content.decode()
    assert 'name="details_indicators" type="checkbox"' in page  # a list of values: checkboxes


def test_bad_values_are_named_and_nothing_is_stored(prydderch, client):
    p = prydderch
    client.force_login(p.staff.health_visitor)
    before = Event.objects.count()
    response = post(client, p.twm, "health.injury.non_mobile_baby", details_age_weeks="200",
                    details_injury_type="spaceship", details_explanation_given="perhaps", summary="")  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "Age (weeks): enter 104 or less" in page
    assert "Type of injury: choose one of the options listed" in page or "choose one of the options listed" in page
    assert "choose yes or no" in page
    assert "Write what happened, in your own words" in page
    assert '<a href="#id_details_age_weeks">' in page  # the summary links to the field
    assert Event.objects.count() == before


def test_a_required_detail_is_marked_and_asked_for(prydderch, client):
    """A police notice about the household needs its risk level."""
    p = prydderch
    factories.allocated(p.alys, p.orgs.police)
    client.force_login(p.staff.police_officer)
    page = client.get(url(p.alys, "police.ppn.domestic_abuse")).content.decode()
    assert "(required)" in page and "This is recorded about the whole household" in page
    response = post(client, p.alys, "police.ppn.domestic_abuse")
    assert "give this detail" in response.content.decode()
    assert not Event.objects.filter(code="police.ppn.domestic_abuse").exists()
    response = post(client, p.alys, "police.ppn.domestic_abuse", details_risk_level="standard")
    assert response.status_code == 302
    event = Event.objects.get(code="police.ppn.domestic_abuse")
    assert event.household == p.home and event.person is None
    assert event.details == {"risk_level": "standard"}


def test_a_date_in_the_future_is_refused(prydderch, client):
    p = prydderch
    client.force_login(p.staff.health_visitor)
    tomorrow = (timezone.localdate() + timedelta(days=1)).strftime("%d/%m/%Y")
    response = post(client, p.twm, WNB, occurred_on=tomorrow)
    assert "The date cannot be in the future" in response.content.decode()
    response = post(client, p.twm, WNB, occurred_on="31/02/2026", occurred_time="25:00")
    page = response.content.decode()
    assert "There is no such date: check the day and the month" in page  # written as a date, but none
    assert "Enter the time as hours and minutes" in page
    page = post(client, p.twm, WNB, occurred_on="yesterday").content.decode()
    assert "Enter the date as day/month/year" in page
    assert not Event.objects.filter(code=WNB).exists()


def test_saved_once_on_a_double_submit(prydderch, client):
    p = prydderch
    client.force_login(p.staff.health_visitor)
    form_token = token(client, p.twm, WNB)
    fields = {"token": form_token, "details_service": "health_visiting", "details_rebooked": "no",
              "details_appointment_type": "27-month review"}  # fmt: skip
    first, second = post(client, p.twm, WNB, **fields), post(client, p.twm, WNB, **fields)
    assert first.status_code == second.status_code == 302
    event = Event.objects.get(code=WNB, person=p.twm)
    assert event.external_id.startswith("cylch-web:")
    assert event.details == {"service": "health_visiting", "rebooked": False, "appointment_type": "27-month review"}
    assert AuditEntry.objects.filter(action="write", object_type="event", object_id=str(event.public_id)).count() == 1
    # The same showing of the form sent again with something else is not a second entry.
    third = post(client, p.twm, WNB, **{**fields, "summary": "Something else"})
    assert "already been saved" in third.content.decode()
    assert Event.objects.filter(code=WNB, person=p.twm).count() == 1
    # A token that is not the form's is refused.
    forged = post(client, p.twm, WNB, token="not-a-token")
    assert "This form could not be read" in forged.content.decode()
    assert Event.objects.filter(code=WNB, person=p.twm).count() == 1


def test_the_entry_is_on_the_record_and_in_the_chronology_as_recorded_in_cylch(prydderch, client):
    p = prydderch
    client.force_login(p.staff.health_visitor)
    yesterday = timezone.localdate() - timedelta(days=1)
    response = post(client, p.twm, WNB, details_service="immunisation", occurred_on=yesterday.strftime("%d/%m/%Y"),
                    occurred_time="09:15", sensitivity="special")  # fmt: skip
    assert response["Location"] == reverse("identity:person", args=[p.twm.public_id])
    event = Event.objects.get(code=WNB, person=p.twm)
    assert event.source == Source.WEB and event.get_source_display() == "Recorded in Cylch"
    assert event.recorded_by == p.staff.health_visitor and event.organisation == p.orgs.health_visiting
    assert event.sensitivity == "special"
    assert timezone.localtime(event.occurred_at).strftime("%d %H:%M") == yesterday.strftime("%d 09:15")
    page = client.get(response["Location"]).content.decode()
    assert "Saved on the record: Child not brought to a health appointment." in page
    chronology = client.get(reverse("chronology:chronology", args=[p.twm.public_id])).content.decode()
    assert "mother said she forgot" in chronology


def test_a_second_missed_appointment_raises_the_alert(prydderch, client):
    """A second missed appointment within six months, from another service, raises the alert."""
    p = prydderch
    factories.event(organisation=p.orgs.gp, person=p.twm, code=WNB, details={"service": "gp"},
                    occurred_at=timezone.now() - timedelta(days=40), recorded_by=p.staff.gp)  # fmt: skip
    assert not Alert.objects.filter(rule_id="was-not-brought-repeated").exists()
    client.force_login(p.staff.health_visitor)
    assert post(client, p.twm, WNB, details_service="health_visiting").status_code == 302
    alert = Alert.objects.get(rule_id="was-not-brought-repeated")
    assert list(alert.children.all()) == [p.twm]


def test_a_child_on_the_register_shows_the_notice_after_saving(prydderch, client):
    p = prydderch
    allocation_create(person=p.alys, organisation=p.orgs.childrens_services, practitioner=p.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    record_event(organisation=p.orgs.childrens_services, code="process.register.registered",
                 occurred_at=timezone.now() - timedelta(days=10), person=p.alys, recorded_by=p.staff.social_worker,
                 details=factories.minimal_details("process.register.registered"))  # fmt: skip
    client.force_login(p.staff.gp)
    page = client.get(post(client, p.alys, WNB)["Location"]).content.decode()
    assert "Alys Prydderch is on the child protection register. Their social worker is Gwen Thomas" in page
    # The social worker is not told what they know.
    client.force_login(p.staff.social_worker)
    response = post(client, p.alys, "social_care.neglect.concern")
    assert response.status_code == 302
    assert "child protection register." not in client.get(response["Location"]).content.decode()


# --- who may record ----------------------------------------------------------------------------


def test_the_record_page_offers_it_to_those_who_may(prydderch, client):
    p = prydderch
    client.force_login(p.staff.gp)
    assert "Record something" in client.get(reverse("identity:person", args=[p.alys.public_id])).content.decode()
    client.force_login(p.staff.other_la_social_worker)  # Carmarthenshire: outside Alys's circle
    assert "Record something" not in client.get(reverse("identity:person", args=[p.alys.public_id])).content.decode()


@pytest.mark.parametrize("role", [Role.BOARD_ANALYST, Role.REVIEW_PANEL, Role.ADMIN])
def test_roles_that_open_no_records_get_the_person_pages_answer(prydderch, client, demo_hub, role):
    p = prydderch
    board = factories.organisation(code="mww-board", kind=OrganisationKind.SAFEGUARDING_BOARD)
    org = p.orgs.childrens_services if role == Role.ADMIN else board
    client.force_login(factories.demo_practitioner(username=f"u-{role}", role=role, organisation=org))
    assert client.get(reverse("identity:person", args=[p.alys.public_id])).status_code == 404
    assert client.get(url(p.alys)).status_code == 404
    assert client.post(url(p.alys, WNB), {"occurred_on": today(), "summary": "x"}).status_code == 404
    assert not Event.objects.filter(code=WNB).exists()


def test_someone_outside_the_record_is_refused(prydderch, client):
    p = prydderch
    client.force_login(p.staff.police_officer)  # the police know nothing of Alys
    assert client.get(url(p.alys)).status_code == 403
    response = client.post(url(p.alys, "police.ppn.vulnerability"), {"occurred_on": today(), "summary": "x"})
    assert response.status_code == 403
    assert not Event.objects.filter(person=p.alys, organisation=p.orgs.police).exists()


def test_a_code_the_organisation_does_not_record_is_not_saved(prydderch, client):
    p = prydderch
    client.force_login(p.staff.gp)
    form_token = token(client, p.alys, WNB)
    response = client.post(url(p.alys, "police.ppn.vulnerability"),
                           {"token": form_token, "occurred_on": today(), "summary": "x"})  # fmt: skip
    assert response.status_code == 403
    assert not Event.objects.filter(code="police.ppn.vulnerability").exists()


def test_a_guessed_person_is_not_found(prydderch, client):
    client.force_login(prydderch.staff.gp)
    assert client.get(reverse("events:record", args=["7f000000-0000-4000-8000-000000000000"])).status_code == 404


# --- Welsh -------------------------------------------------------------------------------------


def test_welsh_labels_on_a_welsh_page(prydderch, client):
    p = prydderch
    client.force_login(p.staff.health_visitor)
    client.cookies["cylch_language"] = "cy"
    page = client.get(url(p.twm)).content.decode()
    assert "Plentyn heb ei ddwyn i apwyntiad iechyd" in page and ">Iechyd</h2>" in page
    page = client.get(url(p.twm, WNB)).content.decode()
    assert taxonomy.detail_label("service", "cy") in page
    assert taxonomy.detail_value_label("service", "health_visiting", "cy") in page
    assert "Child not brought" not in page

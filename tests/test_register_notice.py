"""Whoever records something about a child on the child protection register (or looked after) is
told so, with the social worker to contact, wherever they record it: the report form, the child's
voice form, the events API and FHIR (issue 5, item 6; the purpose of the register, RR glossary)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from cylch.events.services import record_event
from cylch.identity.models import AllocationKind
from cylch.identity.services import allocation_create
from cylch.notify.models import Notification
from cylch.reports.models import Report
from tests import factories

NEGLECT = "social_care.neglect.concern"
SENTENCE = "Alys Prydderch is on the child protection register. Their social worker is Gwen Thomas"


@pytest.fixture
def registered(prydderch):
    """Alys on the register with Gwen Thomas allocated; Twm, her brother, on nothing."""
    fam = prydderch
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    record_event(organisation=fam.orgs.childrens_services, code="process.register.registered",
                 occurred_at=timezone.now() - timedelta(days=10), person=fam.alys, recorded_by=fam.staff.social_worker,
                 details=factories.minimal_details("process.register.registered"))  # fmt: skip
    return fam


def _report_about(client, fam, person):
    return client.post(
        f"/report/new/?person={person.public_id}",
        {"concern_codes": [NEGLECT], "what_happened": "Hungry at clinic again.", "immediate_danger": "no"},
    )


def test_a_practitioner_reporting_about_a_child_on_the_register_is_told_who_the_social_worker_is(registered, client):
    fam = registered
    client.force_login(fam.staff.health_visitor)
    response = _report_about(client, fam, fam.alys)
    page = client.get(response["Location"]).content.decode()
    assert SENTENCE in page and "gwen.social@example.cymru" in page and "They have been told" in page
    assert Notification.objects.filter(kind="register_entry", recipient=fam.staff.social_worker).exists()
    # Nobody else holding the reference sees it: not another practitioner, nor someone signed out.
    client.force_login(fam.staff.gp)
    assert "child protection register" not in client.get(response["Location"]).content.decode()
    client.logout()
    assert "child protection register" not in client.get(response["Location"]).content.decode()


def test_no_notice_for_a_child_on_nothing(registered, client):
    fam = registered
    client.force_login(fam.staff.health_visitor)
    response = _report_about(client, fam, fam.twm)
    assert Report.objects.count() == 1
    assert "child protection register" not in client.get(response["Location"]).content.decode()


def test_the_notice_reads_in_welsh(registered, client):
    fam = registered
    client.force_login(fam.staff.health_visitor)
    client.cookies["cylch_language"] = "cy"
    response = _report_about(client, fam, fam.alys)
    page = client.get(response["Location"]).content.decode()
    assert "ar y gofrestr amddiffyn plant" in page and "Gwen Thomas" in page


def test_recording_the_childs_words_shows_the_notice_except_to_the_social_worker(registered, client):
    fam = registered
    data = {"kind": "wish", "words": "I want to see my sister Efa at the weekends", "topic": "sibling_contact",
            "occurred_on": timezone.localdate().strftime("%d/%m/%Y"), "seen_alone": "yes", "location": "school",
            "method": "conversation", "language": "cy", "advocate_present": "no"}  # fmt: skip
    client.force_login(fam.staff.school_lead)
    page = client.post(f"/people/{fam.alys.public_id}/voice/new/", data, follow=True).content.decode()
    assert "Saved on the child" in page and SENTENCE in page
    client.force_login(fam.staff.social_worker)
    page = client.post(f"/people/{fam.alys.public_id}/voice/new/", data, follow=True).content.decode()
    assert "Saved on the child" in page and "child protection register." not in page


def _batch_item(external_id, local_id, **subject):
    return {
        "external_id": external_id, "code": "education.behaviour.change",
        "occurred_at": (timezone.now() - timedelta(hours=2)).isoformat(), "subject": {"local_id": local_id, **subject},
        "details": {}, "summary": "Withdrawn in class",
    }  # fmt: skip


def test_the_events_api_names_the_children_on_the_register_in_its_answer(registered, api_client):
    fam = registered
    alys, twm = fam.alys, fam.twm
    items = [
        _batch_item("SCH-1", "SCH-ALYS", given_name=alys.given_name, family_name=alys.family_name,
                    date_of_birth=alys.date_of_birth.isoformat(), nhs_number=alys.nhs_number),
        _batch_item("SCH-2", "SCH-TWM", given_name=twm.given_name, family_name=twm.family_name,
                    date_of_birth=twm.date_of_birth.isoformat(), nhs_number=twm.nhs_number),
    ]  # fmt: skip
    client = api_client(fam.orgs.school)
    response = client.post("/api/v1/events", data=json.dumps({"events": items}), content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {e["person_id"] for e in body["events"]} == {str(alys.public_id), str(twm.public_id)}
    assert body["register_notices"] == [
        {
            "person_id": str(alys.public_id), "on_register": True, "looked_after": False,
            "social_worker": "Gwen Thomas", "organisation_en": fam.orgs.childrens_services.name_en,
            "organisation_cy": fam.orgs.childrens_services.name_cy, "phone": fam.staff.social_worker.phone
            or fam.orgs.childrens_services.safeguarding_phone, "email": "gwen.social@example.cymru",
        }
    ]  # fmt: skip


def test_fhir_tells_the_health_system_in_its_operation_outcome(registered, api_client):
    fam = registered
    alys = fam.alys
    appointment = {
        "resourceType": "Appointment", "id": "appt-reg-1", "status": "noshow",
        "start": (timezone.now() - timedelta(days=1)).replace(microsecond=0).isoformat(),
        "participant": [{"actor": {"reference": "#p"}, "status": "accepted"}],
        "contained": [{"resourceType": "Patient", "id": "p", "birthDate": alys.date_of_birth.isoformat(),
                       "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": alys.nhs_number}],
                       "name": [{"family": alys.family_name, "given": [alys.given_name]}]}],
    }  # fmt: skip
    client = api_client(fam.orgs.gp)
    response = client.post(
        "/api/v1/fhir/Appointment", data=json.dumps(appointment), content_type="application/fhir+json"
    )
    assert response.status_code == 201, response.content
    info = [i for i in response.json()["issue"] if SENTENCE in i.get("diagnostics", "")]
    assert len(info) == 1 and info[0]["severity"] == "information" and info[0]["expression"] == ["Appointment"]


def test_the_social_worker_of_the_child_protection_process_is_named_and_told(prydderch):
    """The process records its social worker on the episode and, since 2026-12-06, as the child's
    allocated social worker: a child registered through it is not 'without a social worker' (the
    demo's Elis Bevan was)."""
    from cylch.identity.models import Allocation
    from cylch.protection import meetings
    from cylch.protection.models import Decision
    from cylch.rules.register import register_notice
    from tests.test_protection import _to_conference, conference_input, days_ago

    p = prydderch
    chair = factories.demo_practitioner(username="chair.notice", role="conference-chair",
                                        organisation=p.orgs.childrens_services)  # fmt: skip
    episode, icpc = _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    meetings.record_conference(icpc, user=chair, data=conference_input(icpc, held=days_ago(30), decision=Decision.REGISTER))  # fmt: skip
    assert episode.social_worker == p.staff.social_worker
    # Starting the process allocated her; an episode from before that (older data, the demo's
    # history written in bulk) has no allocation, and its social worker is still the one named.
    allocated = Allocation.objects.filter(person=p.alys, kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)
    assert [a.practitioner for a in allocated] == [p.staff.social_worker]
    allocated.delete()
    notice = register_notice(p.alys)
    assert notice.on_register and notice.worker_name == "Gwen Thomas" and notice.worker_id == p.staff.social_worker.pk
    told = Notification.objects.filter(kind="register_entry", recipient=p.staff.social_worker)
    before = told.count()
    record_event(organisation=p.orgs.school, code="education.behaviour.change", occurred_at=timezone.now() - timedelta(hours=1),
                 person=p.alys, details={}, recorded_by=p.staff.school_lead)  # fmt: skip
    assert told.count() == before + 1


def test_a_notice_at_the_home_of_a_child_on_the_register_reaches_the_social_worker(registered):
    """A police domestic-abuse notice is recorded about the household, not the child: the social
    worker of a child on the register who lives there is told all the same."""
    fam = registered
    told = Notification.objects.filter(kind="register_entry", recipient=fam.staff.social_worker)
    before = told.count()
    notice = record_event(organisation=fam.orgs.police, code="police.ppn.domestic_abuse",
                          occurred_at=timezone.now() - timedelta(hours=3), household=fam.home,
                          details={"risk_level": "standard"}, recorded_by=fam.staff.police_officer).event  # fmt: skip
    assert told.count() == before + 1
    assert "household of a child you are responsible for" in told.order_by("-pk").first().body
    assert told.order_by("-pk").first().url == f"/people/{fam.alys.public_id}/"
    assert notice.person is None

"""FHIR intake: a child's no-show is "was not brought", an adult's "did not attend"; bundles are atomic."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from cylch.events.models import Event
from tests import factories
from tests.openapi_check import assert_declared, openapi_document


def patient(pid: str, *, nhs: str, born: str, given: str = "Twm", family: str = "Prydderch") -> dict:
    return {"resourceType": "Patient", "id": pid, "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
            "name": [{"family": family, "given": [given]}], "birthDate": born, "gender": "male"}  # fmt: skip


def appointment(
    aid: str, *, ref: str, status: str = "noshow", start: str = "2026-10-01T09:30:00Z", contained=None
) -> dict:
    data = {"resourceType": "Appointment", "id": aid, "status": status, "start": start, "appointmentType": {"text": "Paediatric review"},
            "participant": [{"actor": {"reference": ref}, "status": "accepted"}]}  # fmt: skip
    if contained:
        data["contained"] = contained
    return data


def post(client, path: str, data) -> tuple[int, dict]:
    response = client.post(f"/api/v1/fhir/{path}", data=json.dumps(data), content_type="application/fhir+json")
    assert response["Content-Type"].startswith("application/fhir+json")
    return response.status_code, response.json()


@pytest.fixture
def hospital(prydderch, api_client):
    return api_client(prydderch.orgs.gp)


def test_a_childs_no_show_is_was_not_brought(prydderch, hospital):
    nhs = prydderch.twm.nhs_number or factories.nhs_number("943476591")
    status, body = post(
        hospital, "Appointment", appointment("A1", ref="#p", contained=[patient("p", nhs=nhs, born="2023-05-03")])
    )
    assert status == 201 and body["resourceType"] == "OperationOutcome"
    event = Event.objects.get(external_id="fhir:Appointment/A1")
    assert event.code == "health.appointment.was_not_brought" and event.details == {
        "appointment_type": "Paediatric review"
    }
    assert event.source == "fhir"
    status, _ = post(
        hospital, "Appointment", appointment("A1", ref="#p", contained=[patient("p", nhs=nhs, born="2023-05-03")])
    )
    assert (
        status == 200 and Event.objects.filter(external_id="fhir:Appointment/A1").count() == 1
    )  # resend stores nothing new


def test_an_adults_no_show_is_did_not_attend(prydderch, hospital):
    status, _ = post(
        hospital,
        "Appointment",
        appointment(
            "A2",
            ref="#p",
            contained=[patient("p", nhs=factories.nhs_number("943476561"), born="1995-02-01", given="Ceri")],
        ),
    )
    assert status == 201
    assert Event.objects.get(external_id="fhir:Appointment/A2").code == "health.appointment.did_not_attend"


def test_a_booked_appointment_records_nothing(prydderch, hospital):
    status, body = post(
        hospital,
        "Appointment",
        appointment(
            "A3",
            ref="#p",
            status="booked",
            contained=[patient("p", nhs=factories.nhs_number("943476561"), born="1995-02-01")],
        ),
    )
    assert status == 200 and body["issue"][0]["severity"] == "information"
    assert not Event.objects.filter(external_id="fhir:Appointment/A3").exists()


def test_a_bundle_is_all_or_nothing_and_errors_name_the_fhir_path(prydderch, hospital):
    good = factories.nhs_number("943476591")
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": patient("p1", nhs=good, born="2023-05-03")},
        {"resource": appointment("B1", ref="urn:uuid:p1")},
        {"resource": appointment("B2", ref="urn:uuid:missing")},
    ]}  # fmt: skip
    status, body = post(hospital, "Bundle", bundle)
    assert status == 422
    assert body["issue"][0]["expression"] == ["Bundle.entry[2].resource.participant"]
    assert not Event.objects.filter(external_id__startswith="fhir:").exists()
    bundle["entry"].pop()
    status, _ = post(hospital, "Bundle", bundle)
    assert (
        status == 201
        and Event.objects.get(external_id="fhir:Appointment/B1").code == "health.appointment.was_not_brought"
    )


def test_invalid_fhir_is_refused_with_an_operation_outcome(prydderch, hospital):
    status, body = post(hospital, "Appointment", appointment("A4", ref="#p", start="yesterday"))
    assert status == 422 and body["issue"][0]["expression"] == ["Appointment.start"]
    bad_nhs = appointment("A5", ref="#p", contained=[patient("p", nhs="1234567890", born="2023-05-03")])
    status, body = post(hospital, "Appointment", bad_nhs)
    assert status == 422 and "nhs_number" in body["issue"][0]["expression"][0]


def test_contained_patients_with_the_same_local_id_stay_different_children(prydderch, hospital):
    """Senders reuse "#p" in every message: it must never make two children one record."""
    alys, twm = prydderch.alys, prydderch.twm
    post(hospital, "Appointment", appointment("A5", ref="#p", contained=[
        patient("p", nhs=alys.nhs_number, born=alys.date_of_birth.isoformat(), given="Alys")]))  # fmt: skip
    post(hospital, "Appointment", appointment("A6", ref="#p", contained=[
        patient("p", nhs=twm.nhs_number, born=twm.date_of_birth.isoformat(), given="Twm")]))  # fmt: skip
    assert Event.objects.get(external_id="fhir:Appointment/A5").person_id == alys.pk
    assert Event.objects.get(external_id="fhir:Appointment/A6").person_id == twm.pk


def test_a_partial_birth_date_is_refused_at_its_path(prydderch, hospital):
    status, body = post(hospital, "Appointment", appointment("A7", ref="#p", contained=[
        patient("p", nhs=prydderch.twm.nhs_number, born="2019")]))  # fmt: skip
    assert status == 422
    assert any("birthDate" in ";".join(i.get("expression", [])) and "not a full date" in i["diagnostics"]
               for i in body["issue"])  # fmt: skip


def test_an_actor_given_by_nhs_number_alone_uses_the_known_birth_date(prydderch, hospital):
    twm = prydderch.twm
    data = appointment("A8", ref="#none")
    data["participant"] = [{"actor": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number",
                                                     "value": twm.nhs_number}}, "status": "accepted"}]  # fmt: skip
    status, body = post(hospital, "Appointment", data)
    assert status == 201, body
    event = Event.objects.get(external_id="fhir:Appointment/A8")
    assert event.person_id == twm.pk and event.code == "health.appointment.was_not_brought"


@pytest.mark.parametrize("resource", ["Appointment", "Bundle"])
def test_every_fhir_answer_is_declared_with_its_content_type(prydderch, hospital, resource):
    """201, 200, 400 and 422, each an OperationOutcome as application/fhir+json, and 401 (schemathesis
    found only 200 declared, without a body)."""
    document = openapi_document(hospital)
    path = f"/api/v1/fhir/{resource}"
    nhs = prydderch.twm.nhs_number
    appt = appointment("D1", ref="#p", contained=[patient("p", nhs=nhs, born="2023-05-03")])
    good = (
        appt
        if resource == "Appointment"
        else {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": appt}]}
    )
    bad = {**good, "resourceType": "Patient"}
    answers = [
        hospital.post(path, data=json.dumps(body), content_type="application/fhir+json") for body in (good, good, bad)
    ]
    answers.append(hospital.post(path, data="{not json", content_type="application/fhir+json"))
    answers.append(Client().post(path, data=json.dumps(good), content_type="application/fhir+json"))
    assert [a.status_code for a in answers] == [201, 200, 422, 400, 401]
    for answer in answers:
        assert_declared(document, "post", path, answer)


@pytest.mark.parametrize("resource_type", [None, {"a": 1}, "Spaceship", "HumanName"])
def test_an_embedded_resource_that_names_no_resource_type_is_refused_at_its_path(prydderch, hospital, resource_type):
    """Found by fuzzing: fhir.resources raised TypeError or KeyError (a server error) for a
    contained or Bundle resource whose resourceType is not a resource's name."""
    contained = {**patient("p", nhs=prydderch.twm.nhs_number, born="2023-05-03"), "resourceType": resource_type}
    status, body = post(hospital, "Appointment", appointment("R1", ref="#p", contained=[contained]))
    assert status == 422 and body["issue"][0]["expression"] == ["Appointment.contained[0].resourceType"]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": contained}]}
    status, body = post(hospital, "Bundle", bundle)
    assert status == 422 and body["issue"][0]["expression"] == ["Bundle.entry[0].resource.resourceType"]
    assert not Event.objects.exists()


def test_a_body_nested_too_deep_is_a_400_not_a_server_error(prydderch, hospital):
    """Found by fuzzing: JSON nested about a thousand deep raised RecursionError out of the parser."""
    document = openapi_document(hospital)
    deep = '{"resourceType": "Appointment", "contained": ' + "[" * 3000 + "]" * 3000 + "}"
    nested = {"resourceType": "Appointment", "note": [{"text": "x"}]}
    for _ in range(100):
        nested = {"resourceType": "Appointment", "contained": [nested]}
    for body in ("[" * 100_000, deep, json.dumps(nested)):
        response = hospital.post("/api/v1/fhir/Appointment", data=body, content_type="application/fhir+json")
        assert response.status_code == 400
        assert_declared(document, "post", "/api/v1/fhir/Appointment", response)
    assert not Event.objects.exists()


def test_a_null_among_given_names_or_address_lines_is_skipped_not_a_server_error(prydderch, hospital):
    """Found by fuzzing: FHIR allows a null in a list of strings (its extension goes alongside),
    and joining the names raised TypeError."""
    contained = patient("p", nhs=prydderch.twm.nhs_number, born="2023-05-03")
    contained["name"][0]["given"] = [None, "Twm"]
    contained["address"] = [{"line": ["4 Maes y Felin", None], "postalCode": "SY23 3ZZ"}]
    status, body = post(hospital, "Appointment", appointment("N1", ref="#p", contained=[contained]))
    assert status == 201, body
    assert Event.objects.get(external_id="fhir:Appointment/N1").person_id == prydderch.twm.pk


def test_a_nul_character_is_refused_at_its_fhir_path(prydderch, hospital):
    """Found by fuzzing on PostgreSQL: an NHS number with a NUL (a FHIR string may hold one)
    reached a query and raised a DataError, a server error."""
    data = appointment("NUL1", ref="#p")
    data["participant"][0]["actor"] = {
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "943\x00"}
    }
    status, body = post(hospital, "Appointment", data)
    assert status == 422
    assert body["issue"][0]["expression"] == ["Appointment.participant[0].actor.identifier.value"]
    assert "NUL" in body["issue"][0]["diagnostics"]
    assert not Event.objects.exists()

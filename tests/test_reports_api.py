"""POST /api/v1/reports and GET /api/v1/reports/{reference}."""

from __future__ import annotations

import json

from cylch.events.models import Event
from cylch.reports.models import Report
from cylch.reports.reference import is_valid
from tests.openapi_check import assert_declared, openapi_document


def body(**overrides):
    data = {
        "external_id": "SCH-2026-0042",
        "children": [
            {"given_name": "Alys", "family_name": "Prydderch", "date_of_birth": "2019-04-03"},
            {"given_name": "Gethin", "family_name": "Prydderch"},
        ],
        "concern_codes": ["social_care.neglect.concern"],
        "what_happened": "Both children arrived hungry every day this week.",
        "local_authority": "ceredigion",
        "language": "cy",
    }
    data.update(overrides)
    return data


def post(client, data):
    return client.post("/api/v1/reports", data=json.dumps(data), content_type="application/json")


def test_a_report_from_a_school_system_is_stored_once_however_often_it_is_sent(prydderch, api_client):
    """The first send creates (201) with a valid reference; the same external id again returns it (200)."""
    client = api_client(prydderch.orgs.school)
    first = post(client, body())
    assert first.status_code == 201, first.content
    reference = first.json()["reference"]
    assert is_valid(reference)
    again = post(client, body())
    assert again.status_code == 200 and again.json()["reference"] == reference
    assert Report.objects.filter(external_id="SCH-2026-0042").count() == 1
    report = Report.objects.get(reference=reference)
    assert report.local_authority.code == "ceredigion" and report.subjects.filter(role="child").count() == 2
    assert (
        Event.objects.filter(code="process.report.received", external_id__startswith=f"report:{reference}:").count()
        == 2
    )


def test_a_bad_report_stores_nothing_and_says_where(prydderch, api_client):
    """An unknown concern code or local authority is named; nothing is stored."""
    client = api_client(prydderch.orgs.school)
    bad_code = post(client, body(concern_codes=["social_care.made_up"]))
    assert bad_code.status_code == 422
    assert bad_code.json()["errors"][0]["field"] == "concern_codes"
    bad_la = post(client, body(local_authority="atlantis"))
    assert bad_la.status_code == 422 and bad_la.json()["errors"][0]["field"] == "local_authority"
    bad_nhs = post(client, body(children=[{"given_name": "Twm", "nhs_number": "1234567890"}]))
    assert bad_nhs.status_code == 422 and bad_nhs.json()["errors"][0]["field"] == "children.0.nhs_number"
    assert Report.objects.count() == 0


def test_status_is_for_the_reporting_organisation_only(prydderch, api_client):
    """The school sees its report's status; the police system gets 404 for it; no token, 401."""
    reference = post(api_client(prydderch.orgs.school), body()).json()["reference"]
    mine = api_client(prydderch.orgs.school).get(f"/api/v1/reports/{reference}")
    assert mine.status_code == 200 and mine.json()["status"] == "received"
    assert api_client(prydderch.orgs.police).get(f"/api/v1/reports/{reference}").status_code == 404
    from django.test import Client

    assert Client().get(f"/api/v1/reports/{reference}").status_code == 401


def test_a_report_the_schema_refuses_is_named_in_the_declared_shape(prydderch, api_client):
    """No children and a body that is not JSON: 422 naming ``children`` and a 400, both declared."""
    client = api_client(prydderch.orgs.school)
    document = openapi_document(client)
    response = post(client, body(children=[]))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "children"
    assert_declared(document, "post", "/api/v1/reports", response)
    unreadable = client.post("/api/v1/reports", data="[", content_type="application/json")
    assert unreadable.status_code == 400
    assert_declared(document, "post", "/api/v1/reports", unreadable)
    assert Report.objects.count() == 0


def test_a_character_that_is_not_text_in_a_report_is_refused_naming_the_field(prydderch, api_client):
    """Found by schemathesis on PostgreSQL: a NUL in any field (or in the reference asked for)
    raised a DataError, a server error; half a UTF-16 pair (JSON can carry one) could not be
    written as UTF-8 on any database."""
    client = api_client(prydderch.orgs.school)
    document = openapi_document(client)
    response = post(client, body(children=[{"given_name": "Al\x00ys"}], external_id="SCH-\x00"))
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"external_id", "children.0.given_name"}
    assert_declared(document, "post", "/api/v1/reports", response)
    surrogate = post(client, body(what_happened="Hungry \udc00"))
    assert surrogate.status_code == 422 and surrogate.json()["errors"][0]["field"] == "what_happened"
    status = client.get("/api/v1/reports/R%00")
    assert status.status_code == 422 and status.json()["errors"][0]["field"] == "reference"
    assert_declared(document, "get", "/api/v1/reports/{reference}", status)
    assert Report.objects.count() == 0


def test_a_report_sent_again_past_the_apis_look_is_told_already_stored(prydderch):
    """A resend that got past the API's look for its external id (racing its original, as in
    tests/test_faults.py) is given the stored report marked as already stored, so the API
    answers 200, not 201 Created."""
    from cylch.reports.models import Channel
    from cylch.reports.services import SubjectIn, report_submit

    sent = dict(channel=Channel.API, children=[SubjectIn(given_name="Alys", family_name="Prydderch")],
                concern_codes=["social_care.neglect.concern"], what_happened="Hungry again this week.",
                maker_organisation=prydderch.orgs.school, external_id="SCH-RACE-1")  # fmt: skip
    first = report_submit(**sent)
    second = report_submit(**sent)
    assert second.pk == first.pk and second.already_stored and not getattr(first, "already_stored", False)
    assert Report.objects.filter(external_id="SCH-RACE-1").count() == 1

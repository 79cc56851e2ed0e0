"""The agency API: idempotent, all-or-nothing event batches, deterministic linkage, and an
access-checked, audited person read. Through the real URLs, with real bearer tokens."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from jsonschema import Draft202012Validator

from cylch.access.models import ApiToken, AuditEntry
from cylch.access.services import api_token_create
from cylch.events.models import Event
from cylch.identity.models import AgencyRecord, LinkMethod, Person, PersonLink
from tests import factories
from tests.openapi_check import assert_declared, openapi_document

EVENTS_URL = "/api/v1/events"


def item(
    external_id: str,
    *,
    local_id: str = "GP-1004",
    code: str = "health.appointment.was_not_brought",
    occurred_at: str = "2026-10-12T09:00:00Z",
    subject: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    summary: str = "Not brought to the 18-month review",
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "code": code,
        "occurred_at": occurred_at,
        "subject": {"local_id": local_id, **(subject or {})},
        "details": {"service": "health_visiting", "rebooked": True} if details is None else details,
        "summary": summary,
        "recorder": {"name": "Nia Hughes", "role": "Health visitor", "contact": "01970 000000"},
    }


def post(client: Client, events: list[dict[str, Any]]):
    return client.post(EVENTS_URL, data=json.dumps({"events": events}), content_type="application/json")


def counts() -> dict[str, int]:
    return {
        "events": Event.objects.count(),
        "records": AgencyRecord.objects.count(),
        "persons": Person.objects.count(),
        "links": PersonLink.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


@pytest.fixture
def openapi(client) -> dict[str, Any]:
    return openapi_document(client)


def test_the_published_schema_declares_each_fhir_status_once(openapi):
    """The FHIR operations declare their responses by hand beside ninja's own: each status is one
    key (a "200" beside ninja's 200 made the document unreadable to Swagger UI)."""
    for path in ("/api/v1/fhir/Appointment", "/api/v1/fhir/Bundle"):
        responses = openapi["paths"][path]["post"]["responses"]
        assert sorted(responses) == ["200", "201", "400", "401", "422"]
        assert "application/fhir+json" in responses["200"]["content"]


def matches_schema(openapi: dict[str, Any], name: str, body: Any) -> None:
    """The response body validates against the named component of the published schema."""
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": openapi["components"]})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


# --- idempotency ----------------------------------------------------------------------


def test_the_same_batch_sent_twice_is_stored_once(prydderch, api_client, openapi):
    """The GP system sends three events; sending the identical batch again stores nothing new and
    answers "unchanged" for each, with the same ids."""
    client = api_client(prydderch.orgs.gp)
    batch = [
        item("GP-EV-1", local_id="GP-1004"),
        item("GP-EV-2", local_id="GP-1003", occurred_at="2026-10-13T14:30:00+01:00"),
        item(
            "GP-EV-3",
            local_id="GP-1001",
            code="health.appointment.did_not_attend",
            details={"service": "antenatal", "pregnant": True},
            summary="Missed antenatal appointment",
        ),
    ]
    first = post(client, batch)
    assert first.status_code == 200, first.content
    body = first.json()
    matches_schema(openapi, "BatchOut", body)
    assert (body["created"], body["unchanged"], body["new_persons"]) == (3, 0, 0)
    assert [row["status"] for row in body["events"]] == ["created"] * 3
    assert [row["person_id"] for row in body["events"]] == [
        str(prydderch.twm.public_id),
        str(prydderch.alys.public_id),
        str(prydderch.ceri.public_id),
    ]
    stored = counts()

    second = post(client, batch)
    assert second.status_code == 200, second.content
    again = second.json()
    assert (again["created"], again["unchanged"]) == (0, 3)
    assert [row["status"] for row in again["events"]] == ["unchanged"] * 3
    assert [row["id"] for row in again["events"]] == [row["id"] for row in body["events"]]
    assert {k: v for k, v in counts().items() if k != "audit"} == {k: v for k, v in stored.items() if k != "audit"}

    event = Event.objects.get(external_id="GP-EV-1")
    assert event.organisation == prydderch.orgs.gp and event.source == "api" and event.sensitivity == "health"
    assert event.household == prydderch.home  # filled in from where Twm lives
    assert event.recorder_name == "Nia Hughes" and event.details == {"service": "health_visiting", "rebooked": True}


def test_a_resend_with_the_same_moment_in_another_time_zone_is_still_a_resend(prydderch, api_client):
    """09:00 UTC and 10:00 BST are the same moment: a system that changes how it writes times
    does not turn a resend into a clash."""
    client = api_client(prydderch.orgs.gp)
    assert post(client, [item("GP-EV-TZ", occurred_at="2026-10-12T09:00:00Z")]).status_code == 200
    again = post(client, [item("GP-EV-TZ", occurred_at="2026-10-12T10:00:00+01:00")])
    assert again.status_code == 200, again.content
    assert again.json()["events"][0]["status"] == "unchanged"


def test_reusing_an_external_id_for_different_content_is_refused(prydderch, api_client):
    """Sending GP-EV-1 again with a different summary is a clash, not an update: 422 naming the
    item and ``external_id``, and the stored event is unchanged."""
    client = api_client(prydderch.orgs.gp)
    assert post(client, [item("GP-EV-1")]).status_code == 200
    before = counts()
    clash = post(client, [item("GP-EV-1", summary="Something else entirely")])
    assert clash.status_code == 422
    errors = clash.json()["errors"]
    assert [(e["item"], e["field"]) for e in errors] == [(0, "external_id")]
    assert "supersedes" in errors[0]["message"]
    assert counts() == before
    assert Event.objects.get(external_id="GP-EV-1").summary == "Not brought to the 18-month review"


def test_another_organisation_may_use_the_same_external_id(prydderch, api_client):
    """External ids are unique per organisation, not globally."""
    assert post(api_client(prydderch.orgs.gp), [item("EV-1")]).status_code == 200
    response = post(api_client(prydderch.orgs.health_visiting), [item("EV-1", local_id="HV-77-TWM")])
    assert response.status_code == 200, response.content
    assert Event.objects.filter(external_id="EV-1").count() == 2


def test_a_family_name_that_folds_longer_than_its_column_is_stored_and_found_again(prydderch, api_client):
    """Folding can lengthen a name ("ﬃ" is "ffi"): the surname key is cut to its column, so
    PostgreSQL stores it (it raised a DataError, found by fuzzing) and a resend finds it again."""
    name = "ﬃ" * 40  # 40 characters, 120 once folded
    subject = {"given_name": "Ceri", "family_name": name, "date_of_birth": "2019-03-04", "sex": "female"}
    client = api_client(prydderch.orgs.gp)
    assert post(client, [item("EV-LONG-1", local_id="GP-LONG", subject=subject)]).status_code == 200
    record = AgencyRecord.objects.get(local_id="GP-LONG")
    assert record.family_name == name and record.surname_key == "ffi" * 33 + "f"
    again = post(api_client(prydderch.orgs.health_visiting), [item("EV-LONG-2", local_id="HV-LONG", subject=subject)])
    assert again.status_code == 200, again.content
    assert AgencyRecord.objects.get(local_id="HV-LONG").surname_key == record.surname_key


# --- all or nothing -----------------------------------------------------------------------

BAD_ITEMS = {
    "unknown code": ({"code": "health.appointment.was_not_brougt"}, "code"),
    "details outside the schema": ({"details": {"service": "spaceship"}}, "details.service"),
    "details with an unknown field": ({"details": {"colour": "blue"}}, "details.colour"),
    "mistyped NHS number": ({"subject": {"nhs_number": "9434765871"}}, "subject.nhs_number"),
    "not a date": ({"occurred_at": "12/10/2026 9am"}, "occurred_at"),
    "an impossible date": ({"occurred_at": "2026-02-30T09:00:00Z"}, "occurred_at"),
    "in the future": ({"occurred_at": "2099-01-01T09:00:00Z"}, "occurred_at"),
    "impossible date of birth": ({"subject": {"date_of_birth": "2019-02-30"}}, "subject.date_of_birth"),
    "raising sensitivity to something other than special": ({"sensitivity": "housing"}, "sensitivity"),
    # Found by fuzzing: on PostgreSQL a NUL raised a DataError, a server error.
    "a NUL in the summary": ({"summary": "Not\x00 brought"}, "summary"),
    "a NUL in a name": ({"subject": {"family_name": "Pryd\x00derch"}}, "subject.family_name"),
    "a NUL in a detail": ({"details": {"service": "gp", "appointment_type": "Review\x00"}}, "details.appointment_type"),
    # Found by fuzzing: JSON can carry half of a UTF-16 pair, which cannot be written as UTF-8.
    "half a UTF-16 pair in the summary": ({"summary": "Not brought \ud800"}, "summary"),
    # Found by fuzzing: on PostgreSQL text longer than its column raised a DataError; SQLite kept it.
    "a name longer than its column": ({"subject": {"given_name": "N" * 101}}, "subject.given_name"),
    "a postcode longer than its column": ({"subject": {"postcode": "not a postcode at all"}}, "subject.postcode"),
    "a local id longer than its column": ({"subject": {"local_id": "L" * 65}}, "subject.local_id"),
    "an external id longer than its column": ({"external_id": "E" * 121}, "external_id"),
}


@pytest.mark.parametrize("problem", list(BAD_ITEMS))
def test_one_bad_item_stores_nothing_and_is_named(prydderch, api_client, openapi, problem):
    """A batch of three whose middle item is bad: 422, the error names item 1 and the field, and
    nothing at all is stored: no event, agency record, person, link or audit entry, not even
    for the good items (the first of which would have created a new person)."""
    change, field = BAD_ITEMS[problem]
    bad = item("GP-EV-BAD", local_id="GP-9002")
    for key, value in change.items():
        bad[key] = {**bad[key], **value} if key == "subject" else value
    batch = [
        item(
            "GP-EV-NEW",
            local_id="GP-9001",
            subject={"given_name": "Nel", "family_name": "Rowlands", "nhs_number": factories.nhs_number("943476564")},
        ),
        bad,
        item("GP-EV-OK", local_id="GP-1004"),
    ]
    client = api_client(prydderch.orgs.gp)
    before = counts()
    response = post(client, batch)
    assert response.status_code == 422, response.content
    body = response.json()
    matches_schema(openapi, "BatchErrorOut", body)
    assert {(e["item"], e["field"]) for e in body["errors"]} == {(1, field)}
    assert counts() == before
    assert not Person.objects.filter(family_name="Rowlands").exists()


@pytest.mark.parametrize(
    ("where", "field"),
    [(None, "events.1.sensitivty"), ("subject", "events.1.subject.postcdoe"), ("recorder", "events.1.recorder.phone")],
)
def test_a_field_the_api_does_not_know_is_refused_by_name(prydderch, api_client, openapi, where, field):
    """A misspelt field was ignored: "sensitivty" left the event at its code's own class."""
    bad = item("GP-EV-MISSPELT")
    name = field.rsplit(".", 1)[1]
    if where is None:
        bad[name] = "special"
    else:
        bad[where] = {**bad[where], name: "x"}
    client = api_client(prydderch.orgs.gp)
    before = counts()
    response = post(client, [item("GP-EV-FINE", local_id="GP-9001"), bad])
    assert response.status_code == 422, response.content
    matches_schema(openapi, "RequestErrorOut", response.json())
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert counts() == before


def test_every_bad_item_is_named_in_one_answer(prydderch, api_client):
    """Two bad items in a batch of three: both are reported, so the sender fixes them in one go."""
    batch = [
        item("A", code="not.a.code"),
        item("B"),
        item("C", subject={"nhs_number": "123"}, occurred_at="yesterday"),
    ]
    response = post(api_client(prydderch.orgs.gp), batch)
    assert response.status_code == 422
    assert {(e["item"], e["field"]) for e in response.json()["errors"]} == {
        (0, "code"),
        (2, "occurred_at"),
        (2, "subject.nhs_number"),
    }
    assert not Event.objects.exists()


def test_an_external_id_repeated_within_a_batch_is_refused(prydderch, api_client):
    """The same external id twice in one batch names the second occurrence."""
    response = post(api_client(prydderch.orgs.gp), [item("X1"), item("X1", local_id="GP-1003")])
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["item"], e["field"]) for e in errors] == [(1, "external_id")]
    assert "item 0" in errors[0]["message"]
    assert not Event.objects.exists()


# --- linkage --------------------------------------------------------------------------


def test_two_organisations_with_the_same_nhs_number_land_on_one_person(prydderch, api_client):
    """The GP registers a new baby; the health visitor sends the same NHS number with another
    spelling under its own id: one person, two agency records, the second linked by NHS number."""
    nhs = factories.nhs_number("943476566")
    gp = post(
        api_client(prydderch.orgs.gp),
        [
            item(
                "GP-NEW-1",
                local_id="GP-7001",
                subject={
                    "given_name": "Gethin",
                    "family_name": "Prydderch",
                    "date_of_birth": "2026-09-30",
                    "nhs_number": nhs,
                },
            )
        ],
    )
    assert gp.status_code == 200 and gp.json()["new_persons"] == 1
    hv = post(
        api_client(prydderch.orgs.health_visiting),
        [
            item(
                "HV-NEW-1",
                local_id="HV-88",
                subject={
                    "given_name": "Gethyn",
                    "family_name": "Prydderch",
                    "nhs_number": f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}",
                },
            )
        ],
    )
    assert hv.status_code == 200, hv.content
    assert hv.json()["new_persons"] == 0
    assert hv.json()["events"][0]["person_id"] == gp.json()["events"][0]["person_id"]
    person = Person.objects.get(nhs_number=nhs)
    assert {
        link.agency_record.organisation.code: link.method
        for link in person.links.select_related("agency_record__organisation")
    } == {
        "meddygfa-r-bont": LinkMethod.NEW_PERSON,
        "ceredigion-health-visiting": LinkMethod.NHS_NUMBER,
    }
    assert {"gethin", "gethyn"} <= set(person.search_name.split())


def test_a_known_nhs_number_from_a_new_organisation_links_to_the_existing_child(prydderch, api_client):
    """The police send Twm's NHS number under their own reference: the event lands on Twm."""
    response = post(
        api_client(prydderch.orgs.police),
        [
            item(
                "DPP-PPN-1",
                local_id="DPP-44",
                code="police.ppn.vulnerability",
                details={},
                subject={"nhs_number": "9434765870"},
            )
        ],
    )
    assert response.status_code == 200, response.content
    assert response.json()["events"][0]["person_id"] == str(prydderch.twm.public_id)


# --- authentication ----------------------------------------------------------------------


def test_no_token_a_wrong_token_or_a_revoked_token_is_refused(prydderch, client, api_client):
    """401 without a bearer token, with a made-up one, and with a revoked one; nothing is stored."""
    assert post(client, [item("U1")]).status_code == 401
    assert client.get(f"/api/v1/persons/{prydderch.alys.public_id}").status_code == 401
    forged = client.post(
        EVENTS_URL,
        data=json.dumps({"events": [item("U2")]}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer cylch_deadbeef_not-the-secret",
    )
    assert forged.status_code == 401
    gp = api_client(prydderch.orgs.gp)
    ApiToken.objects.update(revoked_at=timezone.now())
    assert post(gp, [item("U3")]).status_code == 401
    assert not Event.objects.exists()


def test_a_token_is_stored_only_as_a_hash(prydderch):
    """The plain token is returned once; the database holds its prefix and a SHA-256 hash."""
    token, plain = api_token_create(organisation=prydderch.orgs.gp, name="GP system")
    scheme, prefix, secret = plain.split("_", 2)
    assert scheme == "cylch" and prefix == token.prefix
    assert secret not in token.secret_hash and len(token.secret_hash) == 64


# --- reading a person ---------------------------------------------------------------------


@pytest.fixture
def twm_events(prydderch):
    """An entry about Twm from the GP (with details) and one from the school."""
    gp_event = factories.event(
        organisation=prydderch.orgs.gp,
        person=prydderch.twm,
        code="health.appointment.was_not_brought",
        details={"service": "gp", "rebooked": False},
        summary="Not brought to the GP",
        recorded_by=prydderch.staff.gp,
    )
    school_event = factories.event(
        organisation=prydderch.orgs.school,
        person=prydderch.twm,
        code=factories.code_with_sensitivity("education"),
        summary="Concern raised by nursery class",
        occurred_at=factories.at("2026-10-20"),
    )
    return gp_event, school_event


def test_an_organisation_with_no_relationship_gets_withheld_entries_and_no_names(
    prydderch, api_client, openapi, twm_events
):
    """Tai Teifi's system reads Twm: it learns that entries exist, who holds them and when, but
    no codes, summaries, details, names, date of birth or NHS number; the read is audited."""
    response = api_client(prydderch.orgs.housing, name="Housing system").get(
        f"/api/v1/persons/{prydderch.twm.public_id}"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    matches_schema(openapi, "PersonOut", body)
    assert body["relationship"] == "none"
    assert body["given_name"] is body["family_name"] is body["date_of_birth"] is body["nhs_number"] is None
    assert len(body["events"]) == 2
    for entry in body["events"]:
        assert entry["withheld"] is True and entry["level"] == "E" and entry["code"] is None
        assert entry["summary"] is None and entry["details"] is None and entry["recorder_name"] is None
    assert {e["organisation"] for e in body["events"]} == {"meddygfa-r-bont", "ysgol-glan-y-mor"}
    assert "Twm" not in response.content.decode() and "9434765870" not in response.content.decode()

    read = AuditEntry.objects.filter(action="read").latest("seq")
    assert read.object_type == "person" and read.object_id == str(prydderch.twm.public_id)
    assert read.organisation_code == "tai-teifi" and read.actor_label == "tai-teifi system (Housing system)"
    assert read.detail == {"relationship": "none"}


def test_an_involved_organisation_sees_names_and_its_own_entries_in_full(prydderch, api_client, openapi, twm_events):
    """The GP's system reads Twm: names and NHS number, its own entry with details, and the
    school's entry at the level the table gives a system (summary: code, no narrative)."""
    gp_event, school_event = twm_events
    response = api_client(prydderch.orgs.gp).get(f"/api/v1/persons/{prydderch.twm.public_id}")
    body = response.json()
    matches_schema(openapi, "PersonOut", body)
    assert body["relationship"] == "involved"
    assert (body["given_name"], body["family_name"], body["nhs_number"]) == ("Twm", "Prydderch", "9434765870")
    by_id = {e["id"]: e for e in body["events"]}
    own = by_id[str(gp_event.public_id)]
    assert own["level"] == "C" and own["details"] == {"service": "gp", "rebooked": False}
    assert own["summary"] == "Not brought to the GP" and own["recorder_name"] == "Rhodri Owen"
    other = by_id[str(school_event.public_id)]
    assert other["level"] == "S" and other["code"] == school_event.code
    assert other["summary"] is None and other["details"] is None


def test_an_unknown_person_is_a_plain_404(prydderch, api_client):
    """An id that does not exist gets the same answer as one the organisation may not open."""
    response = api_client(prydderch.orgs.gp).get(f"/api/v1/persons/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No person with that id is available to your organisation."}


# --- schema and health ---------------------------------------------------------------


def test_the_openapi_schema_renders_and_lists_both_operations(openapi):
    """The published schema names POST /api/v1/events and GET /api/v1/persons/{person_id}, with bearer auth."""
    assert openapi["openapi"].startswith("3.")
    assert "post" in openapi["paths"]["/api/v1/events"]
    assert "get" in openapi["paths"]["/api/v1/persons/{person_id}"]
    assert openapi["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    Draft202012Validator.check_schema({"$ref": "#/components/schemas/BatchIn", "components": openapi["components"]})


def test_the_health_check_reports_the_database(db, client):
    """``/healthz`` answers without signing in and says the database is reachable."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response["Cache-Control"] and "no-cache" in response["Cache-Control"]


def test_resending_a_batch_does_not_fetch_each_person_separately(prydderch, api_client):
    """Answering "unchanged" for 20 events loads each event with its person, not person by person."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_client(prydderch.orgs.gp)
    batch = [item(f"GP-Q-{i}", local_id="GP-1004") for i in range(20)]
    assert post(client, batch).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert post(client, batch).json()["unchanged"] == 20
    lone_person_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "identity_person"') and "LIMIT 21" in q["sql"]
    ]
    assert lone_person_reads == []


def test_a_batch_the_schema_refuses_names_each_field_in_the_declared_shape(prydderch, api_client):
    """An item without a subject and another whose code is not a string: 422 naming
    events.0.subject and events.1.code in the shape the operation declares (schemathesis found
    pydantic's own list, declared nowhere); a body that is not JSON is a declared 400. Nothing
    is stored."""
    client = api_client(prydderch.orgs.gp)
    document = openapi_document(client)
    first, second = item("GP-EV-1"), item("GP-EV-2")
    del first["subject"]
    second["code"] = 3
    before = counts()
    response = post(client, [first, second])
    assert response.status_code == 422
    assert_declared(document, "post", EVENTS_URL, response)
    assert {e["field"] for e in response.json()["errors"]} == {"events.0.subject", "events.1.code"}
    unreadable = client.post(EVENTS_URL, data="{not json", content_type="application/json")
    assert unreadable.status_code == 400
    assert_declared(document, "post", EVENTS_URL, unreadable)
    assert counts() == before


def test_a_person_id_that_is_not_a_uuid_is_a_declared_422_naming_it(prydderch, api_client):
    client = api_client(prydderch.orgs.gp)
    response = client.get("/api/v1/persons/not-a-uuid")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "person_id"
    assert_declared(openapi_document(client), "get", "/api/v1/persons/{person_id}", response)

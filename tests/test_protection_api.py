"""GET /api/v1/persons/{id}/protection: status, plan and next statutory dates for the systems
of organisations that know the child; 404 for anyone else; audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.protection.models import DueKind, MeetingKind
from tests import factories
from tests.openapi_check import assert_declared, openapi_document
from tests.test_protection_documents import build_registered

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(prydderch, settings):
    settings.CYLCH_CHILD_INVITE_AGE = 18
    chair = factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                        organisation=prydderch.orgs.childrens_services, first_name="Menna",
                                        last_name="Huws")  # fmt: skip
    return build_registered(prydderch, chair)


def url(person) -> str:
    return f"/api/v1/persons/{person.public_id}/protection"


def test_the_gp_system_gets_the_status_the_dates_and_the_plan_without_its_words(registered, api_client):
    """The GP knows Alys: it reads that she is registered, under what, since when and where,
    who to call, the open statutory dates with any overdue, the plan's actions with owner, due
    date and status, and the next conferences; the plan's words are summary-only for it."""
    p, episode, icpc, plan = registered
    body = api_client(p.orgs.gp).get(url(p.alys)).json()
    assert body["person"] == str(p.alys.public_id)
    assert body["on_register"] is True and body["stage"] == "registered"
    reg = body["registration"]
    assert reg["categories"] == ["emotional", "neglect"]
    assert reg["since"] == timezone.localtime(icpc.held_at).date().isoformat()
    assert reg["local_authority"] == p.places.ceredigion.code
    assert [h["ended_on"] for h in body["history"]] == [None]
    assert body["contact"]["organisation"] == "ceredigion-childrens-services"
    assert body["contact"]["social_worker"] == "Gwen Thomas"
    kinds = {d["kind"]: d for d in body["next_dates"]}
    assert {DueKind.CORE_GROUP_FIRST, DueKind.RCPC_FIRST, DueKind.DECISIONS_SUMMARY} <= set(kinds)
    rcpc = episode.deadlines.get(kind=DueKind.RCPC_FIRST)
    assert kinds[DueKind.RCPC_FIRST]["due_on"] == rcpc.due_on.isoformat()
    assert kinds[DueKind.RCPC_FIRST]["overdue"] is False
    # The decisions summary was due 5 working days after a conference 12 days ago and not sent.
    assert kinds[DueKind.DECISIONS_SUMMARY]["overdue"] is True
    assert [d["due_on"] for d in body["next_dates"]] == sorted(d["due_on"] for d in body["next_dates"])
    got = body["plan"]
    assert got["kind"] == "cspp" and got["status"] == "outline" and got["version"] == plan.version
    assert got["next_conference_on"] == plan.next_conference_on.isoformat()
    assert got["worries"] is None and got["outcomes"] is None
    [action] = got["actions"]
    assert action["owner_organisation"] == "ysgol-glan-y-mor" and action["status"] == "on_track"
    assert action["due_on"] == (timezone.localdate() + timedelta(days=14)).isoformat() and action["text"] is None
    upcoming = {m["kind"] for m in body["upcoming_meetings"]}
    assert {MeetingKind.REVIEW, MeetingKind.CORE_GROUP} <= upcoming
    audit = AuditEntry.objects.get(purpose="protection status read via API")
    assert audit.organisation_code == "meddygfa-r-bont" and audit.object_id == str(p.alys.public_id)


def test_the_childrens_services_system_reads_the_plan_in_full(registered, api_client):
    """The authority that runs the process recorded it, so its system sees the words too."""
    p, _episode, _icpc, _plan = registered
    body = api_client(p.orgs.childrens_services).get(url(p.alys)).json()
    assert body["plan"]["worries"] == "Alys often arrives at school hungry."
    assert body["plan"]["actions"][0]["text"] == "Breakfast club place"


def test_an_uninvolved_organisation_and_an_unknown_person_get_404(registered, api_client):
    p, _episode, _icpc, _plan = registered
    stranger = factories.organisation(code="powys-childrens-services", kind="la_childrens_services")
    client = api_client(stranger)
    assert client.get(url(p.alys)).status_code == 404
    missing = client.get("/api/v1/persons/00000000-0000-0000-0000-000000000000/protection")
    assert missing.status_code == 404
    assert client.get(url(p.alys)).json()["detail"] == missing.json()["detail"]
    assert not AuditEntry.objects.filter(purpose="protection status read via API").exists()


def test_a_child_never_in_the_process_reads_as_not_registered(prydderch, api_client):
    body = api_client(prydderch.orgs.gp).get(url(prydderch.twm)).json()
    assert body["on_register"] is False and body["registration"] is None and body["history"] == []
    assert body["stage"] is None and body["plan"] is None and body["next_dates"] == []


def test_without_a_token_the_api_refuses(prydderch, client):
    assert client.get(url(prydderch.alys)).status_code == 401


def test_the_openapi_schema_names_the_protection_path(prydderch, api_client):
    schema = api_client(prydderch.orgs.gp).get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/persons/{person_id}/protection"]["get"]
    assert operation["tags"] == ["protection"]
    assert "ProtectionOut" in schema["components"]["schemas"]


def test_the_read_takes_a_fixed_number_of_queries(registered, api_client):
    """However many actions and dates the plan has."""
    from cylch.protection import plans

    p, _episode, _icpc, plan = registered
    client = api_client(p.orgs.gp)
    client.get(url(p.alys))  # the first read also creates the audit chain's head

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(p.alys)).status_code == 200
        return len(queries)

    before = count()
    for n in range(3):
        plans.add_action(plan, user=p.staff.social_worker, text=f"Action {n}", owner=p.orgs.gp, owner_name="",
                         due_on=timezone.localdate() + timedelta(days=20 + n))  # fmt: skip
    assert count() == before


def test_a_person_id_that_is_not_a_uuid_is_a_declared_422(prydderch, api_client):
    client = api_client(prydderch.orgs.gp)
    response = client.get("/api/v1/persons/not-a-uuid/protection")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "person_id"
    assert_declared(openapi_document(client), "get", "/api/v1/persons/{person_id}/protection", response)

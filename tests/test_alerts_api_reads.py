"""How an organisation's system reads its alerts (``GET /api/v1/alerts``): a fixed number of
queries however many alerts there are, only the reader's own evidence in full with every entry
counted, each alert's children, and pages that add up to the whole list."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pydantic import TypeAdapter

from cylch.events.services import record_event
from cylch.rules.api import AlertOut
from cylch.rules.models import Alert, AlertEvidence, AlertRecipient
from tests import factories
from tests.openapi_check import assert_declared, openapi_document

WNB = "health.appointment.was_not_brought"
VISIT = "social_care.visit.statutory"


def ago(days=0, **kw):
    return timezone.now() - timedelta(days=days, **kw)


def iso(moment) -> str:
    """A time as the API writes it (to the millisecond, ``Z`` for UTC)."""
    return DjangoJSONEncoder().default(moment)


@pytest.fixture
def raised(prydderch, demo_hub):
    """The was-not-brought alert about Twm, from the GP's and the health visitor's entries."""
    fam = prydderch
    for org, user, days in ((fam.orgs.gp, fam.staff.gp, 40), (fam.orgs.health_visiting, fam.staff.health_visitor, 12)):
        record_event(organisation=org, code=WNB, occurred_at=ago(days), person=fam.twm,
                     details={"service": "gp"}, recorded_by=user)  # fmt: skip
    return fam, Alert.objects.get(rule_id="was-not-brought-repeated")


def visit(fam, days):
    """A statutory visit the front door recorded about Twm."""
    return factories.event(organisation=fam.orgs.childrens_services, person=fam.twm, code=VISIT,
                           occurred_at=ago(days), recorded_by=fam.staff.social_worker)  # fmt: skip


def more_like(alert, fam, n, *, visits=1, start=0):
    """``n`` more alerts like ``alert``, each a minute newer than the last, about Twm (even) or
    both children (odd), each with the health entries and ``visits`` front-door visits of its
    own (oldest added first). Returns ``{public id: (children, own visits)}``."""
    health = list(alert.evidence.values_list("event_id", flat=True))
    made = {}
    for i in range(start, start + n):
        copy = Alert.objects.get(pk=alert.pk)
        copy.pk, copy.public_id, copy.scope_key = None, uuid.uuid4(), f"{alert.scope_key}:{i}"
        copy.raised_at = alert.raised_at + timedelta(minutes=i + 1)
        copy.save()
        children = [fam.twm] if i % 2 == 0 else [fam.alys, fam.twm]
        copy.children.set(children)
        own = [visit(fam, days=30 - k - i % 7) for k in range(visits)]
        AlertEvidence.objects.bulk_create(
            [AlertEvidence(alert=copy, event_id=e, added_at=copy.raised_at) for e in health]
            + [AlertEvidence(alert=copy, event=e, added_at=copy.raised_at) for e in own]
        )
        made[str(copy.public_id)] = (children, own)
    return made


def evidence_entry(event, organisation) -> dict:
    return {"id": str(event.public_id), "code": event.code, "occurred_at": iso(event.occurred_at),
            "organisation": organisation.code}  # fmt: skip


def test_thirty_alerts_read_in_as_many_queries_as_three(raised, api_client):
    """Children, evidence rows and the evidence's events are read for the whole page at once,
    not a query or more per alert."""
    fam, alert = raised
    more_like(alert, fam, 2)
    client = api_client(fam.orgs.childrens_services)
    client.get("/api/v1/alerts")  # the first call also notes when the token was last used
    with CaptureQueriesContext(connection) as three:
        assert len(client.get("/api/v1/alerts").json()) == 3
    more_like(alert, fam, 27, start=2)
    with CaptureQueriesContext(connection) as thirty:
        body = client.get("/api/v1/alerts").json()
    assert len(body) == 30 and sum(len(a["evidence"]) for a in body) == 29
    assert len(thirty) == len(three) <= 6, [q["sql"][:200] for q in thirty.captured_queries]


def test_each_reader_sees_only_its_own_evidence_in_full_and_every_entry_counted(raised, api_client):
    """The front door sees its visits, the GP its appointment, on the same alerts; both are told
    there are four entries in all."""
    fam, alert = raised
    made = more_like(alert, fam, 4, visits=2)
    for public_id in made:
        AlertRecipient.objects.create(alert=Alert.objects.get(public_id=public_id), organisation=fam.orgs.gp, part="gp")
    gp_entry = evidence_entry(alert.evidence.get(event__organisation=fam.orgs.gp).event, fam.orgs.gp)

    first = str(alert.public_id)
    front_door = {a["id"]: a for a in api_client(fam.orgs.childrens_services).get("/api/v1/alerts").json()}
    assert front_door[first]["evidence"] == [] and front_door[first]["evidence_count"] == 2
    gp = {a["id"]: a for a in api_client(fam.orgs.gp).get("/api/v1/alerts").json()}
    assert set(gp) == {first, *made}  # the GP was sent the first one too
    assert gp[first]["evidence"] == [gp_entry] and gp[first]["evidence_count"] == 2
    for public_id, (children, own) in made.items():
        assert front_door[public_id]["evidence"] == [evidence_entry(e, fam.orgs.childrens_services) for e in own]
        assert gp[public_id]["evidence"] == [gp_entry]
        assert front_door[public_id]["evidence_count"] == gp[public_id]["evidence_count"] == 4
        assert sorted(front_door[public_id]["children"]) == sorted(str(c.public_id) for c in children)
        assert front_door[public_id]["children"] == gp[public_id]["children"]


def test_the_answer_says_what_the_schema_declares(raised, api_client):
    """Every field of AlertOut, in its order, for a known rule and for one the pack no longer has
    (its id stands as its title)."""
    fam, alert = raised
    made = more_like(alert, fam, 2)
    retired = Alert.objects.get(public_id=next(iter(made)))
    Alert.objects.filter(pk=retired.pk).update(rule_id="a-retired-rule")
    client = api_client(fam.orgs.childrens_services)
    response = client.get("/api/v1/alerts?status=all")
    body = response.json()
    assert [list(a) for a in body] == [list(AlertOut.model_fields)] * 3
    assert TypeAdapter(list[AlertOut]).validate_python(body)
    assert_declared(openapi_document(client), "get", "/api/v1/alerts", response)
    titles = {a["id"]: (a["rule"], a["title_en"], a["title_cy"]) for a in body}
    assert titles[str(retired.public_id)] == ("a-retired-rule",) * 3
    assert titles[str(alert.public_id)][1] != "was-not-brought-repeated"
    assert titles[str(alert.public_id)][2].startswith("Plentyn heb ei ddwyn")
    assert body[-1]["raised_at"] == iso(alert.raised_at) and body[-1]["acknowledged_at"] is None


def test_pages_add_up_to_the_whole_list_newest_first(raised, api_client):
    """Following ``Link`` from a first page of seven gives every alert once, each as the whole
    list shows it; past the end is an empty page with no next."""
    fam, alert = raised
    more_like(alert, fam, 12)
    client = api_client(fam.orgs.childrens_services)
    everything = client.get("/api/v1/alerts")
    assert everything["X-Total-Count"] == "13" and "Link" not in everything
    whole = everything.json()
    assert [a["raised_at"] for a in whole] == sorted((a["raised_at"] for a in whole), reverse=True)
    seen, url = [], "/api/v1/alerts?limit=7"
    while url:
        page = client.get(url)
        assert page["X-Total-Count"] == "13"
        seen += page.json()
        link = page.get("Link", "")
        url = link[1 : link.index(">")] if link else ""
    assert seen == whole
    second = client.get("/api/v1/alerts?limit=7&offset=7")
    assert second.json() == whole[7:] and "Link" not in second
    past = client.get("/api/v1/alerts?offset=13")
    assert past.json() == [] and past["X-Total-Count"] == "13" and "Link" not in past


def test_acknowledging_answers_the_alert_as_the_list_shows_it(raised, api_client):
    """The same children and evidence, now acknowledged."""
    fam, alert = raised
    made = more_like(alert, fam, 3, visits=2)
    public_id = list(made)[1]
    client = api_client(fam.orgs.childrens_services)
    listed = next(a for a in client.get("/api/v1/alerts").json() if a["id"] == public_id)
    answer = client.post(f"/api/v1/alerts/{public_id}/acknowledge")
    assert answer.status_code == 200
    acknowledged = answer.json()
    assert acknowledged["status"] == "acknowledged" and acknowledged["acknowledged_at"]
    unchanged = {k: v for k, v in acknowledged.items() if k not in ("status", "acknowledged_at")}
    assert unchanged == {k: v for k, v in listed.items() if k not in ("status", "acknowledged_at")}
    assert len(acknowledged["evidence"]) == 2 and acknowledged["evidence_count"] == 4

"""GET /api/v1/alerts and POST /api/v1/alerts/{id}/acknowledge, for an organisation's system."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

from django.db.models import Q
from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from cylch.core.api_errors import RequestErrorOut, refuse_not_text
from cylch.events.models import Event
from cylch.rules import services
from cylch.rules.models import OPEN_STATUSES, Alert, AlertEvidence
from cylch.rules.selectors import rule_named

router = Router(tags=["alerts"])
MAX_LIMIT = 500
MAX_OFFSET = 10_000_000  # past any hub's alerts; keeps the slice inside what a database takes


class EvidenceOut(Schema):
    id: str
    code: str
    occurred_at: datetime
    organisation: str


class AlertOut(Schema):
    id: str
    rule: str
    title_en: str
    title_cy: str
    severity: str
    status: str
    children: list[str] = Field(description="Person ids of the children the alert is about.")
    raised_at: datetime
    acknowledge_by: datetime
    acknowledged_at: datetime | None
    outcome: str
    evidence: list[EvidenceOut] = Field(description="Only entries your organisation recorded are listed in full.")
    evidence_count: int


class Message(Schema):
    detail: str


def _mine(organisation):
    return Alert.objects.filter(
        Q(owner_organisation=organisation) | Q(recipients__organisation=organisation)
    ).distinct()


# What an answer shows of an alert, read as a few columns in four queries however many alerts
# there are, not built as models: prefetching built one for every child, evidence row and event
# (2,600 for 130 alerts), most of the request's time. The evidence's events are read by their
# ids (an index lookup each, however big the hub), neither joined nor filtered by organisation
# in SQL: either lets the planner walk every event of the hub, or of a big agency, to find a
# few hundred.
_ALERT_COLUMNS = (
    "id",
    "public_id",
    "rule_id",
    "local_authority__board_area__code",
    "severity",
    "status",
    "raised_at",
    "acknowledge_by",
    "acknowledged_at",
    "outcome",
)


def _outs(alerts, organisation) -> list[dict]:
    """The alerts as the API shows them, in their order; ``evidence`` lists only the entries the
    organisation recorded, ``evidence_count`` counts them all."""
    rows = list(alerts.values(*_ALERT_COLUMNS))
    ids = [row["id"] for row in rows]
    children = _grouped(
        Alert.children.through.objects.filter(alert_id__in=ids).values_list("pk", "alert_id", "person__public_id")
    )
    evidence = _grouped(AlertEvidence.objects.filter(alert_id__in=ids).values_list("pk", "alert_id", "event_id"))
    own = _own_events({e for events in evidence.values() for e in events}, organisation)
    rules = {(row["rule_id"], row["local_authority__board_area__code"]) for row in rows}
    titles = {rule: _titles(*rule) for rule in rules}  # once a rule, not once an alert
    return [
        {
            "id": str(row["public_id"]), "rule": row["rule_id"],
            **titles[row["rule_id"], row["local_authority__board_area__code"]],
            "severity": row["severity"], "status": row["status"],
            "children": [str(p) for p in children.get(row["id"], ())],
            "raised_at": row["raised_at"], "acknowledge_by": row["acknowledge_by"],
            "acknowledged_at": row["acknowledged_at"], "outcome": row["outcome"],
            "evidence": [own[e] for e in evidence.get(row["id"], ()) if e in own],
            "evidence_count": len(evidence.get(row["id"], ())),
        }
        for row in rows
    ]  # fmt: skip


def _grouped(rows) -> dict[int, list]:
    """``(pk, alert id, value)`` rows as each alert's values in the order they were added. Sorted
    here: ordering by pk in SQL led PostgreSQL to walk the whole table in pk order, filtering."""
    groups: dict[int, list] = {}
    for _pk, alert_id, value in sorted(rows):
        groups.setdefault(alert_id, []).append(value)
    return groups


def _own_events(event_ids: set[int], organisation) -> dict[int, dict]:
    """The organisation's own events among these, as evidence entries by event id."""
    if not event_ids:
        return {}
    events = Event.objects.filter(pk__in=event_ids).values_list(
        "id", "public_id", "code", "occurred_at", "organisation_id"
    )
    return {
        pk: {"id": str(public_id), "code": code, "occurred_at": occurred_at, "organisation": organisation.code}
        for pk, public_id, code, occurred_at, organisation_id in events
        if organisation_id == organisation.pk
    }


def _titles(rule_id: str, board_area_code: str | None) -> dict[str, str]:
    """A rule's titles from its area's pack (``rule_of`` for a row read as values); a rule the
    pack no longer has goes by its id."""
    rule = rule_named(rule_id, board_area_code)
    return {"title_en": rule.title["en"] if rule else rule_id, "title_cy": rule.title["cy"] if rule else rule_id}


@router.get(
    "", response={200: list[AlertOut], 401: Message, 422: RequestErrorOut}, summary="Alerts sent to your organisation"
)
def list_alerts(
    request,
    response: HttpResponse,
    status: str = "open",
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    limit: int = Query(
        MAX_LIMIT, ge=1, le=MAX_LIMIT, description="At most 500 a page; the Link header names the next."
    ),
):
    """Newest first, a page at a time: ``X-Total-Count`` says how many there are, and a ``Link``
    header (``rel="next"``) the next page while there is one, so a system with more than a page
    of open alerts sees them all (the answer used to stop at 500 without saying so)."""
    refuse_not_text({"status": status}, location="query")
    qs = _mine(request.organisation)
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status != "all":
        qs = qs.filter(status=status)
    total = qs.count()
    page = _outs(qs.order_by("-raised_at", "-pk")[offset : offset + limit], request.organisation)
    response["X-Total-Count"] = str(total)
    if offset + len(page) < total:
        query = urlencode({"status": status, "offset": offset + len(page), "limit": limit})
        response["Link"] = f'<{request.path}?{query}>; rel="next"'
    # Rendered as built, not validated again field by field through ninja's getter, which took
    # a third of the request: ``_outs`` builds the AlertOut shape from typed columns, and
    # tests/test_alerts_api_reads.py checks the answer against AlertOut and the OpenAPI document.
    from cylch.api import api  # the API this router is mounted on; it imports this module

    return api.create_response(request, page, temporal_response=response)


@router.post(
    "/{alert_id}/acknowledge",
    response={200: AlertOut, 401: Message, 404: Message, 422: RequestErrorOut},
    summary="Acknowledge an alert (safe to repeat)",
)
def acknowledge(request, alert_id: UUID):
    alert = _mine(request.organisation).filter(public_id=alert_id).first()
    if alert is None:
        return Status(404, {"detail": "No alert with that id was sent to your organisation."})
    alert = services.alert_acknowledge(alert=alert, user=None, organisation=request.organisation)
    return Status(200, _outs(Alert.objects.filter(pk=alert.pk), request.organisation)[0])

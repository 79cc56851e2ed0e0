"""GET /api/v1/alerts and POST /api/v1/alerts/{id}/acknowledge, for an organisation's system."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

from django.db.models import Prefetch, Q
from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from cylch.core.api_errors import RequestErrorOut, refuse_not_text
from cylch.events.models import Event
from cylch.identity.models import Person
from cylch.rules import services
from cylch.rules.models import OPEN_STATUSES, Alert, AlertEvidence
from cylch.rules.selectors import rule_of

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


# What an answer shows of an alert's children and evidence (``_out``), not whole person and
# event rows. The evidence's events are read by their ids (an index lookup each, however big
# the hub), not joined, which let the planner scan every event of the hub to find a few hundred.
_EVIDENCE_EVENT_COLUMNS = (
    "id",
    "public_id",
    "code",
    "occurred_at",
    "organisation_id",
    "organisation__id",
    "organisation__code",
)


def _with_evidence(alerts):
    """The alerts with their area, children and evidence in a fixed number of queries."""
    return alerts.select_related("local_authority__board_area").prefetch_related(
        Prefetch("children", queryset=Person.objects.only("id", "public_id")),
        Prefetch("evidence", queryset=AlertEvidence.objects.only("id", "alert_id", "event_id")),
        Prefetch(
            "evidence__event",
            queryset=Event.objects.select_related("organisation").only(*_EVIDENCE_EVENT_COLUMNS),
        ),
    )


def _out(alert: Alert, organisation) -> dict:
    rule = rule_of(alert)
    rows = list(alert.evidence.all())  # prefetched with their events: _with_evidence
    own = [r.event for r in rows if r.event.organisation_id == organisation.pk]
    return {
        "id": str(alert.public_id), "rule": alert.rule_id,
        "title_en": rule.title["en"] if rule else alert.rule_id, "title_cy": rule.title["cy"] if rule else alert.rule_id,
        "severity": alert.severity, "status": alert.status,
        "children": [str(p.public_id) for p in alert.children.all()],
        "raised_at": alert.raised_at, "acknowledge_by": alert.acknowledge_by, "acknowledged_at": alert.acknowledged_at,
        "outcome": alert.outcome,
        "evidence": [{"id": str(e.public_id), "code": e.code, "occurred_at": e.occurred_at, "organisation": e.organisation.code} for e in own],
        "evidence_count": len(rows),
    }  # fmt: skip


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
    page = list(_with_evidence(qs.order_by("-raised_at", "-pk"))[offset : offset + limit])
    response["X-Total-Count"] = str(total)
    if offset + len(page) < total:
        query = urlencode({"status": status, "offset": offset + len(page), "limit": limit})
        response["Link"] = f'<{request.path}?{query}>; rel="next"'
    return Status(200, [_out(a, request.organisation) for a in page])


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
    return Status(200, _out(_with_evidence(Alert.objects.filter(pk=alert.pk)).get(), request.organisation))

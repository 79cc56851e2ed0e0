"""GET /api/v1/measures and /api/v1/measures/{id}: the board measures for other systems (a
national return, a board's own reporting). The same figures as the dashboards and returns,
small numbers suppressed; never the records behind them."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from cylch.access.audit import audit_record, client_ip
from cylch.insight import areas as area_mod
from cylch.insight import periods
from cylch.insight.compute import figures
from cylch.insight.measures import BY_ID, MEASURES

router = Router(tags=["measures"])


class MeasureOut(Schema):
    id: str
    title: str
    numerator: str
    denominator: str | None
    rules: str
    why: str = Field(description="why it matters, in a plain sentence")
    source: str = Field(
        description="where the need comes from: RR (rapid review, 2023) and TA (thematic analysis, 2023) sections"
    )
    kind: str = Field(description="rate (a percentage) or count")
    snapshot: bool = Field(description="counted as at the end of the period rather than over it")
    higher_is_better: bool
    groups: dict[str, str] = Field(description="breakdown keys and their labels")


class FigureOut(Schema):
    group: str = Field(description="empty for the whole; otherwise a breakdown key")
    group_label: str
    numerator: int | None = Field(description="null when suppressed")
    denominator: int | None = Field(description="null when suppressed, and always for a count")
    value: float | None = Field(description="a percentage for a rate, the count for a count; null when suppressed")
    suppressed: bool


class FiguresOut(Schema):
    measure: MeasureOut
    period: str
    period_start: date
    period_end: date
    area: str
    area_type: str
    area_name: str
    as_of: date
    figures: list[FigureOut]


class Params(Schema):
    area: str = Field("wales", description="wales, a board area code, or a local authority code")
    period: str | None = Field(None, description="YYYY-Qn or YYYY-MM; default the last complete quarter")
    as_of: date | None = Field(
        None,
        description="the day the figures stand at (YYYY-MM-DD, no later than today; default today): what was done "
        "after it is not yet done, so the same period and day always give the same figures",
    )


class Message(Schema):
    detail: str


def _measure(m) -> MeasureOut:
    return MeasureOut(id=m.id, title=str(m.title), numerator=str(m.numerator),
                      denominator=str(m.denominator) if m.denominator else None, rules=str(m.rules), why=str(m.why),
                      source=str(m.source), kind=m.kind,
                      snapshot=m.snapshot, higher_is_better=m.higher_is_better,
                      groups={k: str(v) for k, v in m.group_labels().items()})  # fmt: skip


@router.get("", response={200: list[MeasureOut], 401: Message}, summary="Every board measure and its definition")
def list_measures(request):
    return [_measure(m) for m in MEASURES]


@router.get(
    "/{measure_id}",
    response={200: FiguresOut, 401: Message, 404: Message, 422: Message},
    summary="One measure's figures",
)
def get_measure(request, measure_id: str, params: Query[Params]):
    m = BY_ID.get(measure_id)
    if m is None:
        raise HttpError(404, f"No measure “{measure_id}”: GET /api/v1/measures lists them.")
    area = area_mod.wales() if params.area == "wales" else area_mod.find(params.area)
    if area is None:
        raise HttpError(404, f"No area “{params.area}”.")
    try:
        as_of = periods.check_as_of(min(params.as_of or timezone.localdate(), timezone.localdate()))
        period = periods.parse(params.period) if params.period else periods.recent("quarter", 2, as_of)[0]
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    found = figures(m, [period], [area], as_of=as_of)
    audit_record(action="read", actor_label=f"{request.organisation.code} system ({request.api_token.name})",
                 organisation_code=request.organisation.code, object_type="insight", object_id=m.id,
                 purpose="measure read via API", ip_address=client_ip(request),
                 detail={"area": area.code, "period": period.key, "as_of": as_of.isoformat()})  # fmt: skip
    return FiguresOut(
        measure=_measure(m), period=period.key, period_start=period.start, period_end=period.end, area=area.code,
        area_type=area.kind, area_name=area.name, as_of=as_of,
        figures=[FigureOut(group=f.group, group_label=str(f.group_label) if f.group else "",
                           numerator=None if f.suppressed else f.numerator,
                           denominator=None if f.suppressed else f.denominator, value=f.value, suppressed=f.suppressed)
                 for f in found],
    )  # fmt: skip

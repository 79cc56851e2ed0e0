"""Board insight pages. Thin: parse, compute through ``dashboard`` / ``returns``, render."""

from __future__ import annotations

from datetime import date

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from cylch.access.audit import audit_from_request
from cylch.core.forms import form_errors
from cylch.governance.exports import PROTECT_HINT, ProtectForm, deliver, safe_export_view
from cylch.insight import areas as area_mod
from cylch.insight import dashboard, periods, returns
from cylch.insight.compute import figures, units_by_period
from cylch.insight.forms import ReturnForm
from cylch.insight.measures import BY_ID, MEASURES, SECTIONS


def _default_area(user):
    """The reader's own authority, or a board's own area (a board analyst starts there)."""
    org = getattr(user, "organisation", None)
    la = getattr(org, "local_authority", None)
    if la is not None:
        return area_mod.find(la.code)
    board = getattr(org, "board_area", None)
    return area_mod.find(board.code) if board is not None else None


def _as_of(request) -> tuple[date, bool]:
    """The day the figures stand at: ``?as_of=YYYY-MM-DD`` (no later than today), else today.
    Also whether it was asked for (the page then says so, and its links keep it)."""
    today = timezone.localdate()
    try:
        asked = periods.check_as_of(date.fromisoformat(request.GET.get("as_of", "")))
    except ValueError:
        return today, False
    return min(asked, today), asked < today


def index(request):
    as_of, asked = _as_of(request)
    latest = periods.recent("quarter", 2, as_of)
    wales = area_mod.wales()
    rows = []
    for m in MEASURES:
        before, now = figures(m, latest, [wales], by_group=False, as_of=as_of)
        rows.append((m, before, now))
    sections = [(label, [r for r in rows if r[0].section == key]) for key, label in SECTIONS.items()]
    audit_from_request(request, action="read", object_type="insight", object_id="index", purpose="measures viewed",
                       detail={"as_of": as_of.isoformat()})  # fmt: skip
    return render(request, "insight/index.html", {"sections": sections, "latest": latest,
                                                  "as_of": as_of if asked else None})  # fmt: skip


def measure(request, measure_id):
    m = BY_ID.get(measure_id)
    if m is None:
        raise Http404
    kind = "month" if request.GET.get("by") == "month" else "quarter"
    code = request.GET.get("area")
    area = area_mod.find(code) if code else _default_area(request.user)
    as_of, asked = _as_of(request)
    board = dashboard.build(m, area=area, kind=kind, as_of=as_of)
    audit_from_request(request, action="read", object_type="insight", object_id=m.id, purpose="measure viewed",
                       detail={"area": code or "", "by": kind, "as_of": as_of.isoformat()})  # fmt: skip
    choices = [a for a in area_mod.all_areas() if a.kind != "wales"]
    return render(request, "insight/measure.html", {
        "m": m, "board": board, "kind": kind, "area": area, "areas": choices, "as_of": as_of if asked else None,
        "drill": [a for a in board.focus if dashboard.may_drill_down(request.user, a)],
    })  # fmt: skip


def records(request, measure_id):
    """The records behind a figure, for the authority's own children's services only."""
    m = BY_ID.get(measure_id)
    area = area_mod.find(request.GET.get("area", ""))
    try:
        period = periods.parse(request.GET.get("period", ""))
    except ValueError:
        raise Http404 from None
    if m is None or area is None or not dashboard.may_drill_down(request.user, area):
        raise Http404
    as_of, _asked = _as_of(request)
    read = units_by_period(m, [period], as_of=as_of)
    units = [u for u in read[period.key] if area.holds(u.local_authority_id, u.board_area_id)]
    group = request.GET.get("group", "")
    if group:
        units = [u for u in units if u.group == group]
    audit_from_request(request, action="read", object_type="insight", object_id=m.id, purpose="records behind a measure",
                       detail={"area": area.code, "period": period.key, "group": group, "records": len(units),
                               "as_of": as_of.isoformat()})  # fmt: skip
    from cylch.identity.models import Person

    children = {p.pk: p for p in Person.objects.filter(pk__in={u.child_id for u in units if u.child_id})}
    listed = [(u, children.get(u.child_id)) for u in sorted(units, key=lambda u: (u.when, u.ref))]
    return render(request, "insight/records.html", {"m": m, "area": area, "period": period, "listed": listed,
                                                    "group": m.group_label(group) if group else ""})  # fmt: skip


@safe_export_view
def data_return(request):
    form = ReturnForm(request.GET or None, initial={"period": periods.recent("quarter", 2, timezone.localdate())[0].key,
                                                    "area_kinds": ["wales", "board", "la"], "format": "csv"})  # fmt: skip
    protect = ProtectForm(request.GET or None)
    if request.GET and form.is_valid():
        d = form.cleaned_data
        chosen = [BY_ID[i] for i in d["measures"]]
        wanted = [a for a in area_mod.all_areas() if a.kind in d["area_kinds"]]
        as_of = min(d["as_of"] or timezone.localdate(), timezone.localdate())
        table = returns.rows(chosen, [d["period"]], wanted, as_of=as_of)
        name = f"cylch-measures-{d['period'].key}.{d['format']}"
        body = returns.to_xlsx(table, name) if d["format"] == "xlsx" else returns.to_csv(table)
        return deliver(request, body=body, fmt=d["format"], filename=name, object_type="insight",
                       object_id=d["period"].key, purpose=f"data return ({d['format']})", row_count=len(table),
                       detail={"measures": d["measures"], "area_kinds": d["area_kinds"], "as_of": as_of.isoformat()},
                       back_url=reverse("insight:return"))  # fmt: skip
    return render(request, "insight/return.html", {"form": form, "protect_form": protect, "protect_hint": PROTECT_HINT,
                                                   "form_errors": form_errors(form) if request.GET else []})  # fmt: skip

"""Thematic analysis pages for board members. Thin: parse the filters, call ``analysis``, draw."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from cylch.access.roles import OrganisationKind
from cylch.core.forms import form_errors
from cylch.governance.exports import deliver, safe_export_view
from cylch.insight.charts import Bar, bar_chart
from cylch.reviews import analysis
from cylch.reviews.analysis_charts import MapPoint, mds_map
from cylch.reviews.analysis_forms import AnalysisFilterForm
from cylch.reviews.services import BOARD_ROLES


def _viewer(request):
    """(board area or None for all of Wales). Review panel members and board analysts of a
    regional board, or of the national board (an organisation with no board area)."""
    user = request.user
    org = user.organisation
    if user.role not in BOARD_ROLES or org is None:
        raise PermissionDenied
    if org.board_area_id is None and org.kind != OrganisationKind.NATIONAL_BOARD:
        raise PermissionDenied
    return org.board_area


def _selection(request):
    form = AnalysisFilterForm(request.GET)
    filters = form.filters()
    reviews = list(analysis.select(filters))
    return form, reviews, analysis.analyse(reviews, filters, adjustment=form.bonferroni())


def _bars(table: analysis.Table):
    return bar_chart(
        [Bar(r.label, r.count) for r in table.rows],
        title=_("%(title)s: number of reviews") % {"title": table.title},
        format_value=lambda v: f"{v:.0f}",
    )


def page(request):
    area = _viewer(request)
    form, reviews, result = _selection(request)
    chosen = form.filters()
    listed = [(r, analysis.board_name(r.board_area)) for r in reviews if analysis.may_list(r, area)]
    tables = {t.key: t for t in result.indicators}
    # The TA's order: section 1 (risk factors), its associations, then section 2 (response).
    risk = [tables["harm"], result.age, result.age_panel, tables["parent"], tables["child"]]
    response = [result.history, tables["agency"], tables["finding"], tables["theme"]]
    maps = {
        a.key: mds_map(
            [MapPoint(p.label, p.x, p.y) for p in a.map.points],
            title=_("Map of co-occurring indicators: %(group)s") % {"group": a.title},
            stress=a.map.stress,
        )
        for a in result.associations
        if a.map
    }
    return render(request, "reviews/analysis/page.html", {
        "form": form, "result": result, "area": area, "area_name": analysis.board_name(area) if area else "", "boards": (result.boards, _bars(result.boards)),
        "risk": [(t, _bars(t)) for t in risk], "response": [(t, _bars(t)) for t in response],
        "associations": [(a, maps.get(a.key)) for a in result.associations],
        "listed": listed, "unlisted": len(reviews) - len(listed), "query": request.GET.urlencode(),
        "min_reviews": analysis.MIN_REVIEWS_FOR_ASSOCIATIONS, "form_errors": form_errors(form),
        "only_code": analysis.code_label(chosen.code) if chosen.code else "",
        "only_age": analysis.code_label(chosen.age_band) if chosen.age_band else "",
    })  # fmt: skip


@safe_export_view
def tables_csv(request):
    """Every table of the page as one CSV (a ``table`` column says which), for the analyst's own
    tools; the same selection as the page, in the page's language. Audited and neutralised like
    every export (governance.exports), optionally encrypted."""
    _viewer(request)
    _form, _reviews, result = _selection(request)
    header = ["table", "source", "key", "label", "count", "percent", "valid_percent", "of_reviews"]
    rows: list[list] = []
    for t in [result.boards, *result.indicators, result.age, result.age_panel, result.history]:
        for r in t.rows:
            valid = "" if r.valid_percent is None else f"{r.valid_percent:.1f}"
            rows.append([t.key, t.source, r.key, r.label, r.count, f"{r.percent:.1f}", valid, t.reviews])
    rows += [[], ["table", "a", "b", "phi", "p", "p_bonferroni", "significant", "bonferroni_tests"]]
    for a in result.associations:
        for p in a.pairs:
            rows.append([f"phi.{a.key}", p.a, p.b, _num(p.phi, ".6f"), _num(p.p, ".6g"), _num(p.p_adjusted, ".6g"),
                         int(p.significant), a.tests])  # fmt: skip
    rows += [[], ["table", "key", "label", "dim1", "dim2", "normalised_raw_stress"]]
    for a in result.associations:
        if a.map:
            for p in a.map.points:
                rows.append([f"mds.{a.key}", p.key, p.label, f"{p.x:.6f}", f"{p.y:.6f}", f"{a.map.stress:.6f}"])
    return deliver(request, fmt="csv", filename="review-analysis.csv", object_type="review_analysis",
                   object_id="selection", purpose="Thematic analysis tables", header=header, rows=rows,
                   detail={"selection": request.GET.urlencode()[:500], "reviews": result.reviews})  # fmt: skip


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)

"""What a measure's dashboard page shows: the trend for Wales, the chosen board area and local
authority, the latest period across every authority (or across the measure's groups), the
numbers behind both, and a reading. The charts and the tables come from the same figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.insight import areas as area_mod
from cylch.insight import charts, periods
from cylch.insight.areas import Area
from cylch.insight.compute import Figure, figures, reading, units_by_period
from cylch.insight.measures import Measure

PERIODS_SHOWN = {"quarter": 8, "month": 12}


@dataclass
class Dashboard:
    measure: Measure
    periods: list[periods.Period]
    focus: list[Area]  # Wales, then the board area, then the authority (as chosen)
    trend: list[Figure]  # whole figures for each focus area and period
    latest: periods.Period
    across: list[Figure]  # the latest period: each authority, or each group in the last focus area
    across_by: str  # "area" or "group"
    readings: list[str] = field(default_factory=list)
    trend_svg: str = ""
    across_svg: str = ""
    nothing: list[str] = field(default_factory=list)  # areas or kinds with nothing to count
    as_of: date | None = None  # the day the figures stand at
    current: periods.Period | None = None  # the period still running on that day (its figures so far)

    @property
    def focus_name(self) -> str:
        return self.focus[-1].name

    def trend_rows(self) -> list[tuple[periods.Period, list[Figure]]]:
        """One row per period (its name, "so far" for the running one), one figure per focus area:
        the table beside the chart."""
        index = {(f.period.key, f.area.code): f for f in self.trend}
        return [(period_label(p, self.current), [index[(p.key, a.code)] for a in self.focus]) for p in self.periods]


def _fmt(measure: Measure):
    if measure.is_rate:
        return lambda v: f"{v:.0f}%"
    return lambda v: f"{v:,.0f}"


def period_label(period: periods.Period, current: periods.Period | None) -> str:
    """A period's name, saying "so far" of the one still running."""
    return _("%(period)s so far") % {"period": period.label} if period == current else period.label


def build(measure: Measure, *, area: Area | None, kind: str = "quarter", as_of: date | None = None) -> Dashboard:
    as_of = as_of or timezone.localdate()
    shown = periods.recent(kind, PERIODS_SHOWN[kind], as_of)
    current = shown[-1] if as_of < shown[-1].end else None
    everything = area_mod.all_areas()
    focus = [area_mod.wales()]
    if area is not None and area.kind == "board":
        focus.append(area)
    elif area is not None and area.kind == "la":
        board = next(
            (a for a in everything if a.kind == "board" and a.holds(next(iter(area.local_authority_ids)))), None
        )
        focus += [b for b in (board, area) if b is not None]
    read = units_by_period(measure, shown, as_of=as_of)
    trend = figures(measure, shown, focus, by_group=False, read=read)
    # The latest period that has ended is the one to compare (the current one is still filling).
    latest = shown[-2] if len(shown) > 1 else shown[-1]
    latest_read = {latest.key: read[latest.key]}
    if measure.group_labels() or any(u.group for u in read[latest.key]):
        across = [f for f in figures(measure, [latest], [focus[-1]], read=latest_read) if f.group]
        across_by = "group"
    else:
        authorities = [a for a in everything if a.kind == "la"]
        across = figures(measure, [latest], authorities, by_group=False, read=latest_read)
        across_by = "area"
    # Authorities with nothing to count are named once below the chart, not drawn as 22 gaps.
    quiet = [f for f in across if f.numerator == 0 and not f.denominator]
    across = [f for f in across if f not in quiet]
    board = Dashboard(measure, shown, focus, trend, latest, across, across_by, as_of=as_of, current=current)
    board.nothing = [f.group_label if across_by == "group" else f.area.name for f in quiet]
    index = {(f.period.key, f.area.code): f for f in trend}
    for a in focus:
        now = index[(latest.key, a.code)]
        before = index.get((shown[-3].key, a.code)) if len(shown) > 2 else None
        board.readings.append(reading(now, before))
    fmt = _fmt(measure)
    board.trend_svg = charts.line_chart(
        [charts.Series(a.name, [index[(p.key, a.code)].value for p in shown]) for a in focus],
        x_labels=[p.label for p in shown],  # the table beside it says which is "so far"
        title=str(measure.title),
        y_label=_("Per cent") if measure.is_rate else _("Number"),
        percent=measure.is_rate,
        description=" ".join(board.readings),
        format_value=fmt,
        id_prefix=f"trend-{measure.id}",
    )
    label = (lambda f: f.group_label) if across_by == "group" else (lambda f: f.area.name)
    board.across_svg = charts.bar_chart(
        [charts.Bar(label(f), f.value, "" if f.value is not None else f.shown()) for f in across],
        title=_("%(measure)s, %(period)s") % {"measure": measure.title, "period": latest.label},
        percent=measure.is_rate,
        highlight=focus[-1].name if across_by == "area" and len(focus) > 1 else None,
        format_value=fmt,
        id_prefix=f"across-{measure.id}",
    )
    return board


def may_drill_down(user, area: Area) -> bool:
    """The records behind a figure are for the local authority's own children's services (who
    may open them anyway); analysts see the figures only."""
    from cylch.access.roles import CASEWORK_ROLES, OrganisationKind

    org = getattr(user, "organisation", None)
    return bool(
        area.kind == "la"
        and user.role in CASEWORK_ROLES
        and org is not None
        and org.kind == OrganisationKind.LA_CHILDRENS_SERVICES
        and org.local_authority_id in (area.local_authority_ids or ())
    )

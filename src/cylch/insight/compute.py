"""From units to figures: by period, by area (local authority, board area, Wales), by group,
with small numbers suppressed.

The dashboard, the data returns and the API all call ``figures``, so they give the same numbers
to the unit. Suppression: any count from 1 to 4 (a numerator, a denominator, or the difference
between them, which would give the other away) is not shown outside the drill-down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.utils.translation import gettext as _

from cylch.insight.areas import Area
from cylch.insight.measures import Measure, Unit
from cylch.insight.periods import Period

SUPPRESS_BELOW = 5


def _small(n: int | None) -> bool:
    return n is not None and 0 < n < SUPPRESS_BELOW


@dataclass(frozen=True)
class Figure:
    measure: Measure
    period: Period
    area: Area
    group: str  # "" for the whole
    numerator: int
    denominator: int | None  # None for a count

    @property
    def suppressed(self) -> bool:
        if self.denominator is None:
            return _small(self.numerator)
        return _small(self.numerator) or _small(self.denominator) or _small(self.denominator - self.numerator)

    @property
    def value(self) -> float | None:
        """A percentage for a rate, the count for a count; None when suppressed or nothing to divide."""
        if self.suppressed:
            return None
        if self.denominator is None:
            return float(self.numerator)
        if self.denominator == 0:
            return None
        return 100.0 * self.numerator / self.denominator

    @property
    def group_label(self) -> str:
        return self.measure.group_label(self.group) if self.group else _("All")

    def shown(self) -> str:
        """The figure as a reader sees it."""
        if self.suppressed:
            return _("fewer than 5")
        if self.denominator is None:
            return f"{self.numerator:,}"
        if self.denominator == 0:
            return _("none")
        return f"{self.value:.0f}%"


def units_by_period(measure: Measure, periods: list[Period]) -> dict[str, list[Unit]]:
    """Read the measure's units once for the whole span (a snapshot measure once per period)."""
    if measure.snapshot:
        return {p.key: list(measure.units(p.start, p.end)) for p in periods}
    out: dict[str, list[Unit]] = {p.key: [] for p in periods}
    ordered = sorted(periods)
    for unit in measure.units(ordered[0].start, ordered[-1].end):
        for p in ordered:
            if p.start <= unit.when <= p.end:
                out[p.key].append(unit)
                break
    return out


def _figure(measure: Measure, period: Period, area: Area, group: str, units: list[Unit]) -> Figure:
    if measure.is_rate:
        return Figure(measure, period, area, group, sum(1 for u in units if u.numerator), len(units))
    # A count: each thing once, even where it sits in two groups (a child under two categories).
    return Figure(measure, period, area, group, len({u.ref for u in units if u.numerator}), None)


def figures(
    measure: Measure, periods: list[Period], areas: list[Area], *, by_group: bool = True, read=None
) -> list[Figure]:
    """Every (period, area[, group]) figure. ``read`` reuses units already read."""
    read = read or units_by_period(measure, periods)
    out: list[Figure] = []
    for p in periods:
        for area in areas:
            mine = [u for u in read[p.key] if area.holds(u.local_authority_id)]
            out.append(_figure(measure, p, area, "", mine))
            if by_group:
                grouped: dict[str, list[Unit]] = defaultdict(list)
                for u in mine:
                    if u.group:
                        grouped[u.group].append(u)
                for key in sorted(grouped, key=lambda k: measure.group_label(k)):
                    out.append(_figure(measure, p, area, key, grouped[key]))
    return out


def reading(figure: Figure, previous: Figure | None = None) -> str:
    """One plain sentence about a figure, and how it moved since the previous period."""
    m, area, period = figure.measure, figure.area.name, figure.period.label
    if figure.suppressed:
        return _(
            "%(area)s, %(period)s: fewer than 5, so the figure is not shown, to protect the children and families it is about."
        ) % {"area": area, "period": period}
    if figure.denominator is None:
        text = _("%(area)s, %(period)s: %(count)s.") % {
            "area": area,
            "period": period,
            "count": f"{figure.numerator:,}",
        }
    elif figure.denominator == 0:
        return _("%(area)s, %(period)s: nothing to count.") % {"area": area, "period": period}
    else:
        text = _("%(area)s, %(period)s: %(value)s (%(num)s of %(den)s).") % {
            "area": area, "period": period, "value": figure.shown(), "num": f"{figure.numerator:,}",
            "den": f"{figure.denominator:,}",
        }  # fmt: skip
    if previous is not None and previous.value is not None and figure.value is not None:
        # Compared as shown: 61.7% against 62.3% is "the same" to a reader who sees 62% twice.
        now, before = figure.shown(), previous.shown()
        if now == before:
            text += " " + _("The same as the period before.")
        elif not m.is_rate:
            # A count is not better or worse by itself (more children registered may be more found).
            up = figure.value > previous.value
            text += " " + (_("Up from %(before)s.") if up else _("Down from %(before)s.")) % {"before": before}
        else:
            better = (figure.value > previous.value) == m.higher_is_better
            up = figure.value > previous.value
            if better:
                change = _("Up from %(before)s: better.") if up else _("Down from %(before)s: better.")
            else:
                change = _("Up from %(before)s: worse.") if up else _("Down from %(before)s: worse.")
            text += " " + change % {"before": before}
    return text

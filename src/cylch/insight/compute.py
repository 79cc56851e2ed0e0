"""From units to figures: by period, by area (local authority, board area, Wales), by group,
with small numbers suppressed.

The dashboard, the data returns and the API all call ``figures``, so they give the same numbers
to the unit. Suppression: any count from 1 to 4 (a numerator, a denominator, or the difference
between them, which would give the other away) is not shown outside the drill-down, nor is a
figure from which a hidden one could be worked out by subtraction (secondary suppression).

Every computation stands at an ``as_of`` day (default: today), passed down to the measures'
units, so the same period and the same day give the same figures whenever they are asked for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date

from django.utils import timezone
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
    secondary: bool = False  # hidden so that a suppressed neighbour cannot be worked out

    @property
    def primary(self) -> bool:
        if self.denominator is None:
            return _small(self.numerator)
        return _small(self.numerator) or _small(self.denominator) or _small(self.denominator - self.numerator)

    @property
    def suppressed(self) -> bool:
        return self.primary or self.secondary

    @property
    def size(self) -> int:
        return self.numerator if self.denominator is None else self.denominator

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

    @property
    def numerator_text(self) -> str:
        return f"{self.numerator:,}"

    @property
    def denominator_text(self) -> str:
        return "" if self.denominator is None else f"{self.denominator:,}"

    def shown(self) -> str:
        """The figure as a reader sees it. Every hidden figure reads the same, whether it is small
        itself or hidden to protect a small one: telling them apart would narrow both down."""
        if self.suppressed:
            return _("not shown")
        if self.denominator is None:
            return f"{self.numerator:,}"
        if self.denominator == 0:
            return _("none")
        return f"{self.value:.0f}%"


def units_by_period(measure: Measure, periods: list[Period], *, as_of: date | None = None) -> dict[str, list[Unit]]:
    """Read the measure's units once for the whole span (a snapshot measure once per period),
    as things stood at the end of ``as_of`` (default today): a period after it is empty, and
    the one holding it is counted up to it (with, for a measure placed by due date, what was
    done early; its units leave out what was not yet due)."""
    as_of = as_of or timezone.localdate()
    out: dict[str, list[Unit]] = {p.key: [] for p in periods}
    if measure.snapshot:
        for p in periods:
            if p.start <= as_of:
                out[p.key] = list(measure.units(p.start, min(p.end, as_of), as_of))
        return out
    ordered = sorted(p for p in periods if p.start <= as_of)
    if not ordered:
        return out
    for unit in measure.units(ordered[0].start, ordered[-1].end, as_of):
        if unit.when > as_of and not measure.by_due_date:
            continue  # had not happened yet
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


def _area_figures(measure: Measure, p: Period, area: Area, units: list[Unit], labels: dict) -> list[Figure]:
    """The area's whole figure, then one per kind, in the kinds' label order."""
    mine = [u for u in units if area.holds(u.local_authority_id, u.board_area_id)]
    out = [_figure(measure, p, area, "", mine)]
    grouped: dict[str, list[Unit]] = defaultdict(list)
    for u in mine:
        if u.group:
            grouped[u.group].append(u)
    for key in sorted(grouped, key=lambda k: str(labels.get(k, k))):
        out.append(_figure(measure, p, area, key, grouped[key]))
    return out


def _families(found: dict[tuple[str, str, str], Figure], every: list[Area]):
    """Every (total, parts) whose parts add up to the total, so that one hidden part could be
    worked out from the total and the others: the authorities of a board area, the board areas
    of Wales and the authorities of Wales (for the whole and for each kind), and the kinds of
    each area, where every unit is of exactly one kind (the kinds add up to the whole; a child
    under two categories of registration makes them add up to more, and nothing can be taken
    away)."""
    wales = next(a for a in every if a.kind == "wales")
    boards = [a for a in every if a.kind == "board"]
    las = [a for a in every if a.kind == "la"]
    by_area = [(b, [la for la in las if la.local_authority_ids <= b.local_authority_ids]) for b in boards]
    by_area += [(wales, boards), (wales, las)]
    groups_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for period_key, area_code, group in found:
        if group:
            groups_of[(period_key, area_code)].append(group)
    for period_key, group in {(k[0], k[2]) for k in found}:
        for parent, parts in by_area:
            yield (period_key, parent.code, group), [(period_key, a.code, group) for a in parts]
    for (period_key, area_code), groups in groups_of.items():
        total = found[(period_key, area_code, "")]
        kinds = [found[(period_key, area_code, g)] for g in groups]
        if sum(f.numerator for f in kinds) == total.numerator and (
            total.denominator is None or sum(f.denominator or 0 for f in kinds) == total.denominator
        ):
            yield (period_key, area_code, ""), [(period_key, area_code, g) for g in groups]


def _secondary(found: dict[tuple[str, str, str], Figure], every: list[Area]) -> None:
    """Complementary suppression: where a total is shown and only one of its parts is hidden,
    the hidden one could be worked out from the others, so the smallest other part is hidden
    too (or, with nothing else to hide, the total). Repeated until nothing changes, since each
    figure hidden this way is a part or a total of another family."""
    families = list(_families(found, every))
    changed = True
    while changed:
        changed = False
        for total_key, part_keys in families:
            total = found.get(total_key)
            figs = [f for k in part_keys if (f := found.get(k)) is not None]
            hidden = [f for f in figs if f.suppressed]
            if total is None or total.suppressed or len(hidden) != 1:
                continue
            others = sorted((f for f in figs if not f.suppressed and f.size > 0), key=lambda f: f.size)
            victim = others[0] if others else total
            found[(victim.period.key, victim.area.code, victim.group)] = replace(victim, secondary=True)
            changed = True


def figures(
    measure: Measure,
    periods: list[Period],
    areas: list[Area],
    *,
    by_group: bool = True,
    read=None,
    as_of: date | None = None,
) -> list[Figure]:
    """Every (period, area[, group]) figure as things stood at ``as_of`` (default today).
    ``read`` reuses units already read (then ``as_of`` was given to ``units_by_period``).

    Suppression is decided over every area and every kind at once, whatever is asked for, so a
    figure hidden on one page is hidden on every page, return and API answer that shows its
    neighbours."""
    from cylch.insight.areas import all_areas

    read = read or units_by_period(measure, periods, as_of=as_of)
    every = all_areas()
    labels = measure.group_labels()
    found: dict[tuple[str, str, str], Figure] = {}
    order: dict[tuple[str, str], list[str]] = {}
    for p in periods:
        for area in every:
            # Always with the kinds: whether a total may be shown depends on them too.
            figs = _area_figures(measure, p, area, read[p.key], labels)
            order[(p.key, area.code)] = [f.group for f in figs]
            found.update({(p.key, area.code, f.group): f for f in figs})
    _secondary(found, every)
    wanted = (lambda g: True) if by_group else (lambda g: g == "")
    return [found[(p.key, a.code, g)] for p in periods for a in areas for g in order[(p.key, a.code)] if wanted(g)]


def reading(figure: Figure, previous: Figure | None = None) -> str:
    """One plain sentence about a figure, and how it moved since the previous period."""
    m, area, period = figure.measure, figure.area.name, figure.period.label
    if figure.suppressed:
        return _(
            "%(area)s, %(period)s: not shown, because a number in it is from 1 to 4, or it would let such a "
            "number be worked out. This protects the children and families it is about."
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

"""What a measure is: a named definition that turns records into counted units.

A measure never holds a number. ``units(since, until, as_of)`` reads the records and yields one
``Unit`` per thing counted (a report, a conference, a visit), saying which local authority it
belongs to, when it happened (to place it in a period), whether it counts in the numerator, and
a reference for the drill-down. Everything else (areas, periods, percentages, suppression) is
the same for every measure and lives in ``cylch.insight.compute``.

``as_of`` is the day the figures stand at, given, never read from the wall clock: what was
done after it (an outcome sent, a deadline met, an alert acknowledged, a challenge answered) is
not yet done, and what fell due after it is not yet due. So a return for a period gives the same
figures whenever it is run with the same date, and a demo built "as of" a past day reads as it
stood then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

RATE = "rate"
COUNT = "count"


def end_of(day: date) -> datetime:
    """The first moment after ``day`` (local time): a timestamp before it happened on or before ``day``."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


@dataclass(frozen=True)
class Unit:
    local_authority_id: int | None
    when: date  # places the unit in a period (snapshot measures: the period's end)
    numerator: bool
    ref: str  # "report:ABCD-1234-X", "meeting:<uuid>": what the drill-down lists
    group: str = ""  # a breakdown key: category, rule, agency kind, outcome
    child_id: int | None = None
    board_area_id: int | None = None  # for a board's own records, which have no local authority


@dataclass(frozen=True)
class Measure:
    id: str
    title: str  # lazy translatable
    numerator: str  # what is counted (lazy)
    denominator: str | None  # out of what (lazy); None for a count
    rules: str  # inclusion rules and period (lazy)
    source: str  # where the need comes from: RR (rapid review), TA (thematic analysis) sections (lazy)
    units: Callable[[date, date, date], Iterable[Unit]]  # (since, until, as_of)
    kind: str = RATE
    snapshot: bool = False  # counted as at the period's end, not over it
    # Placed by a due date, which may be after the as-of day for something already done early
    # (a conference held before its date); other units are placed by when they happened.
    by_due_date: bool = False
    groups: dict[str, str] | Callable[[], dict[str, str]] = field(default_factory=dict)  # key -> lazy label
    higher_is_better: bool = True
    section: str = ""
    why: str = ""  # why it matters, in a plain sentence (lazy)

    @property
    def is_rate(self) -> bool:
        return self.kind == RATE

    def group_labels(self) -> dict[str, str]:
        return self.groups() if callable(self.groups) else self.groups

    def group_label(self, key: str) -> str:
        return str(self.group_labels().get(key, key))

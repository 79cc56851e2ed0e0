"""Every statutory date of the process, reckoned as the Wales Safeguarding Procedures say.

Working days come from ``cylch.core.calendar`` (Wales bank holidays; the first working day
after the trigger is day 1). Core groups run on weeks and review conferences on calendar
months. The rules are data here so that one table names them for the code, the pages and
the board's reporting.

The second half keeps the ``Deadline`` rows: ``start`` opens (or re-reckons) one, ``meet``
closes it on the day it was met, ``cancel`` closes it when it no longer applies.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from cylch.core.calendar import add_working_days
from cylch.protection.models import Deadline, DueKind, Episode


@dataclass(frozen=True)
class Timescale:
    working_days: int = 0
    weeks: int = 0
    months: int = 0
    before: bool = False  # counted back from the trigger (a report due before a conference)

    def due(self, start: date) -> date:
        if self.working_days:
            return add_working_days(start, -self.working_days if self.before else self.working_days)
        if self.weeks:
            return start + timedelta(weeks=self.weeks)
        return add_months(start, self.months)

    def describe(self) -> str:
        if self.working_days:
            return f"{self.working_days} working days {'before' if self.before else 'after'}"
        if self.weeks:
            return f"{self.weeks} weeks after"
        return f"{self.months} months after"


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later; the month's last day when it has no such day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, _calendar.monthrange(year, month)[1]))


def _visit_standard() -> dict[str, int]:
    return {"alone_working_days": 10, "home_weeks": 4} | getattr(settings, "CYLCH_VISITING_STANDARD", {})


def timescale(kind: str) -> Timescale:
    """The rule for one kind of date. Visits follow the local visiting standard (a setting)."""
    if kind == DueKind.VISIT_ALONE:
        return Timescale(working_days=_visit_standard()["alone_working_days"])
    if kind == DueKind.VISIT_HOME:
        return Timescale(weeks=_visit_standard()["home_weeks"])
    return TIMESCALES[kind]


TIMESCALES: dict[str, Timescale] = {
    DueKind.ICPC: Timescale(working_days=15),  # after the last strategy discussion
    DueKind.DECISIONS_SUMMARY: Timescale(working_days=5),  # after the conference
    DueKind.FULL_RECORD: Timescale(working_days=20),  # after the conference
    DueKind.CORE_GROUP_FIRST: Timescale(working_days=10),  # after the conference that registered
    DueKind.CORE_GROUP_NEXT: Timescale(weeks=6),  # after the last core group
    DueKind.RCPC_FIRST: Timescale(months=3),  # after the initial conference
    DueKind.RCPC_NEXT: Timescale(months=6),  # after the last review conference
    DueKind.TRANSFER: Timescale(working_days=15),  # after the receiving authority was told
    DueKind.AGENCY_REPORT: Timescale(working_days=3, before=True),  # before the conference
}

# How long before a due date the responsible worker is warned.
WARN_WORKING_DAYS = 2


def start(episode: Episode, kind: str, starts_on: date, *, key: str = "", due_on: date | None = None) -> Deadline:
    """Open the deadline, or re-reckon the open one with the same kind and key (a later
    strategy discussion restarts the conference clock)."""
    rule = timescale(kind)
    due = due_on or rule.due(starts_on)
    existing = Deadline.objects.filter(
        episode=episode, kind=kind, key=key, met_on__isnull=True, cancelled_on__isnull=True
    ).first()
    if existing is not None:
        if (existing.starts_on, existing.due_on) != (starts_on, due):
            existing.starts_on, existing.due_on = starts_on, due
            existing.warned_at = existing.escalated_at = None
            existing.save(update_fields=["starts_on", "due_on", "warned_at", "escalated_at"])
        return existing
    return Deadline.objects.create(
        episode=episode, kind=kind, key=key, starts_on=starts_on, due_on=due, rule=rule.describe()
    )


def meet(episode: Episode, kind: str, on: date, *, key: str = "") -> Deadline | None:
    deadline = Deadline.objects.filter(
        episode=episode, kind=kind, key=key, met_on__isnull=True, cancelled_on__isnull=True
    ).first()
    if deadline is not None:
        deadline.met_on = on
        deadline.save(update_fields=["met_on"])
    return deadline


def cancel(episode: Episode, kinds, reason: str, *, on: date | None = None, key: str | None = None) -> int:
    qs = Deadline.objects.filter(episode=episode, kind__in=list(kinds), met_on__isnull=True, cancelled_on__isnull=True)
    if key is not None:
        qs = qs.filter(key=key)
    return qs.update(cancelled_on=on or timezone.localdate(), cancel_reason=reason[:200])

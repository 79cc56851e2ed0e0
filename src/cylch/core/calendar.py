"""Working days on the Wales calendar.

Statutory timescales in the Wales Safeguarding Procedures are counted in working days:
Monday to Friday, excluding bank holidays in Wales (including substitute days when a
holiday falls at a weekend). Day 0 is the trigger date itself, so a conference due "within
15 working days" of a strategy discussion on date D is due by ``add_working_days(D, 15)``.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="WLS", years=year).keys())


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def add_working_days(start: date, n: int) -> date:
    """The date ``n`` working days after ``start`` (before it, for negative ``n``).

    ``start`` itself need not be a working day: a report received on a Saturday and due
    "within 1 working day" is due on Monday (or Tuesday after a bank-holiday Monday).
    """
    if n == 0:
        return start
    step = 1 if n > 0 else -1
    remaining = abs(n)
    day = start
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(a: date, b: date) -> int:
    """Working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

    The inverse of :func:`add_working_days` for working-day targets:
    ``working_days_between(d, add_working_days(d, n)) == n``.
    """
    if a == b:
        return 0
    if b < a:
        # Counting back: the working days from b up to, but not including, a. This keeps the
        # inverse of add_working_days exact from a weekend too (Saturday minus 1 is Friday).
        return -working_days_between(b - timedelta(days=1), a - timedelta(days=1))
    count = 0
    # Whole weeks first so long spans stay cheap.
    span = (b - a).days
    weeks, _ = divmod(span, 7)
    day = a
    if weeks:
        end_of_weeks = a + timedelta(days=7 * weeks)
        count += 5 * weeks - sum(
            1
            for y in range(a.year, end_of_weeks.year + 1)
            for h in _bank_holidays(y)
            if a < h <= end_of_weeks and h.weekday() < 5
        )
        day = end_of_weeks
    while day < b:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def is_out_of_hours(moment) -> bool:
    """Whether a report arriving at ``moment`` (aware datetime) must also go to the emergency
    duty team: outside 09:00-17:00 on a working day, on a non-working day, or after 15:00 on
    the last working day before a weekend or bank holiday (TA 2.1)."""
    from django.utils import timezone

    local = timezone.localtime(moment)
    day = local.date()
    if not is_working_day(day):
        return True
    if local.hour < 9 or local.hour >= 17:
        return True
    next_day = day + timedelta(days=1)
    return local.hour >= 15 and not is_working_day(next_day)

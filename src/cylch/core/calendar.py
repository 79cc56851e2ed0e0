"""Working days on the Wales calendar.

Statutory timescales in the Wales Safeguarding Procedures are counted in working days:
Monday to Friday, excluding bank holidays in Wales (including substitute days when a
holiday falls at a weekend). Day 0 is the trigger date itself, so a conference due "within
15 working days" of a strategy discussion on date D is due by ``add_working_days(D, 15)``.

The regular holidays come from the ``holidays`` package. A one-off bank holiday proclaimed
after a release (a state funeral, a coronation) is added by the hub's administrators with
``CYLCH_EXTRA_NON_WORKING_DAYS``, and a holiday moved by proclamation (early May 2020 moved to
VE Day) is taken out with ``CYLCH_CANCELLED_BANK_HOLIDAYS``: each a Django setting (a list of
dates) or, where the settings module does not set it, an environment variable of the same name
("2027-05-07,2027-06-01"). Read once, and again when a test changes the setting; a restart
takes in a new value. The system check ``cylch.core.E001`` refuses a value that is not a list
of dates, so a typo stops start-up instead of every timescale (docs/protection.md).
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from functools import lru_cache

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

EXTRA_SETTING = "CYLCH_EXTRA_NON_WORKING_DAYS"
CANCELLED_SETTING = "CYLCH_CANCELLED_BANK_HOLIDAYS"


@lru_cache(maxsize=64)
def package_holidays(year: int) -> frozenset[date]:
    """Wales's bank holidays in ``year`` as the holidays package knows them (before the settings)."""
    return frozenset(holidays.country_holidays("GB", subdiv="WLS", years=year).keys())


def _parse_days(name: str, raw) -> frozenset[date]:
    items = raw.split(",") if isinstance(raw, str) else raw
    days = set()
    for item in items:
        if isinstance(item, date):
            days.add(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            if len(text) != 10:
                raise ValueError(text)
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: “{text}” is not a date written YYYY-MM-DD") from None
    return frozenset(days)


def configured_days(name: str) -> frozenset[date]:
    """The dates a calendar setting lists (the Django setting, else the environment variable)."""
    raw = getattr(settings, name, None)
    if raw is None:
        raw = os.environ.get(name, "")
    return _parse_days(name, raw)


@lru_cache(maxsize=1)
def _adjustments() -> tuple[frozenset[date], frozenset[date]]:
    return configured_days(EXTRA_SETTING), configured_days(CANCELLED_SETTING)


def _forget_adjustments(*, setting: str, **kwargs) -> None:
    if setting in (EXTRA_SETTING, CANCELLED_SETTING):
        _adjustments.cache_clear()
        _bank_holidays.cache_clear()


setting_changed.connect(_forget_adjustments, dispatch_uid="cylch.core.calendar")


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    """Wales's bank holidays in ``year``: the package's, less any cancelled, plus any extra."""
    extra, cancelled = _adjustments()
    return (package_holidays(year) - cancelled) | {day for day in extra if day.year == year}


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


# --- school days ---------------------------------------------------------------------------
# A school day is a working day in term, for the local authority's schools: Operation
# Encompass tells a school "before the start of the next school day". Term dates are data
# (core/school_terms.yaml, per academic year, with per-authority overrides); a year the data
# does not have raises MissingTermDates rather than being guessed.

# A year has about 195 school days; no gap between two of them is near this long.
_SCHOOL_DAY_SEARCH_LIMIT = 400


def _authority_code(local_authority) -> str | None:
    """A LocalAuthority, its code, or None (the Welsh dates)."""
    if local_authority is None or isinstance(local_authority, str):
        return local_authority or None
    return local_authority.code


def is_school_day(day: date, local_authority=None) -> bool:
    """Whether schools in ``local_authority`` (a LocalAuthority or its code; None for the dates
    Welsh schools share) are open on ``day``: a working day in Wales (not a weekend, bank holiday
    or extra non-working day), in term, not in a half term and not a day the authority closed.

    Raises ``school_terms.MissingTermDates`` when the term dates do not have ``day``'s academic
    year, and ``school_terms.SchoolTermsError`` when the file cannot be used."""
    from cylch.core import school_terms

    if not is_working_day(day):
        return False
    year = school_terms.school_terms().for_year(school_terms.academic_year(day), _authority_code(local_authority))
    return year.open_on(day)


def next_school_day(day: date, local_authority=None) -> date:
    """The first school day after ``day`` (in a holiday: the first day of the next term).
    Raises like :func:`is_school_day` when the search reaches a year the data does not have."""
    for n in range(1, _SCHOOL_DAY_SEARCH_LIMIT):
        if is_school_day(day + timedelta(days=n), local_authority):
            return day + timedelta(days=n)
    raise LookupError(f"no school day within {_SCHOOL_DAY_SEARCH_LIMIT} days of {day:%Y-%m-%d}")

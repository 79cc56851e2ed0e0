"""Reporting periods: calendar months and quarters (the boards report quarterly)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import formats
from django.utils.translation import gettext as _

_KEY = re.compile(r"^(\d{4})-(Q[1-4]|\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive
    key: str  # "2026-Q3" or "2026-11"

    @property
    def label(self) -> str:
        if "Q" in self.key:
            year, q = self.key.split("-")
            # Translators: the year's quarter by its number; Welsh statistics write "Ch3 2026".
            return _("Q%(number)s %(year)s") % {"number": q[1:], "year": year}
        return formats.date_format(self.start, "M Y")


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def month(year: int, m: int) -> Period:
    return Period(date(year, m, 1), _month_end(year, m), f"{year}-{m:02d}")


def quarter(year: int, q: int) -> Period:
    first = 3 * (q - 1) + 1
    return Period(date(year, first, 1), _month_end(year, first + 2), f"{year}-Q{q}")


# Years a period or an "as of" day may fall in: wide enough for any record a hub holds, narrow
# enough that a period and the quarters before it stay inside Python's dates (year 1 to 9999).
FIRST_YEAR, LAST_YEAR = 1900, 2999


def parse(key: str) -> Period:
    """A period from its key; ValueError names the expected shape."""
    m = _KEY.match(key or "")
    if not m:
        raise ValueError(f"“{key}” is not a period: use YYYY-Qn (e.g. 2026-Q3) or YYYY-MM (e.g. 2026-11).")
    year, part = int(m.group(1)), m.group(2)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"“{key}”: the year must be from {FIRST_YEAR} to {LAST_YEAR}.")
    if part.startswith("Q"):
        return quarter(year, int(part[1]))
    if not 1 <= int(part) <= 12:
        raise ValueError(f"“{key}” is not a month.")
    return month(year, int(part))


def containing(day: date, kind: str = "quarter") -> Period:
    return quarter(day.year, (day.month - 1) // 3 + 1) if kind == "quarter" else month(day.year, day.month)


def recent(kind: str, count: int, today: date) -> list[Period]:
    """The last ``count`` periods up to and including the one holding ``today``, oldest first."""
    out = [containing(today, kind)]
    while len(out) < count:
        out.append(containing(out[-1].start - timedelta(days=1), kind))
    return list(reversed(out))


def check_as_of(day: date) -> date:
    """``day`` if figures can stand at it; ValueError otherwise (a later day is read as today)."""
    if day.year < FIRST_YEAR:
        raise ValueError(f"as_of {day.isoformat()}: give a day in {FIRST_YEAR} or later.")
    return day

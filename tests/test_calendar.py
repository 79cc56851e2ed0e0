"""Working days on the Wales calendar: Monday to Friday, less bank holidays in Wales,
including substitute days. Statutory timescales are counted with these."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from cylch.core.calendar import add_working_days, is_bank_holiday, is_working_day, working_days_between


def d(text: str) -> date:
    return date.fromisoformat(text)


# Bank holidays in Wales (the England and Wales list), from GOV.UK, written out by hand.
BANK_HOLIDAYS = {
    2020: ["01-01", "04-10", "04-13", "05-08", "05-25", "08-31", "12-25", "12-28"],  # VE Day moved early May
    2021: ["01-01", "04-02", "04-05", "05-03", "05-31", "08-30", "12-27", "12-28"],  # Christmas on a Saturday
    2022: ["01-03", "04-15", "04-18", "05-02", "06-02", "06-03", "08-29", "09-19", "12-26", "12-27"],
    2023: ["01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26"],  # Coronation
    2025: ["01-01", "04-18", "04-21", "05-05", "05-26", "08-25", "12-25", "12-26"],
    2026: ["01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28"],  # Boxing Day on a Saturday
    2027: ["01-01", "03-26", "03-29", "05-03", "05-31", "08-30", "12-27", "12-28"],
}


@pytest.mark.parametrize("year", sorted(BANK_HOLIDAYS))
def test_the_weekday_bank_holidays_in_wales_are_exactly_these(year):
    """Every weekday that is not a working day in the year, substitute days included, and
    nothing else. (A holiday's own date at a weekend may also count as a holiday; it was not a
    working day anyway.)"""
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    found = sorted(day for day in days if day.year == year and day.weekday() < 5 and not is_working_day(day))
    assert all(is_bank_holiday(day) for day in found)
    assert found == [d(f"{year}-{md}") for md in BANK_HOLIDAYS[year]]


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("2024-03-01", "St David's Day is not a bank holiday"),
        ("2025-01-02", "2 January is a Scottish holiday"),
        ("2025-03-17", "St Patrick's Day is a Northern Irish holiday"),
        ("2025-07-14", "the Battle of the Boyne holiday is Northern Irish"),
        ("2025-08-04", "the Scottish summer holiday is early August"),
        ("2025-12-01", "St Andrew's Day substitute is Scottish"),
    ],
)
def test_other_nations_holidays_are_working_days_in_wales(day, why):
    """Holidays elsewhere in the UK do not stop the clock in Wales."""
    assert is_working_day(d(day)), why


@pytest.mark.parametrize(
    ("start", "n", "due", "why"),
    [
        ("2021-12-24", 1, "2021-12-29", "Christmas (Sat) and Boxing Day (Sun) move to Mon 27 and Tue 28"),
        ("2021-12-23", 3, "2021-12-30", "Fri 24, then Wed 29 and Thu 30"),
        ("2021-12-31", 1, "2022-01-04", "New Year's Day (Sat) moves to Mon 3 January"),
        ("2022-12-23", 1, "2022-12-28", "Boxing Day Mon 26 and Christmas substitute Tue 27"),
        ("2026-12-24", 1, "2026-12-29", "Christmas Fri 25 and Boxing Day substitute Mon 28"),
        ("2025-04-17", 1, "2025-04-22", "Good Friday 18 and Easter Monday 21 April 2025"),
        ("2026-04-02", 1, "2026-04-07", "Good Friday 3 and Easter Monday 6 April 2026"),
        ("2026-05-02", 1, "2026-05-05", "a Saturday before the early May bank holiday"),
        ("2026-05-22", 1, "2026-05-26", "the spring bank holiday, Mon 25 May 2026"),
        ("2026-08-28", 1, "2026-09-01", "the summer bank holiday, Mon 31 August 2026"),
        ("2022-06-01", 1, "2022-06-06", "the Platinum Jubilee Thursday and Friday"),
        ("2026-11-21", 1, "2026-11-23", "a report received on a Saturday is due on Monday"),
        ("2026-11-23", 5, "2026-11-30", "an ordinary week"),
        ("2026-12-14", 15, "2027-01-07", "an ICPC 15 working days after a strategy discussion, across Christmas"),
        ("2021-12-29", -1, "2021-12-24", "counting back over Christmas"),
        ("2026-11-21", 0, "2026-11-21", "zero working days is the day itself, even at a weekend"),
    ],
)
def test_adding_working_days(start, n, due, why):
    """Known due dates across weekends and each kind of bank holiday."""
    assert add_working_days(d(start), n) == d(due), why


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [
        ("2021-12-24", "2021-12-29", 1),
        ("2026-12-14", "2027-01-07", 15),
        ("2027-01-07", "2026-12-14", -15),
        ("2026-11-21", "2026-11-22", 0),  # Saturday to Sunday
        ("2026-11-20", "2026-11-20", 0),
        ("2025-04-17", "2025-04-21", 0),  # Good Friday to Easter Monday: none
        ("2025-01-01", "2026-01-01", 253),  # 2025: 261 weekdays less 8 bank holidays (1 Jan 2026 is a holiday)
    ],
)
def test_counting_working_days_between_dates(a, b, n):
    """Working days after ``a`` up to and including ``b``; negative when ``b`` is earlier."""
    assert working_days_between(d(a), d(b)) == n


def naive_between(a: date, b: date) -> int:
    if b < a:  # working days from b up to, not including, a
        return -sum(1 for i in range((a - b).days) if is_working_day(b + timedelta(days=i)))
    return sum(1 for i in range(1, (b - a).days + 1) if is_working_day(a + timedelta(days=i)))


def test_adding_and_counting_are_inverses_for_every_start_date():
    """For every day from December 2019 to January 2028 (weekends and holidays included) and a
    range of timescales, counting the working days to the due date gives the timescale back,
    the due date is itself a working day, and the one before it is not yet n."""
    start, end = date(2019, 12, 1), date(2028, 1, 31)
    short, long_ = (1, 2, 3, 5, 10, 15, 20), (40, 65, 130, 260)
    day = start
    while day <= end:
        for n in short + (long_ if day.toordinal() % 11 == 0 else ()):
            due = add_working_days(day, n)
            assert is_working_day(due), (day, n)
            assert working_days_between(day, due) == n, (day, n)
            assert working_days_between(day, due - timedelta(days=1)) == n - 1, (day, n)
        for n in (1, 5, 15):  # counting back, from working and non-working days alike
            back = add_working_days(day, -n)
            assert working_days_between(day, back) == -n, (day, -n)
        day += timedelta(days=1)


def test_adding_in_steps_is_adding_at_once():
    """add(add(d, n), m) == add(d, n + m) for positive n and m."""
    rng = random.Random(2026)
    for _ in range(400):
        day = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 365 * 7))
        n, m = rng.randrange(1, 40), rng.randrange(1, 40)
        assert add_working_days(add_working_days(day, n), m) == add_working_days(day, n + m), (day, n, m)


def test_counting_long_spans_matches_counting_day_by_day():
    """The whole-weeks shortcut in ``working_days_between`` agrees with a plain day-by-day count
    over spans of up to three years, in both directions, across year ends."""
    rng = random.Random(11)
    for _ in range(300):
        a = date(2019, 6, 1) + timedelta(days=rng.randrange(0, 365 * 6))
        b = a + timedelta(days=rng.randrange(-1100, 1100))
        assert working_days_between(a, b) == naive_between(a, b), (a, b)

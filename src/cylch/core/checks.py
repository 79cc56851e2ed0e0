"""System checks on the calendar: the extra non-working days and cancelled bank holidays are
dates; the school term dates load, cover the year, and name real local authorities."""

from __future__ import annotations

from datetime import timedelta

from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils import timezone

from cylch.core import calendar, school_terms

# The next academic year's dates are wanted this long before it starts: a notice in the summer
# holiday is due on the first day of the next year's autumn term.
TERM_DATES_AHEAD = timedelta(days=120)


@register()
def check_calendar_adjustments(app_configs, **kwargs):
    """A value that is not a list of YYYY-MM-DD dates would stop every timescale: stop start-up
    instead. A cancelled day that is not a bank holiday is probably a typo: warn."""
    found = []
    for name in (calendar.EXTRA_SETTING, calendar.CANCELLED_SETTING):
        try:
            days = calendar.configured_days(name)
        except ImproperlyConfigured as exc:
            found.append(Error(str(exc), hint="Write dates as YYYY-MM-DD, separated by commas.", id="cylch.core.E001"))
            continue
        if name == calendar.CANCELLED_SETTING:
            for day in sorted(days):
                if day not in calendar.package_holidays(day.year):
                    found.append(
                        Warning(
                            f"{name}: {day:%Y-%m-%d} is not a bank holiday in Wales, so there is nothing to cancel",
                            id="cylch.core.W001",
                        )
                    )
    return found


@register()
def check_school_terms(app_configs, **kwargs):
    """The term-dates file loads (every problem an Error: file, line, key), and has the academic
    year we are in and, from May, the next one; a missing year is a Warning naming it, because
    school-day deadlines (Operation Encompass) fall back to working days without it."""
    path = school_terms.terms_file()
    problems = school_terms.check_terms()
    if problems:
        return [
            Error(
                f"The school term dates do not load: {problem}",
                hint=f"Fix {path}; until then school-day deadlines are counted in working days.",
                obj=str(path),
                id="cylch.core.E002",
            )
            for problem in problems
        ]
    terms = school_terms.school_terms()
    today = timezone.localdate()
    found = []
    for start in sorted({school_terms.academic_year(today), school_terms.academic_year(today + TERM_DATES_AHEAD)}):
        try:
            terms.for_year(start, None)
        except school_terms.MissingTermDates as exc:
            found.append(
                Warning(
                    f"No school term dates for {exc.year} in {path}: Operation Encompass deadlines in {exc.year} "
                    "fall back to the next working day, holidays included.",
                    hint="Add the year (the dates Welsh schools share, and each local authority's own where they "
                    "differ) from the published calendars: docs/rules.md, “School days and Operation Encompass”.",
                    obj=str(path),
                    id="cylch.core.W002",
                )
            )
    return found


@register(Tags.database)
def check_school_terms_authorities(app_configs, databases=None, **kwargs):
    """Each authority the term dates override is a local authority in the database (a misspelt
    code would leave that authority on the Welsh dates without a word). Runs where the checks
    are given a database (``cylch migrate``, ``cylch check --database default``)."""
    from cylch.access.models import LocalAuthority

    if not databases:
        return []
    try:
        terms = school_terms.school_terms()
    except school_terms.SchoolTermsError:
        return []  # check_school_terms reports it
    try:
        known = set(LocalAuthority.objects.using(databases[0]).values_list("code", flat=True))
    except DatabaseError:
        return []  # not migrated yet
    if not known:
        return []  # an empty hub: nothing to compare with yet
    return [
        Warning(
            f"The school term dates in {school_terms.terms_file()} change the dates for “{code}”, which is "
            "not the code of a local authority in Cylch, so no school follows them.",
            hint=f"Use one of: {', '.join(sorted(known))}.",
            id="cylch.core.W003",
        )
        for code in sorted(terms.authority_codes - known)
    ]

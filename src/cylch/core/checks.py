"""System check: the calendar's extra non-working days and cancelled bank holidays are dates."""

from __future__ import annotations

from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from cylch.core import calendar


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

"""A one-off bank holiday proclaimed after a release, and a holiday moved by proclamation, are set
by the hub's administrators without a release, and every working-day timescale honours them
(HAZ-005). 2027 has neither; the tests give it one of each."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cylch.core.calendar import add_working_days, is_bank_holiday, is_working_day
from cylch.core.checks import check_calendar_adjustments
from cylch.protection.models import DueKind
from cylch.protection.timescales import TIMESCALES
from cylch.reports.models import Channel
from cylch.reports.services import SubjectIn, report_submit
from cylch.rules.pack import Deadline
from cylch.rules.routing import acknowledge_by

THURSDAY = date(2027, 5, 6)
PROCLAIMED = date(2027, 5, 7)  # a Friday the tests proclaim a bank holiday
EARLY_MAY = date(2027, 5, 3)  # the early May bank holiday, a Monday


def local(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _report(prydderch, when: datetime):
    return report_submit(
        channel=Channel.PRACTITIONER, children=[SubjectIn(person=prydderch.alys)],
        concern_codes=["social_care.neglect.concern"], what_happened="Alys came to clinic hungry again.",
        maker=prydderch.staff.health_visitor, received_at=when,
    )  # fmt: skip


def test_a_proclaimed_bank_holiday_moves_the_front_doors_deadlines(prydderch, settings):
    """A report received on Thursday 16 October 2025 is owed a decision on Friday 17 October and
    an outcome by Monday 27 October. With the 17th proclaimed a bank holiday the decision is due
    on Monday 20, the outcome on Tuesday 28, and Thursday after 15:00 is out of hours (a holiday
    follows). (Reports are received in the past, so this one is in 2025.)"""
    thursday, friday = date(2025, 10, 16), date(2025, 10, 17)
    before = _report(prydderch, local(thursday, 15, 30))
    assert timezone.localtime(before.decision_due_at) == local(friday, 17)
    assert before.feedback_due_on == date(2025, 10, 27) and not before.out_of_hours

    settings.CYLCH_EXTRA_NON_WORKING_DAYS = [friday.isoformat()]
    after = _report(prydderch, local(thursday, 15, 30))
    assert timezone.localtime(after.decision_due_at) == local(date(2025, 10, 20), 17)
    assert after.feedback_due_on == date(2025, 10, 28) and after.out_of_hours
    assert not is_working_day(friday) and is_bank_holiday(friday)


def test_a_proclaimed_bank_holiday_moves_statutory_and_alert_deadlines(settings):
    """The initial conference (15 working days after the strategy discussion), the agency report
    (3 working days before the conference) and an alert's working-day acknowledgement all step
    over the proclaimed day; taking it out of the setting puts them back."""
    icpc, report = TIMESCALES[DueKind.ICPC], TIMESCALES[DueKind.AGENCY_REPORT]
    ack = Deadline(working_days=1)
    plain = (icpc.due(date(2027, 4, 29)), report.due(date(2027, 5, 10)), acknowledge_by(ack, local(THURSDAY)))
    assert plain == (date(2027, 5, 21), date(2027, 5, 5), local(PROCLAIMED))

    settings.CYLCH_EXTRA_NON_WORKING_DAYS = "2027-05-07, 2027-12-31"
    moved = (icpc.due(date(2027, 4, 29)), report.due(date(2027, 5, 10)), acknowledge_by(ack, local(THURSDAY)))
    assert moved == (date(2027, 5, 24), date(2027, 5, 4), local(date(2027, 5, 10)))
    assert not is_working_day(date(2027, 12, 31))

    settings.CYLCH_EXTRA_NON_WORKING_DAYS = ""
    assert (icpc.due(date(2027, 4, 29)), report.due(date(2027, 5, 10))) == plain[:2]


def test_a_bank_holiday_moved_by_proclamation_is_cancelled_and_the_new_day_added(settings):
    """As in 2020, when early May moved to VE Day: the Monday becomes a working day and the Friday
    a holiday, and one working day from the Friday before is that Monday."""
    assert add_working_days(date(2027, 4, 30), 1) == date(2027, 5, 4)
    settings.CYLCH_CANCELLED_BANK_HOLIDAYS = [EARLY_MAY]
    settings.CYLCH_EXTRA_NON_WORKING_DAYS = [PROCLAIMED]
    assert is_working_day(EARLY_MAY) and not is_bank_holiday(EARLY_MAY)
    assert add_working_days(date(2027, 4, 30), 1) == EARLY_MAY
    assert add_working_days(THURSDAY, 1) == date(2027, 5, 10)


def test_the_environment_variable_is_read_when_the_settings_do_not_say(settings, monkeypatch):
    """A deployment sets CYLCH_EXTRA_NON_WORKING_DAYS in the environment and restarts."""
    monkeypatch.setenv("CYLCH_EXTRA_NON_WORKING_DAYS", "2027-05-07")
    settings.CYLCH_EXTRA_NON_WORKING_DAYS = None  # not set in the settings module: read the environment
    assert not is_working_day(PROCLAIMED)
    monkeypatch.setenv("CYLCH_EXTRA_NON_WORKING_DAYS", "")
    settings.CYLCH_EXTRA_NON_WORKING_DAYS = None  # as a restart would
    assert is_working_day(PROCLAIMED)


@pytest.mark.parametrize("written", ["2027-5-7", "07/05/2027", "2027-05-07,tomorrow", "20270507"])
def test_a_day_not_written_as_a_date_stops_start_up(settings, written):
    """The system check refuses the value (and the calendar will not guess), so a typo stops the
    hub starting rather than every timescale later."""
    settings.CYLCH_EXTRA_NON_WORKING_DAYS = written
    [error] = check_calendar_adjustments(None)
    assert error.id == "cylch.core.E001" and "CYLCH_EXTRA_NON_WORKING_DAYS" in error.msg
    with pytest.raises(ImproperlyConfigured):
        add_working_days(THURSDAY, 1)


def test_cancelling_a_day_that_is_no_bank_holiday_is_warned_about(settings):
    """Cancelling 7 May, which was never a holiday, is probably a typo for 3 May."""
    assert check_calendar_adjustments(None) == []
    settings.CYLCH_CANCELLED_BANK_HOLIDAYS = "2027-05-07"
    [warning] = check_calendar_adjustments(None)
    assert warning.id == "cylch.core.W001" and "2027-05-07" in warning.msg and not warning.is_serious()

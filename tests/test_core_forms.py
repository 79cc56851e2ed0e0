"""``core.forms.DayMonthYearField``: a date written as one, that is no day of the calendar, is
told so rather than told to use the format it used."""

from __future__ import annotations

from datetime import date

import pytest
from django import forms

from cylch.core.forms import DayMonthYearField, date_field


@pytest.mark.parametrize(
    ("written", "day"),
    [("7/3/2026", date(2026, 3, 7)), ("07/03/2026", date(2026, 3, 7)), ("2026-03-07", date(2026, 3, 7)),
     (" 29/02/2024 ", date(2024, 2, 29))],
)  # fmt: skip
def test_days_of_the_calendar_are_read_day_first(written, day):
    assert DayMonthYearField().clean(written) == day


@pytest.mark.parametrize("written", ["31/02/2019", "29/02/2023", "12/13/2026", "2026-02-30", "00/01/2026"])
def test_a_date_shaped_day_that_does_not_exist_is_told_so(written):
    with pytest.raises(forms.ValidationError) as err:
        date_field("Date of the meeting").clean(written)
    assert err.value.code == "impossible"
    assert err.value.messages == ["There is no such date: check the day and the month"]


@pytest.mark.parametrize("written", ["the second of May", "3/2026", "2026/03/07", "7.3.2026"])
def test_anything_else_is_asked_for_in_the_format(written):
    with pytest.raises(forms.ValidationError) as err:
        date_field("Date of the meeting").clean(written)
    assert err.value.messages == ["Enter the date as day/month/year, for example 27/03/2026"]


def test_a_field_keeps_its_own_wording_for_the_format_and_the_date_being_missing():
    field = DayMonthYearField(error_messages={"invalid": "Enter the birthday as day/month/year"})
    with pytest.raises(forms.ValidationError, match="Enter the birthday as day/month/year"):
        field.clean("soon")
    with pytest.raises(forms.ValidationError, match="no such date"):
        field.clean("30/02/2020")
    with pytest.raises(forms.ValidationError, match="Enter the date"):
        date_field("Date").clean("")


def test_told_in_welsh_on_a_welsh_page():
    from django.utils import translation

    with translation.override("cy"):
        with pytest.raises(forms.ValidationError) as err:
            date_field("Dyddiad").clean("31/04/2026")
        assert err.value.messages == ["Nid oes dyddiad o'r fath: gwiriwch y diwrnod a'r mis"]

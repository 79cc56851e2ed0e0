"""Helpers shared by the GOV.UK-styled forms."""

import re

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils.translation import get_language, gettext_lazy

from cylch.core.collation import local_name, sorted_by


class _Alphabetical(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        language = get_language() or "en"
        for obj in sorted_by(self.queryset, lambda o: local_name(o, language), language):
            yield self.choice(obj)


class NamedChoiceField(forms.ModelChoiceField):
    """A choice of organisations or authorities, each by its name in the page's language and in
    that language's alphabetical order (``core.collation``): sorted by the English names and
    shown with the Welsh ones, a list reads as no order at all."""

    iterator = _Alphabetical

    def label_from_instance(self, obj) -> str:
        return local_name(obj, get_language() or "en")


def form_errors(form) -> list[tuple[str, str]]:
    """(anchor id, message) pairs for the error summary, in the order of the page: the
    form-wide ones, then each field's in field order (``clean`` adds its errors last)."""
    out = []
    order = {name: i for i, name in enumerate(form.fields)}
    for name in sorted(form.errors, key=lambda n: order.get(n, -1)):
        errors = form.errors[name]
        # Radios give no id_for_label (Django leaves a group's label without one); the first
        # radio's id is the field's auto id, which is where the summary link should land.
        anchor = (form[name].id_for_label or form[name].auto_id) if name in form.fields else "main-content"
        out.extend((anchor, message) for message in errors)
    return out


def apply_errors(form, exc) -> None:
    """Put a service's ``ValidationError`` on the form, under the field it names where the form
    has one (elsewhere as a form-wide error), so the error summary links to it. An error that
    names no field is form-wide."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
# Written as a date is (day/month/year or year-month-day), whether or not such a day exists.
_DATE_SHAPED = re.compile(r"\s*(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{1,2}-\d{1,2})\s*")


class DayMonthYearField(forms.DateField):
    """A date written day/month/year (or year-month-day). One written that way that is not a
    day of the calendar (31/02/2019) is told so, rather than to use the format it used."""

    input_formats = DATE_FORMATS
    default_error_messages = {"impossible": gettext_lazy("There is no such date: check the day and the month")}

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError as exc:
            if exc.code == "invalid" and isinstance(value, str) and _DATE_SHAPED.fullmatch(value):
                raise forms.ValidationError(self.error_messages["impossible"], code="impossible") from None
            raise


def date_field(label, **kwargs):
    """A day/month/year date field with the GOV.UK wording for its errors."""
    from django.utils.translation import gettext_lazy as _

    return DayMonthYearField(
        label=label,
        error_messages={
            "invalid": _("Enter the date as day/month/year, for example 27/03/2026"),
            "required": _("Enter the date"),
        },
        **kwargs,
    )

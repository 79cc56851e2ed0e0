from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.identity.validators import normalise_nhs_number, validate_nhs_number


class PersonSearchForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=120)
    # Three boxes, one date: read together in ``clean``, so each problem is told once, in words
    # about the date of birth, at the date (not "ensure this value is at least 1900" at the year).
    dob_day = forms.CharField(label=_("Day"), required=False, max_length=10)
    dob_month = forms.CharField(label=_("Month"), required=False, max_length=10)
    dob_year = forms.CharField(label=_("Year"), required=False, max_length=10)
    nhs_number = forms.CharField(label=_("NHS number"), required=False, max_length=14)

    def clean_nhs_number(self):
        value = self.cleaned_data.get("nhs_number", "")
        return validate_nhs_number(value) if normalise_nhs_number(value) else ""

    def clean(self):
        data = super().clean()
        data["date_of_birth"] = None
        try:
            data["date_of_birth"] = _date_of_birth(
                *(data.get(f"dob_{p}", "").strip() for p in ("day", "month", "year"))
            )
        except ValidationError as exc:
            self.add_error("dob_day", exc)
        if self.errors:
            return data
        if not (data.get("name") or data.get("date_of_birth") or data.get("nhs_number")):
            raise ValidationError({"name": _("Enter a name, a date of birth or an NHS number")})
        return data


def _date_of_birth(day: str, month: str, year: str) -> date | None:
    """The date the three boxes give (None when all are empty), or what is wrong with it."""
    if not (day or month or year):
        return None
    if not (day and month and year):
        raise ValidationError(_("A date of birth needs a day, month and year"))
    if not (day.isdigit() and month.isdigit() and year.isdigit()):
        raise ValidationError(_("Date of birth must be a real date"))
    if len(year) != 4:
        raise ValidationError(_("Enter the year as four figures, for example 2019"))
    try:
        born = date(int(year), int(month), int(day))
    except ValueError:
        raise ValidationError(_("Date of birth must be a real date")) from None
    if born > timezone.localdate():
        raise ValidationError(_("Date of birth must be in the past"))
    if born.year < 1900:
        raise ValidationError(_("Date of birth must be a real date"))
    return born


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need to see this record now?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        max_length=1000,
        error_messages={
            "required": _("Say why you need to see this record now"),
            "min_length": _("Say why you need to see this record now (at least 10 characters)"),
        },
    )

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cylch.identity.validators import normalise_nhs_number, validate_nhs_number


class PersonSearchForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=120)
    dob_day = forms.IntegerField(label=_("Day"), required=False, min_value=1, max_value=31)
    dob_month = forms.IntegerField(label=_("Month"), required=False, min_value=1, max_value=12)
    dob_year = forms.IntegerField(label=_("Year"), required=False, min_value=1900, max_value=2100)
    nhs_number = forms.CharField(label=_("NHS number"), required=False, max_length=14)

    def clean_nhs_number(self):
        value = self.cleaned_data.get("nhs_number", "")
        return validate_nhs_number(value) if normalise_nhs_number(value) else ""

    def clean(self):
        data = super().clean()
        parts = [data.get("dob_day"), data.get("dob_month"), data.get("dob_year")]
        data["date_of_birth"] = None
        if any(parts):
            if not all(parts):
                raise ValidationError({"dob_day": _("A date of birth needs a day, month and year")})
            try:
                data["date_of_birth"] = date(data["dob_year"], data["dob_month"], data["dob_day"])
            except ValueError:
                raise ValidationError({"dob_day": _("Date of birth must be a real date")}) from None
        if not (data.get("name") or data.get("date_of_birth") or data.get("nhs_number")):
            raise ValidationError({"name": _("Enter a name, a date of birth or an NHS number")})
        return data


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

"""The data-return form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.insight import periods
from cylch.insight.measures import MEASURES


class ReturnForm(forms.Form):
    measures = forms.MultipleChoiceField(label=_("Measures"), widget=forms.CheckboxSelectMultiple,
                                         error_messages={"required": _("Choose at least one measure")})  # fmt: skip
    period = forms.CharField(label=_("Period"), max_length=7,
                             error_messages={"required": _("Give the period, for example 2026-Q3 or 2026-11")})  # fmt: skip
    area_kinds = forms.MultipleChoiceField(
        label=_("Areas"), widget=forms.CheckboxSelectMultiple,
        choices=[("wales", _("Wales")), ("board", _("Safeguarding board areas")), ("la", _("Local authorities"))],
        error_messages={"required": _("Choose at least one kind of area")},
    )  # fmt: skip
    as_of = forms.DateField(
        label=_("Figures as they stood at the end of this day (optional)"), required=False, input_formats=["%Y-%m-%d"],
        help_text=_("A date such as 2026-10-31; empty for today. The same period and date always give the same figures."),
        error_messages={"invalid": _("Give the date as year-month-day, for example 2026-10-31")},
    )  # fmt: skip
    format = forms.ChoiceField(label=_("Format"), widget=forms.RadioSelect,
                               choices=[("csv", "CSV"), ("xlsx", _("Excel (XLSX)"))])  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["measures"].choices = [(m.id, m.title) for m in MEASURES]

    def clean_as_of(self):
        day = self.cleaned_data["as_of"]
        if day is not None and day.year < periods.FIRST_YEAR:
            raise forms.ValidationError(_("Give a date in %(year)s or later") % {"year": periods.FIRST_YEAR})
        return day

    def clean_period(self):
        try:
            return periods.parse(self.cleaned_data["period"].strip())
        except ValueError:
            raise forms.ValidationError(_("Give the period as a quarter (2026-Q3) or a month (2026-11).")) from None

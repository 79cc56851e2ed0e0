from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.rules.models import AlertOutcome


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("What happened?"),
        choices=AlertOutcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what happened.")},
    )
    note = forms.CharField(
        label=_("What was done, and why (shared with the organisations whose records made up the alert)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        required=False,
    )


class DeclineForm(forms.Form):
    note = forms.CharField(
        label=_("Why is no lead coordinator needed?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages={"required": _("Say why no lead coordinator is needed.")},
    )

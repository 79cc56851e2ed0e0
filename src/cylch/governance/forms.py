"""The manager's answer to a held decision (GOV.UK radios and a textarea)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

APPROVE, RETURN = "approve", "return"


class AnswerForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Do you approve this decision?"),
        choices=[(APPROVE, _("Yes, approve it: it takes effect now")), (RETURN, _("No, return it with my reasons"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose whether to approve the decision or return it")},
    )
    reasons = forms.CharField(
        label=_("Your reasons"),
        widget=forms.Textarea,
        required=False,
        max_length=5000,
    )

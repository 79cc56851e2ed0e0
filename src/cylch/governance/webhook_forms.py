"""The form for a new webhook subscription (GOV.UK inputs and checkboxes)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.governance.models import WebhookKind


class SubscriptionForm(forms.Form):
    name = forms.CharField(
        label=_("Name of the receiving system"),
        max_length=120,
        error_messages={"required": _("Enter a name for the receiving system")},
    )
    url = forms.CharField(
        label=_("Address Cylch sends to"),
        max_length=500,
        error_messages={"required": _("Enter the address Cylch should send to")},
    )
    kinds = forms.MultipleChoiceField(
        label=_("What should Cylch tell it about?"),
        choices=WebhookKind.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one kind of message")},
    )

"""Forms for people's rights: a correction at the person's request (GOV.UK fields)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.core.forms import date_field
from cylch.governance.models import RequesterRelationship


class RectificationForm(forms.Form):
    summary = forms.CharField(
        label=_("What the entry should say"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Enter what the entry should say")},
    )
    occurred_on = date_field(_("When it happened (only if the date was wrong)"), required=False)
    requested_by_name = forms.CharField(
        label=_("Name of the person who asked"),
        max_length=200,
        error_messages={"required": _("Enter the name of the person who asked")},
    )
    requester_relationship = forms.ChoiceField(
        label=_("Who asked"),
        choices=RequesterRelationship.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose who asked")},
    )
    requested_on = date_field(_("Date the request was received"))
    reason = forms.CharField(
        label=_("What was wrong"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Say what was wrong")},
    )

"""Forms for people's rights: a correction at the person's request, a request logged, answered or extended
(GOV.UK fields)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.core.forms import date_field
from cylch.governance.models import RequesterRelationship, RightsRequestKind


class _Requester(forms.Form):
    """Who asked: the fields a correction and a logged request share."""

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


class RectificationForm(_Requester):
    field_order = ["summary", "occurred_on", "requested_by_name", "requester_relationship", "requested_on", "reason"]
    summary = forms.CharField(
        label=_("What the entry should say"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Enter what the entry should say")},
    )
    occurred_on = date_field(_("When it happened (only if the date was wrong)"), required=False)
    requested_on = date_field(_("Date the request was received"))
    reason = forms.CharField(
        label=_("What was wrong"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Say what was wrong")},
    )


class RightsRequestForm(_Requester):
    field_order = ["kind", "requested_by_name", "requester_relationship", "received_on", "details"]
    kind = forms.ChoiceField(
        label=_("What the person asked for"),
        choices=RightsRequestKind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what the person asked for")},
    )
    received_on = date_field(_("Date the request was received"))
    details = forms.CharField(
        label=_("What was asked (optional)"), widget=forms.Textarea, max_length=5000, required=False
    )


class RightsAnswerForm(forms.Form):
    answered_on = date_field(_("Date it was answered"))
    answer = forms.CharField(
        label=_("How it was answered"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={
            "required": _("Say how the request was answered (what was sent, corrected or refused, and why)")
        },
    )


class RightsExtendForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it needs longer"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Say why the request needs longer (the person is told this)")},
    )

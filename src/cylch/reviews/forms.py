"""Forms of the review pages. They parse; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.protection.forms import date_field, text
from cylch.reviews.models import DelayReason, Incident


class ReferralForm(forms.Form):
    child = forms.UUIDField(label=_("The child's Cylch reference (if known)"), required=False,
                            error_messages={"invalid": _("Enter the reference as it appears on the child's record")})  # fmt: skip
    incident = forms.ChoiceField(label=_("What happened"), choices=Incident.choices, widget=forms.RadioSelect,
                                 error_messages={"required": _("Choose what happened to the child")})  # fmt: skip
    incident_on = date_field(_("Date of the incident"))
    impairment_identified_on = date_field(_("Date the impairment was identified"), required=False)
    referred_on = date_field(_("Date referred to the review sub-group"))
    summary = text(_("Summary"), required=False)


class DecisionForm(forms.Form):
    review_type = forms.ChoiceField(label=_("Type of review"), widget=forms.RadioSelect,
                                    error_messages={"required": _("Choose a type of review")})  # fmt: skip
    reasons = text(_("Reasons for the decision"), message=_("Record the reasons for the decision"))
    scope_from = date_field(_("The review looks at events from"))
    scope_rationale = text(_("Why the review looks back more than 12 months"), required=False)

    def __init__(self, *args, types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["review_type"].choices = list(types)


class MilestoneForm(forms.Form):
    done_on = date_field(_("Date"))
    delay_reason = forms.ChoiceField(label=_("Reason for any delay"), choices=[("", "—"), *DelayReason.choices],
                                     required=False)  # fmt: skip
    delay_note = forms.CharField(label=_("About the delay"), required=False, max_length=500)

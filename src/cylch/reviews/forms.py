"""Forms of the review pages. They parse; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.protection.forms import date_field, text
from cylch.reviews.models import AbuseOrNeglect, DelayReason, Incident, Recommendation


class ReferralForm(forms.Form):
    child = forms.UUIDField(label=_("The child's Cylch reference (if known)"), required=False,
                            error_messages={"invalid": _("Enter the reference as it appears on the child's record")})  # fmt: skip
    incident = forms.ChoiceField(label=_("What happened"), choices=Incident.choices, widget=forms.RadioSelect,
                                 error_messages={"required": _("Choose what happened to the child")})  # fmt: skip
    abuse_or_neglect = forms.ChoiceField(label=_("Is abuse or neglect of the child known or suspected?"),
                                         choices=[*AbuseOrNeglect.choices, ("", _("Not known yet"))],
                                         widget=forms.RadioSelect, required=False)  # fmt: skip
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


class SectionForm(forms.Form):
    """One text section of the report; row sections post cells named ``r<row>c<column>``."""

    text = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 12}))
    omitted = forms.CharField(label=_("If you leave this section empty, say why"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


def posted_rows(data, columns: int) -> list[list[str]]:
    """The table cells of a row section, in row order, from ``r<i>c<j>`` fields."""
    rows: dict[int, list[str]] = {}
    for name, value in data.items():
        if name.startswith("r") and "c" in name:
            i, _sep, j = name[1:].partition("c")
            if i.isdigit() and j.isdigit() and int(j) < columns:
                rows.setdefault(int(i), [""] * columns)[int(j)] = value
    return [rows[i] for i in sorted(rows)]


class RationaleForm(forms.Form):
    item = forms.CharField(widget=forms.HiddenInput)
    rationale = forms.CharField(label=_("Why it is not in the report"), required=False, max_length=2000,
                                widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


_textarea = text  # a field below is called ``text`` too


class RecommendationForm(forms.Form):
    text = _textarea(_("Recommendation"), message=_("Say what is to be done"))
    success_measure = _textarea(_("How will the board know it is done and has worked?"),
                           message=_("Say how the board will know it has been done and has worked"))  # fmt: skip
    text_cy = _textarea(_("The recommendation in Welsh"), required=False)
    success_measure_cy = _textarea(_("The measure of success in Welsh"), required=False)
    owner_agency = forms.CharField(label=_("Agency accountable"), max_length=200,
                                   error_messages={"required": _("Name the agency accountable for it")})  # fmt: skip
    kind = forms.ChoiceField(label=_("Strategic or operational"), choices=Recommendation.Kind.choices, widget=forms.RadioSelect,
                             error_messages={"required": _("Choose strategic or operational")})  # fmt: skip
    level = forms.ChoiceField(label=_("Local, regional or national"), choices=Recommendation.Level.choices, widget=forms.RadioSelect,
                              error_messages={"required": _("Choose local, regional or national")})  # fmt: skip
    urgency = forms.ChoiceField(label=_("How soon"), choices=Recommendation.Urgency.choices, widget=forms.RadioSelect,
                                error_messages={"required": _("Choose how soon it can be done")})  # fmt: skip
    due_on = date_field(_("Due by"))
    themes = forms.MultipleChoiceField(label=_("Learning themes it addresses"), required=False,
                                       widget=forms.CheckboxSelectMultiple)  # fmt: skip

    def __init__(self, *args, themes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["themes"].choices = list(themes)


class UpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Recommendation.Status.choices, widget=forms.RadioSelect,
                               error_messages={"required": _("Choose a status")})  # fmt: skip
    note = _textarea(
        _("What has happened since the last update"), message=_("Say what has happened since the last update")
    )
    evidence = _textarea(_("Evidence of completion"), required=False)
    annual_review = forms.BooleanField(label=_("This is the annual review of the recommendation"), required=False)


class WordingForm(forms.Form):
    """The Welsh wording of a recommendation written after it was added."""

    text_cy = _textarea(_("The recommendation in Welsh"), required=False)
    success_measure_cy = _textarea(_("The measure of success in Welsh"), required=False)

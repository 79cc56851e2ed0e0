"""Forms of the process pages, in GOV.UK patterns. They parse; the services decide."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cylch.access.models import Organisation
from cylch.core.forms import NamedChoiceField, date_field
from cylch.protection.models import (
    CATEGORY_CHOICES,
    ActionStatus,
    Decision,
    Delivery,
    Document,
    Enquiry,
    MeetingFormat,
    Registration,
)
from cylch.protection.register import ONLY_AT_REVIEW_CONFERENCE

TIME_FORMATS = ["%H:%M", "%H.%M"]
YES_NO = [("yes", _("Yes")), ("no", _("No"))]
LANGUAGES = [("cy", _("Welsh")), ("en", _("English"))]
PROGRESS = [
    ("good", _("Good progress")),
    ("some", _("Some progress")),
    ("none", _("No progress")),
    ("worsening", _("Things are getting worse")),
]


def time_field(label, **kwargs):
    return forms.TimeField(
        label=label,
        input_formats=TIME_FORMATS,
        error_messages={
            "invalid": _("Enter the time as hours:minutes, for example 14:30"),
            "required": _("Enter the time"),
        },
        **kwargs,
    )


def text(label, *, required=True, message=None):
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.Textarea,
        error_messages={"required": message or _("This cannot be left empty")},
    )


def moment(day, at: time | None) -> datetime:
    """The day and time given; with no time, noon, or now when the day is today (a meeting
    recorded in the morning without a time is not in the future)."""
    if at is None and day == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(datetime.combine(day, at or time(12, 0)))


class WhenMixin(forms.Form):
    held_on = date_field(_("Date held"))
    held_time = time_field(_("Time"), required=False)

    def held_at(self) -> datetime:
        return moment(self.cleaned_data["held_on"], self.cleaned_data.get("held_time"))


class StrategyForm(WhenMixin):
    format = forms.ChoiceField(label=_("How it was held"), choices=MeetingFormat.choices, widget=forms.RadioSelect,
                               error_messages={"required": _("Choose how it was held")})  # fmt: skip
    information_shared = text(_("Information shared"), message=_("Record the information shared"))
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (d.value, d.label)
            for d in (Decision.SECTION_47, Decision.ASSESSMENT, Decision.FURTHER_STRATEGY, Decision.NO_FURTHER_ACTION)
        ],
        error_messages={"required": _("Choose the decision")},
    )
    reasons = text(_("Reasons for the decision"), message=_("Record the reasons for the decision"))
    immediate_action = text(_("Immediate protective action agreed (if any)"), required=False)
    challenge_by = forms.CharField(label=_("Who challenged or disagreed"), required=False, max_length=200)
    challenge_text = text(_("What they said"), required=False)

    def __init__(self, data=None, *, prompts=(), **kwargs):
        super().__init__(data, **kwargs)
        self.prompts = list(prompts)
        for i, prompt in enumerate(self.prompts):
            self.fields[f"took_{i}"] = forms.ChoiceField(
                label=prompt.organisation.name(get_language() or "en"), choices=YES_NO, widget=forms.RadioSelect,
                error_messages={"required": _("Say whether this agency took part")},
            )  # fmt: skip
            self.fields[f"name_{i}"] = forms.CharField(label=_("Who (name and role)"), required=False, max_length=200)
            self.fields[f"why_{i}"] = forms.CharField(label=_("Why not"), required=False, max_length=300)

    def prompt_rows(self):
        return [(p, self[f"took_{i}"], self[f"name_{i}"], self[f"why_{i}"]) for i, p in enumerate(self.prompts)]


class EnquiryForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome of the enquiry"), choices=Enquiry.Outcome.choices,
                                widget=forms.RadioSelect, error_messages={"required": _("Choose the outcome")})  # fmt: skip
    findings = text(_("What the enquiry found"), message=_("Record what the enquiry found"))
    concluded_on = date_field(_("Date concluded"))
    seen_alone = forms.ChoiceField(label=_("Was the child seen alone?"), choices=YES_NO, widget=forms.RadioSelect,
                                   required=False)  # fmt: skip


class ContributionForm(forms.Form):
    text = text(_("Your agency's contribution"), message=_("Write your agency's contribution"))


class AnalysisForm(forms.Form):
    analysis = text(_("Analysis: what the contributions tell us together"), message=_("Write the analysis"))


class ChangeForm(forms.Form):
    because = text(_("What has changed"), message=_("Say what has changed"))


class ScheduleForm(forms.Form):
    on = date_field(_("Date"))
    at = time_field(_("Time"))
    reason = text(_("Reason for postponement (the chair's)"), required=False)


class AddInviteeForm(forms.Form):
    organisation = NamedChoiceField(label=_("Organisation"), queryset=Organisation.objects.none(), required=False)
    name = forms.CharField(label=_("Name and role"), required=False, max_length=200)
    email = forms.EmailField(label=_("Email address"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.exclude(
            kind__in=["safeguarding_board", "national_board"]
        )


class RemoveInviteeForm(forms.Form):
    reason = forms.CharField(label=_("Why are they not being invited?"), required=False, max_length=500)


class ReportForm(forms.Form):
    text = text(_("Your agency's report for the conference"), message=_("Write the report"))


class ConferenceForm(WhenMixin):
    format = forms.ChoiceField(label=_("How it was held"), choices=MeetingFormat.choices, widget=forms.RadioSelect,
                               error_messages={"required": _("Choose how it was held")})  # fmt: skip
    language = forms.ChoiceField(label=_("Language of the conference"), choices=LANGUAGES, widget=forms.RadioSelect,
                                 error_messages={"required": _("Choose the language")})  # fmt: skip
    decision = forms.ChoiceField(label=_("Decision for this child"), widget=forms.RadioSelect,
                                 error_messages={"required": _("Choose the decision")})  # fmt: skip
    categories = forms.MultipleChoiceField(label=_("Categories of registration"), choices=CATEGORY_CHOICES,
                                           widget=forms.CheckboxSelectMultiple, required=False)  # fmt: skip
    reasons = text(_("Reasons for the decision"), message=_("Record the reasons for the decision"))
    progress = text(_("Progress made since the last conference"), required=False)
    risk_of_future_harm = text(_("Risk of future harm"), required=False)
    eligible_needs = text(_("The child's eligible care and support needs after registration"), required=False)
    contingency = text(_("Contingency plan"), required=False)
    record = text(_("Conference record"), message=_("Write the conference record"))
    challenge_by = forms.CharField(label=_("Who challenged or disagreed"), required=False, max_length=200)
    challenge_text = text(_("What they said"), required=False)

    def __init__(self, data=None, *, decisions=(), invitees=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["decision"].choices = [(d.value, d.label) for d in decisions]
        self.invitees = list(invitees)
        self.fields["attended"] = forms.MultipleChoiceField(
            label=_("Who attended"), required=False, widget=forms.CheckboxSelectMultiple,
            choices=[(str(i.pk), i.display_name) for i in self.invitees],
        )  # fmt: skip


class CoreGroupForm(WhenMixin):
    format = forms.ChoiceField(label=_("How it was held"), choices=MeetingFormat.choices, widget=forms.RadioSelect,
                               error_messages={"required": _("Choose how it was held")})  # fmt: skip
    chaired_by = NamedChoiceField(label=_("Chaired by"), queryset=Organisation.objects.none(),
                                  error_messages={"required": _("Choose who chaired")})  # fmt: skip
    minuted_by = NamedChoiceField(label=_("Minuted by"), queryset=Organisation.objects.none(),
                                  error_messages={"required": _("Choose who took the minutes")})  # fmt: skip
    progress = forms.ChoiceField(label=_("How is the plan going?"), choices=PROGRESS, widget=forms.RadioSelect,
                                 error_messages={"required": _("Say how the plan is going")})  # fmt: skip
    notes = text(_("Notes of the meeting"), message=_("Write the notes of the meeting"))
    mid_point_review = forms.BooleanField(label=_("This was the mid-point review between conferences"), required=False)
    child_participated = forms.BooleanField(label=_("The child took part"), required=False)

    def __init__(self, data=None, *, organisations=(), invitees=(), actions=(), **kwargs):
        super().__init__(data, **kwargs)
        orgs = Organisation.objects.filter(pk__in=[o.pk for o in organisations])
        self.fields["chaired_by"].queryset = orgs
        self.fields["minuted_by"].queryset = orgs
        self.invitees = list(invitees)
        self.fields["attended"] = forms.MultipleChoiceField(
            label=_("Who attended"), required=False, widget=forms.CheckboxSelectMultiple,
            choices=[(str(i.pk), i.display_name) for i in self.invitees],
        )  # fmt: skip
        self.actions = list(actions)
        for a in self.actions:
            self.fields[f"status_{a.pk}"] = forms.ChoiceField(label=_("Where it stands"), choices=ActionStatus.choices,
                                                              initial=a.status)  # fmt: skip
            self.fields[f"note_{a.pk}"] = forms.CharField(label=_("Progress"), required=False, widget=forms.Textarea)

    def action_rows(self):
        return [(a, self[f"status_{a.pk}"], self[f"note_{a.pk}"]) for a in self.actions]

    def updates(self) -> dict[int, tuple[str, str]]:
        return {a.pk: (self.cleaned_data[f"status_{a.pk}"], self.cleaned_data[f"note_{a.pk}"]) for a in self.actions}


class CirculateForm(forms.Form):
    document = forms.ChoiceField(choices=Document.choices, widget=forms.HiddenInput)

    def __init__(self, data=None, *, invitees=(), **kwargs):
        super().__init__(data, **kwargs)
        self.invitees = [i for i in invitees if not i.email]
        for i in self.invitees:
            self.fields[f"channel_{i.pk}"] = forms.ChoiceField(label=i.display_name, choices=Delivery.Channel.choices,
                                                               initial=Delivery.Channel.POST)  # fmt: skip

    def channel_rows(self):
        return [self[f"channel_{i.pk}"] for i in self.invitees]

    def channels(self) -> dict[int, str]:
        return {i.pk: self.cleaned_data[f"channel_{i.pk}"] for i in self.invitees}


class PlanForm(forms.Form):
    worries = text(_("What we are worried about"), required=False)
    outcomes = text(_("What needs to change"), required=False)
    child_can_do = text(_("What the child can do if they feel unsafe"), required=False)
    contingency = text(_("Contingency plan: what happens if the plan is not working"), required=False)
    note = forms.CharField(label=_("What changed (for the version history)"), required=False, max_length=200)


class ActionForm(forms.Form):
    text = text(_("What will be done"), message=_("Say what will be done"))
    owner = NamedChoiceField(label=_("Organisation responsible"), queryset=Organisation.objects.none(),
                             error_messages={"required": _("Choose the organisation responsible")})  # fmt: skip
    owner_name = forms.CharField(label=_("Person responsible"), required=False, max_length=200)
    due_on = date_field(_("Due by"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = Organisation.objects.exclude(kind__in=["safeguarding_board", "national_board"])


class ActionUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Where it stands"), choices=ActionStatus.choices, widget=forms.RadioSelect,
                               error_messages={"required": _("Choose where it stands")})  # fmt: skip
    note = text(_("What has happened"), message=_("Say what has happened"))


class VisitForm(forms.Form):
    visited_on = date_field(_("Date of the visit"))
    seen = forms.ChoiceField(label=_("Was the child seen?"), choices=YES_NO, widget=forms.RadioSelect,
                             error_messages={"required": _("Say whether the child was seen")})  # fmt: skip
    seen_alone = forms.ChoiceField(label=_("Was the child seen alone?"), choices=YES_NO, widget=forms.RadioSelect,
                                   error_messages={"required": _("Say whether the child was seen alone")})  # fmt: skip
    at_home = forms.ChoiceField(label=_("Was the visit at the child's home?"), choices=YES_NO, widget=forms.RadioSelect,
                                error_messages={"required": _("Say whether the visit was at home")})  # fmt: skip
    note = text(_("Notes"), required=False)


class EndRegistrationForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why does the registration end?"),
        widget=forms.RadioSelect,
        choices=[
            (r.value, r.label)
            for r in (Registration.EndReason.TURNED_18, Registration.EndReason.DIED, Registration.EndReason.LEFT_UK)
        ],
        error_messages={
            "required": _("Choose why the registration ends"),
            "invalid_choice": ONLY_AT_REVIEW_CONFERENCE,
        },
    )
    on = date_field(_("Date"))
    explanation = text(_("Evidence"), message=_("Record the evidence"))
    eligible_needs = text(_("The child's eligible care and support needs after registration"), required=False)
    contingency = text(_("Contingency plan"), required=False)


class CorrectionForm(forms.Form):
    document = forms.ChoiceField(label=_("Which document"), choices=Document.choices, widget=forms.RadioSelect,
                                 error_messages={"required": _("Choose the document")})  # fmt: skip
    text = text(_("What is wrong, and what should it say?"), message=_("Say what is wrong and what it should say"))


class AnswerForm(forms.Form):
    accepted = forms.ChoiceField(label=_("Is the correction made?"), choices=YES_NO, widget=forms.RadioSelect,
                                 error_messages={"required": _("Say whether the correction is made")})  # fmt: skip
    answer = text(_("Your answer"), message=_("Say what you decided and why"))


class TranslationForm(forms.Form):
    translation = text(_("Translation of the record"), message=_("Write the translation"))


class TransferInForm(forms.Form):
    told_on = date_field(_("When were you told the child had moved here?"))
    from_local_authority = forms.CharField(label=_("Which authority's register is the child on?"), max_length=120,
                                           error_messages={"required": _("Say which authority the child moved from")})  # fmt: skip

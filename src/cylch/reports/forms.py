"""Report form pieces. One page, in GOV.UK patterns, that works on a phone."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cylch.access.models import LocalAuthority
from cylch.core.forms import DayMonthYearField, NamedChoiceField
from cylch.identity.validators import normalise_nhs_number, validate_nhs_number
from cylch.reports import concerns
from cylch.reports.models import ChallengeStep, Outcome
from cylch.reports.reference import is_valid, normalise

MAX_CHILDREN = 4
MAX_ADULTS = 2
MAX_INJURIES = 3


class ChildForm(forms.Form):
    given_name = forms.CharField(label=_("First name"), required=False, max_length=100)
    family_name = forms.CharField(label=_("Last name"), required=False, max_length=100)
    date_of_birth = DayMonthYearField(
        label=_("Date of birth (if known)"),
        required=False,
        error_messages={"invalid": _("Enter the date of birth as day/month/year, for example 27/03/2019")},
    )
    nhs_number = forms.CharField(label=_("NHS number (if known)"), required=False, max_length=14)
    address_line = forms.CharField(label=_("Address"), required=False, max_length=200)
    town = forms.CharField(label=_("Town"), required=False, max_length=100)
    postcode = forms.CharField(label=_("Postcode"), required=False, max_length=10)

    def clean_nhs_number(self):
        value = self.cleaned_data.get("nhs_number", "")
        return validate_nhs_number(value) if normalise_nhs_number(value) else ""

    def is_blank(self) -> bool:
        return not any(
            self.cleaned_data.get(f)
            for f in ("given_name", "family_name", "date_of_birth", "nhs_number", "address_line")
        )


class AdultForm(forms.Form):
    given_name = forms.CharField(label=_("First name"), required=False, max_length=100)
    family_name = forms.CharField(label=_("Last name"), required=False, max_length=100)
    relationship_to_child = forms.CharField(label=_("Relationship to the child"), required=False, max_length=120)

    def is_blank(self) -> bool:
        return not any(self.cleaned_data.get(f) for f in ("given_name", "family_name", "relationship_to_child"))


class InjuryForm(forms.Form):
    x = forms.FloatField(required=False, min_value=0, max_value=1, widget=forms.HiddenInput)
    y = forms.FloatField(required=False, min_value=0, max_value=1, widget=forms.HiddenInput)
    side = forms.ChoiceField(
        label=_("Front or back"), choices=[("front", _("Front")), ("back", _("Back"))], required=False
    )
    location = forms.CharField(label=_("Where on the body"), required=False, max_length=120)
    size = forms.CharField(label=_("Size"), required=False, max_length=60)
    description = forms.CharField(label=_("What it looks like"), required=False, max_length=500)

    def is_blank(self) -> bool:
        return not self.cleaned_data.get("location")


class ReportForm(forms.Form):
    concern_codes = forms.MultipleChoiceField(
        label=_("What are you worried about?"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one kind of concern")},
    )
    what_happened = forms.CharField(
        label=_("What happened?"),
        widget=forms.Textarea,
        max_length=10000,
        error_messages={"required": _("Tell us what happened")},
    )
    when_happened = forms.CharField(label=_("When did it happen?"), required=False, max_length=200)
    child_words = forms.CharField(
        label=_("What did the child say, in their own words? (if you know)"),
        widget=forms.Textarea,
        required=False,
        max_length=5000,
    )
    immediate_danger = forms.ChoiceField(
        label=_("Is a child in immediate danger now?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],  # GOV.UK order: yes first
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether a child is in immediate danger now")},
    )
    actions_taken = forms.CharField(
        label=_("What have you already done?"), widget=forms.Textarea, required=False, max_length=5000
    )
    local_authority = NamedChoiceField(
        label=_("Which council area does the child live in?"),
        queryset=LocalAuthority.objects.all(),
        required=False,
        empty_label=_("Not known"),
    )
    # Public report makers only:
    maker_name = forms.CharField(label=_("Your name (optional)"), required=False, max_length=200)
    maker_email = forms.EmailField(label=_("Email address"), required=False)
    maker_phone = forms.CharField(label=_("Phone number"), required=False, max_length=40)
    website = forms.CharField(required=False, label="Website")  # honeypot: people leave it empty

    def __init__(self, *args, public: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.public = public
        language = get_language() or "en"
        self.fields["concern_codes"].choices = concerns.choices("cy" if language.startswith("cy") else "en")

    def clean(self):
        data = super().clean()
        # A mistyped email has its own error: "give one or the other" would be untrue beside it.
        if (
            self.public
            and "maker_email" not in self.errors
            and not (data.get("maker_email") or data.get("maker_phone"))
        ):
            raise ValidationError(
                {"maker_email": _("Give an email address or phone number so that we can tell you what happens")}
            )
        return data


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose an outcome")},
    )
    rationale = forms.CharField(
        label=_("Reasons for the decision"),
        widget=forms.Textarea,
        min_length=20,
        max_length=10000,
        error_messages={
            "required": _("Give the reasons for the decision"),
            "min_length": _("Give the reasons for the decision (at least 20 characters)"),
        },
    )
    support_offered = forms.CharField(
        label=_("Other support offered to the family"), widget=forms.Textarea, required=False, max_length=5000
    )


class FindReportForm(forms.Form):
    reference = forms.CharField(
        label=_("Report reference"), max_length=20, error_messages={"required": _("Enter the report reference")}
    )

    def clean_reference(self):
        value = self.cleaned_data["reference"]
        if not is_valid(value):
            raise ValidationError(
                _("That reference is not right: check each character (references never use 0, 1, I, L or O).")
            )
        chars = normalise(value)
        return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


class ChallengeForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you remain concerned?"),
        widget=forms.Textarea,
        min_length=20,
        max_length=5000,
        error_messages={
            "required": _("Say why you remain concerned"),
            "min_length": _("Say why you remain concerned (at least 20 characters)"),
        },
    )


class ChallengeAnswerForm(forms.Form):
    result = forms.ChoiceField(
        label=_("What happens next"),
        choices=ChallengeStep.Result.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what happens next")},
    )
    new_outcome = forms.ChoiceField(
        label=_("New outcome (if the decision changes)"), choices=[("", "—"), *Outcome.choices], required=False
    )
    response = forms.CharField(
        label=_("Your answer and reasons"),
        widget=forms.Textarea,
        min_length=20,
        max_length=10000,
        error_messages={
            "required": _("Give your answer and reasons"),
            "min_length": _("Give your answer and reasons (at least 20 characters)"),
        },
    )

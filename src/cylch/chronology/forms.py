"""Chronology filters and the voice forms, in GOV.UK patterns."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.core.forms import date_field

YES_NO = [("yes", _("Yes")), ("no", _("No"))]

LOCATIONS = [
    ("home", _("At home")),
    ("school", _("At school")),
    ("outside_home", _("Somewhere else, away from home")),
    ("other_setting", _("Another setting (health, nursery, placement)")),
]
METHODS = [
    ("conversation", _("Talking together")),
    ("play_or_creative", _("Play, drawing or another creative way")),
    ("app_or_online", _("An app or online")),
    ("written", _("Written by the child")),
    ("through_advocate", _("Through an advocate")),
    ("interpreter", _("With an interpreter")),
    ("other", _("Another way")),
]
LANGUAGES = [("cy", _("Welsh")), ("en", _("English")), ("other", _("Another language"))]
TOPICS = [
    ("home_life", _("Home life")),
    ("family_contact", _("Seeing family")),
    ("sibling_contact", _("Seeing brothers or sisters")),
    ("school", _("School")),
    ("safety", _("Feeling safe")),
    ("placement", _("Where they live (placement)")),
    ("future_aspirations", _("Hopes for the future")),
    ("support", _("Help and support")),
    ("meetings", _("Meetings about them")),
    ("other", _("Something else")),
]
KINDS = [
    ("lived_experience", _("What daily life is like for them")),
    ("wish", _("A wish or feeling that needs an answer")),
    ("feels_unsafe", _("They said they feel unsafe")),
]
OUTCOMES = [
    ("acted_on", _("We did what the child asked")),
    ("partly_acted_on", _("We did part of what the child asked")),
    ("not_possible", _("It was not possible, and we explained why")),
    ("under_consideration", _("Still being looked at: come back to it")),
]


_date = date_field


class FilterForm(forms.Form):
    """GET filters. Choices come from what the chronology holds."""

    person = forms.ChoiceField(label=_("Person"), required=False)
    # Free text checked against nothing: the chronology knows its organisations and categories
    # only after it is read, so the view fills the choices in; an unknown one simply matches nothing.
    organisation = forms.CharField(label=_("Organisation"), required=False, max_length=40, widget=forms.Select)
    category = forms.CharField(label=_("Category"), required=False, max_length=40, widget=forms.Select)
    significant = forms.BooleanField(label=_("Significant entries only"), required=False)
    since = _date(_("From"), required=False)
    until = _date(_("To"), required=False)

    def __init__(self, data=None, *, people=()):
        super().__init__(data)
        self.fields["person"].choices = [("", _("Everyone")), *((str(pk), label) for pk, label in people)]

    def offer(self, *, organisations, categories, people) -> None:
        """Label the choices with what the viewer may see (names only where they may see them)."""
        self.fields["person"].widget.choices = [("", _("Everyone")), *((str(pk), who) for pk, who in people)]
        self.fields["organisation"].widget.choices = [("", _("All organisations")), *organisations]
        self.fields["category"].widget.choices = [("", _("All categories")), *categories]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError({"until": _("The end of the period must be on or after its start")})
        return data


class VoiceForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What are you recording?"),
        choices=KINDS,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what you are recording")},
    )
    words = forms.CharField(
        label=_("What the child said, in their own words"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Write what the child said, in their own words")},
    )
    topic = forms.ChoiceField(
        label=_("What the wish is about"), choices=[("", _("Choose a topic")), *TOPICS], required=False
    )
    occurred_on = _date(_("When the child said it"))
    seen_alone = forms.ChoiceField(
        label=_("Was the child seen alone?"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether the child was seen alone")},
    )
    location = forms.ChoiceField(label=_("Where"), choices=LOCATIONS)
    method = forms.ChoiceField(label=_("How"), choices=METHODS)
    language = forms.ChoiceField(
        label=_("In which language"),
        choices=LANGUAGES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the language the child used")},
    )
    advocate_present = forms.ChoiceField(
        label=_("Was an advocate with the child?"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether an advocate was with the child")},
    )

    def clean_occurred_on(self):
        day = self.cleaned_data["occurred_on"]
        if day > timezone.localdate():
            raise ValidationError(_("The date cannot be in the future"))
        return day

    def clean(self):
        data = super().clean()
        if data.get("kind") == "wish" and not data.get("topic"):
            self.add_error("topic", _("Choose what the wish is about"))
        return data

    def capture(self) -> dict:
        d = self.cleaned_data
        return {
            "seen_alone": d["seen_alone"] == "yes",
            "location": d["location"],
            "method": d["method"],
            "language": d["language"],
            "advocate_present": d["advocate_present"] == "yes",
        }


class ResponseForm(forms.Form):
    what_we_did = forms.CharField(
        label=_("What we did about it"),
        widget=forms.Textarea,
        max_length=5000,
        error_messages={"required": _("Say what was done about the wish")},
    )
    outcome = forms.ChoiceField(
        label=_("Where it stands"),
        choices=OUTCOMES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose where the wish stands")},
    )
    child_told = forms.ChoiceField(
        label=_("Has the child been told?"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether the child has been told")},
    )
    follow_up_on = _date(_("Follow-up date"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("outcome") == "under_consideration" and not data.get("follow_up_on"):
            self.add_error("follow_up_on", _("Give a date to come back to this wish while it is still open"))
        if data.get("follow_up_on") and data["follow_up_on"] < timezone.localdate():
            self.add_error("follow_up_on", _("The follow-up date must be today or later"))
        return data


class StoryForm(forms.Form):
    summary = forms.CharField(
        label=_("The child's story"),
        widget=forms.Textarea,
        max_length=3000,
        help_text=_("A few sentences in plain words: who the child is, what matters to them, what life is like now."),
        error_messages={"required": _("Write the child's story in a few sentences")},
    )


class MarkForm(forms.Form):
    note = forms.CharField(label=_("Why it is significant (optional)"), required=False, max_length=300)

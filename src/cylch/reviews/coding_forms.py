"""Forms of the coded-review pages. They parse; ``coded.py`` decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.core.forms import apply_errors, date_field
from cylch.reviews import coded, services
from cylch.reviews.coding import suggest as sg
from cylch.reviews.models import PreviousHistory


def code_groups(lang: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(group id, its name, [(code id, name)]) for every code-book group a reviewer ticks."""
    book = sg.load_codebook()
    out = []
    for group, meta in book.groups.items():
        if group in coded.AGE_GROUPS:
            continue
        choices = [(c.id, c.label[lang]) for c in book.codes if c.group == group]
        out.append((group, meta["label"][lang], choices))
    return out


class CodedReviewForm(forms.Form):
    reference = forms.CharField(label=_("The board's reference"), max_length=60,
                                error_messages={"required": _("Enter the board's reference for the review")})  # fmt: skip
    title = forms.CharField(
        label=_("Title"), max_length=200, error_messages={"required": _("Enter the review's title")}
    )
    type = forms.ChoiceField(label=_("Type of review"), widget=forms.RadioSelect,
                             error_messages={"required": _("Choose the type of review")})  # fmt: skip
    incident_on = date_field(_("Date of the incident"), required=False)
    referred_on = date_field(_("Date referred to the review sub-group"), required=False)
    learning_event_on = date_field(_("Date of the learning event"), required=False)
    signed_off_on = date_field(_("Date signed off by the board"), required=False)
    published_on = date_field(_("Date published"), required=False)
    child_gender = forms.ChoiceField(label=_("The child's gender"), choices=list(coded.GENDERS.items()),
                                     widget=forms.RadioSelect, initial="not_known")  # fmt: skip
    age_years = forms.IntegerField(label=_("Years"), required=False, min_value=0, max_value=18,
                                   error_messages={"invalid": _("Enter the years as a number, for example 3"),
                                                   "min_value": _("Years cannot be negative"),
                                                   "max_value": _("A review of a child is of someone under 19")})  # fmt: skip
    age_months = forms.IntegerField(label=_("Months"), required=False, min_value=0, max_value=11,
                                    error_messages={"invalid": _("Enter the months as a number, for example 4"),
                                                    "min_value": _("Months cannot be negative"),
                                                    "max_value": _("Months must be from 0 to 11")})  # fmt: skip
    previous_history = forms.ChoiceField(label=_("Previous history with children's services"),
                                         choices=PreviousHistory.choices, widget=forms.RadioSelect,
                                         initial=PreviousHistory.NOT_KNOWN)  # fmt: skip
    excluded = forms.BooleanField(label=_("Leave this review out of the analysis"), required=False)
    public_summary = forms.CharField(label=_("Public summary"), required=False, widget=forms.Textarea)
    public_summary_cy = forms.CharField(label=_("Public summary in Welsh"), required=False, widget=forms.Textarea)
    is_public = forms.BooleanField(label=_("Show this review in the public repository"), required=False)

    def __init__(self, *args, lang: str = "en", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [(key, services.type_label(key)) for key in services.config()["types"]]
        self.groups = []
        for group, label, choices in code_groups(lang):
            name = f"codes_{group}"
            self.fields[name] = forms.MultipleChoiceField(label=label, choices=choices, required=False,
                                                          widget=forms.CheckboxSelectMultiple)  # fmt: skip
            self.groups.append(name)

    @classmethod
    def initial_for(cls, review) -> dict:
        """The form's starting values from a coded review (dates as the page writes them)."""
        initial = {name: getattr(review, name) for name in coded.DETAIL_FIELDS if name != "child_age_months"}
        for name, _label in coded.DATE_ORDER:
            day = getattr(review, name)
            initial[name] = day.strftime("%d/%m/%Y") if day else ""
        if review.child_age_months is not None:
            initial["age_years"], initial["age_months"] = divmod(review.child_age_months, 12)
        present = set(review.codes.values_list("code", flat=True))
        for group, _label, choices in code_groups("en"):
            initial[f"codes_{group}"] = [c for c, _name in choices if c in present]
        return initial

    @property
    def code_fields(self):
        return [self[name] for name in self.groups]

    def details(self) -> coded.ReviewDetails:
        d = self.cleaned_data
        years, months = d.get("age_years"), d.get("age_months")
        age = None if years is None and months is None else (years or 0) * 12 + (months or 0)
        return coded.ReviewDetails(
            reference=d["reference"], type=d["type"], title=d["title"], incident_on=d["incident_on"],
            referred_on=d["referred_on"], learning_event_on=d["learning_event_on"], signed_off_on=d["signed_off_on"],
            published_on=d["published_on"], child_gender=d["child_gender"] or "not_known", child_age_months=age,
            previous_history=d["previous_history"], excluded=d["excluded"], public_summary=d["public_summary"],
            public_summary_cy=d["public_summary_cy"], is_public=d["is_public"],
        )  # fmt: skip

    def codes(self) -> set[str]:
        return {code for name in self.groups for code in self.cleaned_data.get(name, [])}

    def apply(self, exc) -> None:
        """A service error under its field; the age's under the years (where the age is asked)."""
        if "child_age_months" in exc.message_dict:
            self.add_error("age_years", exc.message_dict.pop("child_age_months"))
        if exc.message_dict:
            apply_errors(self, exc)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("The published review"), allow_empty_file=True,
                           error_messages={"required": _("Choose the review's file")})  # fmt: skip
    public_version = forms.BooleanField(
        label=_("This is the published, anonymised version: keep its text for the public repository"), required=False
    )


class AddCodeForm(forms.Form):
    code = forms.ChoiceField(label=_("Code"), error_messages={"required": _("Choose a code")})
    evidence = forms.CharField(label=_("Where the review says so (optional)"), required=False, max_length=2000,
                               widget=forms.Textarea)  # fmt: skip

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [("", _("Choose a code")), *choices]

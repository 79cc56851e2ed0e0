"""The GET forms of the analysis page and the public repository's search."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.access.models import BoardArea
from cylch.reviews import repository
from cylch.reviews.analysis import ADJUSTMENTS, YEAR_BASES, Filters, board_name


def _board_choices() -> list[tuple[str, str]]:
    return [(b.code, board_name(b)) for b in BoardArea.objects.all()]


SELECTABLE_GROUPS = ("harm", "parent", "child", "agency", "finding", "theme")


def code_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every code a selection may require, grouped under the code book's (the TA's) headings."""
    from cylch.reviews.analysis import code_label, group_label
    from cylch.reviews.coding.suggest import load_codebook

    book = load_codebook()
    return [
        (group_label(g, book), [(c.id, code_label(c.id, book)) for c in book.codes if c.group == g])
        for g in SELECTABLE_GROUPS
    ]


def band_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The age bands of both sets (TA tables 2 and 3), grouped by set."""
    from cylch.reviews.analysis import code_label, group_label
    from cylch.reviews.coding.suggest import load_codebook

    book = load_codebook()
    return [
        (group_label(scheme, book), [(b["id"], code_label(b["id"], book)) for b in bands])
        for scheme, bands in book.age_bands.items()
    ]


class AnalysisFilterForm(forms.Form):
    boards = forms.MultipleChoiceField(label=_("Board areas"), required=False, widget=forms.CheckboxSelectMultiple)
    types = forms.MultipleChoiceField(label=_("Type of review"), required=False, widget=forms.CheckboxSelectMultiple)
    year_basis = forms.ChoiceField(label=_("Count years from"), required=False, widget=forms.RadioSelect)
    year_from = forms.IntegerField(label=_("From year"), required=False, min_value=1990, max_value=2100,
                                   error_messages={"invalid": _("Enter a year as four digits, like 2021"),
                                                   "min_value": _("Enter a year from 1990"),
                                                   "max_value": _("Enter a year before 2100")})  # fmt: skip
    year_to = forms.IntegerField(label=_("To year"), required=False, min_value=1990, max_value=2100,
                                 error_messages={"invalid": _("Enter a year as four digits, like 2023"),
                                                 "min_value": _("Enter a year from 1990"),
                                                 "max_value": _("Enter a year before 2100")})  # fmt: skip
    code = forms.ChoiceField(label=_("Only reviews that record"), required=False)
    age_band = forms.ChoiceField(label=_("Only children aged"), required=False)
    include_excluded = forms.BooleanField(label=_("Include reviews marked as left out of analysis"), required=False)
    adjustment = forms.ChoiceField(label=_("Bonferroni adjustment"), required=False, widget=forms.RadioSelect,
                                   choices=[("pairs", _("By the number of pairs tested (stricter)")),
                                            ("indicators", _("By the number of indicators, as the TA did"))])  # fmt: skip

    def __init__(self, *args, **kwargs):
        from cylch.reviews.services import config, type_label

        if args and args[0] is not None:  # the defaults, checked on the page
            data = args[0].copy()
            data.setdefault("year_basis", YEAR_BASES[0])
            data.setdefault("adjustment", ADJUSTMENTS[0])
            args = (data, *args[1:])
        super().__init__(*args, **kwargs)
        self.fields["boards"].choices = _board_choices()
        self.fields["types"].choices = [(key, type_label(key)) for key in config()["types"]]
        self.fields["code"].choices = [("", _("Any")), *code_choices()]
        self.fields["age_band"].choices = [("", _("Any age")), *band_choices()]
        self.fields["year_basis"].choices = list(
            zip(YEAR_BASES, [_("The year of the incident"), _("The year of publication")], strict=True)
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("year_from"), data.get("year_to")
        if start and end and start > end:
            self.add_error("year_to", _("The last year must be the same as or after the first year"))
        return data

    def bonferroni(self) -> str:
        """What the Bonferroni adjustment counts as the number of tests."""
        self.is_valid()
        return self.cleaned_data.get("adjustment") or ADJUSTMENTS[0]

    def filters(self) -> Filters:
        """The selection asked for; a field with an error is left out (the page says so)."""
        self.is_valid()
        d = self.cleaned_data
        return Filters(
            boards=tuple(d.get("boards") or ()),
            types=tuple(d.get("types") or ()),
            year_from=d.get("year_from"),
            year_to=d.get("year_to"),
            year_basis=d.get("year_basis") or "incident",
            include_excluded=bool(d.get("include_excluded")),
            code=d.get("code") or "",
            age_band=d.get("age_band") or "",
        )


class RepositorySearchForm(forms.Form):
    """Every filter is a choice from a list, so a value not in it (an old link, a changed code
    book) is dropped rather than shown as an error to a member of the public."""

    q = forms.CharField(required=False, max_length=200)
    theme = forms.CharField(required=False)
    indicator = forms.CharField(required=False)
    age = forms.CharField(required=False)
    board = forms.CharField(required=False)
    year = forms.IntegerField(required=False)

    def query(self) -> repository.Query:
        self.is_valid()
        d = self.cleaned_data
        themes = {c for _g, codes in repository.filter_choices(repository.THEME_GROUPS) for c, _l in codes}
        indicators = {c for _g, codes in repository.filter_choices(repository.INDICATOR_GROUPS) for c, _l in codes}
        bands = {b for _g, options in repository.age_choices() for b, _l in options}
        boards = {code for code, _name in _board_choices()}
        return repository.Query(
            text=(d.get("q") or "").strip(),
            theme=d.get("theme") if d.get("theme") in themes else "",
            indicator=d.get("indicator") if d.get("indicator") in indicators else "",
            age_band=d.get("age") if d.get("age") in bands else "",
            board=d.get("board") if d.get("board") in boards else "",
            year=d.get("year") if d.get("year") and 1990 <= d["year"] <= 2100 else None,
        )

"""The family-conflict decision form: one group per relationship, by position, and a reason.

Fields are named by position (``outcome-1``, ``ended-1``, ``note-1``), not by relationship id,
with the ids the reviewer was shown in ``relationships``: the service refuses the decision
when the family changed in the meantime. The form only reads the values; what is required and
what is valid is the service's (``conflicts.conflict_decide``), so the rules live in one place.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cylch.core.forms import date_field
from cylch.identity.conflicts import NOTE_MAX, OUTCOME_CHOICES, REASON_MAX, Outcome


class ConflictDecisionForm(forms.Form):
    relationships = forms.CharField(widget=forms.HiddenInput, required=False, max_length=2000)
    reason = forms.CharField(
        label=gettext_lazy("Why: what you checked, and with whom"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=REASON_MAX,
        error_messages={"max_length": gettext_lazy("The reason must be %(limit_value)s characters or fewer")},
    )

    def __init__(self, *args, names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for i, name in enumerate(names, start=1):
            self.fields[f"outcome-{i}"] = forms.ChoiceField(
                choices=OUTCOME_CHOICES, widget=forms.RadioSelect, required=False,
                error_messages={"invalid_choice": _("Choose one of the options")},
            )  # fmt: skip
            self.fields[f"ended-{i}"] = date_field(
                _("Date %(name)s's relationship ended") % {"name": name}, required=False
            )
            self.fields[f"note-{i}"] = forms.CharField(
                label=_("Note about %(name)s (optional)") % {"name": name}, required=False, max_length=NOTE_MAX,
                error_messages={"max_length": _("The note must be %(limit_value)s characters or fewer")},
            )  # fmt: skip

    def rows(self, sides: list) -> list[dict]:
        """Each relationship with its bound fields, for the template."""
        return [
            {"i": i, "side": side, "outcome": self[f"outcome-{i}"], "ended": self[f"ended-{i}"],
             "note": self[f"note-{i}"]}
            for i, side in enumerate(sides, start=1)
        ]  # fmt: skip

    def outcomes(self, sides: list) -> list[Outcome]:
        """What the reviewer said of each relationship shown (an unanswered one is left out)."""
        data = self.cleaned_data
        return [
            Outcome(
                relationship_id=side.relationship.pk,
                outcome=data.get(f"outcome-{i}") or "",
                ended_on=data.get(f"ended-{i}"),
                note=data.get(f"note-{i}") or "",
            )
            for i, side in enumerate(sides, start=1)
        ]


class HouseholdDecisionForm(forms.Form):
    """Two households that look like one home: the same home (merge) or not, and why. An undo
    sends only the reason. What is required beyond the choice is the service's to say."""

    decision = forms.ChoiceField(
        choices=[("same", gettext_lazy("The same home")), ("different", gettext_lazy("Different homes"))],
        required=False,
    )
    reason = forms.CharField(required=False, max_length=REASON_MAX)

"""Forms of the self-assessment pages. They parse; ``assessments.py`` decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cylch.reviews.assessments import Answer, answer_field
from cylch.reviews.frameworks import Framework


class StartForm(forms.Form):
    framework = forms.CharField(widget=forms.HiddenInput)
    copy_previous = forms.BooleanField(required=False)


class AnswersForm(forms.Form):
    """A grade, the evidence and the actions for every component of the framework."""

    def __init__(self, *args, framework: Framework, **kwargs):
        super().__init__(*args, **kwargs)
        self.framework = framework
        grades = [(str(g), str(g)) for g in framework.scale.grades]
        for c in framework.components:
            self.fields[answer_field(c.id, "grade")] = forms.TypedChoiceField(
                label=_("Grade"), choices=grades, coerce=int, empty_value=None, required=False, widget=forms.RadioSelect
            )
            self.fields[answer_field(c.id, "evidence")] = forms.CharField(
                label=_("Evidence"), required=False, max_length=10000, widget=forms.Textarea
            )
            self.fields[answer_field(c.id, "actions")] = forms.CharField(
                label=_("Actions"), required=False, max_length=10000, widget=forms.Textarea
            )

    @staticmethod
    def initial_for(assessment) -> dict:
        initial = {}
        for a in assessment.answers.all():
            initial[answer_field(a.component, "grade")] = str(a.grade) if a.grade is not None else None
            initial[answer_field(a.component, "evidence")] = a.evidence
            initial[answer_field(a.component, "actions")] = a.actions
        return initial

    def answers(self) -> dict[str, Answer]:
        d = self.cleaned_data
        return {
            c.id: Answer(d.get(answer_field(c.id, "grade")), d.get(answer_field(c.id, "evidence"), ""),
                         d.get(answer_field(c.id, "actions"), ""))
            for c in self.framework.components
        }  # fmt: skip

    def component_fields(self, lang: str):
        """Per group: (group, title, guidance, [(component, title, text, owners, grade, evidence, actions)])."""
        fw = self.framework
        out = []
        for g in fw.groups:
            rows = [
                {"c": c, "title": c.words("title", lang), "text": c.words("text", lang), "guidance": c.words("guidance", lang),
                 "owners": [fw.owner_label(o, lang) for o in c.owners], "grade": self[answer_field(c.id, "grade")],
                 "evidence": self[answer_field(c.id, "evidence")], "actions": self[answer_field(c.id, "actions")]}
                for c in g.components
            ]  # fmt: skip
            out.append({"group": g, "title": g.title[lang], "guidance": (g.guidance or {}).get(lang, ""), "rows": rows})
        return out

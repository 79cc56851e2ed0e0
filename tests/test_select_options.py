"""``select_options`` writes a select's options exactly as the template loop it replaced did."""

from __future__ import annotations

import pytest
from django import forms
from django.template import engines

from cylch.access.models import Organisation

LOOP = engines["django"].from_string(
    '{% for value, label in field.field.widget.choices %}<option value="{{ value }}"'
    '{% if field.value|default:""|stringformat:"s" == value|stringformat:"s" %} selected{% endif %}>'
    "{{ label }}</option>{% endfor %}"
)
FILTER = engines["django"].from_string("{% load cylch_tags %}{{ field|select_options }}")


class Choices(forms.Form):
    word = forms.ChoiceField(choices=[("", "Any"), ("a&b", "A & B <b>"), ("c", "Côr")], required=False)
    number = forms.TypedChoiceField(choices=[(0, "none"), (1, "one"), (12, "twelve")], coerce=int, required=False)
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.order_by("code"), required=False)


@pytest.mark.parametrize(
    "data",
    [None, {}, {"word": "a&b", "number": "12"}, {"word": "c", "number": "0"}, {"word": "nope", "number": "1"}],
)
def test_the_options_are_those_the_loop_wrote(prydderch, data):
    org = prydderch.orgs.police
    form = Choices(data if data is None else {**data, "organisation": str(org.pk)})
    if data is not None:
        form.is_valid()
    for name in ("word", "number", "organisation"):
        field = form[name]
        old, new = LOOP.render({"field": field}), FILTER.render({"field": field})
        assert new == old, (name, data)
    assert "A &amp; B &lt;b&gt;" in FILTER.render({"field": form["word"]})
    if data:
        assert f'value="{org.pk}" selected>' in FILTER.render({"field": form["organisation"]})


def test_the_chronology_filter_forms_selects_are_those_the_loop_wrote(prydderch):
    from cylch.chronology.forms import FilterForm

    people = [(prydderch.alys.public_id, "Child"), (prydderch.ceri.public_id, "Mother")]
    for data in (None, {"person": str(prydderch.ceri.public_id)}):
        form = FilterForm(data, people=people)
        form.offer(organisations=[("gp", "Meddygfa <GP>"), ("police", "Heddlu")],
                   categories=[("health", "Health"), ("police", "Police")], people=people)  # fmt: skip
        for name in ("person", "organisation", "category"):
            assert FILTER.render({"field": form[name]}) == LOOP.render({"field": form[name]}), name

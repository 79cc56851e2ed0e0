"""How a child was heard, and where a wish stands, in plain words (from the form's own labels)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from cylch.chronology.forms import LANGUAGES, LOCATIONS, METHODS, OUTCOMES, TOPICS

register = template.Library()


@register.filter
def how_heard(details: dict) -> list[str]:
    d = details or {}
    out = []
    if "seen_alone" in d:
        out.append(_("Seen alone") if d["seen_alone"] else _("Not seen alone"))
    for key, choices in (("location", LOCATIONS), ("method", METHODS)):
        if d.get(key):
            out.append(str(dict(choices).get(d[key], d[key])))
    if d.get("language"):
        out.append(_("Language: %(language)s") % {"language": dict(LANGUAGES).get(d["language"], d["language"])})
    if d.get("advocate_present"):
        out.append(_("With an advocate"))
    if d.get("topic"):
        out.append(_("About: %(topic)s") % {"topic": dict(TOPICS).get(d["topic"], d["topic"])})
    return out


@register.filter
def outcome_label(details: dict) -> str:
    value = (details or {}).get("outcome", "")
    label = str(dict(OUTCOMES).get(value, value))
    if (details or {}).get("child_told") is True:
        label += " " + _("(the child was told)")
    elif (details or {}).get("child_told") is False:
        label += " " + _("(the child has not been told yet)")
    return label

"""Small presentation helpers for event details."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


def _humanise(value) -> str:
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if isinstance(value, list):
        return ", ".join(_humanise(v) for v in value)
    if isinstance(value, str):
        return value.replace("_", " ")
    return str(value)


@register.filter
def detail_items(details: dict) -> list[tuple[str, str]]:
    """(label, value) pairs for an event's typed details, in plain words."""
    return [(key.replace("_", " ").capitalize(), _humanise(value)) for key, value in (details or {}).items()]


@register.filter
def local_name(thing) -> str:
    """An organisation's or authority's name in the page's language (Welsh where it has one)."""
    from django.utils.translation import get_language

    if thing is None:
        return ""
    if (get_language() or "en").startswith("cy") and getattr(thing, "name_cy", ""):
        return thing.name_cy
    return thing.name_en


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None

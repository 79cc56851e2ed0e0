"""Small presentation helpers for event details."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.core.taxonomy import detail_label, detail_value_label

register = template.Library()


def _value_text(key: str, value, language: str) -> str:
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if isinstance(value, list):
        return ", ".join(_value_text(key, v, language) for v in value)
    if isinstance(value, str):
        return detail_value_label(key, value, language)
    return str(value)


@register.filter
def detail_items(details: dict) -> list[tuple[str, str]]:
    """(label, value) pairs for an event's typed details, in the page's language.

    Keys and enum values take their labels from ``events/detail_labels.yaml``; booleans are
    Yes/No; numbers, dates and free text are shown as recorded.
    """
    language = get_language() or "en"
    return [(detail_label(key, language), _value_text(key, value, language)) for key, value in (details or {}).items()]


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


@register.simple_tag(takes_context=True)
def service_menu(context):
    """The signed-in user's menu items (``cylch.core.navigation``)."""
    from cylch.core.navigation import menu_items

    return menu_items(context["request"], context.get("unread_notices"))

"""Small presentation helpers for event details."""

from __future__ import annotations

from types import SimpleNamespace

from django import template
from django.template.base import render_value_in_context
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.core.taxonomy import detail_label, detail_value_label

register = template.Library()

# What ``render_value_in_context`` reads of a template context: escape, localise, local time.
_ESCAPING = SimpleNamespace(autoescape=True, use_l10n=None, use_tz=None)


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


QUOTES = '“”"„«»'


@register.filter
def role_words(title) -> str:
    """A job title that is only a role's name, in the page's language (``access.roles.role_words``)."""
    from cylch.access.roles import role_words as words

    return words(str(title or ""))


@register.filter
def quoted(text) -> str:
    """Words in quotation marks, unless the writer already put some in: a summary such as
    'Elis said: “There's no food.”' would otherwise end in two closing marks."""
    text = str(text or "")
    return text if any(mark in text for mark in QUOTES) else f"“{text}”"


@register.filter
def read_in(notice, language: str) -> tuple[str, str]:
    """A notice's (subject, body) in the page's language."""
    return notice.read_in(language or "en")


@register.filter
def local_name(thing) -> str:
    """An organisation's or authority's name in the page's language (Welsh where it has one)."""
    from django.utils.translation import get_language

    from cylch.core.collation import local_name as named

    return named(thing, get_language() or "en")


@register.filter
def alphabetical(things) -> list:
    """Organisations or authorities in the page's language's alphabetical order of their names
    there (``core.collation``): a list ordered by the English names reads as unordered in Welsh."""
    from django.utils.translation import get_language

    from cylch.core.collation import local_name as named
    from cylch.core.collation import sorted_by

    language = get_language() or "en"
    return sorted_by(things or [], lambda thing: named(thing, language), language)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def service_menu(context):
    """The signed-in user's menu items (``cylch.core.navigation``)."""
    from cylch.core.navigation import menu_items

    return menu_items(context["request"], context.get("unread_notices"))


@register.filter
def select_options(field) -> SafeString:
    """The ``<option>`` elements of a bound field's select, as ``includes/select.html`` wrote them
    with a loop (``{{ value }}``, ``{{ label }}``, and ``selected`` where
    ``field.value|default:""|stringformat:"s"`` equals ``value|stringformat:"s"``). A filter form
    has dozens of options; the loop's lookups were a tenth of a chronology page."""
    current = field.value()
    current = str(current) if current else ""
    context = _ESCAPING
    return mark_safe(  # nosec B308 B703: every value and label escaped as {{ }} escapes them
        "".join(
            f'<option value="{render_value_in_context(value, context)}"'
            f"{' selected' if current == str(value) else ''}>{render_value_in_context(label, context)}</option>"
            for value, label in field.field.widget.choices
        )
    )

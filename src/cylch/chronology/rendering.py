"""The HTML of chronology entries, built in Python.

The chronology page shows 50 groups and the person record 15; rendered through the template
engine, one include per group, that was four tenths of the page's time (thousands of variable
lookups and filter calls). This builds exactly what ``chronology/_entry.html`` used to render,
character for character, with the same translations (the same msgids as the template's
``translate`` and ``blocktranslate`` tags) and the same escaping: every value is escaped as the
template engine escapes it. ``_entry.html`` and the page call it through
``chronology_tags``, so there is still one rendering of an entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from types import SimpleNamespace
from uuid import UUID

from django.template.base import render_value_in_context
from django.template.defaulttags import CsrfTokenNode
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, MONTHS_3, MONTHS_ALT
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cylch.access.roles import role_words
from cylch.chronology.templatetags.voice_tags import how_heard, outcome_label
from cylch.core.templatetags.cylch_tags import detail_items

# What ``render_value_in_context`` reads of a template context: escape, localise, local time.
_CONTEXT = SimpleNamespace(autoescape=True, use_l10n=None, use_tz=None)


def _v(value) -> str:
    """A value as ``{{ value }}`` renders it."""
    if type(value) is str:  # most details: escaped as below, without the engine's checks
        return escape(value)
    return render_value_in_context(value, _CONTEXT)


def _e(text) -> str:
    """A string as ``{{ text }}`` renders it (the same as ``_v`` for a string, without the checks).
    A plain ``str`` goes straight to ``html.escape``, which is what Django's ``escape`` does for
    it (quotes included); a page escapes hundreds, and the lazy-string checks around each were
    a millisecond of it. Safe and lazy strings take Django's way."""
    if type(text) is str:
        return escape(text)
    return conditional_escape(text)


class _Dates:
    """``{{ value|date:"..." }}`` for the few formats entries use, as ``django.utils.dateformat``
    writes them (local time; ``j`` the day, ``E``/``F``/``M`` month names, ``Y`` four digits),
    with each month's name translated once per rendering rather than once per date."""

    __slots__ = ("_names",)

    def __init__(self) -> None:
        self._names: dict[tuple[str, int], str] = {}

    def _name(self, table: str, month: int) -> str:
        """The month's name, escaped (once: the numbers around it need no escaping)."""
        key = (table, month)
        if key not in self._names:
            name = {"E": MONTHS_ALT, "F": MONTHS, "M": MONTHS_3}[table][month]
            self._names[key] = escape(str(name).title() if table == "M" else str(name))
        return self._names[key]

    def day(self, value) -> str:  # "j E Y"
        d = timezone.localtime(value)
        return f"{d.day} {self._name('E', d.month)} {d.year:04d}"

    def iso(self, value) -> str:  # "c": digits, "-", ":", "." and "+" only
        return timezone.localtime(value).isoformat()

    def month(self, value) -> str:  # "F Y"
        d = timezone.localtime(value)
        return f"{self._name('F', d.month)} {d.year:04d}"

    def short_month(self, value) -> str:  # "M Y"
        d = timezone.localtime(value)
        return f"{self._name('M', d.month)} {d.year:04d}"

    def year_month(self, value) -> str:  # "Y-m"
        d = timezone.localtime(value)
        return f"{d.year:04d}-{d.month:02d}"


def _lookup(details, key: str):
    """``details.key`` as the template looks it up: empty when absent."""
    return details.get(key, "") if isinstance(details, dict) else ""


class _Page:
    """What every group of one rendering shares: who the entries are about, the address the
    significance forms come back to, the CSRF field, the words that do not vary and the dates."""

    __slots__ = ("_versions", "csrf", "dates", "marks", "next", "person_id", "whole_family", "words")

    def __init__(self, *, person, whole_family: bool, mark_form: bool, next_url: str, csrf_token) -> None:
        self.person_id = person.public_id
        self.whole_family = bool(whole_family)
        self.marks = bool(mark_form)
        self.next = _v(next_url)
        self.csrf = CsrfTokenNode().render({"csrf_token": csrf_token})  # as {% csrf_token %} renders it
        self.dates = _Dates()
        self.words = _Words()
        self._versions: dict[str, tuple[str, str]] = {}

    def address(self, name: str, event_id: UUID) -> str:
        """``{% url name person.public_id event.public_id %}``: reversed once per rendering with a
        stand-in id, then the event's id put in its place (the event's id comes last)."""
        if name not in self._versions:
            before, _sep, after = reverse(name, args=[self.person_id, _STAND_IN]).rpartition(str(_STAND_IN))
            self._versions[name] = (before, after)
        before, after = self._versions[name]
        return _e(f"{before}{event_id}{after}")


_STAND_IN = UUID(int=0)


class _Words:
    """The fixed words of an entry, translated once per rendering."""

    def __init__(self) -> None:
        self.withheld = _("Withheld")
        self.significant = _("Significant")
        self.corrected = _("Corrected")
        self.every_version = _("Every version")
        self.summary_only = _("Summary only: ask the recording agency for the details.")
        self.recorded_by = _("Recorded by %(org)s")
        self.contact = _("Contact")
        self.marked = _("Marked significant by %(org)s on %(date)s")
        self.withheld_on = _("Withheld: recorded by %(org)s on %(date)s. Contact their %(role)s")
        self.unmark = _("Remove significant mark")
        self.mark = _("Mark as significant")


def render_groups(
    groups: Iterable, *, person, whole_family: bool, mark_form: bool, next_url: str, csrf_token
) -> SafeString:
    """Each group as ``chronology/_entry.html`` rendered it, one after another."""
    page = _Page(
        person=person, whole_family=whole_family, mark_form=mark_form, next_url=next_url, csrf_token=csrf_token
    )
    # Safe: every value in it passed through _v, _e or _Dates (escaped as the template engine does).
    return mark_safe("".join(_group(group, page) for group in groups))  # nosec B308 B703


def _group(group, page: _Page) -> str:
    entry = group.lead
    count = group.count
    event = entry.event
    dates, words = page.dates, page.words
    day = dates.day(entry.occurred_at)
    out = [
        "\n\n",
        f'<li class="cylch-event{" cylch-event--significant" if entry.significant else ""}" id="entry-{event.public_id}">\n',
        '  <p class="govuk-body govuk-!-margin-bottom-1">\n',
        "    <strong>",
    ]
    if count > 1:
        if group.same_month:
            out.append(dates.month(group.newest))
        else:
            out.append(
                f'<time datetime="{dates.year_month(group.oldest)}">{dates.short_month(group.oldest)}</time> – '
                f'<time datetime="{dates.year_month(group.newest)}">{dates.short_month(group.newest)}</time>'
            )
    else:
        out.append(f'<time datetime="{dates.iso(entry.occurred_at)}">{day}</time>')
    out.append("</strong>\n    ")
    if page.whole_family:
        out.append(f'<span class="cylch-event__who">{_e(entry.who)}</span>')
    out.append("\n    ")
    if entry.withheld:
        out.append(f'<strong class="govuk-tag cylch-tag--withheld">{words.withheld}</strong>')
    else:
        out.append(f'<span class="govuk-tag govuk-tag--grey">{_e(entry.category_label)}</span>')
    out.append("\n    ")
    if entry.significant:
        out.append(f'<strong class="govuk-tag govuk-tag--red">{words.significant}</strong>')
    out.append("\n  </p>\n  ")
    if entry.withheld:
        out.append(_withheld(entry, count, day, words))
    else:
        out.append(_shown(group, entry, event, count, day, page))
    out.append("\n</li>\n\n")
    return "".join(out)


def _withheld(entry, count: int, day: str, words: _Words) -> str:
    org, role = _e(entry.organisation_name), _e(entry.contact_role)
    if count > 1:
        said = ngettext(
            "%(counter)s entry withheld: recorded by %(org)s. Contact their %(role)s",
            "%(counter)s entries withheld: recorded by %(org)s. Contact their %(role)s",
            count,
        ) % {"counter": _v(count), "org": org, "role": role}
    else:
        said = words.withheld_on % {"org": org, "date": day, "role": role}
    contact = f": {_e(entry.contact)}" if entry.contact else ""
    return f'\n    <p class="govuk-body govuk-!-margin-bottom-1">{said}{contact}.</p>\n  '


def _shown(group, entry, event, count: int, day: str, page: _Page) -> str:
    words = page.words
    label = _e(entry.label)
    out = ['\n    <p class="govuk-body govuk-!-margin-bottom-1">']
    if count > 1:
        out.append(f"<strong>{_v(count)} ×</strong> ")
    out.append(label)
    if event.supersedes_id:
        out.append(
            f' <span class="govuk-tag govuk-tag--yellow">{words.corrected}</span> '
            f'<a class="govuk-link govuk-body-s" href="{page.address("governance:versions", event.public_id)}">'
            f'{words.every_version}<span class="govuk-visually-hidden"> {label}</span></a>'
        )
    out.append("</p>\n    ")
    if count == 1:
        out.append(_single(entry, event, page))
    else:
        out.append(_folded(group, count, page.dates))
    out.append("\n    ")  # the line after the branch, then the form's indent
    if page.marks and count == 1:
        action = page.address("chronology:significant", event.public_id)
        button = words.unmark if entry.significant else words.mark
        out.append(
            f'\n    <form method="post" action="{action}" class="cylch-inline-form">{page.csrf}'
            f'<input type="hidden" name="next" value="{page.next}">\n'
            '      <button type="submit" class="govuk-button govuk-button--secondary govuk-!-margin-bottom-0 '
            f'cylch-button--small" data-module="govuk-button">{button}'
            f'<span class="govuk-visually-hidden"> – {label}, {day}</span></button>\n'
            "    </form>\n    "
        )
    out.append("\n  ")
    return "".join(out)


def _single(entry, event, page: _Page) -> str:
    """One entry shown in full: summary, details or how the child was heard, who recorded it, its mark."""
    words = page.words
    shows = entry.shows_content
    out = ["\n      "]
    if shows and event.summary:
        out.append(f'<p class="govuk-body govuk-!-margin-bottom-1 cylch-event__summary">{_e(event.summary)}</p>')
    out.append("\n      ")
    details = event.details if shows else None
    if shows and entry.category == "voice":
        heard = how_heard(details)
        outcome = _lookup(details, "outcome")
        if heard or outcome:
            out.append('<p class="govuk-body-s govuk-!-margin-bottom-1">')
            if outcome:
                out.append(_e(outcome_label(details)))
                follow_up = _lookup(details, "follow_up_on")
                if follow_up:
                    out.append(". " + _("Follow up by %(date)s.") % {"date": _v(follow_up)})
            else:
                out.append(" · ".join(_e(h) for h in heard))
            out.append("</p>")
        out.append("\n      ")
    elif shows and details:
        rows = "".join(
            '<div class="govuk-summary-list__row"><dt class="govuk-summary-list__key govuk-!-font-size-16">'
            f'{_v(key)}</dt><dd class="govuk-summary-list__value govuk-!-font-size-16">{_v(value)}</dd></div>'
            for key, value in detail_items(details)
        )
        out.append(
            f'<dl class="govuk-summary-list govuk-summary-list--no-border govuk-!-margin-bottom-1">{rows}</dl>\n      '
        )
    elif entry.level == "S":
        out.append(f'<p class="govuk-hint govuk-!-margin-bottom-1">{words.summary_only}</p>')
    out.append('\n      <p class="govuk-body-s govuk-!-margin-bottom-1">')
    out.append(words.recorded_by % {"org": _e(entry.organisation_name)})
    if shows and event.recorder_name:
        out.append(f" – {_e(event.recorder_name)}")
        if event.recorder_role:
            out.append(f", {_e(role_words(event.recorder_role))}")
    out.append(f". {words.contact}: ")
    if shows and event.recorder_contact:
        out.append(_e(event.recorder_contact))
    else:
        out.append(_e(entry.contact_role))
        if entry.contact:
            out.append(f", {_e(entry.contact)}")
    out.append("</p>\n      ")
    mark = entry.mark
    if mark:
        said = words.marked % {"org": _e(entry.marked_by), "date": page.dates.day(mark.marked_at)}
        note = f": “{_e(mark.note)}”" if mark.note else ""
        out.append(f'<p class="govuk-body-s govuk-!-margin-bottom-1">{said}{note}</p>')
    out.append("\n    ")
    return "".join(out)


def _folded(group, count: int, dates: _Dates) -> str:
    """Repeated entries folded under "Show all 3 entries"."""
    items = []
    for item in group.entries:
        event = item.event
        shows = item.shows_content
        recorder = f" – {_e(event.recorder_name)}" if shows and event.recorder_name else ""
        summary = f". {_e(event.summary)}" if shows and event.summary else ""
        items.append(
            f'<li id="entry-{event.public_id}"><time datetime="{dates.iso(item.occurred_at)}">'
            f"{dates.day(item.occurred_at)}</time>: {_e(item.organisation_name)}{recorder}{summary}</li>"
        )
    show = ngettext("Show the %(counter)s entry", "Show all %(counter)s entries", count) % {"counter": _v(count)}
    return (
        '\n      <details class="govuk-details govuk-!-margin-bottom-1">\n'
        '        <summary class="govuk-details__summary"><span class="govuk-details__summary-text">'
        f"{show}</span></summary>\n"
        '        <div class="govuk-details__text"><ul class="govuk-list">\n'
        f"          {''.join(items)}\n"
        "        </ul></div>\n"
        "      </details>\n    "
    )

"""The service's menu, built in Python.

Every page a practitioner opens carries it; written in the base template, with a ``{% url %}``,
a ``{% translate %}`` and two comparisons for each of fourteen items, it cost about two and a
half milliseconds of a page's forty. Here it is the same HTML, with each address reversed once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_noop

from cylch.access.models import User
from cylch.access.roles import CASEWORK_ROLES, FRONT_DOOR_ROLES, OrganisationKind


def _everyone(user) -> bool:
    return True


@dataclass(frozen=True)
class Item:
    url_name: str
    label: str  # the msgid, translated when shown (its Welsh is in the catalogue)
    shown_to: Callable[[User], bool] = _everyone


_APPROVERS = {"team-manager", "front-door", "social-worker", "conference-chair"}
_MEASURES = {"board-analyst", "team-manager", "conference-chair", "review-panel", "admin"}
_FRONT_DOOR = {r.value for r in FRONT_DOOR_ROLES}
_CASEWORK = {r.value for r in CASEWORK_ROLES}  # who may open a person's record: the rest are sent away from search


def _childrens_services(user) -> bool:
    return bool(user.organisation and user.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES)


# In the order shown.
ITEMS = (
    Item("identity:search", gettext_noop("Find a person"), lambda u: u.role in _CASEWORK),
    Item("notify:notices", gettext_noop("Notices")),
    Item("rules:alerts", gettext_noop("Alerts")),
    Item("governance:approvals", gettext_noop("Approvals"), lambda u: u.role in _APPROVERS),
    Item("governance:rights-requests", gettext_noop("People's requests"), lambda u: u.role == "team-manager"),
    Item("governance:webhooks", gettext_noop("Webhooks"), lambda u: u.role == "admin" or u.is_safeguarding_lead),
    Item("reports:new", gettext_noop("Report a worry")),
    Item("reports:find", gettext_noop("My reports")),
    # A board or a review panel holds no agency records to send.
    Item("events:imports", gettext_noop("Imports"), lambda u: u.role in _CASEWORK or u.role == "admin"),
    Item("insight:index", gettext_noop("Measures"), lambda u: u.role in _MEASURES),
    Item("reviews:board", gettext_noop("Reviews"), lambda u: u.role in ("review-panel", "board-analyst")),
    Item("protection:due", gettext_noop("Child protection dates"), _childrens_services),
    Item("reports:queue", gettext_noop("Front door"), lambda u: u.role in _FRONT_DOOR),
    Item("identity:review-queue", gettext_noop("Matching"), lambda u: u.role in _FRONT_DOOR),
)


_CURRENT = SafeString(' aria-current="page"')


@cache
def _address(url_name: str, prefix: str) -> str:
    """The item's address under this script prefix (the URLconf does not change while running)."""
    return reverse(url_name)


def menu_items(request, unread) -> SafeString:
    """The ``<li>`` items of the signed-in user's menu, before "Sign out"; ``unread`` is the
    count of unread notices (read only here, for the Notices item)."""
    user = request.user
    prefix = get_script_prefix()
    out = []
    for item in ITEMS:
        if not item.shown_to(user):
            continue
        url = _address(item.url_name, prefix)
        here = request.path == url
        label = mark_safe(gettext(item.label))  # nosec B308 B703: the catalogue's words, as {% translate %} shows them
        if item.url_name == "notify:notices" and unread:
            label = format_html(
                '{} <strong class="govuk-tag govuk-tag--blue">{}<span class="govuk-visually-hidden"> {}</span></strong>',
                label,
                unread,
                gettext("unread"),
            )
        out.append(
            format_html(
                '<li class="govuk-service-navigation__item{}">\n'
                '            <a class="govuk-service-navigation__link" href="{}"{}>{}</a>\n'
                "          </li>",
                " govuk-service-navigation__item--active" if here else "",
                url,
                _CURRENT if here else "",
                label,
            )
        )
    return mark_safe("\n          ".join(out))  # nosec B308 B703: every part passed through format_html

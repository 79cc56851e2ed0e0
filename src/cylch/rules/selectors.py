"""Reading alerts: whose they are, and each one explained in the reader's language with the
evidence they may see (entries they may not see show as withheld, with whom to contact)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cylch.access.models import User
from cylch.access.policy import Level
from cylch.access.roles import FRONT_DOOR_ROLES, OrganisationKind, Role
from cylch.access.selectors import PersonAccess, PersonNotFound, Viewer, access_person
from cylch.core import taxonomy
from cylch.rules.models import OPEN_STATUSES, SEVERITY_ORDER, Alert, LeadCoordinatorProposal, ProposalStatus
from cylch.rules.pack import Condition, Deadline, Pack, Rule, pack_for


def works_team_queue(user: User) -> bool:
    """Who works the alerts sent to their organisation rather than to them by name."""
    if user.organisation is None:
        return False
    if user.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES:
        return user.role in FRONT_DOOR_ROLES
    return user.is_safeguarding_lead or user.role == Role.TEAM_MANAGER


def alerts_for(user: User, *, open_only: bool = True) -> QuerySet[Alert]:
    """Alerts sent to the user by name, or to their team when they work its queue."""
    mine = Q(recipients__user=user)
    if works_team_queue(user):
        mine |= Q(owner_organisation=user.organisation) | Q(
            recipients__organisation=user.organisation, recipients__user__isnull=True
        )
    qs = Alert.objects.filter(mine)
    if open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    return Alert.objects.filter(pk__in=qs.values("pk")).select_related("owner_organisation", "owner")


def sort_for_queue(alerts: list[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.status != "raised", SEVERITY_ORDER[a.severity], a.acknowledge_by))


def rule_of(alert: Alert) -> Rule | None:
    board = alert.local_authority.board_area.code if alert.local_authority_id else None
    return rule_named(alert.rule_id, board)


def rule_named(rule_id: str, board_area_code: str | None) -> Rule | None:
    """The rule of that id in the pack of that board's area (an alert read as values has both)."""
    return pack_for(board_area_code).rule(rule_id)


# --- describing rules ---------------------------------------------------------------------


def _selector_words(raw: dict[str, Any], language: str) -> str:
    if raw.get("soft"):
        words = _("any smaller concern (soft intelligence)")
    elif raw.get("domains"):
        words = " / ".join(taxonomy.domains()[d].label(language) for d in raw["domains"])
    else:
        words = _(" or ").join(taxonomy.get(c).label(language) if taxonomy.get(c) else c for c in raw.get("codes", []))
    if raw.get("about") == "child":
        words += " " + _("(about a child)")
    elif raw.get("about") == "adult":
        words += " " + _("(about an adult)")
    return words


def describe_conditions(rule: Rule, language: str) -> list[str]:
    """Each condition as a sentence, e.g. "At least 2 of: Child not brought to ... within 6 months"."""
    out = []
    with translation.override(language):
        window = rule.window.words(language)
        for cond, raw in zip(rule.conditions, rule.raw["when"], strict=True):
            body = next(iter(raw.values()))
            out.append(_describe(cond, body, window, language))
    return out


def _describe(cond: Condition, body: Any, window: str, language: str) -> str:
    if cond.kind == "count":
        return _("At least %(n)s of: %(what)s, within %(window)s") % {
            "n": cond.at_least, "what": _selector_words(body["events"], language), "window": window}  # fmt: skip
    if cond.kind == "organisations":
        return _("From at least %(n)s different organisations") % {"n": cond.at_least}
    if cond.kind == "each_of":
        parts = "; ".join(_selector_words(s, language) for s in body)
        return _("Each of these within %(window)s, about anyone in scope: %(parts)s") % {"window": window, "parts": parts}  # fmt: skip
    if cond.kind == "since_decision":
        return _("After an earlier decision of this kind within %(within)s: %(what)s") % {
            "within": cond.within.words(language), "what": _selector_words(body["decision"], language)}  # fmt: skip
    if cond.kind == "status":
        return _("The child is on the child protection register or looked after at the time")
    parts = []
    if cond.under_months is not None:
        parts.append(ngettext("under %(n)s month old", "under %(n)s months old", cond.under_months) % {"n": cond.under_months})  # fmt: skip
    if cond.from_years is not None:
        parts.append(_("aged %(n)s or over") % {"n": cond.from_years})
    if cond.under_years is not None:
        parts.append(_("under %(n)s") % {"n": cond.under_years})
    return _("The child is %(ages)s") % {"ages": _(" and ").join(parts)}


SCOPE_LABELS = {
    "child": ("The child's own records", "Cofnodion y plentyn ei hun"),
    "child_and_siblings": ("The child and their brothers and sisters", "Y plentyn a'i frodyr a'i chwiorydd"),
    "household": ("Everyone at the child's home address", "Pawb yng nghyfeiriad cartref y plentyn"),
    "parents_and_carers": (
        "The child's parents and carers, wherever they live",
        "Rhieni a gofalwyr y plentyn, lle bynnag y maen nhw'n byw",
    ),
}


def scope_label(rule: Rule, language: str) -> str:
    en, cy = SCOPE_LABELS[rule.scope]
    return cy if language == "cy" else en


def describe_deadline(deadline: Deadline, language: str) -> str:
    """How long the first person told has to acknowledge, e.g. "Before 08:30 on the next school
    day (the term dates of the child's local authority)"."""
    cy = language == "cy"
    if deadline.hours is not None:
        n = deadline.hours
        return f"O fewn {n} awr" if cy else f"Within {n} hour{'' if n == 1 else 's'}"
    if deadline.working_days is not None:
        n = deadline.working_days
        return f"O fewn {n} diwrnod gwaith" if cy else f"Within {n} working day{'' if n == 1 else 's'}"
    if deadline.next_school_day_at is not None:
        at = deadline.next_school_day_at
        if cy:
            return f"Cyn {at} ar y diwrnod ysgol nesaf (yn ôl dyddiadau tymor awdurdod lleol y plentyn)"
        return f"Before {at} on the next school day (by the term dates of the child's local authority)"
    at = deadline.next_working_day_at or "08:30"
    return f"Cyn {at} ar y diwrnod gwaith nesaf" if cy else f"Before {at} on the next working day"


@dataclass
class RuleView:
    rule: Rule
    title: str
    explanation: str
    finding: str
    scope: str
    conditions: list[str]
    route_to: list[str]
    severity_label: str
    acknowledge: str = ""  # the deadline in words (describe_deadline)


PART_LABELS = {
    "lead_coordinator": ("Lead coordinator", "Cydgysylltydd arweiniol"),
    "social_worker": ("Allocated social worker", "Gweithiwr cymdeithasol dynodedig"),
    "front_door": ("Local authority front door", "Drws ffrynt yr awdurdod lleol"),
    "health_visitor": ("Health visitor", "Ymwelydd iechyd"),
    "school_nurse": ("School nurse", "Nyrs ysgol"),
    "midwife": ("Midwife", "Bydwraig"),
    "gp": ("GP", "Meddyg teulu"),
    "school": ("School safeguarding lead", "Arweinydd diogelu ysgol"),
    "manager": ("Team manager", "Rheolwr tîm"),
}


def part_label(part: str, language: str) -> str:
    en, cy = PART_LABELS.get(part, (part, part))
    return cy if language == "cy" else en


def _severity_label(value: str, language: str) -> str:
    from cylch.rules.models import Severity

    with translation.override(language):
        return str(Severity(value).label)


def rule_views(pack: Pack, language: str) -> list[RuleView]:
    return [
        RuleView(
            rule=r,
            title=r.text("title", language),
            explanation=r.text("explanation", language),
            finding=r.text("finding", language),
            scope=scope_label(r, language),
            conditions=describe_conditions(r, language),
            route_to=[part_label(p, language) for p in r.route_to],
            severity_label=_severity_label(r.severity, language),
            acknowledge=describe_deadline(r.acknowledge, language),
        )
        for r in pack.rules
    ]


# --- one alert, for one reader -------------------------------------------------------------


@dataclass
class EvidenceEntry:
    event: Any
    label: str
    organisation: str
    withheld: bool
    about: str
    contact_role: str
    contact: str


def _access_for(viewer: Viewer, person, cache: dict) -> PersonAccess | None:
    if person.pk not in cache:
        try:
            cache[person.pk] = access_person(viewer, person.public_id)
        except PersonNotFound:
            cache[person.pk] = None
    return cache[person.pk]


def evidence_for(alert: Alert, user: User, language: str) -> list[EvidenceEntry]:
    viewer = Viewer.for_user(user)
    cache: dict[int, PersonAccess | None] = {}
    children = list(alert.children.all())
    entries = []
    rows = alert.evidence.select_related("event__organisation", "event__person").order_by(
        "event__occurred_at", "event__id"
    )
    for row in rows:
        e = row.event
        subject = e.person or (children[0] if children else None)
        access = _access_for(viewer, subject, cache) if subject else None
        level = access.level_for(sensitivity=e.sensitivity, organisation_id=e.organisation_id) if access else Level.EXISTENCE  # fmt: skip
        code = taxonomy.get(e.code)
        entries.append(
            EvidenceEntry(
                event=e,
                label=code.label(language) if code else e.code,
                organisation=e.organisation.name(language),
                withheld=level == Level.EXISTENCE,
                about=(e.person.display_name if e.person and access and access.may_see_demographics else ""),
                contact_role=(e.organisation.contact_role_cy if language == "cy" else e.organisation.contact_role_en)
                or _("Safeguarding lead"),
                contact=e.organisation.safeguarding_email or e.organisation.safeguarding_phone,
            )
        )
    return entries


def evidence_sentence(entries: list[EvidenceEntry], language: str) -> list[str]:
    """One line per kind of entry, dates grouped by who recorded them, e.g.
    "2 × Child not brought to a health appointment: Meddygfa'r Bont, 3 March 2026; Ysbyty Bronglais,
    18 April 2026" or "9 × Police notice: Heddlu De Cymru, 8 December 2025, 17 January 2026, ..."."""
    groups: dict[str, dict[str, list[EvidenceEntry]]] = {}
    for entry in entries:
        label = _("Withheld entry") if entry.withheld else entry.label
        groups.setdefault(label, {}).setdefault(entry.organisation, []).append(entry)
    lines = []
    with translation.override(language):
        for label, by_org in groups.items():
            places = "; ".join(
                org + ", " + ", ".join(formats.date_format(i.event.occurred_at.date(), "j F Y") for i in items)
                for org, items in by_org.items()
            )
            lines.append(f"{sum(len(v) for v in by_org.values())} × {label}: {places}")
    return lines


def proposals_for(user: User) -> QuerySet[LeadCoordinatorProposal]:
    """Proposals waiting for this manager's front door."""
    from cylch.rules.routing import front_door

    if user.role != Role.TEAM_MANAGER or user.organisation is None:
        return LeadCoordinatorProposal.objects.none()
    qs = LeadCoordinatorProposal.objects.filter(status=ProposalStatus.PROPOSED).select_related(
        "person", "organisation", "practitioner", "local_authority"
    )
    if user.organisation.local_authority_id:
        return qs.filter(local_authority_id=user.organisation.local_authority_id)
    return qs.filter(local_authority__isnull=True) if user.organisation == front_door(None) else qs.none()

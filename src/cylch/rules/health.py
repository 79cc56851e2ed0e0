"""Rule health: when each rule last fired in each board area, and which have gone quiet (HAZ-003).

A rule can stop firing without anything failing: a code renamed upstream, a detail value an
agency stopped sending, a threshold a region raised. An absent alert reads as an absence of
concern, so the silence itself has to be shown.

**Quiet**, in one sentence: in the last ``days`` days (``CYLCH_RULE_QUIET_DAYS``, 90) at least
``min_triggers`` events (``CYLCH_RULE_QUIET_MIN_TRIGGERS``, 20) carrying a code that can set the
rule off happened to people whose household is in the board area, and the rule neither raised an
alert there nor added evidence to one. Quiet does not mean broken (a rule with a high threshold
may rightly stay silent); it means someone should look. The count is by code only: a rule's
``where`` (detail values) and ``about`` are not applied, so it is an upper bound of what could
set the rule off. Events with no household count for "no board area", read by the national pack.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from cylch.access.models import BoardArea
from cylch.events.models import Event
from cylch.rules.models import Alert
from cylch.rules.pack import Rule, national_pack, pack_for

QUIET_DAYS = 90
QUIET_MIN_TRIGGERS = 20


@dataclass(frozen=True)
class RuleHealth:
    board_area: str | None  # the board area's code; None for people with no known household
    board_area_name: str
    pack: str  # the pack and version the area uses, e.g. wales@2026.1
    rule: Rule
    last_fired: datetime | None  # the last time it raised an alert or added evidence in the area
    triggers: int  # events in the window carrying a code that can set it off
    quiet: bool


@dataclass(frozen=True)
class SwitchedOff:
    board_area: str
    pack: str
    rule_id: str


def quiet_settings() -> tuple[int, int]:
    """(days, min_triggers) from settings, with the documented defaults."""
    return (
        int(getattr(settings, "CYLCH_RULE_QUIET_DAYS", QUIET_DAYS)),
        int(getattr(settings, "CYLCH_RULE_QUIET_MIN_TRIGGERS", QUIET_MIN_TRIGGERS)),
    )


def rule_health(
    *, now: datetime | None = None, days: int | None = None, min_triggers: int | None = None
) -> list[RuleHealth]:
    """Every rule in use in every board area, with when it last fired and whether it is quiet.

    Three queries whatever the size of the hub: the board areas, the latest alert activity per
    (area, rule), and the events per (area, code) in the window (on the (code, occurred_at) index).
    """
    default_days, default_min = quiet_settings()
    days = default_days if days is None else days
    min_triggers = default_min if min_triggers is None else min_triggers
    now = now or timezone.now()
    since = now - timedelta(days=days)
    areas: list[tuple[str | None, str]] = [(a.code, a.name_en) for a in BoardArea.objects.order_by("name_en")]
    packs = {code: pack_for(code) for code, _name in areas} | {None: national_pack()}
    codes = set().union(*(r.trigger.codes for p in packs.values() for r in p.rules))

    last_fired = {
        (row["local_authority__board_area__code"], row["rule_id"]): row["last"]
        for row in Alert.objects.values("local_authority__board_area__code", "rule_id").annotate(
            last=Max("evidence_updated_at")
        )
    }
    arrived: dict[str | None, dict[str, int]] = defaultdict(dict)
    for row in (
        Event.objects.filter(code__in=sorted(codes), occurred_at__gte=since, occurred_at__lte=now)
        .values("household__local_authority__board_area__code", "code")
        .annotate(n=Count("pk"))
    ):
        arrived[row["household__local_authority__board_area__code"]][row["code"]] = row["n"]

    if arrived.get(None) or any(area is None for area, _rule in last_fired):
        areas.append((None, "No board area (no household recorded)"))
    out = []
    for code, name in areas:
        pack = packs[code]
        for rule in pack.rules:
            triggers = sum(arrived[code].get(c, 0) for c in rule.trigger.codes)
            last = last_fired.get((code, rule.id))
            quiet = triggers >= min_triggers and (last is None or last < since)
            out.append(RuleHealth(code, name, pack.label, rule, last, triggers, quiet))
    return out


def rules_switched_off() -> list[SwitchedOff]:
    """National rules a board area's own pack switches off (``disabled``), so nobody assumes they run."""
    national = {r.id for r in national_pack().rules}
    out = []
    for code in sorted(getattr(settings, "CYLCH_RULE_PACKS", None) or {}):
        pack = pack_for(code)
        out += [SwitchedOff(code, pack.label, rule_id) for rule_id in sorted(national - {r.id for r in pack.rules})]
    return out

"""Evaluate one rule over one scope's events: a pure function, no database.

The incremental path (one new event) and the batch path (the whole population) both load
events and call :func:`evaluate`, so they cannot disagree about what a rule means.

A rule fires at an *anchor*: a triggering event inside the look-back period. Its conditions
look at the window that ends with the anchor. Anchoring windows on events rather than on
"now" makes the answer depend only on the events and the moment of evaluation, however late
an event arrives. The evidence is every counted event in every window that fired.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cylch.rules.pack import Condition, Rule, Selector

REGISTER_ON, REGISTER_OFF = "process.register.registered", "process.register.deregistered"
LAC_ON, LAC_OFF = "social_care.looked_after.started", "social_care.looked_after.ended"
STATUS_CODES = {REGISTER_ON: ("register", True), REGISTER_OFF: ("register", False),
                LAC_ON: ("looked_after", True), LAC_OFF: ("looked_after", False)}  # fmt: skip


@dataclass(frozen=True)
class Ev:
    """The parts of an event a rule reads."""

    id: int
    code: str
    at: datetime
    organisation_id: int
    person_id: int | None
    details: dict[str, Any]
    is_child: bool | None  # the subject was under 18 then; None for a household or unknown age


@dataclass
class Child:
    id: int
    born: date | None
    unborn: bool = False
    # (moment, "register" | "looked_after", on?) in time order
    statuses: list[tuple[datetime, str, bool]] = field(default_factory=list)

    def age_months(self, on: date) -> int | None:
        if self.unborn or (self.born and self.born > on):
            return 0
        if self.born is None:
            return None
        return (on.year - self.born.year) * 12 + on.month - self.born.month - (on.day < self.born.day)

    def status_on(self, moment: datetime) -> set[str]:
        state: dict[str, bool] = {}
        for at, kind, on in self.statuses:
            if at > moment:
                break
            state[kind] = on
        return {k for k, v in state.items() if v}


@dataclass
class Finding:
    evidence: set[int]
    children: set[int]
    anchors: list[int]
    counts: list[dict[str, Any]]  # per condition, at the latest anchor that fired


def _matching(events: list[Ev], selector: Selector) -> list[Ev]:
    return [e for e in events if selector.matches(e.code, e.details, e.is_child)]


def _child_ok(cond: Condition, child: Child, moment: datetime) -> bool:
    if cond.kind == "status":
        return bool(cond.statuses & child.status_on(moment))
    months = child.age_months(moment.date())
    if months is None:
        return False  # an unknown age is not evidence of any age
    if cond.under_months is not None and months >= cond.under_months:
        return False
    if cond.under_years is not None and months >= 12 * cond.under_years:
        return False
    return not (cond.from_years is not None and months < 12 * cond.from_years)


def _fires(rule: Rule, events: list[Ev], times: list[datetime], anchor: Ev, children: list[Child]):
    """(evidence ids, qualifying children, counts) if the rule fires at ``anchor``, else None."""
    lo = bisect_left(times, rule.window.before(anchor.at))
    hi = bisect_right(times, anchor.at)
    window = events[lo:hi]
    evidence = {anchor.id}
    counts: list[dict[str, Any]] = []
    for cond in rule.conditions:
        if cond.kind == "count":
            hits = _matching(window, cond.selectors[0])
            if len(hits) < cond.at_least:
                return None
            evidence.update(e.id for e in hits)
            counts.append({"kind": "count", "found": len(hits), "needed": cond.at_least})
        elif cond.kind == "organisations":
            hits = _matching(window, cond.selectors[0])
            orgs = {e.organisation_id for e in hits}
            if len(orgs) < cond.at_least:
                return None
            evidence.update(e.id for e in hits)
            counts.append({"kind": "organisations", "found": len(orgs), "needed": cond.at_least})
        elif cond.kind == "each_of":
            groups = [_matching(window, s) for s in cond.selectors]
            if not all(groups):
                return None
            for g in groups:
                evidence.update(e.id for e in g)
            counts.append({"kind": "each_of", "found": [len(g) for g in groups]})
        elif cond.kind == "since_decision":
            start = cond.within.before(anchor.at)
            lo_d = bisect_left(times, start)
            decisions = [
                e for e in _matching(events[lo_d:hi], cond.selectors[0]) if e.at < anchor.at and e.id != anchor.id
            ]
            if not decisions:
                return None
            evidence.update(e.id for e in decisions)
            counts.append({"kind": "since_decision", "found": len(decisions)})
    child_conditions = [c for c in rule.conditions if c.kind in ("child_age", "status")]
    qualifying = {c.id for c in children if all(_child_ok(cond, c, anchor.at) for cond in child_conditions)}
    if not qualifying:
        return None
    return evidence, qualifying, counts


def evaluate(rule: Rule, events: list[Ev], children: list[Child], now: datetime) -> Finding | None:
    """Does ``rule`` fire over these events (one scope's, any order) for these children?"""
    if not children:
        return None
    events = sorted(events, key=lambda e: (e.at, e.id))
    times = [e.at for e in events]
    since = rule.lookback.before(now)
    finding: Finding | None = None
    for anchor in events:
        if anchor.at < since or anchor.at > now:
            continue
        if not rule.trigger.matches(anchor.code, anchor.details, anchor.is_child):
            continue
        fired = _fires(rule, events, times, anchor, children)
        if fired is None:
            continue
        evidence, qualifying, counts = fired
        if finding is None:
            finding = Finding(set(), set(), [], counts)
        finding.evidence |= evidence
        finding.children |= qualifying
        finding.anchors.append(anchor.id)
        finding.counts = counts
    return finding

"""The retention schedule as data: loading ``retention.yaml`` (every problem named by file, line
and field) and deciding a record's date from its rules (docs/governance.md, "Retention").

Each rule is a minimum period from a trigger; a record is due on the latest date the rules that
apply to it give. Rules about children are applied to each child the record is about (the
youngest child's 25th birthday is the latest); rules about the record (``recorded``, ``closed``)
once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from cylch.core.yamltree import versioned_section
from cylch.governance.retention_records import (
    CHILD_TRIGGERS,
    CLASSES,
    AuditLogClass,
    Candidate,
    PersonFacts,
    add_years,
)

DEFAULT_FILE = Path(__file__).with_name("retention.yaml")
CHILD_CONDITIONS = frozenset({"looked_after", "adopted", "died_under_18"})
RECORD_CONDITIONS = frozenset({"no_child", "age_unknown"})
CLASS_FIELDS = frozenset({"enabled", "action", "rules"})
RULE_FIELDS = frozenset({"id", "when", "from", "years", "source", "assumption"})
TRIGGER_WORDS = {
    "birth": "birth",
    "death": "death",
    "adoption": "the adoption order",
    "recorded": "when it was made",
    "closed": "when it was closed",
}

# --- the schedule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    name: str
    negated: bool = False

    def __str__(self) -> str:
        return f"not {self.name}" if self.negated else self.name


@dataclass(frozen=True)
class Rule:
    id: str
    when: tuple[Condition, ...]
    trigger: str
    years: int
    source: str
    assumption: bool

    @property
    def about_children(self) -> bool:
        return self.trigger in CHILD_TRIGGERS

    def describe(self) -> str:
        """``looked_after: 75 years from birth (when looked_after, not died_under_18)``."""
        when = f" (when {', '.join(str(c) for c in self.when)})" if self.when else ""
        years = "1 year" if self.years == 1 else f"{self.years} years"
        return f"{self.id}: {years} from {TRIGGER_WORDS[self.trigger]}{when}"


@dataclass(frozen=True)
class ClassRules:
    key: str
    enabled: bool
    action: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Schedule:
    classes: dict[str, ClassRules]
    sha256: str
    name: str


class ScheduleError(ValueError):
    """Every problem in the file at once, each as ``file:line: where: message``."""


def load(path: Path) -> Schedule:
    """Read and check a schedule file. Every class Cylch knows must be listed (a class switched
    off is a visible ``enabled: false``), each with the one action its records allow."""
    raw = path.read_bytes()
    classes, problem = versioned_section(
        path.name,
        raw.decode("utf-8"),
        ScheduleError,
        section="classes",
        known=list(CLASSES),
        noun="class",
        mapping="record class to its rules",
        switched_off="keeps all of it",
    )
    out: dict[str, ClassRules] = {}
    for key, spec in classes.items():
        if key not in CLASSES:
            continue
        where = ["classes", key]
        if not isinstance(spec, dict):
            problem(where, "expected enabled, action and rules")
            continue
        for extra in sorted(set(spec) - CLASS_FIELDS):
            problem([*where, extra], f"unknown field; use {', '.join(sorted(CLASS_FIELDS))}")
        enabled = spec.get("enabled")
        if not isinstance(enabled, bool):
            problem([*where, "enabled"], "must be true or false")
        action = CLASSES[key].action
        if spec.get("action") != action:
            problem([*where, "action"], f"must be {action}: that is what Cylch does with {key} (docs/governance.md)")
        rules = _rules(spec.get("rules"), key, where, problem)
        out[key] = ClassRules(key, bool(enabled), action, tuple(rules))
    problem.raise_as(ScheduleError)
    return Schedule(out, hashlib.sha256(raw).hexdigest(), path.name)


def _rules(raw: Any, key: str, where: list[Any], problem) -> list[Rule]:
    if not isinstance(raw, list) or not raw:
        problem([*where, "rules"], "must be a list of at least one rule")
        return []
    out, seen = [], set()
    triggers = CLASSES[key].triggers
    for i, rule in enumerate(raw):
        at = [*where, "rules", i]
        if not isinstance(rule, dict):
            problem(at, "expected id, from, years and source")
            continue
        for extra in sorted(set(rule) - RULE_FIELDS):
            problem([*at, extra], f"unknown field; use {', '.join(sorted(RULE_FIELDS))}")
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip():
            problem([*at, "id"], "must name the rule")
        elif rule_id in seen:
            problem([*at, "id"], f"“{rule_id}” is used twice in this class")
        seen.add(rule_id)
        trigger = rule.get("from")
        if trigger not in triggers:
            problem([*at, "from"], f"“{trigger}” is not a trigger for {key}; one of {', '.join(sorted(triggers))}")
        when = rule.get("when", [])
        conditions = []
        if when and isinstance(CLASSES[key], AuditLogClass):
            problem([*at, "when"], "audit entries are about no one in particular: no conditions here")
            when = []
        if not isinstance(when, list):
            problem([*at, "when"], "must be a list of conditions")
            when = []
        for j, text in enumerate(when):
            negated = isinstance(text, str) and text.startswith("not ")
            name = text[4:].strip() if negated else text
            if name in CHILD_CONDITIONS:
                if trigger not in CHILD_TRIGGERS:
                    problem([*at, "when", j], f"“{name}” is about a child: use it with from: birth, death or adoption")
            elif name in RECORD_CONDITIONS:
                if trigger in CHILD_TRIGGERS:
                    problem([*at, "when", j], f"“{name}” is about the record: use it with from: recorded or closed")
            else:
                known = ", ".join(sorted(CHILD_CONDITIONS | RECORD_CONDITIONS))
                problem([*at, "when", j], f"“{text}” is not a condition; one of {known} (or “not …”)")
            conditions.append(Condition(str(name), negated))
        years = rule.get("years")
        if isinstance(years, bool) or not isinstance(years, int) or years < 0:
            problem([*at, "years"], "must be a whole number of years, 0 or more")
        source = rule.get("source")
        if not isinstance(source, str) or not source.strip():
            problem([*at, "source"], "say where the period comes from (or that it is Cylch's default)")
        assumption = rule.get("assumption", False)
        if not isinstance(assumption, bool):
            problem([*at, "assumption"], "must be true or false")
        out.append(Rule(str(rule_id), tuple(conditions), str(trigger), years if isinstance(years, int) else 0,
                        str(source or ""), bool(assumption)))  # fmt: skip
    return out


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: int) -> Schedule:
    return load(Path(path))


def schedule_path() -> Path:
    return Path(getattr(settings, "CYLCH_RETENTION_FILE", "") or DEFAULT_FILE)


def schedule() -> Schedule:
    """The schedule in force (re-read when the file changes)."""
    path = schedule_path()
    return _load_cached(str(path), path.stat().st_mtime_ns)


# --- when a record is due ------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    due_on: date | None = None
    rule: Rule | None = None
    trigger_date: date | None = None


def _later(best: Decision, rule: Rule, start: date | None) -> Decision:
    if start is None:
        return best
    due = add_years(start, rule.years)
    return Decision(due, rule, start) if best.due_on is None or due > best.due_on else best


def _child_condition(condition: Condition, child: PersonFacts) -> bool:
    value = {
        "looked_after": child.looked_after,
        "adopted": child.adopted_on is not None,
        "died_under_18": child.died_under_18,
    }[condition.name]
    return value != condition.negated


def decide(rules: ClassRules, candidate: Candidate, facts: dict[int, PersonFacts]) -> Decision:
    """The date the record may go: the latest any applicable rule gives, with that rule."""
    children: list[PersonFacts] = []
    unknown = False
    for pk in candidate.age_persons:
        person = facts.get(pk)
        if person is None or person.born is None:
            unknown = True
        elif candidate.all_children or person.child_on(candidate.on):
            children.append(person)
    state = {"no_child": not children and not unknown, "age_unknown": unknown}
    best = Decision()
    for rule in rules.rules:
        if rule.about_children:
            for child in children:
                if all(_child_condition(c, child) for c in rule.when):
                    start = {"birth": child.born, "death": child.died, "adoption": child.adopted_on}[rule.trigger]
                    best = _later(best, rule, start)
        elif all(state[c.name] != c.negated for c in rule.when):
            best = _later(best, rule, candidate.recorded if rule.trigger == "recorded" else candidate.closed)
    return best

"""Rule packs: YAML in, checked rules out.

A pack is data (``pack.schema.json``); nothing in it is executed. Loading does three things:
schema validation, resolving ``"$setting"`` numbers and ``extends``, and checks the schema
cannot make (codes exist in the taxonomy, ``where`` names a real detail field, settings
exist). Every problem names the file, the line, the rule and the field, all at once.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from jsonschema import Draft202012Validator

from cylch.core import taxonomy
from cylch.core.yamltree import line_of as _line_of

HERE = Path(__file__).resolve().parent
SCHEMA_FILE = HERE / "pack.schema.json"
NATIONAL_PACK = HERE / "packs" / "wales.yaml"
SEVERITIES = ("urgent", "high", "medium", "low")
STATUS_EVENT_CODES = frozenset(
    {
        "process.register.registered",
        "process.register.deregistered",
        "social_care.looked_after.started",
        "social_care.looked_after.ended",
    }
)
SCOPES = ("child", "child_and_siblings", "household", "parents_and_carers")
# Deadlines given as a time of day ("08:30") rather than a number.
TIME_OF_DAY = ("next_working_day_at", "next_school_day_at")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        rule = f" rule “{self.rule}”" if self.rule else ""
        return f"{where}:{rule} {self.field or '(pack)'}: {self.message}"


class PackError(ValueError):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Duration:
    unit: str  # days | hours | months
    n: int

    def before(self, moment: datetime) -> datetime:
        """The moment this long before ``moment`` (calendar months, day clamped to the month)."""
        if self.unit == "days":
            return moment - timedelta(days=self.n)
        if self.unit == "hours":
            return moment - timedelta(hours=self.n)
        month = moment.month - 1 - self.n
        year = moment.year + month // 12
        month = month % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)

    def words(self, language: str) -> str:
        names = {
            "en": {"days": ("day", "days"), "hours": ("hour", "hours"), "months": ("month", "months")},
            "cy": {"days": ("diwrnod", "diwrnod"), "hours": ("awr", "awr"), "months": ("mis", "mis")},
        }[language if language == "cy" else "en"][self.unit]
        return f"{self.n} {names[0] if self.n == 1 else names[1]}"


@dataclass(frozen=True)
class Selector:
    codes: frozenset[str]
    where: tuple[tuple[str, frozenset], ...] = ()
    about: str | None = None  # "child" | "adult" | None

    def matches(self, code: str, details: dict, is_child: bool | None) -> bool:
        if code not in self.codes:
            return False
        for key, allowed in self.where:
            if details.get(key) not in allowed:
                return False
        if self.about == "child" and is_child is False:
            return False
        return not (self.about == "adult" and is_child is True)


@dataclass(frozen=True)
class Condition:
    kind: str  # count | organisations | each_of | since_decision | child_age | status
    selectors: tuple[Selector, ...] = ()
    at_least: int = 0
    within: Duration | None = None
    under_months: int | None = None
    under_years: int | None = None
    from_years: int | None = None
    statuses: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Deadline:
    """One of: within ``hours``; within ``working_days``; before a time ("08:30") on the next
    working day, or on the next school day of the child's local authority (term dates:
    core/school_terms.yaml)."""

    hours: int | None = None
    working_days: int | None = None
    next_working_day_at: str | None = None
    next_school_day_at: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    pack: str
    title: dict[str, str]
    explanation: dict[str, str]
    finding: dict[str, str]
    scope: str
    window: Duration
    lookback: Duration
    conditions: tuple[Condition, ...]
    severity: str
    acknowledge: Deadline
    route_to: tuple[str, ...]
    trigger: Selector
    living_with_child: bool = False
    alert_for: str = "scope"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def text(self, key: str, language: str) -> str:
        return getattr(self, key)["cy" if language == "cy" else "en"]

    def title_in(self, language: str) -> str:
        return self.text("title", language)

    @cached_property  # asked about a thousand times a batch; a rule never changes once loaded
    def reads(self) -> frozenset[str]:
        """Every code the rule looks at: an event with another code cannot change its result."""
        codes = set(self.trigger.codes)
        for c in self.conditions:
            for s in c.selectors:
                codes |= s.codes
            if c.kind == "status":  # a late registration can make an earlier event count
                codes |= STATUS_EVENT_CODES
        return frozenset(codes)


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    title: dict[str, str]
    settings: dict[str, int]
    rules: tuple[Rule, ...]
    source: str
    # The documents as written, so a regional pack can re-read the national rules with its settings.
    raw_rules: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)
    raw_acknowledge: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    raw_lookback: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def reading(self, code: str) -> list[Rule]:
        return [r for r in self.rules if code in r.reads]


# --- loading -------------------------------------------------------------------------------


def _schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


class _Reader:
    """Collects problems while turning one document into rules."""

    def __init__(self, name: str, doc: dict[str, Any], tree: yaml.Node | None, values: dict[str, int]):
        self.name = name
        self.doc = doc
        self.tree = tree
        self.values = values
        self.problems: list[Problem] = []

    def problem(self, path: list[Any], message: str) -> None:
        rule = ""
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = self.doc.get("rules") or []
            if isinstance(rules, list) and path[1] < len(rules):
                raw = rules[path[1]]
                # A rule that is not a mapping (a string, a list) has no id: it is named by its place.
                rule = str(raw.get("id", f"#{path[1] + 1}")) if isinstance(raw, dict) else f"#{path[1] + 1}"
            shown = path[2:]
        else:
            shown = path
        self.problems.append(
            Problem(self.name, _line_of(self.tree, path), rule, ".".join(str(p) for p in shown), message)
        )

    def number(self, value: Any, path: list[Any]) -> int:
        if isinstance(value, str) and value.startswith("$"):
            if value[1:] not in self.values:
                self.problem(path, f"no setting called “{value[1:]}” (settings: {', '.join(sorted(self.values))})")
                return 0
            return self.values[value[1:]]
        return int(value)

    def duration(self, raw: dict[str, Any], path: list[Any]) -> Duration:
        (unit, value), *_ = raw.items()
        return Duration(unit, self.number(value, [*path, unit]))

    def selector(self, raw: dict[str, Any], path: list[Any]) -> Selector:
        codes: set[str] = set()
        known = taxonomy.codes()
        for i, code in enumerate(raw.get("codes", [])):
            if code not in known:
                self.problem([*path, "codes", i], f"“{code}” is not a code in the concern taxonomy")
            codes.add(code)
        for domain in raw.get("domains", []):
            codes |= {c for c, ec in known.items() if ec.domain == domain}
        if raw.get("soft"):
            codes |= {c for c, ec in known.items() if ec.soft}
        where = []
        for key, allowed in (raw.get("where") or {}).items():
            for code in codes & known.keys():
                props = known[code].details_schema.get("properties", {})
                if key not in props:
                    self.problem([*path, "where", key], f"“{code}” has no detail called “{key}”")
                    continue
                enum = props[key].get("enum")
                for value in allowed:
                    if enum and value not in enum:
                        self.problem(
                            [*path, "where", key],
                            f"“{value}” is not a value of {code} {key} (one of: {', '.join(map(str, enum))})",
                        )
            where.append((key, frozenset(allowed)))
        return Selector(frozenset(codes), tuple(where), raw.get("about"))

    def condition(self, raw: dict[str, Any], path: list[Any]) -> Condition:
        (kind, body), *_ = raw.items()
        p = [*path, kind]
        if kind in ("count", "organisations"):
            return Condition(
                kind, (self.selector(body["events"], [*p, "events"]),), self.number(body["at_least"], [*p, "at_least"])
            )
        if kind == "each_of":
            return Condition(kind, tuple(self.selector(s, [*p, i]) for i, s in enumerate(body)), 1)
        if kind == "since_decision":
            return Condition(
                kind,
                (self.selector(body["decision"], [*p, "decision"]),),
                within=self.duration(body["within"], [*p, "within"]),
            )
        if kind == "child_age":
            return Condition(
                kind,
                under_months=self.number(body["under_months"], [*p, "under_months"])
                if "under_months" in body
                else None,
                under_years=self.number(body["under_years"], [*p, "under_years"]) if "under_years" in body else None,
                from_years=self.number(body["from_years"], [*p, "from_years"]) if "from_years" in body else None,
            )
        return Condition(kind, statuses=frozenset(body["any_of"]))

    def rule(self, raw: dict[str, Any], index: int, pack: str, defaults: dict[str, Any]) -> Rule:
        path: list[Any] = ["rules", index]
        conditions = tuple(self.condition(c, [*path, "when", i]) for i, c in enumerate(raw["when"]))
        if "trigger" in raw:
            trigger = self.selector(raw["trigger"], [*path, "trigger"])
        else:
            codes = set()
            wheres: list = []
            for c in conditions:
                if c.kind in ("count", "organisations", "each_of"):
                    for s in c.selectors:
                        codes |= s.codes
            trigger = Selector(frozenset(codes), tuple(wheres))
        if not trigger.codes:
            self.problem([*path, "when"], "nothing can set this rule off: add a count, organisations or each_of")
        if raw.get("living_with_child") and raw["scope"] != "parents_and_carers":
            self.problem([*path, "living_with_child"], "only means something with scope parents_and_carers")
        if raw.get("alert_for") == "each_child" and raw["scope"] != "household":
            self.problem([*path, "alert_for"], "each_child only means something with scope household")
        ack_raw = raw.get("acknowledge") or defaults["acknowledge"].get(raw["severity"])
        if not ack_raw:
            self.problem([*path, "acknowledge"], f"no acknowledgement deadline for severity “{raw['severity']}”")
            ack = Deadline(working_days=1)
        else:
            (unit, value), *_ = ack_raw.items()
            ack = Deadline(**{unit: value if unit in TIME_OF_DAY else self.number(value, [*path, "acknowledge"])})
        lookback_raw = raw.get("lookback") or defaults["lookback"]
        return Rule(
            id=raw["id"],
            pack=pack,
            title=raw["title"],
            explanation=raw["explanation"],
            finding=raw["finding"],
            scope=raw["scope"],
            window=self.duration(raw["window"], [*path, "window"]),
            lookback=self.duration(lookback_raw, [*path, "lookback"]),
            conditions=conditions,
            severity=raw["severity"],
            acknowledge=ack,
            route_to=tuple(raw["route_to"]),
            trigger=trigger,
            living_with_child=bool(raw.get("living_with_child")),
            alert_for=raw.get("alert_for", "scope"),
            raw=raw,
        )


def _read_document(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PackError([Problem(path.name, line, "", "", "not UTF-8 text: save the pack as UTF-8")]) from None
    try:
        tree = yaml.compose(text)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PackError(
            [Problem(path.name, mark.line + 1 if mark else None, "", "", f"not valid YAML: {exc}")]
        ) from None
    if not isinstance(doc, dict):
        raise PackError([Problem(path.name, 1, "", "", "a rule pack is a mapping with pack, version, title and rules")])
    return doc, tree


def _schema_problems(name: str, doc: dict[str, Any], tree) -> list[Problem]:
    reader = _Reader(name, doc, tree, {})
    for err in sorted(_schema().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        message = err.message
        if err.validator == "oneOf" and isinstance(err.instance, str):
            message = f"“{err.instance}” is not a number or a “$setting”"
        elif err.absolute_path and err.absolute_path[-1] in TIME_OF_DAY:
            message = _time_of_day_message(err.instance)
        elif err.validator in ("additionalProperties", "maxProperties", "minProperties") and isinstance(
            err.instance, dict
        ):
            message = f"{err.message} (allowed: {', '.join(sorted(err.schema.get('properties', {})))})"
        reader.problem(list(err.absolute_path), message)
    return reader.problems


def _time_of_day_message(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 9:30 as a number of minutes (570).
        return (
            f'{value} is not a time: write the time in quotes, 24-hour, like "08:30" (unquoted, 9:30 reads as a number)'
        )
    return f'“{value}” is not a time written HH:MM, 24-hour, in quotes (like "08:30")'


def load_pack(path: str | Path, *, base: Pack | None = None) -> Pack:
    """Load and check one pack file. ``base`` is the pack it ``extends`` (found by id if not given)."""
    path = Path(path)
    doc, tree = _read_document(path)
    problems = _schema_problems(path.name, doc, tree)
    if problems:
        raise PackError(problems)
    if doc.get("extends") and base is None:
        if doc["extends"] != "wales":
            raise PackError([Problem(path.name, _line_of(tree, ["extends"]), "", "extends", f"no pack “{doc['extends']}”: only “wales” can be extended")])  # fmt: skip
        base = national_pack()
    values = dict(base.settings) if base else {}
    for key, value in (doc.get("settings") or {}).items():
        if base and key not in base.settings:
            raise PackError([Problem(path.name, _line_of(tree, ["settings", key]), "", f"settings.{key}", f"“{base.id}” has no setting “{key}” to change")])  # fmt: skip
        values[key] = value
    reader = _Reader(path.name, doc, tree, values)
    defaults = {
        "acknowledge": {**(base.raw_acknowledge if base else {}), **(doc.get("acknowledge") or {})},
        "lookback": doc.get("lookback") or (base.raw_lookback if base else {"months": 12}),
    }
    rules: list[Rule] = []
    if base:
        disabled = set(doc.get("disabled") or [])
        for i, rule_id in enumerate(doc.get("disabled") or []):
            if base.rule(rule_id) is None:
                reader.problem(["disabled", i], f"“{base.id}” has no rule “{rule_id}”")
        inherited = _Reader(base.source, {"rules": list(base.raw_rules)}, None, values)
        for i, raw in enumerate(base.raw_rules):
            if raw["id"] not in disabled:
                rules.append(inherited.rule(raw, i, doc["pack"], defaults))
        reader.problems.extend(inherited.problems)
    seen = {r.id for r in rules}
    for i, raw in enumerate(doc.get("rules") or []):
        if raw["id"] in seen:
            reader.problem(["rules", i, "id"], f"two rules called “{raw['id']}”")
        seen.add(raw["id"])
        rules.append(reader.rule(raw, i, doc["pack"], defaults))
    if reader.problems:
        raise PackError(reader.problems)
    return Pack(
        doc["pack"],
        str(doc["version"]),
        doc["title"],
        values,
        tuple(rules),
        path.name,
        raw_rules=(*(base.raw_rules if base else ()), *(doc.get("rules") or [])),
        raw_acknowledge=defaults["acknowledge"],
        raw_lookback=defaults["lookback"],
    )


def check_pack(path: str | Path) -> list[Problem]:
    """Every problem in a pack file (empty when it is good)."""
    try:
        load_pack(path)
    except PackError as exc:
        return exc.problems
    except OSError as exc:
        return [Problem(str(path), None, "", "", f"cannot read: {exc.strerror or exc}")]
    return []


@cache
def national_pack() -> Pack:
    return load_pack(NATIONAL_PACK)


@cache
def _regional(board_area_code: str) -> Pack | None:
    path = (getattr(settings, "CYLCH_RULE_PACKS", None) or {}).get(board_area_code)
    return load_pack(path) if path else None


def pack_for(board_area_code: str | None) -> Pack:
    """The pack a board area uses: its own (``settings.CYLCH_RULE_PACKS``) or the national one."""
    return (_regional(board_area_code) if board_area_code else None) or national_pack()


def all_packs() -> list[Pack]:
    packs = [national_pack()]
    for code in sorted(getattr(settings, "CYLCH_RULE_PACKS", None) or {}):
        packs.append(pack_for(code))
    return packs


def forget_packs() -> None:
    national_pack.cache_clear()
    _regional.cache_clear()

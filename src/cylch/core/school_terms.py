"""School term dates: the data behind school days (``core/calendar.py``).

The dates are a YAML file (``school_terms.yaml`` next to this module, or the file the setting
``CYLCH_SCHOOL_TERMS`` names): per academic year the dates Welsh schools share, and per local
authority the terms it sets differently. Loading checks everything and reports every problem at
once with the file, the line and the key, as rule packs do. A year the file does not have is
never guessed: asking about it raises :class:`MissingTermDates`, and the caller decides what to
fall back to (routing falls back to working days and logs why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.signals import setting_changed

SETTING = "CYLCH_SCHOOL_TERMS"
DEFAULT_FILE = Path(__file__).resolve().parent / "school_terms.yaml"
TERMS = ("autumn", "spring", "summer")
YEAR_KEY = re.compile(r"^(\d{4})/(\d{2})$")
AUTHORITY_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def academic_year(day: date) -> int:
    """The year an academic year starts in: 1 September to 31 August (2026/27 is 2026)."""
    return day.year if day.month >= 9 else day.year - 1


def year_label(start: int) -> str:
    return f"{start}/{(start + 1) % 100:02d}"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '(file)'}: {self.message}"


class SchoolTermsError(ValueError):
    """The term-dates file cannot be used: every problem in it."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class MissingTermDates(LookupError):
    """The file has no dates for an academic year that was asked about."""

    def __init__(self, start: int, authority: str | None, file: str):
        self.year = year_label(start)
        self.authority = authority
        self.file = file
        whose = f" (asked for {authority})" if authority else ""
        super().__init__(
            f"no school term dates for {self.year} in {file}{whose}: add the year from the local authority's "
            "published calendar (docs/rules.md, “School days and Operation Encompass”)"
        )


@dataclass(frozen=True)
class Term:
    name: str
    starts: date
    ends: date
    half_term: tuple[date, date] | None = None

    def open_on(self, day: date) -> bool:
        """Inside the term and not in its half term (weekends and bank holidays aside)."""
        if not self.starts <= day <= self.ends:
            return False
        return not (self.half_term and self.half_term[0] <= day <= self.half_term[1])


@dataclass(frozen=True)
class YearTerms:
    """One academic year's terms for Wales or for one authority."""

    start: int
    terms: tuple[Term, ...]
    closed: frozenset[date] = frozenset()

    def open_on(self, day: date) -> bool:
        return day not in self.closed and any(t.open_on(day) for t in self.terms)


@dataclass(frozen=True)
class SchoolTerms:
    file: str
    wales: dict[int, YearTerms]
    authorities: dict[tuple[int, str], YearTerms] = field(default_factory=dict)

    def for_year(self, start: int, authority: str | None) -> YearTerms:
        """The terms of the academic year starting in ``start`` for ``authority`` (a code; None
        for the Welsh dates). Raises MissingTermDates when the file does not have the year."""
        if start not in self.wales:
            raise MissingTermDates(start, authority, self.file)
        return self.authorities.get((start, authority or ""), self.wales[start])

    @property
    def years(self) -> list[str]:
        return [year_label(y) for y in sorted(self.wales)]

    @property
    def authority_codes(self) -> set[str]:
        return {code for _, code in self.authorities}


# --- reading and checking ------------------------------------------------------------------


class _Reader:
    def __init__(self, name: str, tree: yaml.Node | None):
        self.name = name
        self.tree = tree
        self.problems: list[Problem] = []

    def problem(self, path: list[Any], message: str) -> None:
        self.problems.append(Problem(self.name, _line(self.tree, path), ".".join(map(str, path)), message))

    def mapping(self, value: Any, path: list[Any], what: str) -> dict | None:
        if not isinstance(value, dict):
            self.problem(path, f"should be {what}")
            return None
        return value

    def unknown_keys(self, value: dict, allowed: tuple[str, ...], path: list[Any]) -> None:
        for key in value:
            if key not in allowed:
                self.problem([*path, key], f"unknown key “{key}” (allowed: {', '.join(allowed)})")

    def day(self, value: Any, path: list[Any]) -> date | None:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                if len(value) == 10:
                    return date.fromisoformat(value)
            except ValueError:
                pass
        self.problem(path, f"“{value}” is not a date written YYYY-MM-DD")
        return None

    def span(self, value: Any, path: list[Any], what: str) -> tuple[date, date] | None:
        raw = self.mapping(value, path, f"{what}: a mapping with starts and ends")
        if raw is None:
            return None
        self.unknown_keys(raw, ("starts", "ends", "half_term") if what == "a term" else ("starts", "ends"), path)
        found = []
        for key in ("starts", "ends"):
            if key not in raw:
                self.problem(path, f"{what} needs “{key}”")
                return None
            found.append(self.day(raw[key], [*path, key]))
        starts, ends = found
        if starts is None or ends is None:
            return None
        if ends < starts:
            self.problem([*path, "ends"], f"{ends:%Y-%m-%d} is before it starts ({starts:%Y-%m-%d})")
            return None
        return starts, ends

    def term(self, name: str, value: Any, path: list[Any], start: int) -> Term | None:
        dates = self.span(value, path, "a term")
        if dates is None:
            return None
        first, last = date(start, 9, 1), date(start + 1, 8, 31)
        for key, day in zip(("starts", "ends"), dates, strict=True):
            if not first <= day <= last:
                self.problem([*path, key], f"{day:%Y-%m-%d} is not in {year_label(start)} (1 September to 31 August)")
                return None
        half = None
        if value.get("half_term") is not None:
            half = self.span(value["half_term"], [*path, "half_term"], "a half term")
            if half is None:
                return None
            if not (dates[0] < half[0] and half[1] < dates[1]):
                self.problem([*path, "half_term"], f"the half term is not inside the {name} term")
                return None
        return Term(name, dates[0], dates[1], half)

    def closed(self, value: Any, path: list[Any]) -> frozenset[date]:
        if not isinstance(value, list):
            self.problem(path, "should be a list of dates")
            return frozenset()
        return frozenset(d for i, v in enumerate(value) if (d := self.day(v, [*path, i])) is not None)

    def terms_of(self, raw: dict, path: list[Any], start: int, base: YearTerms | None) -> YearTerms | None:
        """A year's terms: all three for Wales; for an authority, the ones it changes over Wales's."""
        self.unknown_keys(raw, (*TERMS, "closed"), path)
        given = {name: self.term(name, raw[name], [*path, name], start) for name in TERMS if name in raw}
        if base is None:
            for name in TERMS:
                if name not in raw:
                    self.problem(path, f"the {name} term is missing")
        elif not given and "closed" not in raw:
            self.problem(path, "changes nothing: give the terms that differ, or “closed” days")
        closed = self.closed(raw["closed"], [*path, "closed"]) if "closed" in raw else frozenset()
        merged = {**({t.name: t for t in base.terms} if base else {}), **given}
        if any(t is None for t in merged.values()) or len(merged) < len(TERMS):
            return None  # already reported
        terms = tuple(merged[name] for name in TERMS)
        for before, after in pairwise(terms):
            if after.starts <= before.ends:
                key = after.name if after.name in given else before.name
                self.problem([*path, key], f"the {after.name} term starts before the {before.name} term ends")
                return None
        for day in sorted(closed):
            if not any(t.starts <= day <= t.ends for t in terms):
                self.problem([*path, "closed"], f"{day:%Y-%m-%d} is not in term, so there is nothing to close")
        return YearTerms(start, terms, closed | (base.closed if base else frozenset()))


def _line(node: yaml.Node | None, path: list[Any]) -> int | None:
    """The line of ``path``: of its key, for a mapping entry (where a reader looks for
    “autumn:”), else of the list item; the deepest part that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(step)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SchoolTermsError([Problem(str(path), None, "", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = data.decode("utf-8")
        return yaml.safe_load(text), yaml.compose(text)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SchoolTermsError([Problem(path.name, line, "", "not UTF-8 text: save the file as UTF-8")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = Problem(path.name, mark.line + 1 if mark else None, "", f"not valid YAML: {exc}")
        raise SchoolTermsError([problem]) from None


def load_terms(path: str | Path) -> SchoolTerms:
    """Read and check a term-dates file; every problem at once in SchoolTermsError."""
    path = Path(path)
    doc, tree = _read(path)
    reader = _Reader(path.name, tree)
    top = reader.mapping(doc, [], "a mapping with “years”")
    wales: dict[int, YearTerms] = {}
    authorities: dict[tuple[int, str], YearTerms] = {}
    if top is not None:
        reader.unknown_keys(top, ("years",), [])
        years = reader.mapping(top.get("years"), ["years"], "a mapping of academic years (“2026/27”) to their terms")
        for key, raw in (years or {}).items():
            path_ = ["years", key]
            match = YEAR_KEY.match(str(key))
            if not match or (int(match[1]) + 1) % 100 != int(match[2]):
                reader.problem(path_, f"“{key}” is not an academic year written like “2026/27” (in quotes)")
                continue
            start = int(match[1])
            year = reader.mapping(raw, path_, "a mapping with “wales” and optionally “authorities”")
            if year is None:
                continue
            reader.unknown_keys(year, ("wales", "authorities"), path_)
            if "wales" not in year:
                reader.problem(path_, "the Welsh dates (“wales”) are missing")
                continue
            base_raw = reader.mapping(year["wales"], [*path_, "wales"], "a mapping with autumn, spring and summer")
            base = reader.terms_of(base_raw, [*path_, "wales"], start, None) if base_raw is not None else None
            if base is None:
                continue
            wales[start] = base
            overrides = year.get("authorities") or {}
            if reader.mapping(overrides, [*path_, "authorities"], "a mapping of local authority codes") is None:
                continue
            for code, body in overrides.items():
                where = [*path_, "authorities", code]
                if not AUTHORITY_CODE.match(str(code)):
                    reader.problem(where, f"“{code}” is not a local authority code (lower case, like “powys”)")
                    continue
                raw_terms = reader.mapping(body, where, "a mapping with the terms that differ")
                if raw_terms is not None and (found := reader.terms_of(raw_terms, where, start, base)) is not None:
                    authorities[(start, str(code))] = found
    if reader.problems:
        raise SchoolTermsError(reader.problems)
    return SchoolTerms(path.name, wales, authorities)


def terms_file() -> Path:
    return Path(getattr(settings, SETTING, None) or DEFAULT_FILE)


def check_terms(path: str | Path | None = None) -> list[Problem]:
    """Every problem in a term-dates file, by default the hub's (empty when it is good)."""
    try:
        load_terms(path or terms_file())
    except SchoolTermsError as exc:
        return exc.problems
    return []


@lru_cache(maxsize=1)
def school_terms() -> SchoolTerms:
    """The hub's term dates, read once (and again when a test changes the setting)."""
    return load_terms(terms_file())


def _forget(*, setting: str, **kwargs) -> None:
    if setting == SETTING:
        school_terms.cache_clear()


setting_changed.connect(_forget, dispatch_uid="cylch.core.school_terms")

"""Self-assessment frameworks (TA rec. 3.5): YAML in, checked frameworks out.

A framework is data (``frameworks/framework.schema.json``): groups of components, each with
its wording in English and Welsh and the owners the source names, and a grading scale. A board
answers every component with evidence, actions and a grade, once a year. Loading checks the
schema and what it cannot say (unique ids, owners that exist, a scale with one level per grade,
no placeholder left in), and every problem names the file, the line, the component and the
field, all at once, like the rule packs (``cylch.rules.pack``).

Nothing here needs Django, so a board can check a file before it is deployed::

    python -m cylch.reviews.frameworks my-12cs.yaml
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from cylch.core.yamltree import line_of as _line_of

DIRECTORY = Path(__file__).resolve().with_suffix("")  # reviews/frameworks/
SCHEMA_FILE = DIRECTORY / "framework.schema.json"
TEMPLATE_SUFFIX = "-template.yaml"
# Written into every placeholder of a template, so a copy whose `placeholder: true` was deleted
# but whose wording was not replaced is still refused.
PLACEHOLDER_MARK = "PLACEHOLDER"
LANGUAGES = ("en", "cy")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    where: str  # “component “1.1”” or “group “kloe-1”” or ""
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        where = f" {self.where}" if self.where else ""
        return f"{place}:{where} {self.field or '(framework)'}: {self.message}"


class FrameworkError(ValueError):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _pick(text: dict[str, str], language: str) -> str:
    return text["cy"] if language.startswith("cy") else text["en"]


@dataclass(frozen=True)
class Level:
    grade: int
    label: dict[str, str]
    description: dict[str, str] | None = None


@dataclass(frozen=True)
class Scale:
    min: int
    max: int
    levels: tuple[Level, ...]
    source: str = ""

    @property
    def grades(self) -> range:
        return range(self.min, self.max + 1)

    def check(self, grade: int) -> None:
        """Refuse a grade that is not on the scale (what an assessment service calls)."""
        if isinstance(grade, bool) or not isinstance(grade, int) or grade not in self.grades:
            raise ValueError(f"grade {grade!r} is not on the scale {self.min} to {self.max}")

    def label(self, grade: int, language: str = "en") -> str:
        self.check(grade)
        return _pick(next(lv.label for lv in self.levels if lv.grade == grade), language)


@dataclass(frozen=True)
class Component:
    id: str
    group: str
    title: dict[str, str]
    text: dict[str, str]
    owners: tuple[str, ...] = ()
    guidance: dict[str, str] | None = None
    source: str = ""

    def words(self, key: str, language: str = "en") -> str:
        """``title``, ``text`` or ``guidance`` in ``language`` ("" when there is no guidance)."""
        value = getattr(self, key)
        return _pick(value, language) if value else ""


@dataclass(frozen=True)
class Group:
    id: str
    title: dict[str, str]
    components: tuple[Component, ...]
    guidance: dict[str, str] | None = None
    source: str = ""


@dataclass(frozen=True)
class Framework:
    id: str
    version: str
    title: dict[str, str]
    source: str
    owners: dict[str, dict[str, str]]
    scale: Scale
    groups: tuple[Group, ...]
    file: str

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def components(self) -> tuple[Component, ...]:
        return tuple(c for g in self.groups for c in g.components)

    def component(self, component_id: str) -> Component | None:
        return next((c for c in self.components if c.id == component_id), None)

    def owner_label(self, owner: str, language: str = "en") -> str:
        return _pick(self.owners[owner], language)

    def owned_by(self, owner: str) -> tuple[Component, ...]:
        return tuple(c for c in self.components if owner in c.owners)


# --- reading -------------------------------------------------------------------------------


def _duplicate_keys(node: yaml.Node | None, path: list[Any]):
    """(path, line, key) of every key written twice in one mapping: YAML would keep the last."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                yield path, key.start_mark.line + 1, key.value
            seen.add(key.value)
            yield from _duplicate_keys(value, [*path, key.value])
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, [*path, i])


class _Reader:
    """Collects problems about one document."""

    def __init__(self, name: str, doc: dict[str, Any], tree: yaml.Node | None):
        self.name = name
        self.doc = doc
        self.tree = tree
        self.problems: list[Problem] = []

    def _where(self, path: list[Any]) -> tuple[str, list[Any]]:
        """Which group or component ``path`` is in, and the rest of the path (the field)."""
        groups = self.doc.get("groups")
        if len(path) < 2 or path[0] != "groups" or not isinstance(groups, list) or path[1] >= len(groups):
            return "", path
        group = groups[path[1]] if isinstance(groups[path[1]], dict) else {}
        components = group.get("components")
        if len(path) >= 4 and path[2] == "components" and isinstance(components, list) and path[3] < len(components):
            component = components[path[3]] if isinstance(components[path[3]], dict) else {}
            return f"component “{component.get('id', f'#{path[3] + 1}')}”", path[4:]
        return f"group “{group.get('id', f'#{path[1] + 1}')}”", path[2:]

    def problem(self, path: list[Any], message: str, *, line: int | None = None) -> None:
        where, rest = self._where(path)
        field = ".".join(str(p) for p in rest)
        self.problems.append(Problem(self.name, line or _line_of(self.tree, path), where, field, message))


def _read_document(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FrameworkError([Problem(path.name, None, "", "", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        tree = yaml.compose(text)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FrameworkError(
            [Problem(path.name, mark.line + 1 if mark else None, "", "", f"not valid YAML: {exc}")]
        ) from None
    if not isinstance(doc, dict):
        raise FrameworkError(
            [
                Problem(
                    path.name, 1, "", "", "a framework is a mapping with id, version, title, source, scale and groups"
                )
            ]
        )
    return doc, tree


@cache
def _schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _schema_message(err) -> str:
    """The validator's message, said for a person editing the file."""
    path = list(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [k for k in err.validator_value if k not in err.instance]
        if missing and set(missing) <= set(LANGUAGES):
            names = {"en": "English (en)", "cy": "Welsh (cy)"}
            return "missing the " + " and the ".join(names[m] for m in missing)
        return f"missing {', '.join(missing)}"
    if err.validator == "pattern" and path and path[-1] in LANGUAGES:
        return f"the {'Welsh' if path[-1] == 'cy' else 'English'} is empty"
    if err.validator == "pattern" and err.validator_value == "\\S":
        return "is empty"
    if err.validator == "type" and path and path[-1] == "id" and isinstance(err.instance, (int, float)):
        return f'write the id in quotes ("{err.instance}"): YAML reads {err.instance} as a number, and 1.10 as 1.1'
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        return f"{err.message} (allowed: {', '.join(sorted(err.schema.get('properties', {})))})"
    return err.message


def _check_scale(reader: _Reader, raw: dict[str, Any]) -> None:
    low, high = raw["min"], raw["max"]
    if low >= high:
        reader.problem(["scale", "max"], f"the scale must go up: max {high} is not above min {low}")
        return
    seen: set[int] = set()
    for i, level in enumerate(raw["levels"]):
        grade = level["grade"]
        if not low <= grade <= high:
            reader.problem(["scale", "levels", i, "grade"], f"grade {grade} is outside the scale {low} to {high}")
        elif grade in seen:
            reader.problem(["scale", "levels", i, "grade"], f"two levels for grade {grade}")
        seen.add(grade)
    missing = [g for g in range(low, high + 1) if g not in seen]
    if missing:
        reader.problem(["scale", "levels"], f"no level for grade {', '.join(map(str, missing))}")


def _is_placeholder(raw: dict[str, Any]) -> bool:
    if raw.get("placeholder"):
        return True
    return any(
        PLACEHOLDER_MARK in (raw.get(key) or {}).get(lang, "") for key in ("title", "text") for lang in LANGUAGES
    )


def load_framework(path: str | Path) -> Framework:
    """Load and check one framework file; raise ``FrameworkError`` listing every problem."""
    path = Path(path)
    doc, tree = _read_document(path)
    reader = _Reader(path.name, doc, tree)
    for where, line, key in _duplicate_keys(tree, []):
        reader.problem([*where, key], f"“{key}” is written twice here (YAML would silently keep the last)", line=line)
    for err in sorted(_schema().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        reader.problem(list(err.absolute_path), _schema_message(err))
    if reader.problems:
        raise FrameworkError(reader.problems)

    _check_scale(reader, doc["scale"])
    owners = doc.get("owners") or {}
    group_ids: set[str] = set()
    component_ids: set[str] = set()
    placeholders = 0
    for gi, group in enumerate(doc["groups"]):
        if group["id"] in group_ids:
            reader.problem(["groups", gi, "id"], f"two groups called “{group['id']}”")
        group_ids.add(group["id"])
        for ci, component in enumerate(group["components"]):
            at = ["groups", gi, "components", ci]
            if component["id"] in component_ids:
                reader.problem([*at, "id"], f"two components called “{component['id']}”")
            component_ids.add(component["id"])
            for oi, owner in enumerate(component.get("owners") or []):
                if owner not in owners:
                    known = ", ".join(sorted(owners)) or "none are declared under `owners`"
                    reader.problem([*at, "owners", oi], f"no owner “{owner}” (owners: {known})")
            if _is_placeholder(component):
                placeholders += 1
                field = "placeholder" if component.get("placeholder") else "text"
                reader.problem(
                    [*at, field],
                    "is a placeholder: the published wording must be added (title and text in English and "
                    "Welsh, and `placeholder: true` removed) before this framework can be used; see docs/frameworks.md",
                )
    if placeholders:
        total = sum(len(g["components"]) for g in doc["groups"])
        reader.problems.insert(
            0,
            Problem(
                path.name,
                None,
                "",
                "",
                f"{placeholders} of its {total} components are placeholders, so this is a template, not a framework: "
                "the published wording must be added first (docs/frameworks.md)",
            ),
        )
    if reader.problems:
        raise FrameworkError(reader.problems)

    scale_raw = doc["scale"]
    scale = Scale(
        scale_raw["min"],
        scale_raw["max"],
        tuple(
            Level(lv["grade"], lv["label"], lv.get("description"))
            for lv in sorted(scale_raw["levels"], key=lambda lv: lv["grade"])
        ),
        scale_raw.get("source", ""),
    )
    groups = tuple(
        Group(
            g["id"],
            g["title"],
            tuple(
                Component(
                    c["id"],
                    g["id"],
                    c["title"],
                    c["text"],
                    tuple(c.get("owners") or ()),
                    c.get("guidance"),
                    c.get("source", ""),
                )
                for c in g["components"]
            ),
            g.get("guidance"),
            g.get("source", ""),
        )
        for g in doc["groups"]
    )
    return Framework(doc["id"], str(doc["version"]), doc["title"], doc["source"], owners, scale, groups, path.name)


def check_framework(path: str | Path) -> list[Problem]:
    """Every problem in a framework file (empty when it is good)."""
    try:
        load_framework(path)
    except FrameworkError as exc:
        return exc.problems
    return []


def templates() -> list[Path]:
    """The templates shipped for frameworks whose wording Cylch does not have (``*-template.yaml``)."""
    return sorted(DIRECTORY.glob(f"*{TEMPLATE_SUFFIX}"))


@cache
def shipped() -> tuple[Framework, ...]:
    """The frameworks shipped in ``reviews/frameworks/`` (templates left out), sorted by id."""
    frameworks = [load_framework(p) for p in sorted(DIRECTORY.glob("*.yaml")) if not p.name.endswith(TEMPLATE_SUFFIX)]
    by_id: dict[str, str] = {}
    for fw in frameworks:
        if fw.id in by_id:
            raise FrameworkError([Problem(fw.file, None, "", "id", f"“{fw.id}” is also the id of {by_id[fw.id]}")])
        by_id[fw.id] = fw.file
    return tuple(sorted(frameworks, key=lambda fw: fw.id))


def framework(framework_id: str) -> Framework | None:
    """A shipped framework by id."""
    return next((fw for fw in shipped() if fw.id == framework_id), None)


def main(argv: list[str] | None = None) -> int:
    """Check framework files: print every problem, or a summary of each good file."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m cylch.reviews.frameworks FILE.yaml ...", file=sys.stderr)
        return 2
    status = 0
    for name in paths:
        problems = check_framework(name)
        if problems:
            status = 1
            for p in problems:
                print(p)
            continue
        fw = load_framework(name)
        print(
            f"{name}: {fw.label}, {len(fw.groups)} groups, {len(fw.components)} components, "
            f"grades {fw.scale.min} to {fw.scale.max}"
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())

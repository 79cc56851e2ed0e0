"""Where something is in a YAML file, for error messages that name the line."""

from __future__ import annotations

from typing import Any

import yaml


def line_of(node: yaml.Node | None, path: list[Any]) -> int | None:
    """The line of ``path`` in a composed YAML tree (the deepest part that exists; for a key, the
    line the key is on)."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in path:
        mark = None
        if isinstance(node, yaml.MappingNode):
            key, node = next(((k, v) for k, v in node.value if k.value == step), (None, None))
            mark = key.start_mark if key is not None else None  # the key's line: a nested value starts below it
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            mark = node.start_mark
        else:
            node = None
        if node is None:
            break
        line = mark.line + 1
    return line


class Problems:
    """Every problem in a settings file, collected so that one run names them all, each as
    ``file:line: where: message``."""

    def __init__(self, name: str, tree: yaml.Node | None) -> None:
        self.name, self.tree, self.found = name, tree, []

    def __call__(self, where: list[Any], message: str) -> None:
        shown = ".".join(str(w) for w in where) or "(file)"
        self.found.append(f"{self.name}:{line_of(self.tree, where)}: {shown}: {message}")

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_as(self, error: type[ValueError]) -> None:
        if self.found:
            raise error("\n".join(self.found))


def versioned_section(
    name: str,
    text: str,
    error: type[ValueError],
    *,
    section: str,
    known: list[str],
    noun: str,
    mapping: str,
    switched_off: str = "switches one off",
) -> tuple[dict[str, Any], Problems]:
    """Read a ``version: 1`` file whose ``section`` maps each of ``known`` (every one listed, so
    that switching one off is a visible ``enabled: false``, never an omission) to its settings.
    Returns the section as written (unknown keys included, already reported) and the problems
    so far; raises ``error`` at once when the file is not YAML or not a mapping. ``noun`` names
    one entry in the messages, ``mapping`` what the section maps (e.g. "kind to its settings")."""
    try:
        tree, data = yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{name}: not valid YAML: {exc}") from exc
    problem = Problems(name, tree)
    if not isinstance(data, dict):
        raise error(f"{name}:1: (file): expected `version` and `{section}`")
    if data.get("version") != 1:
        problem(["version"], "must be 1")
    entries = data.get(section)
    if not isinstance(entries, dict):
        problem([section], f"expected a mapping of {mapping}")
        entries = {}
    for key in entries:
        if key not in known:
            problem([section, key], f"unknown {noun}; Cylch knows {', '.join(known)}")
    for key in known:
        if key not in entries:
            problem([section], f"{key} is missing: list every {noun} (enabled: false {switched_off})")
    return entries, problem

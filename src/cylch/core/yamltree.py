"""Where something is in a YAML file, for error messages that name the line."""

from __future__ import annotations

from typing import Any

import yaml


def line_of(node: yaml.Node | None, path: list[Any]) -> int | None:
    """The line of ``path`` in a composed YAML tree (the deepest part that exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line

"""Repeated similar entries folded into one line ("4 × missed appointment, Feb–May").

Pure, so the rule is easy to state and test: entries about the same person with the same
code (or, when withheld, from the same organisation) join a group while each is within
``GAP_DAYS`` of the previous one. A significant entry always stands alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

GAP_DAYS = 120


class Groupable(Protocol):
    occurred_at: datetime
    significant: bool

    def group_key(self) -> tuple[Any, ...]: ...


@dataclass
class Group:
    entries: list[Any] = field(default_factory=list)  # newest first

    @property
    def lead(self):
        return self.entries[0]

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def newest(self) -> datetime:
        return self.entries[0].occurred_at

    @property
    def oldest(self) -> datetime:
        return self.entries[-1].occurred_at

    @property
    def same_month(self) -> bool:
        return (self.newest.year, self.newest.month) == (self.oldest.year, self.oldest.month)


def group_entries(entries: list[Groupable], *, gap_days: int = GAP_DAYS) -> list[Group]:
    """Fold ``entries`` (newest first) into groups, listed by their newest entry."""
    gap = timedelta(days=gap_days)
    groups: list[Group] = []
    open_: dict[tuple, Group] = {}
    for entry in entries:
        if entry.significant:
            groups.append(Group([entry]))
            continue
        key = entry.group_key()
        current = open_.get(key)
        if current is not None and current.entries[-1].occurred_at - entry.occurred_at <= gap:
            current.entries.append(entry)
            continue
        current = Group([entry])
        open_[key] = current
        groups.append(current)
    return groups

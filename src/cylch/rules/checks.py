"""System check: every rule pack the hub uses loads before the hub starts (HAZ-003, HAZ-008).

Without it a broken regional pack is found only when the first event is recorded, and then
every recording in the hub stops (the rules run in the recording transaction). As a check it
stops ``cylch check``, ``cylch migrate``, ``cylch worker`` and every other command that runs the
system checks, so a bad pack stops a deployment instead of the front door.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register

from cylch.rules.pack import NATIONAL_PACK, check_pack


def packs_in_use() -> list[tuple[str, Path]]:
    """(who uses it, file) for the national pack and each board area's own pack."""
    regional = getattr(settings, "CYLCH_RULE_PACKS", None) or {}
    return [("wales", NATIONAL_PACK), *((area, Path(path)) for area, path in sorted(regional.items()))]


@register()
def check_rule_packs(app_configs, **kwargs) -> list[Error]:
    """One Error per problem, naming the board area, the pack file, the line, the rule and the field."""
    errors = []
    for area, path in packs_in_use():
        for problem in check_pack(path):
            errors.append(
                Error(
                    f"The rule pack for “{area}” does not load: {problem}",
                    hint=f"Fix {path} (`cylch rules check {path}` lists every problem), or take it out of "
                    "CYLCH_RULE_PACKS so the area uses the national pack.",
                    obj=str(path),
                    id="cylch.rules.E001",
                )
            )
    return errors

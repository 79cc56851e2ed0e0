"""The kinds of concern a report maker chooses from: a short list of taxonomy codes, so the
form stays usable on a phone while the report still lands on the spine with proper codes."""

from __future__ import annotations

from cylch.core import taxonomy

REPORT_CONCERNS = [
    "social_care.neglect.concern",
    "social_care.abuse.physical.concern",
    "social_care.abuse.emotional.concern",
    "social_care.abuse.sexual.concern",
    "social_care.abuse.financial.concern",
    "social_care.domestic_abuse.exposure",
    "social_care.exploitation.sexual",
    "social_care.exploitation.criminal",
    "health.self_harm.incident",
    "health.child.mental_health",
    "health.child.health_needs_unmet",
    "housing.conditions.poor",
    "education.attendance.concern",
    "social_care.concern.other",
]
PHYSICAL = {"social_care.abuse.physical.concern"}


def choices(language: str) -> list[tuple[str, str]]:
    out = []
    for code in REPORT_CONCERNS:
        event_code = taxonomy.get(code)
        if event_code is not None:
            out.append((code, event_code.label(language)))
    return out

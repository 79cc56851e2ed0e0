"""Every board measure, in the order the dashboard shows them."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cylch.insight.measures import alerts, front_door, protection, reviews
from cylch.insight.measures.base import COUNT, RATE, Measure, Unit

SECTIONS = {
    "front_door": _("The front door"),
    "alerts": _("Cumulative-risk alerts"),
    "protection": _("The child protection process"),
    "register": _("The child protection register"),
    "reviews": _("Safeguarding reviews"),
}

MEASURES: list[Measure] = [*front_door.MEASURES, *alerts.MEASURES, *protection.MEASURES, *reviews.MEASURES]
BY_ID: dict[str, Measure] = {m.id: m for m in MEASURES}

__all__ = ["BY_ID", "COUNT", "MEASURES", "RATE", "SECTIONS", "Measure", "Unit"]

"""Safeguarding reviews' recommendations: open past their due date (TA 2.3, rec. 2.3: evidence
that recommendations are met)."""

from __future__ import annotations

from datetime import date

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.insight.measures.base import COUNT, Measure, Unit
from cylch.reviews.models import Recommendation


def overdue_units(since: date, until: date, as_of: date):
    """Recommendations open at the period's end whose due date had passed, by type. A
    recommendation belongs to its board (a review is a board's), so it counts for the board and
    Wales, not for one authority. (A snapshot: ``until`` is already no later than ``as_of``.)"""
    open_then = Recommendation.objects.filter(created_at__date__lte=until, due_on__lt=until).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=until)
    )
    for r in open_then.values("public_id", "kind", "review__referral__board_area_id"):
        yield Unit(None, until, True, f"recommendation:{r['public_id']}", group=r["kind"],
                   board_area_id=r["review__referral__board_area_id"])  # fmt: skip


MEASURES = [
    Measure(
        id="review-recommendations-overdue",
        section="reviews",
        title=_("Review recommendations open past their due date"),
        numerator=_("Recommendations of Child Practice Reviews and unified reviews still open after their due date"),
        denominator=None,
        rules=_(
            "As at the last day of the period: made by then, due before then, and not completed or closed by then. "
            "Counted for the board whose review made it, and for Wales; grouped by strategic or operational."
        ),
        source=_("TA 2.3 and rec. 2.3 (recommendations without owners; evidence that they are met)"),
        why=_("Review recommendations often had no owner, and no one could show they had been met."),
        units=overdue_units,
        kind=COUNT,
        snapshot=True,
        groups=dict(Recommendation.Kind.choices),
        higher_is_better=False,
    ),
]

"""Reads for the board's page: each review in progress with its next step and the quality
checklist's score, and the reviews signed off lately with what is still open.

The board sees its reviews' progress and quality at a glance (TA section 3: the checklist
"summarised for the board"), not only the panel working on one review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q
from django.utils import timezone

from cylch.protection.timescales import add_months
from cylch.reviews import quality, services
from cylch.reviews.models import Milestone, Recommendation, Review

# Signed-off reviews stay on the board's page this long: publication and the recommendations
# follow the sign-off, and the TA's annual review of recommendations (rec. 2.3) comes at a year.
SIGNED_OFF_SHOWN_MONTHS = 24


@dataclass(frozen=True)
class BoardRow:
    review: Review
    next_step: Milestone | None
    overdue: bool
    check: quality.Result
    open_recommendations: int = 0
    overdue_recommendations: int = 0
    published_on: date | None = None


def _reviews(board_area):
    qs = (
        Review.objects.select_related("referral__board_area")
        .prefetch_related("milestones", "recommendations")
        .annotate(
            open_recs=Count(
                "recommendations",
                filter=Q(recommendations__status__in=(Recommendation.Status.OPEN, Recommendation.Status.IN_PROGRESS)),
            )
        )
    )
    return qs.filter(referral__board_area=board_area) if board_area is not None else qs


def _row(review: Review, today: date) -> BoardRow:
    steps = list(review.milestones.all())
    later = set() if review.completed_on else services.after_sign_off(review)  # they wait for the sign-off
    waiting = [m for m in steps if m.done_on is None and m.step not in later]
    next_step = min(waiting, key=lambda m: (m.due_on, m.position)) if waiting else None
    published = next((m.done_on for m in steps if m.step in ("publication", "repository") and m.done_on), None)
    late = sum(1 for r in review.recommendations.all() if r.is_open and r.due_on < today)
    return BoardRow(
        review=review,
        next_step=next_step,
        overdue=bool(next_step and next_step.due_on < today),
        check=quality.assess(review),
        open_recommendations=review.open_recs,
        overdue_recommendations=late,
        published_on=published,
    )


def in_progress(board_area, *, today: date | None = None) -> list[BoardRow]:
    """Reviews not yet signed off, oldest referral first, each with its next step and score."""
    today = today or timezone.localdate()
    qs = _reviews(board_area).filter(completed_on__isnull=True).order_by("referral__referred_on", "pk")
    return [_row(r, today) for r in qs]


def signed_off(board_area, *, today: date | None = None) -> list[BoardRow]:
    """Reviews signed off in the last two years, newest first: publication still to come, and
    recommendations still open."""
    today = today or timezone.localdate()
    since = add_months(today, -SIGNED_OFF_SHOWN_MONTHS)
    qs = _reviews(board_area).filter(completed_on__gte=since).order_by("-completed_on", "-pk")
    return [_row(r, today) for r in qs]

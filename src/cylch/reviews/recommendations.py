"""The recommendations tracker (TA section 3.4, rec. 2.3): each recommendation SMART, owned by an
agency, typed (strategic or operational; local, regional or national; immediate or needing
planning), due, and followed to completion with evidence; reviewed at least once a year.

The TA found recommendations without owners and no central place to see whether they were met.
So a recommendation cannot be saved without an owner, a measure and a date, it cannot be closed
without evidence, and every change is kept as an update that is never edited.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import BoardArea, User
from cylch.core.templatetags.cylch_tags import local_name
from cylch.protection.timescales import add_months
from cylch.reviews.models import Recommendation, RecommendationUpdate, Review

ANNUAL_REVIEW_MONTHS = 12
MIN_WORDS = 5  # "Improve practice." is not a recommendation anyone can act on
Status = Recommendation.Status


def _theme_ids() -> set[str]:
    from cylch.reviews.coding.suggest import load_codebook

    return {c.id for c in load_codebook().codes if c.group in ("theme", "finding")}


def _validate(*, text: str, success_measure: str, owner_agency: str, kind: str, level: str, urgency: str,
              due_on: date | None, themes: list[str]) -> dict[str, list[str]]:  # fmt: skip
    errors: dict[str, list[str]] = {}
    if len(text.split()) < MIN_WORDS:
        errors["text"] = [
            _("Say specifically what is to be done, by whom, in at least %(n)s words.") % {"n": MIN_WORDS}
        ]
    if not success_measure.strip():
        errors["success_measure"] = [_("Say how the board will know it has been done and has worked.")]
    if not owner_agency.strip():
        errors["owner_agency"] = [_("Name the agency accountable for it.")]
    if kind not in Recommendation.Kind.values:
        errors["kind"] = [_("Choose strategic or operational.")]
    if level not in Recommendation.Level.values:
        errors["level"] = [_("Choose local, regional or national.")]
    if urgency not in Recommendation.Urgency.values:
        errors["urgency"] = [_("Choose how soon it can be done.")]
    if due_on is None:
        errors["due_on"] = [_("Give the date it is due.")]
    unknown = sorted(set(themes) - _theme_ids())
    if unknown:
        errors["themes"] = [_("Unknown theme: %(themes)s.") % {"themes": ", ".join(unknown)}]
    return errors


@transaction.atomic
def recommendation_add(review: Review, *, user: User, text: str, success_measure: str, owner_agency: str, kind: str,
                       level: str, urgency: str, due_on: date | None, themes: list[str] | None = None,
                       owner_organisation=None, text_cy: str = "", success_measure_cy: str = "") -> Recommendation:  # fmt: skip
    """A recommendation, numbered next; the Welsh wording may come now or later
    (``recommendation_wording``)."""
    themes = list(dict.fromkeys(themes or []))
    errors = _validate(text=text, success_measure=success_measure, owner_agency=owner_agency, kind=kind, level=level,
                       urgency=urgency, due_on=due_on, themes=themes)  # fmt: skip
    if errors:
        raise ValidationError(errors)
    Review.objects.select_for_update().filter(pk=review.pk).first()  # numbers without gaps or clashes
    number = (review.recommendations.aggregate(n=Max("number"))["n"] or 0) + 1
    rec = Recommendation.objects.create(
        review=review, number=number, text=text.strip(), success_measure=success_measure.strip(),
        owner_agency=owner_agency.strip(), owner_organisation=owner_organisation, kind=kind, level=level,
        urgency=urgency, due_on=due_on, themes=themes, created_by=user, text_cy=text_cy.strip(),
        success_measure_cy=success_measure_cy.strip(),
    )  # fmt: skip
    audit_record(action="write", actor=user, object_type="recommendation",
                 object_id=rec.public_id, detail={"what": "review.recommendation.added", "review": str(review.public_id), "number": number})  # fmt: skip
    return rec


@transaction.atomic
def recommendation_wording(rec: Recommendation, *, user: User, text_cy: str, success_measure_cy: str) -> Recommendation:
    """The Welsh wording of a recommendation, for the bilingual report. Like the report, it is
    fixed once the review is signed off."""
    rec = Recommendation.objects.select_for_update().select_related("review").get(pk=rec.pk)
    if rec.review.completed_on:
        raise ValidationError(_("The review is signed off: its report can no longer be changed."))
    errors: dict[str, list[str]] = {}
    if success_measure_cy.strip() and not text_cy.strip():
        errors["text_cy"] = [_("Give the recommendation in Welsh as well as its measure.")]
    if errors:
        raise ValidationError(errors)
    rec.text_cy, rec.success_measure_cy = text_cy.strip(), success_measure_cy.strip()
    rec.save(update_fields=["text_cy", "success_measure_cy", "modified_at"])
    audit_record(action="write", actor=user, object_type="recommendation", object_id=rec.public_id,
                 detail={"what": "review.recommendation.welsh", "filled": bool(rec.text_cy)})  # fmt: skip
    return rec


@transaction.atomic
def recommendation_update(rec: Recommendation, *, user: User, status: str, note: str, evidence: str = "",
                          annual_review: bool = False, on: date | None = None) -> RecommendationUpdate:  # fmt: skip
    """Progress, an annual review, or closure. Completing needs evidence; a closed one stays closed."""
    on = on or timezone.localdate()
    rec = Recommendation.objects.select_for_update().get(pk=rec.pk)
    errors: dict[str, list[str]] = {}
    if status not in Status.values:
        errors["status"] = [_("Choose a status.")]
    if not note.strip():
        errors["note"] = [_("Say what has happened since the last update.")]
    if status == Status.COMPLETED and not (evidence.strip() or rec.evidence.strip()):
        errors["evidence"] = [_("Give the evidence that it has been done before marking it completed.")]
    if not rec.is_open:
        errors["status"] = [_("This recommendation is closed.")]
    if on > timezone.localdate():
        errors["on"] = [_("This is in the future.")]
    if errors:
        raise ValidationError(errors)
    update = RecommendationUpdate.objects.create(
        recommendation=rec, at=timezone.now(), by=user, status=status, note=note.strip(), annual_review=annual_review
    )
    rec.status = status
    if evidence.strip():
        rec.evidence = evidence.strip()
    rec.last_reviewed_on = on
    if status in (Status.COMPLETED, Status.NOT_ACHIEVED):
        rec.closed_on = on
    rec.save(update_fields=["status", "evidence", "last_reviewed_on", "closed_on", "modified_at"])
    audit_record(action="write", actor=user, object_type="recommendation",
                 object_id=rec.public_id, detail={"what": "review.recommendation.updated", "status": status, "annual_review": annual_review})  # fmt: skip
    return update


# --- reading the tracker ---------------------------------------------------------------------


def annual_review_due_on(rec: Recommendation) -> date:
    since = rec.last_reviewed_on or timezone.localtime(rec.created_at).date()
    return add_months(since, ANNUAL_REVIEW_MONTHS)


def tracked(*, board_area=None) -> QuerySet[Recommendation]:
    """Recommendations of a board's reviews (all of Wales when ``board_area`` is None)."""
    qs = Recommendation.objects.select_related("review__referral__board_area")
    return qs.filter(review__referral__board_area=board_area) if board_area is not None else qs


def open_(qs: QuerySet[Recommendation]) -> QuerySet[Recommendation]:
    return qs.filter(status__in=(Status.OPEN, Status.IN_PROGRESS))


def overdue(qs: QuerySet[Recommendation], today: date | None = None) -> QuerySet[Recommendation]:
    return open_(qs).filter(due_on__lt=today or timezone.localdate())


def annual_review_due(qs: QuerySet[Recommendation], today: date | None = None) -> list[Recommendation]:
    """Open recommendations not looked at for a year: the prompt of TA rec. 2.3."""
    today = today or timezone.localdate()
    cutoff = add_months(today, -ANNUAL_REVIEW_MONTHS)
    candidates = open_(qs).filter(
        Q(last_reviewed_on__lte=cutoff) | Q(last_reviewed_on__isnull=True, created_at__date__lte=cutoff)
    )
    return list(candidates.order_by("due_on", "pk"))


@dataclass(frozen=True)
class ThemeCount:
    theme: str
    label: str
    recommendations: int
    boards: int
    open: int
    overdue: int


def common_themes(qs: QuerySet[Recommendation], today: date | None = None) -> list[ThemeCount]:
    """Which learning themes recommendations address, across how many boards: the cross-board view."""
    from django.utils.translation import get_language

    from cylch.reviews.coding.suggest import load_codebook

    today = today or timezone.localdate()
    language = "cy" if (get_language() or "en").startswith("cy") else "en"
    labels = {c.id: (c.label.get(language) if isinstance(c.label, dict) else c.label) for c in load_codebook().codes}
    count: Counter = Counter()
    boards: dict[str, set] = {}
    opened: Counter = Counter()
    late: Counter = Counter()
    for theme_list, board_id, status, due_on in qs.values_list(
        "themes", "review__referral__board_area_id", "status", "due_on"
    ):
        for theme in theme_list or []:
            count[theme] += 1
            boards.setdefault(theme, set()).add(board_id)
            if status in (Status.OPEN, Status.IN_PROGRESS):
                opened[theme] += 1
                if due_on < today:
                    late[theme] += 1
    return sorted(
        (ThemeCount(t, labels.get(t, t), n, len(boards[t]), opened[t], late[t]) for t, n in count.items()),
        key=lambda c: (-c.recommendations, c.label),
    )


@dataclass(frozen=True)
class BoardCount:
    board_area_id: int
    board: str
    recommendations: int
    open: int
    overdue: int
    annual_review_due: int


def by_board(qs: QuerySet[Recommendation], today: date | None = None) -> list[BoardCount]:
    """Each board's recommendations, open and overdue, and those due their annual review: the
    cross-board view of overdue actions (TA rec. 2.3). Counts only, in one query."""
    today = today or timezone.localdate()
    cutoff = add_months(today, -ANNUAL_REVIEW_MONTHS)
    is_open = Q(status__in=(Status.OPEN, Status.IN_PROGRESS))
    rows = (
        qs.values("review__referral__board_area")
        .annotate(
            n=Count("pk"),
            open_n=Count("pk", filter=is_open),
            late=Count("pk", filter=is_open & Q(due_on__lt=today)),
            annual=Count("pk", filter=is_open & (Q(last_reviewed_on__lte=cutoff)
                                                 | Q(last_reviewed_on__isnull=True, created_at__date__lte=cutoff))),
        )
        .order_by()
    )  # fmt: skip
    counted = {r["review__referral__board_area"]: r for r in rows}
    # Every board, a board with none showing 0: "none overdue" is an answer too.
    out = [
        BoardCount(a.pk, local_name(a), *(
            (r["n"], r["open_n"], r["late"], r["annual"]) if (r := counted.get(a.pk)) else (0, 0, 0, 0)
        ))
        for a in BoardArea.objects.filter(pk__in=set(counted) | set(_board_ids()))
    ]  # fmt: skip
    return sorted(out, key=lambda c: c.board)


def _board_ids() -> list[int]:
    """The regional boards' areas (an area some organisation is a safeguarding board of)."""
    from cylch.access.models import Organisation
    from cylch.access.roles import OrganisationKind

    return list(
        Organisation.objects.filter(kind=OrganisationKind.SAFEGUARDING_BOARD, board_area__isnull=False).values_list(
            "board_area_id", flat=True
        )
    )

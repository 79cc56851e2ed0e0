"""The clerical review queue: pairs the model was unsure of, side by side, for a person to decide.

Children's services review the tasks about people of their own local authority
(``selectors.match_reviews_for``): a task shows both records' names, dates of birth and
addresses, which the access policy keeps from an organisation with no standing to the person.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.access.roles import FRONT_DOOR_ROLES
from cylch.identity.conflicts import open_conflicts_for
from cylch.identity.linkage.labels import FIELD_LABELS, level_label
from cylch.identity.linkage.online import compare_pair
from cylch.identity.linking import records_of, review_decide
from cylch.identity.models import PersonLink, ReviewStatus
from cylch.identity.selectors import match_reviews_for

CONFLICTS_SHOWN = 5  # the newest; the family-conflict queue has them all


def _reviewers_only(request):
    if request.user.role not in FRONT_DOOR_ROLES:
        raise PermissionDenied(_("Matching records to people is done by children's services."))


def queue(request):
    _reviewers_only(request)
    open_reviews = (
        match_reviews_for(request.user)
        .filter(status=ReviewStatus.OPEN)
        .select_related("record_a", "record_b", "record_a__organisation", "record_b__organisation")
    )
    page = Paginator(open_reviews.order_by("-weight", "pk"), 50).get_page(request.GET.get("page"))
    for review in page.object_list:
        review.percent = _percent(review.probability)
    conflicts = open_conflicts_for(request.user)
    return render(
        request,
        "identity/review_queue.html",
        {"page": page, "total": open_reviews.count(), "conflicts": list(conflicts[:CONFLICTS_SHOWN]),
         "conflict_total": conflicts.count()},
    )  # fmt: skip


def detail(request, pk: int):
    _reviewers_only(request)
    review = get_object_or_404(match_reviews_for(request.user), pk=pk)
    a, b = records_of(review)
    if not review.evidence:
        scored = compare_pair(a, b)
        review.evidence = scored.evidence
        review.save(update_fields=["evidence"])
    rows = [
        {
            "label": FIELD_LABELS.get(e["field"], e["field"]),
            "left": _as_sent(a, e["field"]),
            "right": _as_sent(b, e["field"]),
            "level": level_label(e["level"]),
            "weight": e["weight"],
            "agrees": e["weight"] > 0,
            "unknown": e["is_null"],
        }
        for e in review.evidence
    ]
    starting = round(review.weight - sum(e["weight"] for e in review.evidence), 1)
    audit_from_request(
        request, action="read", object_type="match_review", object_id=review.pk, purpose="match review opened"
    )
    people = [_person_of(a), _person_of(b)]
    return render(
        request,
        "identity/review_detail.html",
        {"review": review, "a": a, "b": b, "rows": rows, "starting": starting, "people": people,
         "percent": _percent(review.probability)},
    )  # fmt: skip


def _percent(probability: float) -> float:
    """Rounded down, so a pair short of certain never shows as 100%."""
    return math.floor(probability * 1000) / 10


def _as_sent(record, field: str) -> str:
    """The record's own value for a compared field, as the agency sent it."""
    if field == "given_name":
        return record.given_name
    if field == "surname":
        return record.family_name
    if field == "dob":
        return record.date_of_birth.strftime("%d/%m/%Y") if record.date_of_birth else ""
    if field == "sex":
        return record.get_sex_display() if record.sex != "unknown" else ""
    if field == "address":
        return ", ".join(p for p in (record.address_line, record.town, record.postcode) if p)
    if field == "nhs_number":
        return record.nhs_number
    if field == "pupil_number":
        return record.upn
    return ""


def _person_of(record):
    link = PersonLink.objects.filter(agency_record=record, active=True).select_related("person").first()
    return link.person.live() if link else None


@require_POST
def decide(request, pk: int):
    _reviewers_only(request)
    review = get_object_or_404(match_reviews_for(request.user), pk=pk)
    choice = request.POST.get("decision")
    if choice not in {"same", "different"}:
        messages.error(request, _("Choose whether these are the same person or different people."))
        return redirect("identity:review-detail", pk=pk)
    try:
        review_decide(review=review, same=choice == "same", actor=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for m in msgs:
                messages.error(request, m)
        return redirect("identity:review-detail", pk=pk)
    messages.success(
        request,
        _("Recorded: the same person. Their records are now together.")
        if choice == "same"
        else _("Recorded: different people. They will not be linked again."),
    )
    nxt = match_reviews_for(request.user).filter(status=ReviewStatus.OPEN).order_by("-weight", "pk").first()
    return redirect("identity:review-detail", pk=nxt.pk) if nxt else redirect("identity:review-queue")

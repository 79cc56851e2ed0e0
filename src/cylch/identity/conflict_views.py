"""Family conflicts for review: the queue and one conflict, side by side, with the decision;
and households that look like one home, to merge or not (and a merge to undo).

The same reviewers and scope as the matching queue (``selectors.family_conflicts_for``):
children's services of the child's (or the household's) local authority. Thin: find through
the scope, call ``identity/conflicts.py`` or ``identity/households/merge.py``, render, log the read.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.access.roles import FRONT_DOOR_ROLES
from cylch.core.forms import apply_errors, form_errors
from cylch.identity.conflict_forms import ConflictDecisionForm, HouseholdDecisionForm
from cylch.identity.conflicts import conflict_decide, conflict_view, decided_conflicts_for, open_conflicts_for
from cylch.identity.households.merge import (
    duplicate_for,
    duplicates_for,
    household_merge,
    household_not_same,
    household_unmerge,
    merged_for,
)
from cylch.identity.selectors import family_conflicts_for

RECENTLY_DECIDED = 10


def _reviewers_only(request):
    if request.user.role not in FRONT_DOOR_ROLES:
        raise PermissionDenied(_("Family conflicts are decided by children's services."))


def queue(request):
    _reviewers_only(request)
    waiting = open_conflicts_for(request.user)
    page = Paginator(waiting, 50).get_page(request.GET.get("page"))
    kinds = {row["kind"]: row["n"] for row in waiting.order_by().values("kind").annotate(n=Count("pk"))}
    return render(
        request,
        "identity/conflict_queue.html",
        {
            "page": page,
            "total": sum(kinds.values()),
            "too_many": kinds.get("too_many_parents", 0),
            "too_young": kinds.get("parent_too_young", 0),
            "decided": list(decided_conflicts_for(request.user)[:RECENTLY_DECIDED]),
        },
    )


def conflict(request, pk: int):
    _reviewers_only(request)
    found = get_object_or_404(family_conflicts_for(request.user).select_related("person", "resolved_by"), pk=pk)
    view = conflict_view(found)
    form = ConflictDecisionForm(request.POST or None, names=[s.relative.display_name for s in view.sides])
    if request.method == "POST" and form.is_valid():
        try:
            conflict_decide(
                conflict=found, actor=request.user, outcomes=form.outcomes(view.sides),
                reason=form.cleaned_data["reason"], shown=form.cleaned_data["relationships"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, _("Decision recorded. Later automatic checks will not ask about these relationships again.")
            )
            nxt = open_conflicts_for(request.user).first()
            return redirect("identity:family-conflict", pk=nxt.pk) if nxt else redirect("identity:family-conflicts")
    audit_from_request(
        request, action="read", object_type="family_conflict", object_id=found.pk, purpose="family conflict opened",
        detail={"person": str(found.person.public_id), "relationships": len(view.sides)},
    )  # fmt: skip
    return render(
        request,
        "identity/conflict_detail.html",
        {
            "view": view,
            "conflict": view.conflict,
            "form": form,
            "rows": form.rows(view.sides),
            "form_errors": form_errors(form) if request.method == "POST" else [],
            "relationship_ids": view.relationship_ids,
        },
    )


def households(request):
    _reviewers_only(request)
    pairs = duplicates_for(request.user)
    audit_from_request(
        request, action="read", object_type="household", object_id=len(pairs), purpose="household duplicates listed"
    )
    return render(
        request,
        "identity/household_duplicates.html",
        {"pairs": pairs, "merged": list(merged_for(request.user)[:RECENTLY_DECIDED])},
    )


@require_POST
def household_decide(request, keep, other):
    _reviewers_only(request)
    pair = duplicate_for(request.user, str(keep), str(other))
    if pair is None:
        raise Http404
    form = HouseholdDecisionForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    try:
        if data.get("decision") == "same":
            household_merge(keep=pair.keep, merged=pair.other, actor=request.user, reason=data.get("reason", ""))
            messages.success(request, _("Recorded: one home. Its whole chronology is now together."))
        elif data.get("decision") == "different":
            household_not_same(a=pair.keep, b=pair.other, actor=request.user, reason=data.get("reason", ""))
            messages.success(request, _("Recorded: different homes. They will not be offered as one again."))
        else:
            messages.error(request, _("Choose whether these are the same home or different homes."))
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for m in msgs:
                messages.error(request, m)
    return redirect("identity:household-duplicates")


@require_POST
def household_undo(request, public_id):
    _reviewers_only(request)
    merged = get_object_or_404(merged_for(request.user), public_id=public_id)
    form = HouseholdDecisionForm(request.POST)
    form.is_valid()
    try:
        household_unmerge(merged=merged, actor=request.user, reason=form.cleaned_data.get("reason", ""))
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for m in msgs:
                messages.error(request, m)
    else:
        messages.success(request, _("Merge undone: the two households are separate homes again."))
    return redirect("identity:household-duplicates")

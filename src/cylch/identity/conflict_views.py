"""Family conflicts for review: the queue and one conflict, side by side, with the decision.

The same reviewers and scope as the matching queue (``selectors.family_conflicts_for``):
children's services of the child's local authority. Thin: find through the scope, call
``identity/conflicts.py``, render, log the read.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from cylch.access.audit import audit_from_request
from cylch.access.roles import FRONT_DOOR_ROLES
from cylch.core.forms import apply_errors, form_errors
from cylch.identity.conflict_forms import ConflictDecisionForm
from cylch.identity.conflicts import conflict_decide, conflict_view, decided_conflicts_for, open_conflicts_for
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

"""Approval pages: a manager's queue, one held decision with approve / return, withdrawal."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.core.forms import apply_errors, form_errors
from cylch.governance import approvals, selectors
from cylch.governance.forms import APPROVE, AnswerForm
from cylch.governance.kinds import KINDS
from cylch.governance.models import ApprovalRequest


@dataclass
class Row:
    """A request as a list shows it."""

    request: ApprovalRequest
    about: str
    proposed: str
    url: str
    overdue: bool


def _row(request: ApprovalRequest, now) -> Row:
    kind = KINDS[request.kind]
    language = (translation.get_language() or "en")[:2]
    return Row(request, kind.about(request.target, language), kind.outcome_label(request.outcome),
               kind.url(request.target), request.is_pending and request.due_at < now)  # fmt: skip


def queue(request):
    now = timezone.now()
    user = request.user
    waiting = [_row(r, now) for r in selectors.queue_for(user)[:200]]
    audit_from_request(request, action="read", object_type="approval_queue", object_id=user.organisation_id or "",
                       purpose="approval queue viewed", detail={"waiting": len(waiting)})  # fmt: skip
    return render(request, "governance/approvals.html", {
        "approver": selectors.is_approver(user),
        "waiting": [r for r in waiting if r.request.requested_by_id != user.pk],
        "waiting_for_others": [r for r in waiting if r.request.requested_by_id == user.pk],
        "mine": [_row(r, now) for r in selectors.asked_by(user)],
        "decided": [_row(r, now) for r in selectors.decided_by_team(user)],
    })  # fmt: skip


def approval(request, public_id):
    held = selectors.approval_for(request.user, public_id)
    if held is None:
        raise Http404(_("No approval request with that reference for you."))
    may_decide = held.is_pending and approvals.may_decide(request.user, held)
    form = AnswerForm(request.POST or None)
    # A second submit of an answer already given is answered by the service: it changes nothing.
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        name = held.requested_by.get_full_name() or held.requested_by.username
        try:
            if d["decision"] == APPROVE:
                approvals.approval_approve(request=held, user=request.user, note=d["reasons"])
                done = _("Approved. The decision has taken effect and %(name)s has been told.")
            else:
                approvals.approval_return(request=held, user=request.user, reasons=d["reasons"])
                done = _("Returned. The decision has not taken effect; %(name)s has your reasons.")
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, done % {"name": name})
            return redirect("governance:approvals")
    kind = KINDS[held.kind]
    audit_from_request(request, action="read", object_type="approval", object_id=held.public_id,
                       purpose="held decision viewed")  # fmt: skip
    return render(request, "governance/approval.html", {
        "held": held, "row": _row(held, timezone.now()), "reasons": selectors.reasons_of(held),
        "open_label": kind.open_label, "form": form, "form_errors": form_errors(form), "may_decide": may_decide,
        "may_withdraw": held.is_pending and held.requested_by_id == request.user.pk,
        "own": held.requested_by_id == request.user.pk,
    })  # fmt: skip


@require_POST
def withdraw(request, public_id):
    held = selectors.approval_for(request.user, public_id)
    if held is None:
        raise Http404(_("No approval request with that reference for you."))
    try:
        approvals.approval_withdraw(request=held, user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        for message in getattr(exc, "messages", [str(exc)]):
            messages.error(request, message)
    else:
        messages.success(request, _("Request withdrawn. The decision was not taken: you can decide again."))
    return redirect(KINDS[held.kind].url(held.target))

"""Alert pages: my alerts, one alert with its evidence, the rule pack, lead-coordinator proposals."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.core.forms import apply_errors, form_errors
from cylch.governance.approvals import held_outcomes
from cylch.governance.models import ApprovalKind
from cylch.governance.selectors import last_returned_for, pending_for
from cylch.rules import coordinator, services
from cylch.rules.forms import DeclineForm, OutcomeForm
from cylch.rules.models import Alert, LeadCoordinatorProposal
from cylch.rules.pack import all_packs, pack_for
from cylch.rules.selectors import (
    alerts_for,
    evidence_for,
    evidence_sentence,
    part_label,
    proposals_for,
    rule_of,
    rule_views,
    sort_for_queue,
)


def _language() -> str:
    return (translation.get_language() or "en")[:2]


def my_alerts(request):
    closed = request.GET.get("show") == "closed"
    qs = alerts_for(request.user, open_only=not closed).prefetch_related("children")
    alerts = list(qs.order_by("-raised_at")[:200]) if closed else sort_for_queue(list(qs[:500]))
    language = _language()
    rows = [(a, rule_of(a)) for a in alerts]
    return render(request, "rules/my_alerts.html", {
        "rows": [(a, r.text("title", language) if r else a.rule_id) for a, r in rows],
        "closed": closed, "now": timezone.now(), "proposals": proposals_for(request.user).count(),
    })  # fmt: skip


def _alert_for(request, public_id) -> Alert:
    alert = get_object_or_404(Alert.objects.select_related("owner_organisation", "owner", "local_authority"), public_id=public_id)  # fmt: skip
    if not services.may_act(request.user, alert):
        raise Http404(_("No alert with that reference, or it was not sent to you."))
    return alert


def alert(request, public_id):
    return _alert_page(request, _alert_for(request, public_id), OutcomeForm())


def _alert_page(request, alert: Alert, outcome_form: OutcomeForm):
    """The alert's page; ``outcome_form`` bound, with its errors, when an outcome was refused,
    so what was chosen and written is shown again beside what is wrong."""
    language = _language()
    rule = rule_of(alert)
    entries = evidence_for(alert, request.user, language)
    audit_from_request(request, action="read", object_type="alert", object_id=alert.public_id, purpose="alert viewed",
                       detail={"evidence": len(entries), "withheld": sum(e.withheld for e in entries)})  # fmt: skip
    return render(request, "rules/alert.html", {
        "alert": alert, "rule": rule,
        # The language link returns here even from a refused outcome's POST-only address.
        "language_next": reverse("rules:alert", args=[alert.public_id]),
        "title": rule.text("title", language) if rule else alert.rule_id,
        "explanation": rule.text("explanation", language) if rule else "",
        "finding": rule.text("finding", language) if rule else "",
        "summary": evidence_sentence(entries, language), "entries": entries,
        "children": list(alert.children.all()),
        "recipients": [(r, part_label(r.part, language)) for r in alert.recipients.select_related("organisation", "user")],
        "steps": list(alert.steps.select_related("actor")), "now": timezone.now(),
        "outcome_form": outcome_form,
        "form_errors": form_errors(outcome_form) if outcome_form.is_bound else [],
        "awaiting_approval": pending_for(alert) if alert.is_open else None,
        "returned": last_returned_for(alert) if alert.status != "closed" else None,
        "held_outcomes": held_outcomes(ApprovalKind.ALERT_NO_ACTION, alert) if alert.is_open else [],
    })  # fmt: skip


@require_POST
def acknowledge(request, public_id):
    alert = _alert_for(request, public_id)
    services.alert_acknowledge(alert=alert, user=request.user)
    messages.success(request, _("Alert acknowledged. Record what happens next when you have acted."))
    return redirect("rules:alert", public_id=public_id)


@require_POST
def outcome(request, public_id):
    alert = _alert_for(request, public_id)
    form = OutcomeForm(request.POST)
    if form.is_valid():
        try:
            alert = services.alert_record_outcome(alert=alert, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if not alert.outcome and pending_for(alert) is not None:
                messages.warning(request, _("“No action” is waiting for a manager's approval. It has not taken effect: "
                                            "the alert stays open and nobody has been told until a manager approves it."))  # fmt: skip
            else:
                messages.success(
                    request, _("Outcome recorded. Everyone whose records made up the alert has been told.")
                )
            return redirect("rules:alert", public_id=public_id)
    return _alert_page(request, alert, form)


@require_POST
def close(request, public_id):
    alert = _alert_for(request, public_id)
    try:
        services.alert_close(alert=alert, user=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Alert closed."))
    return redirect("rules:alert", public_id=public_id)


def rule_pack(request):
    language = _language()
    org = request.user.organisation
    board = org.local_authority.board_area.code if org and org.local_authority_id else None
    pack = pack_for(board)
    return render(request, "rules/pack.html", {
        "pack": pack, "pack_title": pack.title["cy" if language == "cy" else "en"],
        "rules": rule_views(pack, language), "other_packs": [p for p in all_packs() if p is not pack],
    })  # fmt: skip


def proposals(request):
    items = list(proposals_for(request.user).order_by("created_at")[:200])
    if not items and request.user.role != "team-manager":
        raise PermissionDenied(_("Lead coordinators are confirmed by a front-door team manager."))
    return render(request, "rules/proposals.html", {"proposals": items, "decline_form": DeclineForm()})


def _proposal(request, public_id) -> LeadCoordinatorProposal:
    proposal = get_object_or_404(LeadCoordinatorProposal, public_id=public_id)
    if not proposals_for(request.user).filter(pk=proposal.pk).exists():
        raise Http404
    return proposal


@require_POST
def proposal_confirm_view(request, public_id):
    proposal = _proposal(request, public_id)
    try:
        coordinator.proposal_confirm(proposal=proposal, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        for message in getattr(exc, "messages", [str(exc)]):
            messages.error(request, message)
    else:
        messages.success(request, _("Lead coordinator confirmed. They have been told, and the child's alerts now go to them."))  # fmt: skip
    return redirect("rules:proposals")


@require_POST
def proposal_decline_view(request, public_id):
    proposal = _proposal(request, public_id)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            coordinator.proposal_decline(proposal=proposal, user=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Recorded: no lead coordinator for now."))
    else:
        for _field, message in form_errors(form):
            messages.error(request, message)
    return redirect("rules:proposals")

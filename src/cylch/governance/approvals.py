"""Decisions that need a manager's approval before they take effect (issue 11, item 1).

Which decisions, on which outcomes and how soon a manager must answer is configuration
(``approvals.yaml``, or ``settings.CYLCH_APPROVALS_FILE``). The owning app's service calls
:func:`hold` inside its own transaction, after its own checks: when the decision needs
approval, the request is recorded instead and the service stops, so nothing of the decision
happens. :func:`approval_approve` calls the same service again with the request, and the
decision takes effect then, once; :func:`approval_return` sends it back with reasons and it
never does. Every step is on the child's spine and in the audit log, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.access.roles import Role
from cylch.core.calendar import add_working_days
from cylch.core.yamltree import versioned_section
from cylch.events.services import record_event
from cylch.governance.kinds import KINDS, Kind
from cylch.governance.models import ApprovalKind, ApprovalRequest, ApprovalState
from cylch.notify.services import notify_address, notify_user

DEFAULT_FILE = Path(__file__).with_name("approvals.yaml")
DUE_AT = time(17, 0)
MIN_RETURN_REASONS = 10
FIELDS = {"enabled", "outcomes", "when", "due_working_days"}


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class KindConfig:
    kind: str
    enabled: bool
    outcomes: frozenset[str]
    when: str
    due_working_days: int


class ApprovalsConfigError(ValueError):
    """Every problem in the file at once, each naming file, line, kind and field."""


def load(path: Path) -> dict[str, KindConfig]:
    """Read and check an approvals file. Every kind Cylch knows must be listed, so that
    switching one off is a visible ``enabled: false``, never an omission."""
    kinds, problem = versioned_section(
        path.name,
        path.read_text(encoding="utf-8"),
        ApprovalsConfigError,
        section="kinds",
        known=sorted(KINDS),
        noun="kind",
        mapping="kind to its settings",
    )
    out: dict[str, KindConfig] = {}
    for key, raw in kinds.items():
        if key not in KINDS:
            continue
        where = ["kinds", key]
        if not isinstance(raw, dict):
            problem(where, "expected enabled, outcomes and due_working_days")
            continue
        for extra in sorted(set(raw) - FIELDS):
            problem([*where, extra], f"unknown field; use {', '.join(sorted(FIELDS))}")
        enabled = raw.get("enabled")
        if not isinstance(enabled, bool):
            problem([*where, "enabled"], "must be true or false")
        known = KINDS[key].outcome_labels()
        outcomes = raw.get("outcomes")
        if not isinstance(outcomes, list) or not outcomes:
            problem([*where, "outcomes"], "must be a list of at least one outcome")
            outcomes = []
        for i, value in enumerate(outcomes):
            if value not in known:
                problem([*where, "outcomes", i], f"“{value}” is not an outcome here; one of {', '.join(known)}")
        when = raw.get("when", "")
        if when and when not in KINDS[key].conditions:
            choices = ", ".join(KINDS[key].conditions) or "none for this kind"
            problem([*where, "when"], f"“{when}” is not a condition of this kind ({choices})")
        days = raw.get("due_working_days")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            problem([*where, "due_working_days"], "must be a whole number of working days, 1 or more")
        if not problem:
            out[key] = KindConfig(key, enabled, frozenset(outcomes), when or "", days)
    problem.raise_as(ApprovalsConfigError)
    return out


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: int) -> dict[str, KindConfig]:
    return load(Path(path))


def config_path() -> Path:
    return Path(getattr(settings, "CYLCH_APPROVALS_FILE", "") or DEFAULT_FILE)


def config() -> dict[str, KindConfig]:
    """The approvals in force (re-read when the file changes)."""
    path = config_path()
    return _load_cached(str(path), path.stat().st_mtime_ns)


def needs_approval(kind_key: str, target, outcome: str) -> bool:
    """Whether this outcome of this decision, on this record, waits for a manager."""
    setting = config()[kind_key]
    if not setting.enabled or outcome not in setting.outcomes:
        return False
    return not setting.when or KINDS[kind_key].conditions[setting.when](target)


def held_outcomes(kind_key: str, target) -> list[str]:
    """The labels of the outcomes that would wait for a manager on this record, for the
    decision form to say so before anyone chooses."""
    kind, setting = KINDS[kind_key], config()[kind_key]
    if not setting.enabled or (setting.when and not kind.conditions[setting.when](target)):
        return []
    return [kind.outcome_label(value) for value in sorted(setting.outcomes)]


def due_at(requested_at: datetime, working_days: int) -> datetime:
    day = add_working_days(timezone.localtime(requested_at).date(), working_days)
    return timezone.make_aware(datetime.combine(day, DUE_AT))


# --- who approves --------------------------------------------------------------------------


def team_managers(organisation: Organisation | None, *, exclude: User | None = None) -> QuerySet[User]:
    qs = User.objects.filter(organisation=organisation, role=Role.TEAM_MANAGER, is_active=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.order_by("pk")


def approving_organisation(kind: Kind, target, user: User) -> Organisation:
    """The requester's own team when it has another manager (Cylch does not know line
    management, so every team manager there may approve); otherwise the front door of the
    record's local authority (a school's safeguarding lead closing an alert, say)."""
    from cylch.reports.services import front_door_for

    own = user.organisation
    if own is not None and team_managers(own, exclude=user).exists():
        return own
    door = front_door_for(kind.local_authority(target))
    if team_managers(door, exclude=user).exists():
        return door
    return own or door


def check_may_decide(*, request: ApprovalRequest, user: User) -> None:
    """A team manager of the approving team, and never the person who asked."""
    if user.pk == request.requested_by_id:
        raise PermissionDenied(_("You cannot approve or return your own decision: another manager must."))
    if not (user.is_active and user.role == Role.TEAM_MANAGER and user.organisation_id == request.organisation_id):
        raise PermissionDenied(_("Only a team manager of the team that made the decision may approve or return it."))


def may_decide(user: User, request: ApprovalRequest) -> bool:
    try:
        check_may_decide(request=request, user=user)
    except PermissionDenied:
        return False
    return True


def may_withdraw(user: User, request: ApprovalRequest) -> bool:
    return user.pk == request.requested_by_id or (
        user.role == Role.TEAM_MANAGER and user.organisation_id == request.organisation_id
    )


# --- holding a decision --------------------------------------------------------------------


def hold(kind_key: str, *, target, user: User, outcome: str, payload: dict[str, Any], approval=None):
    """Called by the owning service inside its transaction, once its own checks have passed.

    Returns the new ``ApprovalRequest`` when the decision must wait: the caller then stops,
    and the decision has not been taken. Returns None when it may go ahead: no approval is
    needed, or ``approval`` is the approved request now being applied. A different decision
    on a record with a request waiting withdraws that request (it no longer applies)."""
    kind = KINDS[kind_key]
    if approval is not None:
        if approval.kind != kind_key or getattr(approval, f"{kind.field}_id") != target.pk:
            raise PermissionDenied("That approval is for another decision.")
        if approval.state != ApprovalState.APPROVED:
            raise PermissionDenied("That decision has not been approved.")
        return None
    waiting = ApprovalRequest.objects.select_for_update().filter(**{kind.field: target}, state=ApprovalState.PENDING)
    pending = waiting.first()
    if not needs_approval(kind_key, target, outcome):
        if pending is not None:
            _close(pending, user=user, state=ApprovalState.WITHDRAWN, reasons="")
        return None
    already = ValidationError({"outcome": [_("This decision is already waiting for a manager's approval.")]})
    if pending is not None:
        raise already
    now = timezone.now()
    organisation = approving_organisation(kind, target, user)
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                kind=kind_key, organisation=organisation, requested_by=user, requested_at=now, outcome=outcome,
                payload=payload, due_at=due_at(now, config()[kind_key].due_working_days), created_by=user,
                **{kind.field: target},
            )  # fmt: skip
    except IntegrityError:  # a double submit a moment ago holds it already
        raise already from None
    _on_spine(request, code="process.approval.requested", user=user, when=now, text=_reasons(request))
    audit_record(action="write", actor=user, object_type="approval", object_id=request.public_id,
                 purpose="decision held for a manager's approval", detail=_audit_detail(request))  # fmt: skip
    url = reverse("governance:approval", args=[request.public_id])
    for manager in team_managers(organisation, exclude=user):
        notify_user(
            recipient=manager, kind="approval_requested", url=url,
            dedupe_key=f"approval:{request.public_id}:requested:{manager.pk}",
            subject=_("A decision needs your approval: %(decision)s"),
            body=_("%(who)s has made a decision that needs a manager's approval before it takes effect: %(decision)s.\n"
                   "Approve it, or return it with your reasons, by %(due)s."),
            context={"who": _name(user), "decision": kind_label(request), "due": _when(request.due_at)},
        )  # fmt: skip
    return request


# --- a manager's answer --------------------------------------------------------------------


def approval_approve(*, request: ApprovalRequest, user: User, note: str = "") -> ApprovalRequest:
    """Approve: the held decision takes effect now, through the owning app's own service. A
    second submit of an approved request changes nothing (it was applied once)."""
    check_may_decide(request=request, user=user)
    with transaction.atomic():
        request = _locked(request)
        if request.state == ApprovalState.APPROVED:
            return request
        if request.state != ApprovalState.PENDING:
            raise ValidationError({"decision": [_("This decision is no longer waiting for approval.")]})
        now = timezone.now()
        request.state, request.decided_by, request.decided_at, request.reasons = (
            ApprovalState.APPROVED, user, now, note.strip(),
        )  # fmt: skip
        request.save(update_fields=["state", "decided_by", "decided_at", "reasons", "modified_at"])
        _on_spine(request, code="process.approval.approved", user=user, when=now, text=note.strip())
        KINDS[request.kind].apply(request)
        audit_record(action="write", actor=user, object_type="approval", object_id=request.public_id,
                     purpose="decision approved: it takes effect", detail=_audit_detail(request))  # fmt: skip
        notify_user(
            recipient=request.requested_by, kind="approval_approved", url=_target_url(request),
            dedupe_key=f"approval:{request.public_id}:approved",
            subject=_("Approved: %(decision)s"),
            body=_("%(manager)s has approved your decision, and it has now taken effect: %(decision)s.\n%(note)s"),
            context={"manager": _name(user), "decision": kind_label(request), "note": request.reasons},
        )  # fmt: skip
    return request


def approval_return(*, request: ApprovalRequest, user: User, reasons: str) -> ApprovalRequest:
    """Return the decision to the person who made it, with reasons. It does not take effect;
    the record stays open for them to decide again."""
    check_may_decide(request=request, user=user)
    if len(reasons.strip()) < MIN_RETURN_REASONS:
        raise ValidationError({"reasons": [_("Say why you are returning the decision (at least 10 characters).")]})
    with transaction.atomic():
        request = _locked(request)
        if request.state == ApprovalState.RETURNED and request.decided_by_id == user.pk:
            return request  # a double submit
        if request.state != ApprovalState.PENDING:
            raise ValidationError({"decision": [_("This decision is no longer waiting for approval.")]})
        _close(request, user=user, state=ApprovalState.RETURNED, reasons=reasons.strip())
        notify_user(
            recipient=request.requested_by, kind="approval_returned", url=_target_url(request),
            dedupe_key=f"approval:{request.public_id}:returned",
            subject=_("Returned: %(decision)s"),
            body=_("%(manager)s has returned your decision. It has not taken effect: %(decision)s.\n"
                   "Their reasons: %(reasons)s\nOpen the record to decide again."),
            context={"manager": _name(user), "decision": kind_label(request), "reasons": request.reasons},
        )  # fmt: skip
    return request


def approval_withdraw(*, request: ApprovalRequest, user: User) -> ApprovalRequest:
    """The person who asked (or a manager of the team) takes the request back, to decide
    differently. Nothing of the decision was taken."""
    if not may_withdraw(user, request):
        raise PermissionDenied(_("Only the person who asked, or a manager of the team, may withdraw this request."))
    with transaction.atomic():
        request = _locked(request)
        if request.state == ApprovalState.WITHDRAWN:
            return request
        if request.state != ApprovalState.PENDING:
            raise ValidationError({"decision": [_("This decision is no longer waiting for approval.")]})
        _close(request, user=user, state=ApprovalState.WITHDRAWN, reasons="")
    return request


def approvals_withdraw_for(kind_key: str, target, *, reasons: str, why) -> list[ApprovalRequest]:
    """Cylch itself withdraws the requests waiting on ``target`` that can no longer apply: an
    alert handed over to another authority's front door is that team's to decide afresh, and a
    manager of the old team must not close it. Each is recorded as withdrawn with ``reasons``
    (kept, in English), on the spine and in the audit log, and the person who asked is told
    ``why`` (a lazy translatable text) in their language. Call inside the caller's transaction."""
    kind = KINDS[kind_key]
    withdrawn = []
    for request in ApprovalRequest.objects.select_for_update().filter(
        **{kind.field: target}, state=ApprovalState.PENDING
    ):
        _close(request, user=None, state=ApprovalState.WITHDRAWN, reasons=reasons)
        notify_user(
            recipient=request.requested_by, kind="approval_withdrawn", url=_target_url(request),
            dedupe_key=f"approval:{request.public_id}:withdrawn",
            subject=_("No longer waiting for approval: %(decision)s"),
            body=_("Cylch has withdrawn your request for a manager's approval, so your decision has not taken "
                   "effect: %(decision)s.\n%(why)s"),
            context={"decision": kind_label(request), "why": why},
        )  # fmt: skip
        withdrawn.append(request)
    return withdrawn


def _close(request: ApprovalRequest, *, user: User | None, state: str, reasons: str) -> None:
    """Returned or withdrawn (by a person, or by Cylch when ``user`` is None): recorded on the
    request, the spine and the audit log."""
    now = timezone.now()
    request.state, request.decided_by, request.decided_at, request.reasons = state, user, now, reasons
    request.save(update_fields=["state", "decided_by", "decided_at", "reasons", "modified_at"])
    code = "process.approval.returned" if state == ApprovalState.RETURNED else "process.approval.withdrawn"
    _on_spine(request, code=code, user=user, when=now, text=reasons)
    purpose = "decision returned: not taken" if state == ApprovalState.RETURNED else "approval request withdrawn"
    audit_record(action="write", actor=user, actor_label="" if user else "Cylch", object_type="approval",
                 object_id=request.public_id, purpose=purpose, detail=_audit_detail(request))  # fmt: skip


# --- overdue approvals ---------------------------------------------------------------------


def approvals_sweep(*, now: datetime | None = None) -> int:
    """Tell every team manager of the approving team about a request past its time, once; a
    team with no other manager is told through its safeguarding mailbox."""
    now = now or timezone.now()
    escalated = 0
    overdue = ApprovalRequest.objects.filter(state=ApprovalState.PENDING, due_at__lt=now, escalated_at__isnull=True)
    for pk in overdue.values_list("pk", flat=True):
        with transaction.atomic():
            request = ApprovalRequest.objects.select_for_update(of=("self",)).select_related("organisation", "requested_by").get(pk=pk)  # fmt: skip
            if request.state != ApprovalState.PENDING or request.escalated_at is not None:
                continue
            context = {"decision": kind_label(request), "asked": _when(request.requested_at), "due": _when(request.due_at)}  # fmt: skip
            url = reverse("governance:approval", args=[request.public_id])
            managers = list(team_managers(request.organisation, exclude=request.requested_by))
            for manager in managers:
                notify_user(
                    recipient=manager, kind="approval_overdue", url=url,
                    dedupe_key=f"approval:{request.public_id}:overdue:{manager.pk}",
                    subject=_("Approval overdue: %(decision)s"),
                    body=_("A decision has waited for a manager's approval since %(asked)s and was due by %(due)s: "
                           "%(decision)s. It has not taken effect. Please approve it or return it today."),
                    context=context,
                )  # fmt: skip
            if not managers and request.organisation.safeguarding_email:
                notify_address(
                    to=request.organisation.safeguarding_email, url=url,
                    dedupe_key=f"approval:{request.public_id}:overdue:org",
                    subject=_("Approval overdue in Cylch"),
                    body=_("A decision in Cylch has waited for a manager's approval past its time and has not taken "
                           "effect. Sign in to see it."),
                )  # fmt: skip
            request.escalated_at = now
            request.save(update_fields=["escalated_at"])
            audit_record(action="write", actor_label="cylch approvals", object_type="approval",
                         object_id=request.public_id, purpose="approval overdue: escalated",
                         detail={"managers": len(managers)})  # fmt: skip
            escalated += 1
    return escalated


# --- helpers -------------------------------------------------------------------------------


def kind_label(request: ApprovalRequest):
    """What is proposed, e.g. "Section 47 enquiry: not substantiated" (lazy: read in the
    reader's language)."""
    return ApprovalKind(request.kind).label


def _locked(request: ApprovalRequest) -> ApprovalRequest:
    # Only the request's row is locked: the record it holds is nullable (an outer join), which
    # PostgreSQL will not lock, and the owning service locks that itself.
    return (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("requested_by", "organisation", "report", "enquiry__episode", "alert")
        .get(pk=request.pk)
    )


def _reasons(request: ApprovalRequest) -> str:
    return str(request.payload.get(KINDS[request.kind].reasons, "")).strip()


def _on_spine(request: ApprovalRequest, *, code: str, user: User | None, when: datetime, text: str) -> None:
    """One entry on each child's spine: which decision, and the reasons given."""
    kind = KINDS[request.kind]
    with translation.override("en"):
        summary = f"{kind_label(request)}: {kind.outcome_label(request.outcome)}."
    if text:
        summary = f"{summary}\n{text}"
    step = code.rsplit(".", 1)[1]
    for child in kind.children(request.target):
        record_event(
            organisation=(user and user.organisation) or request.organisation, code=code, occurred_at=when, person=child,
            summary=summary, recorded_by=user, audit=False,
            external_id=f"approval:{request.public_id}:{child.public_id}:{step}",
        )  # fmt: skip


def _audit_detail(request: ApprovalRequest) -> dict[str, Any]:
    target = request.target
    return {
        "kind": request.kind,
        "outcome": request.outcome,
        "record": f"{KINDS[request.kind].field}:{getattr(target, 'reference', None) or target.public_id}",
        "state": request.state,
    }


def _target_url(request: ApprovalRequest) -> str:
    return KINDS[request.kind].url(request.target)


def _name(user: User) -> str:
    return user.get_full_name() or user.username


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")

"""Reads for approvals: a manager's queue, a practitioner's own requests, and what waits on a
record (for the owning app's page to say so)."""

from __future__ import annotations

from django.db.models import QuerySet

from cylch.access.models import User
from cylch.access.roles import Role
from cylch.governance.kinds import KINDS
from cylch.governance.models import ApprovalRequest, ApprovalState

_RELATED = ("requested_by", "decided_by", "organisation", "report", "enquiry__episode__child",
            "alert__local_authority__board_area")  # fmt: skip


def _requests() -> QuerySet[ApprovalRequest]:
    """With what a list needs to say what each request is about, in a fixed number of queries."""
    return ApprovalRequest.objects.select_related(*_RELATED).prefetch_related(
        "report__subjects__person", "alert__children"
    )


def is_approver(user: User) -> bool:
    return user.is_authenticated and user.role == Role.TEAM_MANAGER and user.organisation_id is not None


def queue_for(user: User) -> QuerySet[ApprovalRequest]:
    """Decisions waiting for a manager of the user's team, the longest overdue first."""
    if not is_approver(user):
        return ApprovalRequest.objects.none()
    return (
        _requests().filter(organisation_id=user.organisation_id, state=ApprovalState.PENDING).order_by("due_at", "pk")
    )


def decided_by_team(user: User, *, limit: int = 20) -> list[ApprovalRequest]:
    """The team's latest answers, for a manager to see what colleagues approved or returned."""
    if not is_approver(user):
        return []
    qs = _requests().filter(
        organisation_id=user.organisation_id, state__in=[ApprovalState.APPROVED, ApprovalState.RETURNED]
    )
    return list(qs.order_by("-decided_at")[:limit])


def asked_by(user: User, *, limit: int = 50) -> list[ApprovalRequest]:
    return list(_requests().filter(requested_by=user).order_by("-requested_at")[:limit])


def approval_for(user: User, public_id) -> ApprovalRequest | None:
    """One request, for the person who asked or a manager of the approving team; None
    otherwise, the same as for a request that does not exist."""
    request = _requests().filter(public_id=public_id).first()
    if request is None:
        return None
    if request.requested_by_id == user.pk or (is_approver(user) and user.organisation_id == request.organisation_id):
        return request
    return None


def _on(target) -> QuerySet[ApprovalRequest]:
    field = {"Report": "report", "Enquiry": "enquiry", "Alert": "alert"}[type(target).__name__]
    return _requests().filter(**{field: target})


def pending_for(target) -> ApprovalRequest | None:
    """The decision on this record that waits for a manager, if any."""
    return _on(target).filter(state=ApprovalState.PENDING).first()


def last_returned_for(target) -> ApprovalRequest | None:
    """The latest decision on this record a manager returned, while nothing newer waits or
    was approved: the reasons the practitioner must read before deciding again."""
    latest = _on(target).order_by("-requested_at", "-pk").first()
    return latest if latest is not None and latest.state == ApprovalState.RETURNED else None


def reasons_of(request: ApprovalRequest) -> str:
    """The practitioner's own reasons for the decision they proposed."""
    return str(request.payload.get(KINDS[request.kind].reasons, ""))

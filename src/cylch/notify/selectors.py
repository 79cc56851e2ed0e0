"""Reading the outbox: how much is waiting and how much was given up, for ``/healthz/worker``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from cylch.notify.models import OutboxMessage, OutboxStatus

# "Given up recently" counts messages queued in this period that failed: a message is given up
# within about four and a half hours of being queued (eight attempts, back-off 2 to 128 minutes).
RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class OutboxSummary:
    pending: int  # waiting to be sent (including those waiting for a retry)
    oldest_due: datetime | None  # the earliest moment a waiting message was due to be tried
    failed_recently: int  # queued within RECENT and given up
    failed: int  # given up, ever


def outbox_summary(*, now: datetime) -> OutboxSummary:
    """One query, on the (status, next_attempt_at) index: sent messages are never read."""
    row = OutboxMessage.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED]).aggregate(
        pending=Count("pk", filter=Q(status=OutboxStatus.PENDING)),
        oldest_due=Min("next_attempt_at", filter=Q(status=OutboxStatus.PENDING)),
        failed_recently=Count("pk", filter=Q(status=OutboxStatus.FAILED, created_at__gte=now - RECENT)),
        failed=Count("pk", filter=Q(status=OutboxStatus.FAILED)),
    )
    return OutboxSummary(row["pending"], row["oldest_due"], row["failed_recently"], row["failed"])

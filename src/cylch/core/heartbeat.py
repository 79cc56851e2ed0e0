"""The worker's heartbeat, and whether the background work is healthy (HAZ-004).

``cylch worker`` runs every clock and then the outbox once a minute. If it stops, no clock
escalates and no email leaves, and nothing else says so. Each round writes its start and its
end (with what each job did) to one ``WorkerHeartbeat`` row; :func:`worker_health` reads that
row and the outbox in two indexed queries, for ``/healthz/worker``.

Unhealthy (HTTP 503 from ``/healthz/worker``) when any of these holds:

- the worker has never finished a round (only where a worker is required:
  ``CYLCH_WORKER_REQUIRED``, on by default in production, off for demo and test hubs);
- its last round finished more than ``CYLCH_WORKER_STALE_SECONDS`` ago (600);
- a job raised in its last round (that clock or the outbox is not running);
- an email has been due for longer than ``CYLCH_WORKER_STALE_SECONDS`` without being tried
  (except on a hub that needs no worker and has never run one);
- more than ``CYLCH_OUTBOX_FAILED_LIMIT`` emails (10) queued in the last 24 hours were given up.

``/healthz`` itself stays the trivial ``SELECT 1`` the load balancer needs: a stopped worker must
not take the web servers out of service, or a notification problem (HAZ-004) would become an
outage at the front door (HAZ-008).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from cylch.core.models import WorkerHeartbeat

log = logging.getLogger(__name__)
WORKER = "worker"
STALE_SECONDS = 600
FAILED_LIMIT = 10


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def round_started(*, now: datetime | None = None) -> datetime:
    """Record that a round has started; returns its start. Never raises: a heartbeat that cannot
    be written must not stop the clocks (the missing beat is itself what a monitor sees)."""
    now = now or timezone.now()
    try:
        WorkerHeartbeat.objects.update_or_create(name=WORKER, defaults={"started_at": now, "host": _host()})
    except Exception:  # the database is down or locked: the jobs will say so too
        log.exception("worker: could not record the start of a round")
    return now


def round_finished(done: dict[str, str], *, now: datetime | None = None) -> None:
    """Record the end of a round and what each job did (``"failed"`` for a job that raised)."""
    now = now or timezone.now()
    failed = sorted(name for name, result in done.items() if result == "failed")
    try:
        written = WorkerHeartbeat.objects.filter(name=WORKER).update(
            finished_at=now, results=done, failed_jobs=failed, rounds=F("rounds") + 1, host=_host()
        )
        if not written:  # the start could not be recorded
            WorkerHeartbeat.objects.create(
                name=WORKER, started_at=now, finished_at=now, results=done, failed_jobs=failed, rounds=1, host=_host()
            )
    except Exception:
        log.exception("worker: could not record the end of a round")


def _settings() -> tuple[int, int, bool]:
    return (
        int(getattr(settings, "CYLCH_WORKER_STALE_SECONDS", STALE_SECONDS)),
        int(getattr(settings, "CYLCH_OUTBOX_FAILED_LIMIT", FAILED_LIMIT)),
        bool(getattr(settings, "CYLCH_WORKER_REQUIRED", getattr(settings, "PRODUCTION", True))),
    )


@dataclass
class WorkerHealth:
    ok: bool
    problems: list[str] = field(default_factory=list)
    worker: dict[str, Any] = field(default_factory=dict)
    outbox: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "error", "problems": self.problems, "worker": self.worker,
                "outbox": self.outbox}  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def worker_health(*, now: datetime | None = None) -> WorkerHealth:
    """Is the background work running? Two queries: the heartbeat row and the outbox summary."""
    from cylch.notify.selectors import outbox_summary  # notify builds on core: imported when used, as the worker does

    now = now or timezone.now()
    stale, failed_limit, required = _settings()
    problems: list[str] = []
    beat = WorkerHeartbeat.objects.filter(name=WORKER).first()
    never_ran = beat is None or beat.finished_at is None
    if never_ran:
        worker: dict[str, Any] = {"last_round_started": _iso(beat.started_at if beat else None),
                                  "last_round_finished": None, "seconds_since": None}  # fmt: skip
        if required:
            problems.append("the worker has never finished a round: is `cylch worker` running?")
    else:
        since = int((now - beat.finished_at).total_seconds())
        worker = {
            "last_round_started": _iso(beat.started_at),
            "last_round_finished": _iso(beat.finished_at),
            "seconds_since": since,
            "rounds": beat.rounds,
            "results": beat.results,
            "failed_jobs": beat.failed_jobs,
        }
        if since > stale:
            problems.append(f"the worker's last round finished {since} seconds ago (more than {stale})")
        if beat.failed_jobs:
            problems.append(f"jobs failed in the worker's last round: {', '.join(beat.failed_jobs)}")
    summary = outbox_summary(now=now)
    waited = int((now - summary.oldest_due).total_seconds()) if summary.oldest_due else 0
    outbox = {"pending": summary.pending, "oldest_due_waiting_seconds": max(waited, 0),
              "failed_last_24_hours": summary.failed_recently, "failed": summary.failed}  # fmt: skip
    if waited > stale and (required or not never_ran):  # a demo hub without a worker sends nothing
        problems.append(f"an email has been due for {waited} seconds and not tried (more than {stale})")
    if summary.failed_recently > failed_limit:
        problems.append(
            f"{summary.failed_recently} emails queued in the last 24 hours were given up (more than {failed_limit})"
        )
    return WorkerHealth(not problems, problems, worker, outbox)

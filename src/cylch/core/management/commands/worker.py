"""`cylch worker`: the hub's background work in one process. Every clock and sweep the hub has,
then the email outbox, once a minute (or once with --once), so a deployment runs one process
beside the web server instead of five cron lines."""

from __future__ import annotations

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from cylch.core import heartbeat

log = logging.getLogger(__name__)


def sweeps():
    """(name, function) for each periodic job, in the order they run. Each is idempotent: a
    warning or escalation is sent once however often it runs."""
    from cylch.governance.approvals import approvals_sweep
    from cylch.governance.rights_requests import rights_requests_sweep
    from cylch.governance.webhooks import deliver_due as webhooks_deliver_due
    from cylch.notify.services import deliver_due
    from cylch.protection.monitor import sweep as protection_sweep
    from cylch.reports.challenges import challenges_sweep
    from cylch.reports.clocks import reports_sweep
    from cylch.rules.services import alerts_sweep

    return [
        ("reports", reports_sweep),
        ("challenges", challenges_sweep),
        ("alerts", alerts_sweep),
        ("protection", protection_sweep),
        ("approvals", approvals_sweep),
        ("rights requests", rights_requests_sweep),
        # Before the outbox, so a "deliveries failing" notice goes out in the same round.
        ("webhooks", webhooks_deliver_due),
        ("outbox", deliver_due),
    ]


def run_once() -> dict[str, str]:
    """Run every job; one failing is logged and does not stop the others. The round's start and
    end are the worker's heartbeat, read by /healthz/worker (cylch.core.heartbeat)."""
    heartbeat.round_started()
    done = {}
    for name, job in sweeps():
        try:
            done[name] = str(job())
        except Exception:  # one job's failure must not stop the rest; it is logged
            log.exception("worker: %s failed", name)
            done[name] = "failed"
    heartbeat.round_finished(done)
    return done


class Command(BaseCommand):
    help = "Run the hub's clocks, sweeps and email outbox: once a minute, or once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and stop")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between rounds")

    def handle(self, *args, **opts):
        while True:
            done = run_once()
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in done.items()))
            if opts["once"]:
                return
            # Between rounds, as between requests: drop a connection that is broken or too old.
            close_old_connections()
            time.sleep(opts["interval"])

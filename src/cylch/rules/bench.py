"""`cylch bench rules`: the batch run over a large demo population and incremental throughput
(events per second through recording plus evaluation), on SQLite and PostgreSQL.

Each database runs in its own process on a database made for the run and removed after it, so
a benchmark can never touch a real hub. Recording without the rules is measured in the same
run, so the cost of evaluation reads as a ratio that does not depend on the machine.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from cylch.core.benchrun import run_worker

CODES = [
    ("health.appointment.was_not_brought", "person", {"service": "gp"}),
    ("education.behaviour.change", "person", {}),
    ("police.ppn.domestic_abuse", "household", {"risk_level": "standard"}),
    ("health.child.development_concern", "person", {}),
    ("housing.conditions.poor", "household", {}),
]


def worker(persons: int, events: int) -> dict:
    """Runs inside the bench database's process."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from cylch.access.models import Organisation
    from cylch.demo.builder import build
    from cylch.events.services import record_event
    from cylch.identity.models import HouseholdMembership
    from cylch.rules.models import Alert
    from cylch.rules.services import run_batch

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    stats = build(persons=persons, progress=False)
    build_s = time.perf_counter() - started
    batch = run_batch()
    rng = random.Random(5)
    memberships = list(
        HouseholdMembership.objects.filter(to_date__isnull=True).select_related("person", "household")[:20000]
    )
    kids = [
        m
        for m in memberships
        if m.person.date_of_birth and (timezone.localdate() - m.person.date_of_birth).days < 17 * 365
    ]
    orgs = {
        k: list(Organisation.objects.filter(kind=k)[:20])
        for k in ("gp_practice", "school", "police", "housing", "health_visiting")
    }
    org_for = {"health": "gp_practice", "education": "school", "police": "police", "housing": "housing"}

    def record_some(n: int, tag: str) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            code, subject, details = rng.choice(CODES)
            m = rng.choice(kids)
            org = rng.choice(orgs[org_for[code.split(".")[0]]])
            with transaction.atomic():
                record_event(
                    organisation=org, code=code, occurred_at=timezone.now() - timedelta(days=rng.randint(0, 60)),
                    person=m.person if subject == "person" else None,
                    household=m.household if subject == "household" else None,
                    details=details, external_id=f"bench-{tag}-{i}", audit=False,
                )  # fmt: skip
        return time.perf_counter() - t0

    settings.CYLCH_RULES_ON_RECORD = False
    floor_s = record_some(events, "floor")
    settings.CYLCH_RULES_ON_RECORD = True
    before = Alert.objects.count()
    with_rules_s = record_some(events, "rules")
    return {
        "database": connection.vendor,
        "persons": stats.persons,
        "events_in_population": stats.events,
        "build_seconds": round(build_s, 1),
        "batch": {"seconds": round(batch.seconds, 2), "events_read": batch.events, "scopes": batch.scopes,
                  "alerts_raised": batch.raised, "by_rule": batch.by_rule},
        "incremental": {
            "events": events,
            "events_per_second": round(events / with_rules_s, 1),
            "record_only_events_per_second": round(events / floor_s, 1),
            "ratio_to_record_only": round(with_rules_s / floor_s, 2),
            "alerts_raised_or_updated": Alert.objects.count() - before,
        },
    }  # fmt: skip


def run(database: str, persons: int, events: int, postgres: str) -> dict:
    """Run the worker in a fresh process on a database made for this run."""
    args = ["bench", "rules-worker", "--persons", str(persons), "--events", str(events)]
    return run_worker(database, postgres, args, name="cylch_bench_rules")


def table(results: list[dict]) -> str:
    lines = [
        f"{'database':<11}{'persons':>9}{'events':>9}{'batch s':>9}{'alerts':>8}{'ev/s':>8}{'floor ev/s':>11}{'ratio':>7}"
    ]
    for r in results:
        inc = r["incremental"]
        lines.append(
            f"{r['database']:<11}{r['persons']:>9,}{r['events_in_population']:>9,}{r['batch']['seconds']:>9.1f}"
            f"{r['batch']['alerts_raised']:>8,}{inc['events_per_second']:>8.1f}{inc['record_only_events_per_second']:>11.1f}"
            f"{inc['ratio_to_record_only']:>7.2f}"
        )
    return "\n".join(lines)

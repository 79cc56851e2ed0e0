"""The rules' first run over the demo, dated as a hub that had been running would show it.

The builder writes records in bulk, past the incremental rules, so the rules add everything up
once at the end (``rules.services.run_batch``), and each alert it raises is raised today: on
the board's chart, one quarter held several times the alerts of any quarter before it. A hub
that had been running would have raised each alert when its latest evidence came in, and worked
the older ones since; and the quarters before would have had alerts whose evidence has since
aged out of the rules' windows, which a run today cannot find.

So each alert of that run whose latest evidence is more than a fortnight old is dated by that
evidence and worked as the history's alerts are (acknowledged on time or late, an outcome,
closed), and each quarter the dashboard shows is filled with history alerts up to the rate the
run found over the last 91 days, authority by authority. An alert about a scenario family is
left as raised (the walkthroughs open them), and so is every recent one: the queues still hold
today's work. A dated alert's notices and emails, written by the run about a deadline long
gone, are taken away, as no history alert has them; the audit log still says when the run
raised it.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from cylch.demo.history import quarter_start
from cylch.notify.models import Notification, OutboxMessage
from cylch.rules.models import Alert, AlertEvidence, AlertRecipient, AlertStatus, AlertStep
from cylch.rules.pack import all_packs

RECENT = timedelta(days=14)  # younger than this, an alert is still today's work
RATE_DAYS = 91  # the window whose alerts set each authority's rate per quarter


def settle(history, scenario_people: set[int]) -> dict[str, int]:
    """Run the rules over the demo and date what they raise (see the module). ``history`` is the
    demo's ``History``, whose randomness, rates and workers the dated alerts share."""
    from cylch.rules.services import run_batch

    now = min(timezone.now(), history.end_moment)
    raised = run_batch(now=now).raised
    dated = _date(history, now, scenario_people)
    filled = _fill(history, now)
    return {"rules_raised": raised, "rules_dated": dated, "alerts": history.written["alerts"] + filled}


def _date(history, now: datetime, scenario_people: set[int]) -> int:
    rules = {r.id: r for pack in all_packs() for r in pack.rules}
    alerts = list(
        Alert.objects.filter(status=AlertStatus.RAISED)
        .exclude(scope_key__startswith="history:")
        .select_related("local_authority")
        .prefetch_related("children")
        .order_by("pk")
    )
    latest = dict(
        AlertEvidence.objects.filter(alert__in=alerts)
        .values("alert_id")
        .annotate(at=Max("event__recorded_at"))
        .values_list("alert_id", "at")
    )
    changed, steps = [], []
    for a in alerts:
        came = latest.get(a.pk)
        if came is None or came > now - RECENT or a.local_authority is None:
            continue
        if {c.pk for c in a.children.all()} & scenario_people:
            continue
        raised = came + timedelta(minutes=history.rng.randrange(1, 30))
        steps += history.work_alert(a, a.local_authority.code, rules[a.rule_id], raised)
        changed.append(a)
    Alert.objects.bulk_update(
        changed,
        ["raised_at", "evidence_updated_at", "acknowledge_by", "last_notified_at", "status", "acknowledged_at",
         "acknowledged_by", "actioned_at", "actioned_by", "outcome", "closed_at", "closed_by"],
        batch_size=1000,
    )  # fmt: skip
    for a in changed:  # when the run raised it, as far as its own records go
        a.steps.filter(action="raised").update(at=a.raised_at)
        a.evidence.update(added_at=a.raised_at)
        AlertRecipient.objects.filter(alert=a, notified_at__isnull=False).update(notified_at=a.raised_at)
    AlertStep.objects.bulk_create(steps, batch_size=5000)
    Notification.objects.filter(url__in=[reverse("rules:alert", args=[a.public_id]) for a in changed]).delete()
    for a in changed:
        OutboxMessage.objects.filter(dedupe_key__startswith=f"alert:{a.public_id}:").delete()
    return len(changed)


def _fill(history, now: datetime) -> int:
    """History alerts in each shown quarter, authority by authority, up to the rules' rate."""
    rows = Alert.objects.exclude(local_authority=None).values_list("local_authority__code", "raised_at", "scope_key")
    rate, held = Counter(), Counter()
    for la, raised, key in rows:
        if not key.startswith("history:") and raised >= now - timedelta(days=RATE_DAYS):
            rate[la] += 1
        held[la, quarter_start(timezone.localtime(raised).date())] += 1
    made = 0
    for la in sorted(rate):
        if la not in history.pb.d.las or not history.by_la.get(la):
            continue
        for start, end in _quarters(history.shown_from, history.as_of):
            need = round(rate[la] * ((end - start).days + 1) / RATE_DAYS) - held[la, start]
            if need > 0:
                made += history.alerts(la, need, window=(start, end + timedelta(days=1)))
    return made


def _quarters(first: date, last: date):
    """(first day, last day shown) of each quarter from ``first`` to the one holding ``last``."""
    start = first
    while start <= last:
        following = quarter_start(start + timedelta(days=95))
        yield start, min(following - timedelta(days=1), last)
        start = following

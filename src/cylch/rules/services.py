"""Raise, update and work alerts; the incremental and batch evaluation runs.

Everything here runs inside the caller's transaction: an event and the alert it raises (and
the notifications the alert sends) commit together or not at all.
"""

from __future__ import annotations

import time as clock
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record, hold_recording
from cylch.access.audit import gathering as audit_gathering
from cylch.access.models import LocalAuthority, User
from cylch.access.roles import Role
from cylch.core.bulk import update_rows
from cylch.events.models import Event
from cylch.governance.approvals import hold
from cylch.governance.models import ApprovalKind, ApprovalRequest
from cylch.identity.households import homes_with_merged
from cylch.identity.models import Household, Person
from cylch.notify.services import at_moment, in_language, notify_address, notify_user
from cylch.notify.services import gathering as notify_gathering
from cylch.rules import routing
from cylch.rules.engine import Finding, evaluate
from cylch.rules.models import (
    OPEN_STATUSES,
    Alert,
    AlertEvidence,
    AlertOutcome,
    AlertRecipient,
    AlertStatus,
    AlertStep,
)
from cylch.rules.pack import Pack, Rule, all_packs, pack_for
from cylch.rules.selectors import rule_of, works_team_queue
from cylch.rules.world import EVENT_FIELDS, Scope, World, earliest, scope_events

# New evidence on an open alert tells its owner again at most this often.
RENOTIFY_AFTER = timedelta(hours=1)


def _la_for(scope: Scope) -> LocalAuthority | None:
    if scope.household_id is None:
        return None
    return LocalAuthority.objects.filter(households__pk=scope.household_id).first()


@dataclass
class Raised:
    """A new alert, built but not yet stored, with what its raising writes after it."""

    alert: Alert
    rule: Rule
    pack: Pack
    scope: Scope
    finding: Finding
    children: list[Person]
    targets: list[routing.Target]


def _build(rule: Rule, pack: Pack, scope: Scope, finding: Finding, now: datetime, children: list[Person], la) -> Raised:
    """The alert ``finding`` raises, routed (owner first), unsaved."""
    targets = routing.targets(rule.route_to, children, la)
    owner = targets[0]
    alert = Alert(
        rule_id=rule.id,
        pack=pack.label,
        scope_key=scope.key,
        household_id=scope.household_id,
        local_authority=la,
        severity=rule.severity,
        counts=finding.counts,
        raised_at=now,
        evidence_updated_at=now,
        acknowledge_by=routing.acknowledge_by(rule.acknowledge, now, local_authority=la, targets=targets),
        owner_organisation=owner.organisation,
        owner=owner.user,
        last_notified_at=now,
    )
    return Raised(alert, rule, pack, scope, finding, children, targets)


def _store_raised(raised: list[Raised], now: datetime) -> None:
    """Everything raising these stored alerts writes besides the alert: children, evidence, the
    "raised" step, the recipients (and their webhook deliveries), the notifications and the audit
    entries, each kind in one insert for them all, in the alerts' order."""
    from cylch.governance.webhooks import on_alerts_sent

    Alert.children.through.objects.bulk_create(
        [Alert.children.through(alert_id=r.alert.pk, person_id=c.pk) for r in raised for c in r.children]
    )
    AlertEvidence.objects.bulk_create(
        [AlertEvidence(alert=r.alert, event_id=pk, added_at=now) for r in raised for pk in sorted(r.finding.evidence)]
    )
    AlertStep.objects.bulk_create(
        [
            AlertStep(alert=r.alert, at=timezone.now(), action="raised",
                      detail={"evidence": len(r.finding.evidence), "owner": r.targets[0].organisation.code,
                              "part": r.targets[0].part})
            for r in raised
        ]
    )  # fmt: skip
    routing.expect_staff(
        {t.organisation.pk: t.organisation for r in raised for t in r.targets if t.user is None}.values()
    )
    told = {id(t): routing.people_to_tell(t) for r in raised for t in r.targets}
    recipients = [
        AlertRecipient(
            alert=r.alert, organisation=t.organisation, user=t.user, part=t.part,
            notified_at=now if told[id(t)] or t.organisation.safeguarding_email else None,
        )
        for r in raised
        for t in r.targets
    ]  # fmt: skip
    AlertRecipient.objects.bulk_create(recipients)
    on_alerts_sent((r.alert, r.organisation) for r in recipients)  # what post_save would have done for each
    with audit_gathering(), notify_gathering():
        for r in raised:
            _notify_raised(r, told, now)
            audit_record(
                action="write",
                actor=None,
                actor_label="Cylch rules",
                object_type="alert",
                object_id=r.alert.public_id,
                purpose="alert raised",
                detail={
                    "rule": r.rule.id,
                    "pack": r.pack.label,
                    "scope": r.scope.key,
                    "evidence": len(r.finding.evidence),
                },
            )


def _notify_raised(r: Raised, told: dict[int, list[User]], now: datetime) -> None:
    alert, rule = r.alert, r.rule
    url = reverse("rules:alert", args=[alert.public_id])
    for target in r.targets:
        people = told[id(target)]
        for user in people:
            notify_user(
                recipient=user,
                kind="alert_raised",
                url=url,
                dedupe_key=f"alert:{alert.public_id}:raised:{user.pk}",
                subject=_("Alert: %(title)s"),
                body=_(
                    "Cylch has added up records about a child you work with and raised an alert: %(title)s.\n"
                    "Open it to see the evidence and acknowledge it by %(due)s."
                ),
                context={
                    "title": in_language(rule.title_in),
                    "due": at_moment(alert.acknowledge_by),
                },
            )
        if not people and target.organisation.safeguarding_email:
            notify_address(
                to=target.organisation.safeguarding_email,
                subject=_("Cylch alert for a child you work with"),
                body=_("Cylch has raised an alert about a child your organisation works with. Sign in to see it."),
                url=url,
                dedupe_key=f"alert:{alert.public_id}:raised:org:{target.organisation.pk}",
            )


def _step(alert: Alert, action: str, *, actor: User | None = None, note: str = "", **detail) -> None:
    AlertStep.objects.create(alert=alert, at=timezone.now(), actor=actor, action=action, note=note, detail=detail)


def apply_finding(rule: Rule, pack: Pack, scope: Scope, finding: Finding, now: datetime) -> tuple[Alert | None, str]:
    """Raise an alert, add new evidence to the open one, or do nothing. Returns (alert, what)."""
    hold_recording()  # before the alert's row: see hold_recording
    open_alert = (
        Alert.objects.select_for_update().filter(rule_id=rule.id, scope_key=scope.key, status__in=OPEN_STATUSES).first()
    )
    if open_alert is not None:
        return open_alert, _add_evidence(open_alert, rule, finding, now)
    already = set(
        AlertEvidence.objects.filter(alert__rule_id=rule.id, alert__scope_key=scope.key).values_list(
            "event_id", flat=True
        )
    )
    if finding.evidence <= already:
        return None, "seen"  # closed before, and nothing new since
    children = list(Person.objects.filter(pk__in=sorted(finding.children)).order_by("pk"))
    raised = _build(rule, pack, scope, finding, now, children, _la_for(scope))
    try:
        with transaction.atomic():
            raised.alert.save(force_insert=True)
    except IntegrityError:  # raised by a concurrent event a moment ago: join it instead
        open_alert = Alert.objects.select_for_update().get(
            rule_id=rule.id, scope_key=scope.key, status__in=OPEN_STATUSES
        )
        return open_alert, _add_evidence(open_alert, rule, finding, now)
    _store_raised([raised], now)
    return raised.alert, "raised"


def _add_evidence(alert: Alert, rule: Rule, finding: Finding, now: datetime) -> str:
    have = set(alert.evidence.values_list("event_id", flat=True))
    return "updated" if _add_evidence_all([(alert, rule, finding, have)], now) else "unchanged"


def _add_evidence_all(updates: list[tuple[Alert, Rule, Finding, set[int]]], now: datetime) -> int:
    """Add each finding's new evidence (beyond ``have``, what its open, locked alert holds) and
    children to its alert, telling the owner again if it was last told long enough ago; each
    kind of row in one statement for them all. Returns how many alerts changed."""
    todo = [(alert, rule, finding, sorted(finding.evidence - have)) for alert, rule, finding, have in updates]
    todo = [t for t in todo if t[3]]
    if not todo:
        return 0
    AlertEvidence.objects.bulk_create(
        [AlertEvidence(alert=alert, event_id=pk, added_at=now) for alert, _r, _f, new in todo for pk in new]
    )
    Alert.children.through.objects.bulk_create(
        [
            Alert.children.through(alert_id=alert.pk, person_id=c)
            for alert, _r, f, _n in todo
            for c in sorted(f.children)
        ],
        ignore_conflicts=True,  # the children it has already
    )
    with notify_gathering():
        for alert, rule, finding, _new in todo:
            alert.counts = finding.counts
            alert.evidence_updated_at = now
            if alert.last_notified_at is None or now - alert.last_notified_at >= RENOTIFY_AFTER:
                for user in routing.people_to_tell(routing.Target(alert.owner_organisation, alert.owner, "owner")):
                    notify_user(
                        recipient=user,
                        kind="alert_updated",
                        url=reverse("rules:alert", args=[alert.public_id]),
                        dedupe_key=f"alert:{alert.public_id}:updated:{now.isoformat()}:{user.pk}",
                        subject=_("New evidence on an alert: %(title)s"),
                        body=_("More records have been added to an open alert: %(title)s. Open it to see what is new."),
                        context={"title": in_language(rule.title_in)},
                    )
                alert.last_notified_at = now
    update_rows(Alert, [t[0] for t in todo], ["counts", "evidence_updated_at", "last_notified_at"])
    AlertStep.objects.bulk_create(
        [
            AlertStep(alert=alert, at=timezone.now(), action="evidence_added", detail={"events": len(new)})
            for alert, _r, _f, new in todo
        ]
    )
    return len(todo)


# --- evaluation ----------------------------------------------------------------------------


@dataclass
class RunStats:
    scopes: int = 0
    raised: int = 0
    updated: int = 0
    events: int = 0
    seconds: float = 0.0
    by_rule: dict[str, int] = field(default_factory=dict)

    def count(self, rule_id: str, what: str) -> None:
        if what == "raised":
            self.raised += 1
            self.by_rule[rule_id] = self.by_rule.get(rule_id, 0) + 1
        elif what == "updated":
            self.updated += 1


def evaluate_event(event: Event, *, now: datetime | None = None) -> RunStats:
    """The incremental path: only rules that read this code, only the scopes it touches."""
    now = now or timezone.now()
    stats = RunStats(events=1)
    world = World(timezone.localdate(now))
    for pack in all_packs():
        for rule in pack.reading(event.code):
            for scope in world.scopes_for(rule, event.person_id, event.household_id):
                if pack_for(world.board_area(scope.household_id)) is not pack:
                    continue
                stats.scopes += 1
                events = scope_events(world, scope, rule.reads, earliest(rule, now))
                finding = evaluate(rule, events, [world.child(c) for c in scope.children], now)
                if finding is not None:
                    stats.count(rule.id, apply_finding(rule, pack, scope, finding, now)[1])
    return stats


def evaluate_events(events: list[Event], *, now: datetime | None = None) -> RunStats:
    """The incremental path for a batch of new events: each rule once over each scope the batch
    touched, after all of them are stored, rather than once per event.

    The same scopes and the same events as :func:`evaluate_event` for each event in turn, so the
    same alerts are raised, each with all its evidence at once (one "raised" step rather than a
    raise and then an "evidence added" per later event). What scoping asks and the scopes'
    events are read in a few queries for the whole batch (``World.load_around``, one read of the
    events); an open alert that already holds every piece of evidence found is left alone.
    """
    now = now or timezone.now()
    stats = RunStats(events=len(events))
    if not events:
        return stats
    world = World(timezone.localdate(now)).load_around(
        {e.person_id for e in events if e.person_id is not None},
        {e.household_id for e in events if e.household_id is not None},
    )
    todo: list[tuple[Pack, Rule, Scope]] = []
    for pack in all_packs():
        for rule in pack.rules:
            scopes: dict[str, Scope] = {}
            reads = rule.reads  # a property that builds the set each time: once per rule
            for event in events:
                if event.code not in reads:
                    continue
                for scope in world.scopes_for(rule, event.person_id, event.household_id):
                    if scope.key not in scopes and pack_for(world.board_area(scope.household_id)) is pack:
                        scopes[scope.key] = scope
            todo.extend((pack, rule, scope) for scope in scopes.values())
    if not todo:
        return stats
    world.load_statuses({c for _p, _r, scope in todo for c in scope.children})
    by_person, by_household = _scope_pools(world, todo, now)
    found: list[tuple[Pack, Rule, Scope, Finding]] = []
    reading = {id(rule): (rule.reads, earliest(rule, now)) for _p, rule, _s in todo}
    for pack, rule, scope in todo:
        stats.scopes += 1
        reads, start = reading[id(rule)]
        if scope.kind == "household":
            pool = by_household.get(scope.household_id or 0, [])
        else:
            pool = [e for p in sorted(scope.person_ids) for e in by_person.get(p, [])]
        scoped = [e for e in pool if e.code in reads and e.at >= start]
        finding = evaluate(rule, scoped, [world.child(c) for c in scope.children], now)
        if finding is not None:
            found.append((pack, rule, scope, finding))
    if found:
        _apply_findings(found, now, stats)
    return stats


def _apply_findings(found: list[tuple[Pack, Rule, Scope, Finding]], now: datetime, stats: RunStats) -> None:
    """``apply_finding`` for each finding of a batch, with the reads and writes of the alerts it
    raises done once for them all: which (rule, scope) has an open or a closed alert, the
    children, the households' authorities, then one insert for the new alerts and one for each
    kind of row they bring (``_store_raised``); the open alerts with new evidence locked in one
    query and updated together (``_add_evidence_all``). Under the recording lock (``hold_recording``) throughout, as every
    raise and every change of an alert's status is, so what is read stays true until commit."""
    hold_recording()
    held, open_ids = _open_evidence({(rule.id, scope.key) for _p, rule, scope, _f in found})
    routing.expect({c for _p, _r, _s, finding in found for c in finding.children})
    fresh = [(p, r, s, f) for p, r, s, f in found if (r.id, s.key) not in held]
    seen = _closed_evidence({(r.id, s.key) for _p, r, s, _f in fresh})
    people = Person.objects.in_bulk({c for _p, _r, _s, f in fresh for c in f.children})
    homes = {
        h.pk: h.local_authority
        for h in Household.objects.filter(
            pk__in={s.household_id for _p, _r, s, _f in fresh if s.household_id}
        ).select_related("local_authority")
    }
    raised: list[Raised] = []
    grown: list[tuple[Rule, Scope, Finding]] = []
    for pack, rule, scope, finding in found:
        have = held.get((rule.id, scope.key))
        if have is not None:
            if not finding.evidence <= have:  # else nothing new: no lock, no write
                grown.append((rule, scope, finding))
        elif not finding.evidence <= seen.get((rule.id, scope.key), set()):  # else closed, nothing new since
            children = [people[c] for c in sorted(finding.children) if c in people]
            raised.append(_build(rule, pack, scope, finding, now, children, homes.get(scope.household_id or 0)))
    if grown:
        locked = Alert.objects.select_for_update(of=("self",)).select_related("owner_organisation", "owner")
        alerts = locked.in_bulk([open_ids[rule.id, scope.key] for rule, scope, _f in grown])
        updates = [(alerts[open_ids[r.id, s.key]], r, f, held[r.id, s.key]) for r, s, f in grown]
        _add_evidence_all(updates, now)
        for rule, _s, _f in grown:
            stats.count(rule.id, "updated")
    if not raised:
        return
    try:
        with transaction.atomic():
            Alert.objects.bulk_create([r.alert for r in raised])
    except IntegrityError:  # one was raised meanwhile outside the recording lock: each on its own, to join it
        for r in raised:
            r.alert.pk = None
            stats.count(r.rule.id, apply_finding(r.rule, r.pack, r.scope, r.finding, now)[1])
        return
    _store_raised(raised, now)
    for r in raised:
        stats.count(r.rule.id, "raised")


def _closed_evidence(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
    """The evidence of every alert of each (rule, scope key), for pairs with no open alert."""
    seen: dict[tuple[str, str], set[int]] = {}
    if not pairs:
        return seen
    for rule_id, key, event_id in AlertEvidence.objects.filter(
        alert__rule_id__in={r for r, _k in pairs}, alert__scope_key__in={k for _r, k in pairs}
    ).values_list("alert__rule_id", "alert__scope_key", "event_id"):
        if (rule_id, key) in pairs:
            seen.setdefault((rule_id, key), set()).add(event_id)
    return seen


def _scope_pools(
    world: World, todo: list[tuple[Pack, Rule, Scope]], now: datetime
) -> tuple[dict[int, list], dict[int, list]]:
    """Every event the scopes' rules can read, by person and by household, in a query for each,
    as :func:`scope_events` would read them scope by scope."""
    people = [(rule, scope) for _p, rule, scope in todo if scope.kind != "household"]
    homes = [(rule, scope) for _p, rule, scope in todo if scope.kind == "household"]
    return (
        _events_by(world, "person_id", people, {p for _r, scope in people for p in scope.person_ids}, now),
        _events_by(world, "household_id", homes, {s.household_id for _r, s in homes if s.household_id}, now),
    )


def _events_by(world: World, column: str, wanted: list[tuple[Rule, Scope]], keys: set[int], now: datetime):
    from cylch.rules.world import CHUNK

    pool: dict[int, list] = {}
    if not wanted:
        return pool
    codes = sorted(set().union(*(rule.reads for rule, _s in wanted)))
    since = min(earliest(rule, now) for rule, _s in wanted)
    ordered = sorted(keys)
    for i in range(0, len(ordered), CHUNK):
        where: dict = {f"{column}__in": ordered[i : i + CHUNK]}
        fields = (*EVENT_FIELDS, column)
        if column == "household_id":  # with the households merged into these, filed under them
            where = {"household_id__in": homes_with_merged(ordered[i : i + CHUNK])}
            fields = (*fields, "household__merged_into_id")
        rows = list(
            Event.objects.filter(
                code__in=codes, occurred_at__gte=since, superseded_by__isnull=True, **where
            ).values_list(*fields)
        )
        world.load_people({row[4] for row in rows})  # a home's entries name people scoping did not reach
        for row in rows:
            pool.setdefault(row[7] or row[6] if column == "household_id" else row[6], []).append(world.ev(*row[:6]))
    return pool


def _open_evidence(
    pairs: set[tuple[str, str]],
) -> tuple[dict[tuple[str, str], set[int]], dict[tuple[str, str], int]]:
    """The evidence of the open alert of each (rule, scope key) that has one, and its id."""
    if not pairs:
        return {}, {}
    alerts = {
        pk: (rule_id, key)
        for pk, rule_id, key in Alert.objects.filter(
            rule_id__in={r for r, _k in pairs}, scope_key__in={k for _r, k in pairs}, status__in=OPEN_STATUSES
        ).values_list("pk", "rule_id", "scope_key")
        if (rule_id, key) in pairs
    }
    held: dict[tuple[str, str], set[int]] = {pair: set() for pair in alerts.values()}
    for alert_id, event_id in AlertEvidence.objects.filter(alert_id__in=list(alerts)).values_list(
        "alert_id", "event_id"
    ):
        held[alerts[alert_id]].add(event_id)
    return held, {pair: pk for pk, pair in alerts.items()}


def run_batch(*, now: datetime | None = None, progress: Callable[[int], None] | None = None) -> RunStats:
    """Every rule over the whole population, giving the alerts the incremental path would."""
    started = clock.perf_counter()
    now = now or timezone.now()
    stats = RunStats()
    world = World(timezone.localdate(now)).load_all()
    packs = all_packs()
    codes = set().union(*(r.reads for p in packs for r in p.rules))
    since = min(earliest(r, now) for p in packs for r in p.rules)
    by_person: dict[int, list] = defaultdict(list)
    by_household: dict[int, list] = defaultdict(list)
    rows = (
        Event.objects.filter(code__in=codes, occurred_at__gte=since, occurred_at__lte=now, superseded_by__isnull=True)
        .order_by("occurred_at", "id")
        .values_list(*EVENT_FIELDS, "household_id")
    )
    for row in rows.iterator(chunk_size=20000):
        ev = world.ev(*row[:6])
        stats.events += 1
        if ev.person_id is not None:
            by_person[ev.person_id].append(ev)
        if row[6] is not None:
            by_household[world.live_household(row[6])].append(ev)
    for pack in packs:
        for rule in pack.rules:
            start = earliest(rule, now)
            scopes: dict[str, Scope] = {}
            for pid, evs in by_person.items():
                if any(e.code in rule.reads and e.at >= start for e in evs):
                    for s in world.scopes_for(rule, pid, None):
                        scopes[s.key] = s
            if rule.scope == "household":
                for hid, evs in by_household.items():
                    if any(e.code in rule.reads and e.at >= start for e in evs):
                        for s in world.scopes_for(rule, None, hid):
                            scopes[s.key] = s
            for scope in scopes.values():
                if pack_for(world.board_area(scope.household_id)) is not pack:
                    continue
                stats.scopes += 1
                if scope.kind == "household":
                    pool = by_household.get(scope.household_id, [])
                else:
                    pool = [e for p in scope.person_ids for e in by_person.get(p, [])]
                events = [e for e in pool if e.code in rule.reads and e.at >= start]
                finding = evaluate(rule, events, [world.child(c) for c in scope.children], now)
                if finding is not None:
                    with transaction.atomic():
                        stats.count(rule.id, apply_finding(rule, pack, scope, finding, now)[1])
                if progress is not None:
                    progress(1)
    stats.seconds = clock.perf_counter() - started
    return stats


# --- working an alert ----------------------------------------------------------------------


def may_act(user: User, alert: Alert) -> bool:
    """The owner and everyone it was sent to; the owning (or receiving) organisation's team that
    works alerts: safeguarding leads and managers, or the front door for children's services."""
    if not user.is_authenticated or user.organisation_id is None:
        return False
    if alert.recipients.filter(user=user).exists():
        return True
    to_my_team = (
        alert.owner_organisation_id == user.organisation_id
        or alert.recipients.filter(organisation_id=user.organisation_id, user__isnull=True).exists()
    )
    return to_my_team and works_team_queue(user)


def _locked(alert: Alert, user: User | None, organisation=None) -> Alert:
    if user is not None:
        allowed = may_act(user, alert)
    else:  # an organisation's system, through the API
        allowed = organisation is not None and (
            alert.owner_organisation_id == organisation.pk
            or alert.recipients.filter(organisation=organisation).exists()
        )
    if not allowed:
        raise PermissionDenied("This alert was not sent to you or your team.")
    hold_recording()  # before the alert's row: see hold_recording
    return Alert.objects.select_for_update().get(pk=alert.pk)


def alert_acknowledge(*, alert: Alert, user: User | None, organisation=None) -> Alert:
    """Idempotent: acknowledging an acknowledged alert changes nothing. ``user`` None with an
    ``organisation`` is that organisation's system acknowledging through the API."""
    with transaction.atomic():
        alert = _locked(alert, user, organisation)
        if alert.status != AlertStatus.RAISED:
            return alert
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        by = {} if user else {"system": organisation.code}
        _step(alert, "acknowledged", actor=user, **by)
        audit_record(action="write", actor=user, actor_label="" if user else f"{organisation.code} system",
                     organisation_code=(user.organisation.code if user and user.organisation else getattr(organisation, "code", "")),
                     object_type="alert", object_id=alert.public_id, purpose="alert acknowledged")  # fmt: skip
    return alert


def alert_record_outcome(
    *, alert: Alert, user: User, outcome: str, note: str = "", approval: ApprovalRequest | None = None
) -> Alert:
    """Record what was done, and tell every organisation whose records made up the alert.

    "No action" closes the alert with nothing done, so a manager approves it first
    (``governance/approvals.yaml``): it is held, the alert is acknowledged (someone has it in
    hand) but keeps no outcome, and nobody is told, until approval calls this again with
    ``approval`` and the alert is then closed."""
    if outcome not in AlertOutcome.values:
        raise ValidationError({"outcome": [_("Choose what happened.")]})
    with transaction.atomic():
        alert = _locked(alert, user)
        if alert.status == AlertStatus.CLOSED:
            raise ValidationError({"outcome": [_("This alert is closed.")]})
        now = timezone.now()
        held = hold(ApprovalKind.ALERT_NO_ACTION, target=alert, user=user, outcome=outcome,
                    payload={"outcome": outcome, "note": note.strip()}, approval=approval)  # fmt: skip
        if held:
            if alert.status == AlertStatus.RAISED:
                alert.status, alert.acknowledged_at, alert.acknowledged_by = AlertStatus.ACKNOWLEDGED, now, user
                alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
                _step(alert, "acknowledged", actor=user)
            _step(alert, "approval_requested", actor=user, note=note.strip(), outcome=outcome)
            return alert
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, user
        alert.status = AlertStatus.ACTIONED
        alert.actioned_at, alert.actioned_by = now, user
        alert.outcome, alert.outcome_note = outcome, note.strip()
        alert.save()
        _step(alert, "outcome", actor=user, note=note.strip(), outcome=outcome)
        told = _feed_back(alert, user)
        audit_record(action="write", actor=user, object_type="alert", object_id=alert.public_id,
                     purpose="alert outcome recorded", detail={"outcome": outcome, "organisations_told": told})  # fmt: skip
    return alert


def _feed_back(alert: Alert, actor: User) -> int:
    """The missed-appointments deep dive's last question: how is it fed back? To every
    organisation that contributed evidence, through the people who recorded it."""
    from cylch.access.models import Organisation

    url = reverse("rules:alert", args=[alert.public_id])
    pack_rule = rule_of(alert)
    orgs = Organisation.objects.filter(pk__in=alert.evidence.values_list("event__organisation_id", flat=True)).exclude(
        pk=actor.organisation_id
    )
    told = 0
    for org in orgs:
        recorders = User.objects.filter(
            is_active=True, organisation=org, events__alert_evidence__alert=alert
        ).distinct()
        people = list(recorders) or list(
            User.objects.filter(organisation=org, is_active=True, is_safeguarding_lead=True)
        )
        for user in people:
            notify_user(
                recipient=user,
                kind="alert_outcome",
                url=url,
                dedupe_key=f"alert:{alert.public_id}:outcome:{alert.outcome}:{user.pk}",
                subject=_("What happened: %(title)s"),
                body=_("Something your organisation recorded was part of an alert: %(title)s.\nOutcome: %(outcome)s."),
                context={
                    "title": in_language(pack_rule.title_in) if pack_rule else alert.rule_id,
                    "outcome": AlertOutcome(alert.outcome).label,
                },
            )
        if not people and org.safeguarding_email:
            notify_address(
                to=org.safeguarding_email,
                subject=_("Outcome of a Cylch alert your organisation contributed to"),
                body=_(
                    "Something your organisation recorded was part of a Cylch alert. An outcome has been recorded: sign in to see it."
                ),
                url=url,
                dedupe_key=f"alert:{alert.public_id}:outcome:{alert.outcome}:org:{org.pk}",
            )
        told += 1
    return told


def alert_close(*, alert: Alert, user: User, note: str = "") -> Alert:
    with transaction.atomic():
        alert = _locked(alert, user)
        if alert.status == AlertStatus.CLOSED:
            return alert
        if alert.status != AlertStatus.ACTIONED:
            raise ValidationError({"outcome": ["Record what happened before closing the alert."]})
        alert.status = AlertStatus.CLOSED
        alert.closed_at, alert.closed_by = timezone.now(), user
        alert.save(update_fields=["status", "closed_at", "closed_by"])
        _step(alert, "closed", actor=user, note=note.strip())
        audit_record(action="write", actor=user, object_type="alert", object_id=alert.public_id, purpose="alert closed")  # fmt: skip
    return alert


def alerts_sweep(*, now: datetime | None = None) -> int:
    """Escalate alerts nobody acknowledged in time to the owning team's managers, once each."""
    now = now or timezone.now()
    escalated = 0
    overdue = Alert.objects.filter(status=AlertStatus.RAISED, acknowledge_by__lt=now, escalated_at__isnull=True)
    for alert in overdue.select_related("owner_organisation", "local_authority"):
        with transaction.atomic():
            hold_recording()  # before the alert's row: see hold_recording
            alert = Alert.objects.select_for_update().get(pk=alert.pk)
            if alert.escalated_at is not None or alert.status != AlertStatus.RAISED:
                continue
            managers = list(User.objects.filter(organisation=alert.owner_organisation, role=Role.TEAM_MANAGER, is_active=True))  # fmt: skip
            if not managers:  # e.g. a school: the local authority's front-door managers step in
                door = routing.front_door(alert.local_authority)
                managers = list(User.objects.filter(organisation=door, role=Role.TEAM_MANAGER, is_active=True))
            rule = pack_for(alert.local_authority.board_area.code if alert.local_authority else None).rule(
                alert.rule_id
            )
            for manager in managers:
                AlertRecipient.objects.get_or_create(
                    alert=alert, organisation=manager.organisation, user=manager, part="manager",
                    defaults={"notified_at": now},
                )  # fmt: skip
                notify_user(
                    recipient=manager,
                    kind="alert_escalated",
                    url=reverse("rules:alert", args=[alert.public_id]),
                    dedupe_key=f"alert:{alert.public_id}:escalated:{manager.pk}",
                    subject=_("Alert not acknowledged in time: %(title)s"),
                    body=_(
                        "An alert for a child was due to be acknowledged by %(due)s and has not been. Please make sure someone picks it up."
                    ),
                    context={
                        "title": in_language(rule.title_in) if rule else alert.rule_id,
                        "due": at_moment(alert.acknowledge_by),
                    },
                )
            alert.escalated_at = now
            alert.save(update_fields=["escalated_at"])
            _step(alert, "escalated", managers=[m.pk for m in managers])
            escalated += 1
    return escalated

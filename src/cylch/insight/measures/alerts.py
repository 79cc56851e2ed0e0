"""Cumulative-risk alerts: raised, acknowledged on time, and what was done, by rule (TA 1.2)."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.insight.measures.base import COUNT, Measure, Unit, end_of
from cylch.rules.models import Alert, AlertOutcome


def _alerts(since: date, until: date, field: str):
    return Alert.objects.filter(
        **{f"{field}__date__gte": since - timedelta(days=1), f"{field}__date__lte": until + timedelta(days=1)}
    )


def raised_units(since: date, until: date, as_of: date):
    for a in _alerts(since, until, "raised_at").values("public_id", "rule_id", "raised_at", "local_authority_id"):
        day = timezone.localtime(a["raised_at"]).date()
        if since <= day <= until:
            yield Unit(a["local_authority_id"], day, True, f"alert:{a['public_id']}", group=a["rule_id"])


def on_time_units(since: date, until: date, as_of: date):
    """Alerts raised in the period: acknowledged by their deadline or not. One still within its
    time at the end of ``as_of`` and not yet acknowledged is left out."""
    now = end_of(as_of)
    for a in _alerts(since, until, "raised_at").values(
        "public_id", "rule_id", "raised_at", "local_authority_id", "acknowledge_by", "acknowledged_at"
    ):
        day = timezone.localtime(a["raised_at"]).date()
        if not since <= day <= until:
            continue
        acknowledged = a["acknowledged_at"] if a["acknowledged_at"] and a["acknowledged_at"] < now else None
        if acknowledged is None and a["acknowledge_by"] > now:
            continue  # still within its time
        on_time = acknowledged is not None and acknowledged <= a["acknowledge_by"]
        yield Unit(a["local_authority_id"], day, on_time, f"alert:{a['public_id']}", group=a["rule_id"])


def outcome_units(since: date, until: date, as_of: date):
    for a in (
        _alerts(since, until, "closed_at")
        .exclude(outcome="")
        .values("public_id", "outcome", "closed_at", "local_authority_id")
    ):
        day = timezone.localtime(a["closed_at"]).date()
        if since <= day <= until:
            yield Unit(a["local_authority_id"], day, True, f"alert:{a['public_id']}", group=a["outcome"])


ACTED = {
    AlertOutcome.REPORT_MADE,
    AlertOutcome.MULTI_AGENCY_MEETING,
    AlertOutcome.EARLY_HELP,
    AlertOutcome.PLAN_CHANGED,
}


def acted_units(since: date, until: date, as_of: date):
    """Alerts closed in the period, by the rule that raised them: in the numerator when
    something was done (a report, a meeting, early help, a changed plan), not when the work was
    already in hand or nothing was needed. The outcomes of each rule, as one figure."""
    for a in (
        _alerts(since, until, "closed_at")
        .exclude(outcome="")
        .values("public_id", "rule_id", "outcome", "closed_at", "local_authority_id")
    ):
        day = timezone.localtime(a["closed_at"]).date()
        if since <= day <= until:
            yield Unit(
                a["local_authority_id"], day, a["outcome"] in ACTED, f"alert:{a['public_id']}", group=a["rule_id"]
            )


def rule_titles() -> dict[str, str]:
    """Each rule's title in the reader's language, from every pack in use."""
    from django.utils.translation import get_language

    from cylch.rules.pack import all_packs

    lang = "cy" if (get_language() or "en").startswith("cy") else "en"
    return {
        rule.id: rule.title.get(lang) or rule.title.get("en", rule.id) for pack in all_packs() for rule in pack.rules
    }


MEASURES = [
    Measure(
        id="alerts-raised",
        section="alerts",
        title=_("Cumulative-risk alerts raised, by rule"),
        numerator=_("Alerts raised in the period"),
        denominator=None,
        rules=_("By the date the alert was first raised; grouped by the rule that raised it."),
        source=_("TA 1.2; TA missed-appointments deep dive"),
        why=_("Worries seen by one agency at a time add up only when someone counts them together."),
        units=raised_units,
        kind=COUNT,
        groups=rule_titles,
    ),
    Measure(
        id="alerts-acknowledged-on-time",
        section="alerts",
        title=_("Alerts acknowledged on time"),
        numerator=_("Alerts acknowledged by their deadline"),
        denominator=_("Alerts raised in the period whose deadline has passed, or that have been acknowledged"),
        rules=_("By the date raised. The deadline depends on the alert's severity (the rule pack)."),
        source=_("TA 2.2 (no named person collecting concerns)"),
        why=_("An alert helps only if someone named picks it up in time."),
        units=on_time_units,
        groups=rule_titles,
    ),
    Measure(
        id="alert-outcomes",
        section="alerts",
        title=_("What was done about alerts"),
        numerator=_("Alerts closed in the period, by outcome"),
        denominator=None,
        rules=_("By the date the alert was closed; grouped by the outcome recorded."),
        source=_("TA missed-appointments deep dive (what happens next, how is it fed back)"),
        why=_("The reviews asked what happens after a pattern is seen, and whether anyone is told."),
        units=outcome_units,
        kind=COUNT,
        groups=dict(AlertOutcome.choices),
    ),
    Measure(
        id="alerts-acted-on",
        section="alerts",
        title=_("Alerts that led to something being done, by rule"),
        numerator=_(
            "Alerts closed with a report to children's services, a multi-agency meeting, early help or a changed plan"
        ),
        denominator=_("Alerts closed in the period"),
        rules=_(
            "By the date the alert was closed; grouped by the rule that raised it. “Already known and in hand” and "
            "“no action needed” are not counted as something done."
        ),
        source=_("TA missed-appointments deep dive (what happens next); TA 1.2"),
        why=_("A rule earns its place when the patterns it finds lead somewhere; this shows which rules do."),
        units=acted_units,
        groups=rule_titles,
    ),
]

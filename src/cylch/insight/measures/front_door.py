"""The front door: feedback to the report maker, re-reports after no further action, and the
resolution of professional differences (RR 1.1, TA 2.1, RR 5.2)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.insight.measures.base import COUNT, Measure, Unit
from cylch.reports.models import Challenge, ChallengeStatus, Outcome, Report, ReportSubject, Status, SubjectRole


def _local(moment) -> date:
    return timezone.localtime(moment).date()


def feedback_units(since: date, until: date):
    today = timezone.localdate()
    rows = Report.objects.filter(
        received_at__date__gte=since - timedelta(days=1), received_at__date__lte=until + timedelta(days=1)
    )
    for r in rows.values("reference", "local_authority_id", "received_at", "feedback_due_on", "feedback_sent_at"):
        received = _local(r["received_at"])
        if not since <= received <= until:
            continue
        sent = _local(r["feedback_sent_at"]) if r["feedback_sent_at"] else None
        if sent is None and r["feedback_due_on"] >= today:
            continue  # not yet due: neither on time nor late
        yield Unit(
            r["local_authority_id"], received, bool(sent and sent <= r["feedback_due_on"]), f"report:{r['reference']}"
        )


def re_report_units(since: date, until: date):
    """Each child in a report closed with no further action in the period; in the numerator when
    a new report about the same child arrived within 12 months of the decision."""
    nfa = (
        ReportSubject.objects.filter(
            role=SubjectRole.CHILD, person__isnull=False, report__status=Status.DECIDED,
            report__outcome=Outcome.NO_FURTHER_ACTION,
            report__decided_at__date__gte=since - timedelta(days=1), report__decided_at__date__lte=until + timedelta(days=1),
        ).values("person_id", "report_id", "report__reference", "report__decided_at", "report__local_authority_id")
    )  # fmt: skip
    nfa = [r for r in nfa if since <= _local(r["report__decided_at"]) <= until]
    later: dict[int, list] = defaultdict(list)
    for s in ReportSubject.objects.filter(role=SubjectRole.CHILD, person_id__in={r["person_id"] for r in nfa}).values(
        "person_id", "report_id", "report__received_at"
    ):
        later[s["person_id"]].append((s["report_id"], s["report__received_at"]))
    for r in nfa:
        decided = r["report__decided_at"]
        again = any(
            rid != r["report_id"] and decided < received <= decided + timedelta(days=365)
            for rid, received in later[r["person_id"]]
        )
        yield Unit(r["report__local_authority_id"], _local(decided), again, f"report:{r['report__reference']}",
                   child_id=r["person_id"])  # fmt: skip


def escalation_units(since: date, until: date):
    """Every 'I remain concerned' raised in the period, by how it stands: resolved at which
    level, or still open."""
    for c in Challenge.objects.filter(created_at__date__gte=since - timedelta(days=1), created_at__date__lte=until + timedelta(days=1)).values(
        "public_id", "created_at", "status", "level", "report__local_authority_id", "report__reference"
    ):  # fmt: skip
        raised = _local(c["created_at"])
        if not since <= raised <= until:
            continue
        group = f"resolved_{c['level']}" if c["status"] == ChallengeStatus.RESOLVED else "open"
        yield Unit(c["report__local_authority_id"], raised, True, f"report:{c['report__reference']}", group=group)


MEASURES = [
    Measure(
        id="report-feedback-7wd",
        section="front_door",
        title=_("Report makers told the outcome within 7 working days"),
        numerator=_("Reports whose maker was sent the outcome within 7 working days of the report being received"),
        denominator=_(
            "Reports received in the period whose 7 working days have passed, or whose outcome has been sent"
        ),
        rules=_(
            "By the date the report was received. Working days leave out weekends and bank holidays in Wales. "
            "A report still within its 7 days and without an outcome is not counted yet."
        ),
        source="RR 1.1; TA 2.1",
        units=feedback_units,
    ),
    Measure(
        id="re-reports-after-nfa",
        section="front_door",
        title=_("Children reported again within 12 months of no further action"),
        numerator=_("Children reported again within 12 months of the decision"),
        denominator=_("Children in reports decided as no further action in the period"),
        rules=_(
            "By the date of the no-further-action decision; each child in a report counts once. A decision less "
            "than 12 months ago can still become a re-report, so recent periods rise over time."
        ),
        source="TA s2 (54.5% referred and judged below threshold)",
        units=re_report_units,
        higher_is_better=False,
    ),
    Measure(
        id="escalations",
        section="front_door",
        title=_("Professional differences raised (“I remain concerned”), and how they ended"),
        numerator=_("Escalations raised in the period"),
        denominator=None,
        rules=_("By the date raised; grouped by the level at which each was resolved, or open."),
        source="RR 5.2; TA 2.1",
        units=escalation_units,
        kind=COUNT,
        groups={
            "resolved_practitioner": _("Resolved practitioner to practitioner"),
            "resolved_manager": _("Resolved manager to manager"),
            "resolved_senior": _("Resolved by senior managers"),
            "open": _("Still open"),
        },
    ),
]

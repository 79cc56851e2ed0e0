"""The front door: feedback to the report maker, re-reports after no further action, and the
resolution of professional differences (RR 1.1, TA 2.1, RR 5.2)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

from cylch.insight.measures.base import COUNT, Measure, Unit, end_of
from cylch.insight.measures.base import local_day as _local
from cylch.reports.models import Challenge, ChallengeStep, Outcome, Report, ReportSubject, Status, SubjectRole


def feedback_units(since: date, until: date, as_of: date):
    """Reports received in the period: told in time or not. One still within its 7 working days
    on ``as_of`` and not yet told is left out (neither on time nor late)."""
    rows = Report.objects.filter(
        received_at__date__gte=since - timedelta(days=1), received_at__date__lte=until + timedelta(days=1)
    )
    for r in rows.values("reference", "local_authority_id", "received_at", "feedback_due_on", "feedback_sent_at"):
        received = _local(r["received_at"])
        if not since <= received <= until:
            continue
        sent = _local(r["feedback_sent_at"]) if r["feedback_sent_at"] else None
        if sent is not None and sent > as_of:
            sent = None  # told after the day the figures stand at: not yet then
        if sent is None and r["feedback_due_on"] >= as_of:
            continue  # not yet due: neither on time nor late
        yield Unit(
            r["local_authority_id"], received, bool(sent and sent <= r["feedback_due_on"]), f"report:{r['reference']}"
        )


def re_report_units(since: date, until: date, as_of: date):
    """Each child in a report closed with no further action in the period; in the numerator when
    a new report about the same child arrived within 12 months of the decision (and by ``as_of``)."""
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
            rid != r["report_id"] and decided < received <= min(decided + timedelta(days=365), end_of(as_of))
            for rid, received in later[r["person_id"]]
        )
        yield Unit(r["report__local_authority_id"], _local(decided), again, f"report:{r['report__reference']}",
                   child_id=r["person_id"])  # fmt: skip


def escalation_units(since: date, until: date, as_of: date):
    """Every 'I remain concerned' raised in the period, by how it stood on ``as_of``: resolved
    (the decision stood or was changed) at which level, or still open. Read from its steps, so
    an answer given after ``as_of`` leaves it open then."""
    rows = [
        c for c in Challenge.objects.filter(
            created_at__date__gte=since - timedelta(days=1), created_at__date__lte=until + timedelta(days=1)
        ).values("pk", "created_at", "report__local_authority_id", "report__reference")
        if since <= _local(c["created_at"]) <= until
    ]  # fmt: skip
    ended: dict[int, str] = {}
    for step in ChallengeStep.objects.filter(
        challenge_id__in=[c["pk"] for c in rows], answered_at__lt=end_of(as_of),
        result__in=[ChallengeStep.Result.DECISION_STANDS, ChallengeStep.Result.DECISION_CHANGED],
    ).values("challenge_id", "level"):  # fmt: skip
        ended[step["challenge_id"]] = f"resolved_{step['level']}"
    for c in rows:
        yield Unit(c["report__local_authority_id"], _local(c["created_at"]), True, f"report:{c['report__reference']}",
                   group=ended.get(c["pk"], "open"))  # fmt: skip


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
        source=_("RR 1.1; TA 2.1"),
        why=_("People who report a worry are often not told what happened, and stop reporting."),
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
        source=_("TA s2 (54.5 per cent referred and judged below threshold)"),
        why=_(
            "Most children in the reviews had been reported before and judged below the threshold; a child reported again soon after no further action may have been missed."
        ),
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
        source=_("RR 5.2; TA 2.1"),
        why=_(
            "Professionals who disagree with a decision rarely take it further; a recorded way to do so, and how it ends, shows whether they can."
        ),
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

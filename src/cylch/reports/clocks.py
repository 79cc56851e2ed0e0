"""The front door's clocks: decide within 1 working day, feed back within 7 (RR 1.1).

``reports_sweep`` runs every few minutes (``cylch reports sweep``). Each warning, escalation
and chase is sent once: the report remembers when it was done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.roles import Role
from cylch.governance.models import ApprovalState
from cylch.reports.models import Report, Status
from cylch.reports.services import tell_front_door, tell_report_maker

WARN_BEFORE = timedelta(hours=3)


@dataclass
class SweepResult:
    warned: int = 0
    escalated: int = 0
    chased: int = 0


def _due(report: Report) -> str:
    return timezone.localtime(report.decision_due_at).strftime("%d/%m/%Y %H:%M")


def reports_sweep(*, now=None) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    # A decision waiting for a manager's approval was made: the approvals sweep chases the
    # manager (governance.approvals), so the front door is not told it has none.
    undecided = Report.objects.filter(status=Status.RECEIVED).exclude(approval_requests__state=ApprovalState.PENDING)
    warn = undecided.filter(
        decision_warned_at__isnull=True, decision_due_at__lte=now + WARN_BEFORE, decision_due_at__gt=now
    )
    for report in warn:
        with transaction.atomic():
            tell_front_door(report, roles={Role.FRONT_DOOR, Role.TEAM_MANAGER}, kind="report_decision_due", key=f"report:{report.reference}:warn",
                            subject=_("Decision due soon: report %(reference)s"),
                            body=_("Report %(reference)s needs a decision by %(due)s (1 working day from receipt)."),
                            context={"reference": report.reference, "due": _due(report)})  # fmt: skip
            Report.objects.filter(pk=report.pk).update(decision_warned_at=now)
            result.warned += 1
    for report in undecided.filter(decision_escalated_at__isnull=True, decision_due_at__lte=now):
        with transaction.atomic():
            tell_front_door(report, roles={Role.TEAM_MANAGER}, kind="report_decision_overdue", key=f"report:{report.reference}:escalate",
                            subject=_("Decision overdue: report %(reference)s"),
                            body=_("Report %(reference)s was due a decision by %(due)s and has none. Please make sure it is decided today."),
                            context={"reference": report.reference, "due": _due(report)})  # fmt: skip
            Report.objects.filter(pk=report.pk).update(decision_escalated_at=now)
            audit_record(action="write", actor_label="cylch clocks", object_type="report", object_id=report.reference,
                         purpose="decision overdue: escalated")  # fmt: skip
            result.escalated += 1
    today = timezone.localtime(now).date()
    for report in Report.objects.filter(
        feedback_sent_at__isnull=True, feedback_chased_at__isnull=True, feedback_due_on__lt=today
    ):
        context = {"reference": report.reference, "due": report.feedback_due_on.strftime("%d/%m/%Y")}
        with transaction.atomic():
            tell_front_door(report, roles={Role.TEAM_MANAGER}, kind="report_feedback_overdue", key=f"report:{report.reference}:feedback",
                            subject=_("Outcome overdue: report %(reference)s"),
                            body=_("The report maker of %(reference)s was owed an outcome by %(due)s and has not had one."),
                            context=context)  # fmt: skip
            tell_report_maker(report, kind="report_chase",
                              subject=_("No outcome yet for your report %(reference)s"),
                              body=_("You should have heard the outcome of your report %(reference)s by %(due)s. Please contact the front door, quote your reference and ask for the outcome. If you are still worried about the child, say so."),
                              context=context)  # fmt: skip
            Report.objects.filter(pk=report.pk).update(feedback_chased_at=now)
            result.chased += 1
    return result

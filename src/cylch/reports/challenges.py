"""Resolution of professional differences: "I remain concerned" and its ladder (RR 5.2, TA 2.1).

Practitioner to practitioner (2 working days), then manager to manager (5), then senior
manager (10). Each step is recorded; the report maker is told every answer; a step that runs
past its day goes up the ladder on its own.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record, hold_recording
from cylch.access.models import User
from cylch.access.roles import Role
from cylch.core.calendar import add_working_days
from cylch.events.services import record_event
from cylch.reports.models import (
    LEVEL_DAYS,
    NEXT_LEVEL,
    Challenge,
    ChallengeStatus,
    ChallengeStep,
    Level,
    Outcome,
    Report,
    Status,
)
from cylch.reports.services import check_may_decide, decision_on_spine, tell_front_door, tell_report_maker

ANSWERS_AT = {
    Level.PRACTITIONER: {Role.FRONT_DOOR, Role.SOCIAL_WORKER, Role.TEAM_MANAGER},
    Level.MANAGER: {Role.TEAM_MANAGER},
    Level.SENIOR: {Role.TEAM_MANAGER},
}


def _children(report: Report):
    return [s.person for s in report.subjects.filter(role="child").select_related("person")]


def _tell_answerers(challenge: Challenge) -> None:
    report = challenge.report
    tell_front_door(report, roles=ANSWERS_AT[challenge.level], kind="challenge", key=f"challenge:{challenge.public_id}:{challenge.level}",
                    subject=_("“I remain concerned” about report %(reference)s"),
                    body=_("The report maker disagrees with the decision on report %(reference)s and needs an answer by %(due)s.\nTheir reasons: %(reason)s"),
                    context={"reference": report.reference, "due": challenge.due_on.strftime("%d/%m/%Y"), "reason": challenge.reason})  # fmt: skip


def challenge_raise(*, report: Report, user: User, reason: str) -> Challenge:
    """The report maker (or a colleague in their organisation) says "I remain concerned"."""
    if report.maker_id != user.pk and (
        report.maker_organisation_id is None or report.maker_organisation_id != user.organisation_id
    ):
        raise PermissionDenied(_("Only the report maker's organisation can challenge this decision."))
    if report.status != Status.DECIDED:
        raise ValidationError({"reason": [str(_("You can challenge a decision once it has been made."))]})
    if len(reason.strip()) < 20:
        raise ValidationError({"reason": [str(_("Say why you remain concerned (at least 20 characters)."))]})
    now = timezone.now()
    with transaction.atomic():
        hold_recording()  # before the report's row: see cylch.access.audit.hold_recording
        Report.objects.select_for_update().filter(
            pk=report.pk
        ).first()  # one challenge at a time, even on a double click
        if report.challenges.filter(status=ChallengeStatus.OPEN).exists():
            raise ValidationError({"reason": [str(_("There is already an open challenge to this decision."))]})
        challenge = Challenge.objects.create(report=report, raised_by=user, reason=reason.strip(), created_by=user,
                                             due_on=add_working_days(timezone.localdate(), LEVEL_DAYS[Level.PRACTITIONER]))  # fmt: skip
        ChallengeStep.objects.create(challenge=challenge, level=Level.PRACTITIONER, started_at=now)
        for child in _children(report):
            record_event(code="process.escalation.raised", organisation=user.organisation, person=child, occurred_at=now, recorded_by=user,
                         summary=reason.strip(), external_id=f"challenge:{challenge.public_id}:{child.public_id}:raised", audit=False)  # fmt: skip
        audit_record(
            action="write", actor=user, object_type="report", object_id=report.reference, purpose="decision challenged"
        )
        _tell_answerers(challenge)
    return challenge


def challenge_answer(
    *, challenge: Challenge, user: User, response: str, result: str, new_outcome: str = ""
) -> Challenge:
    """Answer the current step: the decision stands, is changed, or goes up a level."""
    report = challenge.report
    check_may_decide(user=user, report=report)
    if user.role not in ANSWERS_AT[challenge.level]:
        raise PermissionDenied(_("A manager answers at this level."))
    if challenge.status != ChallengeStatus.OPEN:
        raise ValidationError({"response": [str(_("This challenge has been resolved."))]})
    if len(response.strip()) < 20:
        raise ValidationError({"response": [str(_("Give your answer and reasons (at least 20 characters)."))]})
    if result not in ChallengeStep.Result.values:
        raise ValidationError({"result": [str(_("Choose what happens next."))]})
    if result == ChallengeStep.Result.DECISION_CHANGED and new_outcome not in Outcome.values:
        raise ValidationError({"new_outcome": [str(_("Choose the new outcome."))]})
    if result == ChallengeStep.Result.ESCALATED and challenge.level not in NEXT_LEVEL:
        raise ValidationError({"result": [str(_("This is the last level: the decision must stand or change."))]})
    now = timezone.now()
    with transaction.atomic():
        hold_recording()  # before the report's row: see cylch.access.audit.hold_recording
        challenge = Challenge.objects.select_for_update().get(pk=challenge.pk)  # a double submit or the sweep
        step = challenge.steps.filter(answered_at__isnull=True).order_by("-started_at").first()
        if challenge.status != ChallengeStatus.OPEN or step is None:
            raise ValidationError({"response": [str(_("This challenge has been resolved."))]})
        step.answered_by, step.answered_at, step.response, step.result = user, now, response.strip(), result
        step.save()
        if result == ChallengeStep.Result.ESCALATED:
            _escalate(challenge, now)
        else:
            challenge.status = ChallengeStatus.RESOLVED
            challenge.save(update_fields=["status", "modified_at"])
            if result == ChallengeStep.Result.DECISION_CHANGED:
                report.outcome, report.rationale = new_outcome, response.strip()
                report.decided_by, report.decided_at = user, now
                report.save(update_fields=["outcome", "rationale", "decided_by", "decided_at", "modified_at"])
                decision_on_spine(report, user=user, when=now, key=f"decision:{challenge.public_id}")
            for child in _children(report):
                record_event(code="process.escalation.resolved", organisation=user.organisation, person=child, occurred_at=now, recorded_by=user,
                             summary=response.strip(), external_id=f"challenge:{challenge.public_id}:{child.public_id}:resolved", audit=False)  # fmt: skip
        audit_record(
            action="write",
            actor=user,
            object_type="report",
            object_id=report.reference,
            purpose="challenge answered",
            detail={"level": step.level, "result": result},
        )
        with translation.override(report.language):
            result_label = str(ChallengeStep.Result(result).label)
        tell_report_maker(report, kind=f"challenge_{result}_{step.pk}",
                    subject=_("Answer to your challenge on report %(reference)s"),
                    body=_("%(result)s\n%(response)s"),
                    context={"reference": report.reference, "result": result_label, "response": response.strip()})  # fmt: skip
    return challenge


def _escalate(challenge: Challenge, now) -> None:
    challenge.level = NEXT_LEVEL[challenge.level]
    challenge.due_on = add_working_days(timezone.localtime(now).date(), LEVEL_DAYS[challenge.level])
    challenge.save(update_fields=["level", "due_on", "modified_at"])
    ChallengeStep.objects.create(challenge=challenge, level=challenge.level, started_at=now)
    _tell_answerers(challenge)


def challenges_sweep(*, now=None) -> int:
    """A step past its day goes up a level by itself (the last level re-notifies once)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    moved = 0
    for challenge in Challenge.objects.filter(status=ChallengeStatus.OPEN, due_on__lt=today).exclude(
        escalated_for_lateness_on=today
    ):
        with transaction.atomic():
            step = challenge.steps.filter(answered_at__isnull=True).order_by("-started_at").first()
            if challenge.level in NEXT_LEVEL:
                if step is not None:
                    step.answered_at, step.result, step.response = (
                        now,
                        ChallengeStep.Result.ESCALATED,
                        "No answer in time.",
                    )
                    step.save()
                _escalate(challenge, now)
            else:
                _tell_answerers(challenge)
            Challenge.objects.filter(pk=challenge.pk).update(escalated_for_lateness_on=today)
            moved += 1
    return moved

"""“I remain concerned”: the resolution-of-professional-differences ladder, step by step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cylch.core.calendar import add_working_days
from cylch.events.models import Event
from cylch.notify.models import Notification
from cylch.reports.challenges import challenge_answer, challenge_raise, challenges_sweep
from cylch.reports.models import LEVEL_DAYS, Challenge, ChallengeStep, Level, Outcome
from cylch.reports.services import SubjectIn, report_decide, report_submit

R = ChallengeStep.Result
REASON = "Alys has lost weight again and nothing has changed since the last report."


@pytest.fixture
def decided(prydderch):
    report = report_submit(channel="practitioner", children=[SubjectIn(person=prydderch.alys)], concern_codes=["social_care.neglect.concern"],
                           what_happened="Hungry again.", maker=prydderch.staff.health_visitor)  # fmt: skip
    return report_decide(
        report=report,
        user=prydderch.staff.social_worker,
        outcome=Outcome.NO_FURTHER_ACTION,
        rationale="Below threshold for intervention at present.",
    )


@pytest.mark.parametrize(("level", "days"), [(Level.PRACTITIONER, 2), (Level.MANAGER, 5), (Level.SENIOR, 10)])
def test_each_rung_has_its_working_days(level, days):
    """The ladder's timescales, one row each."""
    assert LEVEL_DAYS[level] == days


def test_only_the_report_makers_organisation_challenges_a_decided_report(prydderch, decided):
    with pytest.raises(PermissionDenied):
        challenge_raise(report=decided, user=prydderch.staff.police_officer, reason=REASON)
    with pytest.raises(ValidationError):
        challenge_raise(report=decided, user=prydderch.staff.health_visitor, reason="too short")
    challenge = challenge_raise(report=decided, user=prydderch.staff.health_visitor, reason=REASON)
    assert challenge.level == Level.PRACTITIONER
    assert challenge.due_on == add_working_days(timezone.localdate(), 2)
    assert Event.objects.filter(person=prydderch.alys, code="process.escalation.raised").exists()
    assert Notification.objects.filter(recipient=prydderch.staff.social_worker, kind="challenge").exists()
    with pytest.raises(ValidationError):
        challenge_raise(report=decided, user=prydderch.staff.health_visitor, reason=REASON)  # one open at a time


def test_the_ladder_goes_up_and_the_maker_hears_each_answer(prydderch, decided):
    """Practitioner escalates to managers, the manager changes the decision; every step recorded."""
    challenge = challenge_raise(report=decided, user=prydderch.staff.health_visitor, reason=REASON)
    challenge_answer(
        challenge=challenge,
        user=prydderch.staff.social_worker,
        result=R.ESCALATED,
        response="I cannot change this myself; passing to my manager.",
    )
    challenge.refresh_from_db()
    assert challenge.level == Level.MANAGER and challenge.status == "open"
    with pytest.raises(PermissionDenied):
        challenge_answer(
            challenge=challenge,
            user=prydderch.staff.social_worker,
            result=R.DECISION_STANDS,
            response="The decision stands as it was made.",
        )
    challenge_answer(challenge=challenge, user=prydderch.staff.team_manager, result=R.DECISION_CHANGED, new_outcome=Outcome.ASSESSMENT,
                     response="Agreed: the pattern needs a care and support assessment.")  # fmt: skip
    challenge.refresh_from_db()
    decided.refresh_from_db()
    assert challenge.status == "resolved" and decided.outcome == Outcome.ASSESSMENT
    assert [s.result for s in challenge.steps.order_by("started_at")] == [R.ESCALATED, R.DECISION_CHANGED]
    answers = Notification.objects.filter(recipient=prydderch.staff.health_visitor, kind__startswith="challenge_")
    assert answers.count() == 2
    assert Event.objects.filter(person=prydderch.alys, code="process.escalation.resolved").exists()


def test_a_step_that_runs_late_goes_up_by_itself_once(prydderch, decided):
    challenge = challenge_raise(report=decided, user=prydderch.staff.health_visitor, reason=REASON)
    later = timezone.now() + timedelta(days=10)
    assert challenges_sweep(now=later) == 1
    challenge.refresh_from_db()
    assert challenge.level == Level.MANAGER
    assert challenges_sweep(now=later) == 0
    assert Challenge.objects.get().steps.filter(result=R.ESCALATED, response="No answer in time.").exists()


def test_a_changed_decision_reaches_the_spine_and_a_stale_answer_is_refused(prydderch, decided):
    """The new outcome is on the child's record; answering an already-resolved challenge again fails cleanly."""
    challenge = challenge_raise(report=decided, user=prydderch.staff.health_visitor, reason=REASON)
    stale = Challenge.objects.get(pk=challenge.pk)  # a second browser tab, loaded before the answer
    challenge_answer(challenge=challenge, user=prydderch.staff.social_worker, result=R.DECISION_CHANGED,
                     new_outcome=Outcome.ASSESSMENT, response="Agreed: this needs a care and support assessment.")  # fmt: skip
    outcomes = list(
        Event.objects.filter(person=prydderch.alys, code="process.report.decision")
        .order_by("recorded_at", "pk").values_list("details__outcome", flat=True)
    )  # fmt: skip
    assert outcomes == [Outcome.NO_FURTHER_ACTION, Outcome.ASSESSMENT]
    with pytest.raises(ValidationError, match="resolved"):
        challenge_answer(challenge=stale, user=prydderch.staff.social_worker, result=R.DECISION_STANDS,
                         response="The decision stands as it was made.")  # fmt: skip

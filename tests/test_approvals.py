"""Manager approvals (issue 11, item 1): a held decision takes no effect until a manager of the
team approves it; approval applies it once, through the owning app's own service; a return
keeps it from taking effect and tells the practitioner why; nobody approves their own; an
overdue approval is escalated once by the worker; removing a child from the register outside
a review conference is refused, not approved."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.core import taxonomy
from cylch.core.calendar import add_working_days
from cylch.events.models import Event
from cylch.events.services import record_event
from cylch.governance import approvals
from cylch.governance.approvals import (
    ApprovalsConfigError,
    approval_approve,
    approval_return,
    approval_withdraw,
    approvals_sweep,
)
from cylch.governance.models import ApprovalKind, ApprovalRequest, ApprovalState
from cylch.insight.measures.alerts import outcome_units
from cylch.insight.measures.front_door import re_report_units
from cylch.notify.models import Notification, OutboxMessage, OutboxStatus
from cylch.protection import meetings, register, services
from cylch.protection.models import Decision, DueKind, Enquiry, MeetingKind, Stage
from cylch.reports.models import Outcome, Report, Status
from cylch.reports.services import SubjectIn, report_decide, report_submit
from cylch.rules.models import Alert, AlertStatus
from cylch.rules.services import alert_record_outcome
from tests import factories
from tests.test_protection import conference_input, days_ago, strategy

pytestmark = pytest.mark.django_db

NEGLECT = "social_care.neglect.concern"
WNB = "health.appointment.was_not_brought"
NFA_REASONS = "Seen at home with the health visitor; the home was warm and stocked."


@pytest.fixture
def chair(prydderch):
    return factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                       organisation=prydderch.orgs.childrens_services)  # fmt: skip


@pytest.fixture
def manager(prydderch):
    """A second team manager at Ceredigion's front door (Aled Rees is the first, in Welsh)."""
    return factories.demo_practitioner(username="ffion.manager", role=Role.TEAM_MANAGER, first_name="Ffion",
                                       last_name="Davies", organisation=prydderch.orgs.childrens_services)  # fmt: skip


def submit(p, *, days_ago_: int = 0, child=None) -> Report:
    return report_submit(channel="practitioner", children=[SubjectIn(person=child or p.alys)], concern_codes=[NEGLECT],
                         what_happened="Alys came to clinic hungry and with head lice again.", maker=p.staff.health_visitor,
                         received_at=timezone.now() - timedelta(days=days_ago_, hours=1))  # fmt: skip


def repeat_report(p) -> Report:
    """A report about Alys after an earlier one judged no further action 30 days ago (that first
    decision was not a repeat, so it took effect at once)."""
    first = report_decide(report=submit(p, days_ago_=30), user=p.staff.social_worker,
                          outcome=Outcome.NO_FURTHER_ACTION, rationale=NFA_REASONS)  # fmt: skip
    assert first.status == Status.DECIDED and not ApprovalRequest.objects.exists()
    return submit(p)


def decide_nfa(p, report, user=None) -> Report:
    return report_decide(report=report, user=user or p.staff.social_worker, outcome=Outcome.NO_FURTHER_ACTION,
                         rationale=NFA_REASONS)  # fmt: skip


def decisions_on_spine(p, report) -> int:
    return Event.objects.filter(person=p.alys, code="process.report.decision",
                                external_id__startswith=f"report:{report.reference}:").count()  # fmt: skip


def measure_refs(units) -> set[str]:
    today = timezone.localdate()
    return {u.ref for u in units(today - timedelta(days=40), today, today)}


# --- the front door: no further action on a repeat report ------------------------------------


def test_a_repeat_no_further_action_waits_and_takes_no_effect(prydderch, manager):
    """Held: the report stays undecided and on the queue, the maker is not told, nothing is on
    the spine but the request; both managers are asked; the re-report measure does not count it."""
    p = prydderch
    report = decide_nfa(p, repeat_report(p))
    report.refresh_from_db()
    assert (report.status, report.outcome, report.feedback_sent_at) == (Status.RECEIVED, "", None)
    assert decisions_on_spine(p, report) == 0
    assert not Notification.objects.filter(recipient=p.staff.health_visitor, kind="report_outcome",
                                           body__contains=report.reference).exists()  # fmt: skip
    held = ApprovalRequest.objects.get()
    assert (held.kind, held.state, held.outcome, held.report) == (ApprovalKind.REPORT_NO_FURTHER_ACTION, "pending",
                                                                  "no_further_action", report)  # fmt: skip
    assert held.organisation == p.orgs.childrens_services and held.requested_by == p.staff.social_worker
    due_day = add_working_days(timezone.localdate(), 1)
    assert held.due_at == timezone.make_aware(datetime.combine(due_day, time(17, 0)))
    assert Event.objects.filter(person=p.alys, code="process.approval.requested").count() == 1
    asked = set(Notification.objects.filter(kind="approval_requested").values_list("recipient__username", flat=True))
    assert asked == {"aled.manager", "ffion.manager"}
    assert OutboxMessage.objects.filter(to=manager.email, dedupe_key__startswith=f"approval:{held.public_id}").exists()
    assert AuditEntry.objects.filter(object_type="approval", object_id=str(held.public_id),
                                     purpose="decision held for a manager's approval").exists()  # fmt: skip
    assert f"report:{report.reference}" not in measure_refs(re_report_units)
    with pytest.raises(ValidationError) as again:  # a double click holds nothing twice
        decide_nfa(p, report)
    assert "already waiting" in str(again.value)
    assert ApprovalRequest.objects.count() == 1


def test_a_decision_waiting_for_approval_is_not_chased_as_undecided(prydderch, manager):
    """The front door's clock does not say "no decision" about a report whose decision waits for a
    manager: the approvals sweep chases the manager instead."""
    from cylch.reports.clocks import reports_sweep

    p = prydderch
    waiting = decide_nfa(p, repeat_report(p))
    undecided = submit(p)
    Report.objects.filter(pk__in=[waiting.pk, undecided.pk]).update(decision_due_at=timezone.now() - timedelta(hours=1))
    assert reports_sweep().escalated == 1
    waiting.refresh_from_db()
    undecided.refresh_from_db()
    assert waiting.decision_escalated_at is None and undecided.decision_escalated_at is not None


def test_no_further_action_on_a_first_report_and_other_outcomes_take_effect_at_once(prydderch, manager):
    p = prydderch
    report = repeat_report(p)  # the first, not a repeat, took effect inside
    report = report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.EARLY_HELP,
                           rationale="Family support team to visit this week.")  # fmt: skip
    assert report.status == Status.DECIDED and not ApprovalRequest.objects.exists()


def test_approval_applies_the_decision_exactly_once(prydderch, manager):
    """The manager approves: the decision takes effect as the practitioner made it (theirs on the
    record), the maker is told, the measure counts it; a second approval changes nothing."""
    p = prydderch
    report = decide_nfa(p, repeat_report(p))
    held = ApprovalRequest.objects.get()
    approved = approval_approve(request=held, user=manager, note="Agreed: the health visitor stays involved.")
    report.refresh_from_db()
    assert approved.state == ApprovalState.APPROVED and approved.decided_by == manager
    assert (report.status, report.outcome, report.decided_by) == (Status.DECIDED, Outcome.NO_FURTHER_ACTION,
                                                                  p.staff.social_worker)  # fmt: skip
    assert report.rationale == NFA_REASONS and report.feedback_sent_at is not None
    assert decisions_on_spine(p, report) == 1
    assert Event.objects.filter(person=p.alys, code="process.approval.approved").count() == 1
    told = Notification.objects.filter(recipient=p.staff.social_worker, kind="approval_approved")
    assert told.count() == 1 and "approved" in told.get().body
    assert f"report:{report.reference}" in measure_refs(re_report_units)
    outcomes_told = Notification.objects.filter(kind="report_outcome").count()

    again = approval_approve(request=held, user=manager)  # a double submit
    assert again.state == ApprovalState.APPROVED
    assert decisions_on_spine(p, report) == 1
    assert Notification.objects.filter(kind="report_outcome").count() == outcomes_told
    assert Event.objects.filter(person=p.alys, code="process.approval.approved").count() == 1
    with pytest.raises(ValidationError):
        approval_return(request=held, user=manager, reasons="Changed my mind about this one.")


def test_a_returned_decision_never_takes_effect_and_the_practitioner_hears_why(prydderch, manager):
    p = prydderch
    report = decide_nfa(p, repeat_report(p))
    held = ApprovalRequest.objects.get()
    with pytest.raises(ValidationError) as short:
        approval_return(request=held, user=manager, reasons="No.")
    assert "reasons" in short.value.message_dict
    reasons = "Third report in two months: discuss with the school before closing."
    approval_return(request=held, user=manager, reasons=reasons)
    approval_return(request=held, user=manager, reasons=reasons)  # a double submit
    held.refresh_from_db()
    report.refresh_from_db()
    assert (held.state, held.reasons, held.decided_by) == (ApprovalState.RETURNED, reasons, manager)
    assert report.status == Status.RECEIVED and decisions_on_spine(p, report) == 0
    returned = Notification.objects.get(recipient=p.staff.social_worker, kind="approval_returned")
    assert reasons in returned.body and returned.url == reverse("reports:triage", args=[report.reference])
    assert OutboxMessage.objects.filter(to=p.staff.social_worker.email, dedupe_key=f"approval:{held.public_id}:returned").exists()  # fmt: skip
    spine = Event.objects.get(person=p.alys, code="process.approval.returned")
    assert reasons in spine.summary and spine.recorded_by == manager
    with pytest.raises(ValidationError):
        approval_approve(request=held, user=manager)
    # The practitioner decides again; a different outcome takes effect at once.
    report = report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.EARLY_HELP,
                           rationale="Early help to visit with the school nurse this week.")  # fmt: skip
    assert report.status == Status.DECIDED and report.outcome == Outcome.EARLY_HELP


def test_nobody_approves_their_own_decision_and_only_the_teams_managers_answer(prydderch, manager):
    p = prydderch
    report = decide_nfa(p, repeat_report(p), user=p.staff.team_manager)  # Aled decides as duty manager
    held = ApprovalRequest.objects.get()
    assert held.organisation == p.orgs.childrens_services  # Ffion is there to approve it
    with pytest.raises(PermissionDenied, match="your own decision"):
        approval_approve(request=held, user=p.staff.team_manager)
    with pytest.raises(PermissionDenied, match="your own decision"):
        approval_return(request=held, user=p.staff.team_manager, reasons="Returning my own decision.")
    other_la = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                           organisation=p.orgs.other_la_childrens_services)  # fmt: skip
    for stranger in (p.staff.social_worker, other_la):
        with pytest.raises(PermissionDenied):
            approval_approve(request=held, user=stranger)
    assert not Notification.objects.filter(kind="approval_requested", recipient=p.staff.team_manager).exists()
    report.refresh_from_db()
    assert report.status == Status.RECEIVED
    approval_approve(request=held, user=manager)
    report.refresh_from_db()
    assert report.status == Status.DECIDED and report.decided_by == p.staff.team_manager


def test_another_decision_or_a_withdrawal_ends_the_waiting_request(prydderch, manager):
    p = prydderch
    report = decide_nfa(p, repeat_report(p))
    held = ApprovalRequest.objects.get()
    with pytest.raises(PermissionDenied):
        approval_withdraw(request=held, user=p.staff.other_la_social_worker)
    approval_withdraw(request=held, user=p.staff.social_worker)
    held.refresh_from_db()
    assert held.state == ApprovalState.WITHDRAWN
    assert Event.objects.filter(person=p.alys, code="process.approval.withdrawn").count() == 1
    decide_nfa(p, report)  # held again, a new request
    second = ApprovalRequest.objects.get(state=ApprovalState.PENDING)
    report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.ASSESSMENT,
                  rationale="On reflection a care and support assessment is needed.")  # fmt: skip
    second.refresh_from_db()
    report.refresh_from_db()
    assert second.state == ApprovalState.WITHDRAWN and report.outcome == Outcome.ASSESSMENT
    with pytest.raises(ValidationError):
        approval_approve(request=second, user=manager)
    assert report.outcome == Outcome.ASSESSMENT and decisions_on_spine(p, report) == 1


# --- protection: section 47 not substantiated -------------------------------------------------


def enquiry_for(p, child=None):
    episode = services.open_episode(child=child or p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=days_ago(6))
    return episode, episode.enquiries.get()


def conclude(p, enquiry, outcome=Enquiry.Outcome.NOT_SUBSTANTIATED):
    return services.conclude_enquiry(enquiry, user=p.staff.social_worker, outcome=outcome, child_seen_alone=True,
                                     findings="Alys seen alone twice; the bruise has an innocent explanation.",
                                     concluded_on=days_ago(2))  # fmt: skip


def test_not_substantiated_waits_for_a_manager_and_then_closes_the_process(prydderch, manager):
    """Until a manager ratifies it the enquiry stays open and the conference clock runs; approved,
    the enquiry is concluded on the practitioner's date and the process closes."""
    p = prydderch
    episode, enquiry = enquiry_for(p)
    enquiry = conclude(p, enquiry)
    episode.refresh_from_db()
    assert enquiry.concluded_on is None and enquiry.outcome == "" and episode.stage == Stage.ENQUIRY
    assert episode.deadlines.get(kind=DueKind.ICPC).cancelled_on is None
    assert not Event.objects.filter(person=p.alys, code="process.s47.concluded").exists()
    held = ApprovalRequest.objects.get()
    assert (held.kind, held.enquiry, held.organisation) == (ApprovalKind.S47_NOT_SUBSTANTIATED, enquiry,
                                                            p.orgs.childrens_services)  # fmt: skip
    assert held.due_at.date() <= add_working_days(timezone.localdate(), 2)

    approval_approve(request=held, user=p.staff.team_manager)
    approval_approve(request=held, user=p.staff.team_manager)  # once only
    enquiry.refresh_from_db()
    episode.refresh_from_db()
    assert (enquiry.outcome, enquiry.concluded_on) == (Enquiry.Outcome.NOT_SUBSTANTIATED, days_ago(2))
    assert episode.stage == Stage.CLOSED
    assert episode.deadlines.get(kind=DueKind.ICPC).cancelled_on is not None
    assert Event.objects.filter(person=p.alys, code="process.s47.concluded").count() == 1


def test_a_returned_not_substantiated_leaves_the_enquiry_open_for_another_outcome(prydderch, manager):
    p = prydderch
    episode, enquiry = enquiry_for(p)
    conclude(p, enquiry)
    approval_return(request=ApprovalRequest.objects.get(), user=manager,
                    reasons="The school's account has not been heard yet.")  # fmt: skip
    enquiry.refresh_from_db()
    assert enquiry.concluded_on is None
    assert Notification.objects.filter(recipient=p.staff.social_worker, kind="approval_returned").exists()
    enquiry = conclude(p, enquiry, outcome=Enquiry.Outcome.AT_RISK)  # not held: takes effect at once
    episode.refresh_from_db()
    assert enquiry.concluded_on == days_ago(2) and episode.stage == Stage.CONFERENCE_DUE
    assert ApprovalRequest.objects.filter(state=ApprovalState.PENDING).count() == 0


# --- rules: closing an alert with no action ---------------------------------------------------


@pytest.fixture
def raised(prydderch):
    fam = prydderch
    for org, user, days in ((fam.orgs.gp, fam.staff.gp, 40), (fam.orgs.health_visiting, fam.staff.health_visitor, 12)):
        record_event(organisation=org, code=WNB, occurred_at=timezone.now() - timedelta(days=days), person=fam.twm,
                     details={"service": "gp"}, recorded_by=user)  # fmt: skip
    return Alert.objects.get(rule_id="was-not-brought-repeated")


def test_no_action_on_an_alert_waits_then_closes_it_and_feeds_back(prydderch, manager, raised):
    p = prydderch
    alert = alert_record_outcome(alert=raised, user=p.staff.social_worker, outcome="no_action",
                                 note="Both appointments were rebooked and attended.")  # fmt: skip
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.outcome == "" and alert.closed_at is None
    assert alert.steps.filter(action="approval_requested").count() == 1
    assert not Notification.objects.filter(kind="alert_outcome").exists()
    assert f"alert:{alert.public_id}" not in measure_refs(outcome_units)
    held = ApprovalRequest.objects.get()
    assert held.kind == ApprovalKind.ALERT_NO_ACTION and held.alert == alert
    assert set(Event.objects.filter(code="process.approval.requested").values_list("person", flat=True)) == {p.twm.pk}

    approval_approve(request=held, user=manager)
    alert.refresh_from_db()
    assert (alert.status, alert.outcome, alert.actioned_by) == (AlertStatus.CLOSED, "no_action", p.staff.social_worker)
    told = set(Notification.objects.filter(kind="alert_outcome").values_list("recipient__username", flat=True))
    assert told == {"dr.owen", "nia.hv"}
    assert f"alert:{alert.public_id}" in measure_refs(outcome_units)


def test_other_alert_outcomes_are_not_held(prydderch, raised):
    alert = alert_record_outcome(alert=raised, user=prydderch.staff.social_worker, outcome="multi_agency_meeting")
    assert alert.status == AlertStatus.ACTIONED and not ApprovalRequest.objects.exists()


def test_a_school_without_managers_sends_its_no_action_to_the_front_door_managers(prydderch, manager):
    """A school has no team manager in Cylch: the local authority's front door approves."""
    p = prydderch
    record_event(organisation=p.orgs.gp, code="health.adult_mental_health.concern", person=p.ceri,
                 occurred_at=timezone.now() - timedelta(days=31), recorded_by=p.staff.gp)  # fmt: skip
    record_event(organisation=p.orgs.police, code="police.ppn.domestic_abuse", household=p.home,
                 occurred_at=timezone.now() - timedelta(days=40), details={"risk_level": "standard"})  # fmt: skip
    record_event(organisation=p.orgs.gp, code="health.substance_misuse.concern", person=p.dafydd,
                 occurred_at=timezone.now() - timedelta(days=25))  # fmt: skip
    alert = Alert.objects.get(rule_id="parental-risks-together")
    lead = factories.demo_practitioner(username="school.lead2", role=Role.SCHOOL_SAFEGUARDING_LEAD,
                                       organisation=p.orgs.school, is_safeguarding_lead=True)  # fmt: skip
    alert_record_outcome(alert=alert, user=lead, outcome="no_action", note="Known to us; family well supported.")
    held = ApprovalRequest.objects.get()
    assert held.organisation == p.orgs.childrens_services
    approval_approve(request=held, user=manager)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED and alert.closed_by == lead


# --- the register: no approval outside a review conference ------------------------------------


def registered(p, chair_user):
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=days_ago(120))
    services.conclude_enquiry(episode.enquiries.get(), user=p.staff.social_worker, outcome=Enquiry.Outcome.AT_RISK,
                              findings="Neglect substantiated.", concluded_on=days_ago(115), child_seen_alone=True)  # fmt: skip
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    meetings.record_conference(icpc, user=chair_user,
                               data=conference_input(icpc, held=days_ago(110), decision=Decision.REGISTER))  # fmt: skip
    episode.refresh_from_db()
    return episode


def test_removal_outside_a_review_conference_is_refused_naming_the_conference(prydderch, chair, client, demo_hub):
    """Not sent for approval: refused, with where it must be decided and by when."""
    p = prydderch
    episode = registered(p, chair)
    due = episode.deadlines.get(kind=DueKind.RCPC_FIRST).due_on
    with pytest.raises(ValidationError) as refused:
        register.end_outside_conference(episode, user=p.staff.team_manager, reason="review_conference_decision",
                                        eligible_needs="Early help", contingency="Strategy discussion",
                                        explanation="The plan's outcomes are met.", on=days_ago(1))  # fmt: skip
    message = refused.value.message_dict["reason"][0]
    assert "Only a review conference can remove a child from the register" in message
    assert due.strftime("%d/%m/%Y") in message
    assert register.current(p.alys) is not None and not ApprovalRequest.objects.exists()

    client.force_login(p.staff.team_manager)
    client.cookies["cylch_language"] = "en"
    url = reverse("protection:end-registration", args=[episode.public_id])
    page = client.get(url).content.decode()
    assert "A manager cannot approve a removal" in page and due.strftime("%-d %B %Y") in page
    response = client.post(url, {"reason": "review_conference_decision", "on": days_ago(1).strftime("%d/%m/%Y"),
                                 "explanation": "Plan outcomes met", "eligible_needs": "x", "contingency": "y"})  # fmt: skip
    assert response.status_code == 200
    assert "Only a review conference can remove a child from the register" in response.content.decode()
    assert register.current(p.alys) is not None


# --- overdue approvals ------------------------------------------------------------------------


def test_an_overdue_approval_is_escalated_once_by_the_worker(prydderch, manager, smtp_server):
    p = prydderch
    decide_nfa(p, repeat_report(p))
    held = ApprovalRequest.objects.get()
    assert approvals_sweep(now=held.due_at - timedelta(minutes=1)) == 0
    ApprovalRequest.objects.filter(pk=held.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    call_command("worker", "--once", stdout=StringIO())
    held.refresh_from_db()
    assert held.escalated_at is not None and held.state == ApprovalState.PENDING
    overdue = Notification.objects.filter(kind="approval_overdue")
    assert set(overdue.values_list("recipient__username", flat=True)) == {"aled.manager", "ffion.manager"}
    sent = OutboxMessage.objects.filter(dedupe_key__startswith=f"approval:{held.public_id}:overdue")
    assert sent.count() == 2 and all(m.status == OutboxStatus.SENT for m in sent)
    received = [m for m in smtp_server.received if m.subject.startswith("Approval overdue")]
    assert {r for m in received for r in m.rcpt_tos} >= {manager.email}

    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert "approvals: 0" in out.getvalue()
    assert Notification.objects.filter(kind="approval_overdue").count() == 2
    assert len([m for m in smtp_server.received if m.subject.startswith("Approval overdue")]) == len(received)
    assert AuditEntry.objects.filter(object_id=str(held.public_id), purpose="approval overdue: escalated").count() == 1


# --- configuration ----------------------------------------------------------------------------


def test_the_configuration_switches_a_kind_off_or_holds_every_no_further_action(prydderch, raised, settings, tmp_path):
    p = prydderch
    text = approvals.DEFAULT_FILE.read_text(encoding="utf-8")
    custom = tmp_path / "approvals.yaml"
    custom.write_text(text.replace("    when: repeat_report\n", "").replace(
        "  alert_no_action:\n    enabled: true", "  alert_no_action:\n    enabled: false"), encoding="utf-8")  # fmt: skip
    settings.CYLCH_APPROVALS_FILE = str(custom)
    alert = alert_record_outcome(alert=raised, user=p.staff.social_worker, outcome="no_action")
    assert alert.status == AlertStatus.ACTIONED and not ApprovalRequest.objects.exists()
    first = decide_nfa(p, submit(p))  # a first report: held, now every no further action is
    assert first.status == Status.RECEIVED and ApprovalRequest.objects.get().report == first


def test_a_broken_configuration_names_file_line_and_field(tmp_path, settings):
    broken = tmp_path / "approvals.yaml"
    broken.write_text(
        "version: 1\n"
        "kinds:\n"
        "  report_no_further_action:\n"
        "    enabled: yes please\n"
        "    outcomes: [no_further_action]\n"
        "    when: on_tuesdays\n"
        "    due_working_days: 1\n"
        "  section_47_not_substantiated:\n"
        "    enabled: true\n"
        "    outcomes: [not_substantiated, unfounded]\n"
        "    due_working_days: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ApprovalsConfigError) as err:
        approvals.load(broken)
    problems = str(err.value).splitlines()
    assert "approvals.yaml:4: kinds.report_no_further_action.enabled: must be true or false" in problems
    assert any(
        line.startswith("approvals.yaml:6: kinds.report_no_further_action.when: “on_tuesdays”") for line in problems
    )
    assert any(line.startswith("approvals.yaml:10: kinds.section_47_not_substantiated.outcomes.1: “unfounded”") for line in problems)  # fmt: skip
    assert any(line.startswith("approvals.yaml:11: kinds.section_47_not_substantiated.due_working_days") for line in problems)  # fmt: skip
    assert any("alert_no_action is missing" in line for line in problems)
    settings.CYLCH_APPROVALS_FILE = str(broken)
    from cylch.governance.checks import check_approvals

    [error] = check_approvals(None)
    assert error.id == "cylch.governance.E001" and "approvals.yaml:4" in error.msg


def test_the_approval_codes_are_on_the_spine_in_both_languages():
    for code in ("requested", "approved", "returned", "withdrawn"):
        event_code = taxonomy.get(f"process.approval.{code}")
        assert event_code.label("en") and event_code.label("cy") and event_code.label("cy") != event_code.label("en")
        assert event_code.sensitivity == "process"


# --- the pages ------------------------------------------------------------------------------


def test_the_practitioner_is_told_it_waits_and_the_manager_approves_through_the_pages(
    prydderch, manager, client, demo_hub
):
    p = prydderch
    report = repeat_report(p)
    client.force_login(p.staff.social_worker)
    client.cookies["cylch_language"] = "en"
    triage = client.get(reverse("reports:triage", args=[report.reference])).content.decode()
    assert "If you choose “No further action”, a manager must approve it before it takes effect" in triage
    response = client.post(reverse("reports:decide", args=[report.reference]),
                           {"outcome": "no_further_action", "rationale": NFA_REASONS}, follow=True)  # fmt: skip
    page = response.content.decode()
    assert "Your decision is waiting for a manager&#x27;s approval. It has not taken effect" in page
    assert 'id="awaiting-approval"' in page and "Record decision" not in page
    held = ApprovalRequest.objects.get()

    client.force_login(manager)
    queue = client.get(reverse("governance:approvals")).content.decode()
    detail_url = reverse("governance:approval", args=[held.public_id])
    assert detail_url in queue and report.reference in queue
    detail = client.get(detail_url).content.decode()
    assert NFA_REASONS in detail and "This decision has not taken effect" in detail
    response = client.post(detail_url, {"decision": "approve", "reasons": ""})
    assert response.status_code == 302 and response.url == reverse("governance:approvals")
    client.post(detail_url, {"decision": "approve", "reasons": ""})  # a double submit
    report.refresh_from_db()
    assert report.status == Status.DECIDED and decisions_on_spine(p, report) == 1
    assert "Approved" in client.get(reverse("governance:approvals")).content.decode()


def test_returning_through_the_pages_needs_reasons_and_shows_them_to_the_practitioner(prydderch, manager, client, demo_hub):  # fmt: skip
    p = prydderch
    report = decide_nfa(p, repeat_report(p))
    held = ApprovalRequest.objects.get()
    client.force_login(manager)
    client.cookies["cylch_language"] = "en"
    url = reverse("governance:approval", args=[held.public_id])
    page = client.post(url, {"decision": "return", "reasons": ""}).content.decode()
    assert "at least 10 characters" in page and "govuk-error-summary" in page
    assert client.post(url, {}).status_code == 200  # no choice made: the form says so
    client.post(url, {"decision": "return", "reasons": "Speak to the school nurse first, please."})
    held.refresh_from_db()
    assert held.state == ApprovalState.RETURNED
    client.force_login(p.staff.social_worker)
    triage = client.get(reverse("reports:triage", args=[report.reference])).content.decode()
    assert "Speak to the school nurse first, please." in triage and "Record decision" in triage
    mine = client.get(reverse("governance:approvals")).content.decode()
    assert "Returned" in mine and "Speak to the school nurse first" in mine


def test_the_page_refuses_self_approval_and_hides_requests_from_strangers(prydderch, manager, client, demo_hub):
    p = prydderch
    decide_nfa(p, repeat_report(p), user=p.staff.team_manager)
    held = ApprovalRequest.objects.get()
    url = reverse("governance:approval", args=[held.public_id])
    client.force_login(p.staff.team_manager)
    client.cookies["cylch_language"] = "en"
    page = client.get(url).content.decode()
    assert "another manager of your team must approve it" in page and "Send your answer" not in page
    page = client.post(url, {"decision": "approve"}).content.decode()
    assert "You cannot approve or return your own decision" in page
    held.refresh_from_db()
    assert held.state == ApprovalState.PENDING
    for stranger in (p.staff.other_la_social_worker, p.staff.gp):
        client.force_login(stranger)
        assert client.get(url).status_code == 404
        assert client.post(url, {"decision": "approve"}).status_code == 404
    held.refresh_from_db()
    assert held.state == ApprovalState.PENDING


def test_the_enquiry_and_alert_pages_say_the_decision_waits(prydderch, manager, raised, client, demo_hub):
    p = prydderch
    episode, _enquiry = enquiry_for(p)
    client.force_login(p.staff.social_worker)
    client.cookies["cylch_language"] = "en"
    url = reverse("protection:enquiry", args=[episode.public_id])
    assert "If you choose “Not substantiated”, a manager must approve it" in client.get(url).content.decode()
    response = client.post(url, {"outcome": "not_substantiated", "findings": "Seen alone; nothing found.",
                                 "concluded_on": days_ago(1).strftime("%d/%m/%Y"), "seen_alone": "yes"}, follow=True)  # fmt: skip
    page = response.content.decode()
    assert "The outcome is waiting for a manager&#x27;s approval" in page and 'id="awaiting-approval"' in page
    assert "Conclude the enquiry" not in page

    url = reverse("rules:alert", args=[raised.public_id])
    response = client.post(reverse("rules:outcome", args=[raised.public_id]), {"outcome": "no_action", "note": "Rebooked."},
                           follow=True)  # fmt: skip
    page = response.content.decode()
    assert "“No action” is waiting for a manager&#x27;s approval" in page and 'id="awaiting-approval"' in page
    assert "Record the outcome" not in page
    # The requester may withdraw it and decide again.
    held = ApprovalRequest.objects.get(alert=raised)
    client.post(reverse("governance:withdraw", args=[held.public_id]))
    held.refresh_from_db()
    assert held.state == ApprovalState.WITHDRAWN and "Record the outcome" in client.get(url).content.decode()


def test_the_queue_reads_in_a_fixed_number_of_queries(prydderch, manager, raised, client, demo_hub):
    """One of each kind, then two more: the same number of queries."""
    p = prydderch
    client.force_login(manager)
    decide_nfa(p, repeat_report(p))
    conclude(p, enquiry_for(p)[1])
    alert_record_outcome(alert=raised, user=p.staff.social_worker, outcome="no_action")
    client.get(reverse("governance:approvals"))
    with CaptureQueriesContext(connection) as three:
        client.get(reverse("governance:approvals"))
    decide_nfa(p, submit(p, child=p.twm))  # a repeat for Twm too: his sister's household had one
    conclude(p, enquiry_for(p, p.twm)[1])
    with CaptureQueriesContext(connection) as five:
        assert client.get(reverse("governance:approvals")).status_code == 200
    assert ApprovalRequest.objects.filter(state="pending").count() == 5
    assert len(five.captured_queries) == len(three.captured_queries)

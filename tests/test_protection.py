"""The statutory process: timescales at their edges, mandatory invitees, circulation to
absentees, the register and its history, and the whole path in one scenario."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cylch.access.roles import Role
from cylch.core.calendar import is_working_day
from cylch.events.models import Event
from cylch.notify.models import Notification, OutboxMessage
from cylch.protection import meetings, monitor, plans, register, services, timescales
from cylch.protection.models import (
    Decision,
    Delivery,
    Document,
    DueKind,
    Enquiry,
    InviteeKind,
    MeetingKind,
    PlanKind,
    PlanStatus,
    Registration,
    Stage,
)
from cylch.protection.timescales import Timescale, add_months
from cylch.rules.register import statuses_now
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def chair(prydderch):
    return factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                       organisation=prydderch.orgs.childrens_services, first_name="Menna",
                                       last_name="Huws")  # fmt: skip


def days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


def moment(day: date, hour: int = 10):
    return at(day, hour)


def strategy(p, episode, *, held: date, decision=Decision.SECTION_47, participants=None, user=None):
    meeting = episode.meetings.get(kind=MeetingKind.STRATEGY, held_at__isnull=True)
    parts = participants or [
        services.Participant(p.orgs.childrens_services, "Gwen Thomas"),
        services.Participant(p.orgs.police, "DC Parry"),
        services.Participant(p.orgs.gp, "Dr Owen"),
        services.Participant(p.orgs.school, "Bethan Jenkins"),
        services.Participant(p.orgs.health_visiting, "Nia Hughes"),
    ]
    data = services.StrategyInput(held_at=moment(held), format="virtual", participants=parts,
                                  information_shared="Bruising seen at school; two police notices.",
                                  decision=decision, reasons="Reasonable cause to suspect significant harm.")  # fmt: skip
    return services.record_strategy(meeting, user=user or p.staff.social_worker, data=data)


def conference_input(meeting, *, held: date, decision, categories=("neglect",), **extra):
    attended = {i.pk: i.kind != InviteeKind.PARENT for i in meeting.invitees.filter(removed_at__isnull=True)}
    return meetings.ConferenceInput(held_at=moment(held, 14), format="hybrid", language="cy", attended=attended,
                                    decision=decision, categories=list(categories), reasons="Continuing risk of neglect.",
                                    record="Cofnod y gynhadledd.", **extra)  # fmt: skip


# --- timescales ------------------------------------------------------------------------------


def test_conference_due_fifteen_working_days_after_the_last_strategy_discussion_across_christmas(prydderch):
    """Thursday 18 December 2025: day 1 is Friday 19th; Christmas, Boxing Day and New Year's
    Day are not working days; day 15 is Tuesday 13 January 2026."""
    p = prydderch
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=date(2025, 12, 18))
    deadline = episode.deadlines.get(kind=DueKind.ICPC)
    assert (deadline.starts_on, deadline.due_on) == (date(2025, 12, 18), date(2026, 1, 13))
    assert deadline.rule == "15 working days after"
    # A further discussion restarts the clock from the later date, on the same row.
    episode.meetings.create(kind=MeetingKind.STRATEGY)  # a further discussion
    strategy(p, episode, held=date(2026, 1, 5))
    deadline.refresh_from_db()
    assert deadline.due_on == date(2026, 1, 26)
    assert episode.deadlines.filter(kind=DueKind.ICPC).count() == 1


@pytest.mark.parametrize(
    ("kind", "start", "due"),
    [
        # Good Friday 3 and Easter Monday 6 April 2026 are bank holidays in Wales.
        (DueKind.DECISIONS_SUMMARY, date(2026, 4, 2), date(2026, 4, 13)),
        (DueKind.CORE_GROUP_FIRST, date(2026, 4, 2), date(2026, 4, 20)),
        # ... and the early May bank holiday, Monday 4 May 2026.
        (DueKind.FULL_RECORD, date(2026, 4, 2), date(2026, 5, 5)),
        # Boxing Day 2026 is a Saturday: Monday 28 December is the substitute holiday.
        (DueKind.TRANSFER, date(2026, 12, 24), date(2027, 1, 19)),
        (DueKind.CORE_GROUP_NEXT, date(2026, 4, 20), date(2026, 6, 1)),
        # Calendar months, the month's last day when it has no such day.
        (DueKind.RCPC_FIRST, date(2026, 11, 30), date(2027, 2, 28)),
        (DueKind.RCPC_FIRST, date(2027, 11, 30), date(2028, 2, 29)),
        (DueKind.RCPC_NEXT, date(2026, 8, 31), date(2027, 2, 28)),
        # A report is due 3 working days before a Tuesday conference after a bank-holiday Monday.
        (DueKind.AGENCY_REPORT, date(2026, 5, 26), date(2026, 5, 20)),
    ],
)
def test_statutory_timescales_at_their_edges(kind, start, due):
    assert timescales.timescale(kind).due(start) == due


def test_visiting_standard_is_a_setting(settings):
    assert timescales.timescale(DueKind.VISIT_ALONE).due(date(2026, 4, 2)) == date(2026, 4, 20)
    settings.CYLCH_VISITING_STANDARD = {"alone_working_days": 5, "home_weeks": 2}
    assert timescales.timescale(DueKind.VISIT_ALONE).due(date(2026, 4, 2)) == date(2026, 4, 13)
    assert timescales.timescale(DueKind.VISIT_HOME).due(date(2026, 4, 2)) == date(2026, 4, 16)


def test_add_months_keeps_the_day_or_takes_the_last():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 10, 15), 3) == date(2027, 1, 15)
    assert Timescale(weeks=6).due(date(2026, 1, 1)) == date(2026, 2, 12)


# --- the strategy discussion -----------------------------------------------------------------


def test_strategy_needs_police_and_childrens_services_and_reasons_for_absent_health(prydderch):
    p = prydderch
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    prompts = services.strategy_prompts(episode)
    kinds = {(pr.organisation.code, pr.required) for pr in prompts}
    # The GP and the school know Alys herself; the health visitor knows her brother.
    assert {("ceredigion-childrens-services", True), ("dyfed-powys-police", True), ("meddygfa-r-bont", False),
            ("ysgol-glan-y-mor", False), ("ceredigion-health-visiting", False)} <= kinds  # fmt: skip
    assert "tai-teifi" not in {pr.organisation.code for pr in prompts}  # housing: not health or education
    with pytest.raises(ValidationError) as err:
        strategy(p, episode, held=days_ago(3), participants=[
            services.Participant(p.orgs.childrens_services),
            services.Participant(p.orgs.gp, took_part=False),
        ])  # fmt: skip
    messages = err.value.message_dict["participants"]
    assert "Police must take part in a strategy discussion." in messages
    assert any("Meddygfa'r Bont did not take part" in m for m in messages)
    assert not Event.objects.filter(code="process.strategy_discussion.held").exists()
    strategy(p, episode, held=days_ago(3), participants=[
        services.Participant(p.orgs.childrens_services), services.Participant(p.orgs.police),
        services.Participant(p.orgs.gp, took_part=False, why_not="GP on leave; practice sent a written summary"),
    ])  # fmt: skip
    event = Event.objects.get(code="process.strategy_discussion.held", person=p.alys)
    assert event.details["agencies_present"] == ["la_childrens_services", "police"]
    assert event.details["decision"] == "section_47_enquiries"
    episode.refresh_from_db()
    assert episode.stage == Stage.ENQUIRY
    assert Event.objects.filter(code="process.s47.started", person=p.alys).count() == 1


def test_only_the_childs_authority_runs_the_process(prydderch):
    p = prydderch
    with pytest.raises(PermissionDenied):
        services.open_episode(child=p.alys, user=p.staff.health_visitor)
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    data = services.StrategyInput(
        held_at=moment(days_ago(1)),
        format="virtual",
        participants=[],
        information_shared="",
        decision=Decision.SECTION_47,
        reasons="x",
    )
    with pytest.raises(PermissionDenied):
        services.record_strategy(episode.meetings.get(), user=p.staff.other_la_social_worker, data=data)
    assert services.open_episode(child=p.alys, user=p.staff.social_worker) == episode  # one open episode per child


# --- invitations --------------------------------------------------------------------------


def _to_conference(p, *, held_strategy: date, concluded: date, child=None):
    episode = services.open_episode(child=child or p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=held_strategy)
    enquiry = episode.enquiries.get()
    services.conclude_enquiry(enquiry, user=p.staff.social_worker, outcome=Enquiry.Outcome.AT_RISK,
                              findings="Neglect substantiated.", concluded_on=concluded, child_seen_alone=True)  # fmt: skip
    episode.refresh_from_db()
    return episode, episode.meetings.get(kind=MeetingKind.INITIAL)


def test_invitation_list_has_mandatory_gp_parents_and_child_of_age(prydderch, settings):
    settings.CYLCH_CHILD_INVITE_AGE = 7
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(10), concluded=days_ago(5))
    invitees = {(i.kind, i.organisation.code if i.organisation else i.name): i for i in icpc.invitees.all()}
    gp = invitees[("agency", "meddygfa-r-bont")]
    assert gp.mandatory and gp.report_requested
    assert gp.report_due_on == timescales.timescale(DueKind.AGENCY_REPORT).due(
        timezone.localtime(icpc.scheduled_for).date()
    )
    assert invitees[("agency", "ceredigion-childrens-services")].mandatory
    assert invitees[("parent", "Ceri Prydderch")].mandatory
    assert ("parent", "Dafydd Morgan") not in invitees  # no parental responsibility for Alys
    assert invitees[("child", "Alys Prydderch")].mandatory
    assert icpc.invitees.filter(kind=InviteeKind.ADVOCATE, mandatory=False).exists()
    assert not invitees[("agency", "ysgol-glan-y-mor")].mandatory
    # The conference is set for the statutory date.
    due = episode.deadlines.get(kind=DueKind.ICPC).due_on
    assert timezone.localtime(icpc.scheduled_for).date() == due

    with pytest.raises(ValidationError) as err:
        meetings.remove_invitee(gp, user=p.staff.social_worker, reason=" ")
    assert "must be invited" in err.value.message_dict["reason"][0]
    school = invitees[("agency", "ysgol-glan-y-mor")]
    meetings.remove_invitee(school, user=p.staff.social_worker, reason="")
    school.refresh_from_db()
    assert school.removed_at is not None
    meetings.remove_invitee(
        gp, user=p.staff.social_worker, reason="Family registered with a practice in England; invited separately"
    )
    gp.refresh_from_db()
    assert gp.removed_reason.startswith("Family registered")


def test_a_child_with_no_known_gp_cannot_be_invited_for_until_the_gp_is_added(prydderch):
    p = prydderch
    # Efa is known only to Carmarthenshire children's services.
    p.efa.date_of_birth = date(2016, 8, 21)
    p.efa.save()
    episode = services.open_episode(child=p.efa, user=p.staff.other_la_social_worker)
    strategy(p, episode, held=days_ago(6), participants=[
        services.Participant(p.orgs.other_la_childrens_services), services.Participant(p.orgs.police)],
        user=p.staff.other_la_social_worker)  # fmt: skip
    services.conclude_enquiry(episode.enquiries.get(), user=p.staff.other_la_social_worker, outcome=Enquiry.Outcome.AT_RISK,
                              findings="x", concluded_on=days_ago(2), child_seen_alone=None)  # fmt: skip
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    placeholder = icpc.invitees.get(organisation__isnull=True, why="gp")
    assert placeholder.mandatory
    with pytest.raises(ValidationError) as err:
        meetings.send_invitations(icpc, user=p.staff.other_la_social_worker)
    assert "The child's GP is not known to Cylch" in err.value.message_dict["invitees"][0]
    meetings.add_invitee(icpc, user=p.staff.other_la_social_worker, organisation=p.orgs.gp, name="")
    placeholder.refresh_from_db()
    assert placeholder.removed_at is not None
    assert meetings.send_invitations(icpc, user=p.staff.other_la_social_worker) >= 2
    event = Event.objects.get(code="process.conference.invitations_sent", person=p.efa)
    assert event.details["gp_invited"] is True


def test_postponing_a_conference_past_its_date_is_the_chairs_with_reasons(prydderch, chair):
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(3), concluded=days_ago(1))
    later = icpc.scheduled_for + timedelta(days=7)
    with pytest.raises(PermissionDenied):
        meetings.schedule(icpc, user=p.staff.social_worker, when=later, reason="Parents unavailable")
    with pytest.raises(ValidationError):
        meetings.schedule(icpc, user=chair, when=later, reason="")
    meetings.schedule(icpc, user=chair, when=later, reason="Father in hospital; conference moved so he can attend")
    assert icpc.postponements.get().reason.startswith("Father in hospital")
    # The deadline stays where the law puts it.
    assert episode.deadlines.get(kind=DueKind.ICPC).due_on < timezone.localtime(later).date()


# --- conference, register, circulation -------------------------------------------------------


def test_initial_conference_registers_with_categories_and_circulates_to_absentees(prydderch, chair, settings):
    settings.CYLCH_CHILD_INVITE_AGE = 18
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(20), concluded=days_ago(15))
    parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    parent.email = "ceri@example.org"
    parent.save()
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    gp = icpc.invitees.get(organisation=p.orgs.gp)
    with pytest.raises(PermissionDenied):
        meetings.submit_report(gp, user=p.staff.school_lead, text="Not ours")
    meetings.submit_report(gp, user=p.staff.gp, text="Two missed immunisations; weight faltering.")
    assert episode.deadlines.get(kind=DueKind.AGENCY_REPORT, key=str(gp.public_id)).met_on == timezone.localdate()
    with pytest.raises(ValidationError) as err:
        meetings.record_conference(icpc, user=chair, data=conference_input(icpc, held=days_ago(12), decision=Decision.REGISTER,
                                                                           categories=()))  # fmt: skip
    assert "categories" in err.value.message_dict
    with pytest.raises(PermissionDenied):
        meetings.record_conference(icpc, user=p.staff.social_worker,
                                   data=conference_input(icpc, held=days_ago(12), decision=Decision.REGISTER))  # fmt: skip
    meetings.record_conference(icpc, user=chair, data=conference_input(icpc, held=days_ago(12), decision=Decision.REGISTER,
                                                                       categories=("neglect", "emotional")))  # fmt: skip
    reg = register.current(p.alys)
    assert reg.categories == ["emotional", "neglect"] and reg.registered_on == days_ago(12)
    assert "register" in statuses_now(p.alys)  # the rules' reading of the spine agrees
    held = Event.objects.get(code="process.icpc.held", person=p.alys)
    assert held.details["gp_report_received"] is True and held.details["parents_attended"] is False
    icpc_deadline = episode.deadlines.get(kind=DueKind.ICPC)
    assert icpc_deadline.met_on == days_ago(12)
    # Every organisation that knows Alys is told, and it is on the record who was told.
    told = Event.objects.get(code="process.register.agencies_notified", person=p.alys)
    assert {"gp_practice", "school"} <= set(told.details["notified"])
    assert Notification.objects.filter(kind="register_change").exists()

    circ = meetings.circulate(icpc, Document.DECISIONS, user=p.staff.social_worker)
    deliveries = {d.invitee_id: d for d in circ.deliveries.all()}
    active = list(icpc.invitees.filter(removed_at__isnull=True))
    assert set(deliveries) == {i.pk for i in active}  # absentees included
    absent_parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    assert absent_parent.attended is False
    assert deliveries[absent_parent.pk].channel == Delivery.Channel.EMAIL
    email = OutboxMessage.objects.get(to="ceri@example.org", dedupe_key__startswith=f"circ:{circ.pk}")
    # What was decided is in the email itself, in Welsh and in English.
    assert "Categories of registration: Emotional or psychological abuse, Neglect" in email.body
    assert "Continuing risk of neglect." in email.body and "Esgeulustod" in email.body
    decisions = episode.deadlines.get(kind=DueKind.DECISIONS_SUMMARY)
    assert decisions.met_on == timezone.localdate() and decisions.due_on == timescales.timescale(
        DueKind.DECISIONS_SUMMARY
    ).due(days_ago(12))
    with pytest.raises(ValidationError):
        meetings.circulate(icpc, Document.DECISIONS, user=p.staff.social_worker)
    assert episode.deadlines.get(kind=DueKind.FULL_RECORD).is_open


def test_deregistration_is_refused_without_needs_and_contingency_and_history_is_kept(prydderch, chair):
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(120), concluded=days_ago(115))
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(110), decision=Decision.REGISTER)
    )
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    with pytest.raises(ValidationError) as err:
        meetings.record_conference(review, user=chair, data=conference_input(
            review, held=days_ago(20), decision=Decision.DEREGISTER, categories=(),
            progress="Home conditions improved", risk_of_future_harm="Low"))  # fmt: skip
    assert set(err.value.message_dict) >= {"eligible_needs", "contingency"}
    assert register.current(p.alys) is not None
    # Not outside a conference either, except for the three ends the procedures allow.
    with pytest.raises(ValidationError):
        register.end_outside_conference(episode, user=p.staff.team_manager, reason="review_conference_decision",
                                        eligible_needs="x", contingency="y", explanation="z", on=days_ago(1))  # fmt: skip
    with pytest.raises(PermissionDenied):
        register.end_outside_conference(episode, user=p.staff.social_worker, reason="left_uk", eligible_needs="x",
                                        contingency="y", explanation="z", on=days_ago(1))  # fmt: skip
    meetings.record_conference(review, user=chair, data=conference_input(
        review, held=days_ago(20), decision=Decision.DEREGISTER, categories=(), progress="Home conditions improved",
        risk_of_future_harm="Low", eligible_needs="Support with routines; health visitor contact",
        contingency="If school attendance falls below 90% the school calls the social worker."))  # fmt: skip
    assert register.current(p.alys) is None
    history = register.history(p.alys)
    assert len(history) == 1 and history[0].end_reason == Registration.EndReason.REVIEW_CONFERENCE
    assert history[0].eligible_needs.startswith("Support") and history[0].ended_on == days_ago(20)
    assert "register" not in statuses_now(p.alys)
    episode.refresh_from_db()
    assert episode.stage == Stage.CLOSED
    assert not episode.deadlines.filter(kind__in=[DueKind.CORE_GROUP_FIRST, DueKind.RCPC_NEXT], met_on__isnull=True,
                                        cancelled_on__isnull=True).exists()  # fmt: skip
    # The circulation of the review's decisions is still owed.
    assert episode.deadlines.filter(kind=DueKind.DECISIONS_SUMMARY, met_on__isnull=True).count() == 2


# --- plan, core group, visits, monitor --------------------------------------------------------


def test_plan_versions_and_action_progress(prydderch, chair):
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(30), concluded=days_ago(25))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(20), decision=Decision.REGISTER)
    )
    plan = episode.plans.get(kind=PlanKind.CSPP)
    assert plan.status == PlanStatus.OUTLINE
    with pytest.raises(ValidationError):
        plans.save_plan(plan, user=p.staff.social_worker, text=plans.PlanText("", "", "", ""))
    plans.save_plan(plan, user=p.staff.social_worker, text=plans.PlanText(
        worries="Alys often arrives at school hungry.", outcomes="Alys has breakfast every day.",
        child_can_do="Tell Mrs Jenkins at school.", contingency="Strategy discussion if she is not in school."))  # fmt: skip
    action = plans.add_action(plan, user=p.staff.social_worker, text="Breakfast club place", owner=p.orgs.school,
                              owner_name="Bethan Jenkins", due_on=timezone.localdate() + timedelta(days=14))  # fmt: skip
    with pytest.raises(PermissionDenied):
        plans.update_action(action, user=p.staff.housing_officer, status="done", note="x")
    plans.update_action(action, user=p.staff.school_lead, status="on_track", note="Started Monday")
    plan.refresh_from_db()
    assert plan.version == 3
    assert [v.snapshot["actions"][0]["status"] if v.snapshot["actions"] else None for v in plan.versions.all()] == [
        None, "not_started", "on_track"]  # fmt: skip
    assert (
        plans.save_plan(
            plan,
            user=p.staff.social_worker,
            text=plans.PlanText(plan.worries, plan.outcomes, plan.child_can_do, plan.contingency),
        )
        is None
    )  # nothing changed, no version


def test_core_group_due_dates_and_visits(prydderch, chair):
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(30), decision=Decision.REGISTER)
    )
    plan = episode.plans.get(kind=PlanKind.CSPP)
    action = plans.add_action(plan, user=p.staff.social_worker, text="Weekly home visits", owner=p.orgs.health_visiting,
                              owner_name="Nia Hughes", due_on=timezone.localdate() + timedelta(days=30))  # fmt: skip
    first = episode.deadlines.get(kind=DueKind.CORE_GROUP_FIRST)
    assert first.due_on == timescales.timescale(DueKind.CORE_GROUP_FIRST).due(days_ago(30))
    core = episode.meetings.get(kind=MeetingKind.CORE_GROUP, held_at__isnull=True)
    meetings.ensure_core_group_invitees(core)
    assert core.invitees.filter(organisation=p.orgs.health_visiting).exists()  # owns an action
    assert not core.invitees.filter(organisation=p.orgs.housing).exists()
    data = meetings.CoreGroupInput(held_at=moment(days_ago(25)), format="in_person",
                                   attended={i.pk: True for i in core.invitees.all()}, chaired_by=p.orgs.health_visiting,
                                   minuted_by=p.orgs.school, progress="some", notes="Visits started.",
                                   updates={action.pk: ("on_track", "Two visits done")})  # fmt: skip
    with pytest.raises(PermissionDenied):
        meetings.record_core_group(core, user=p.staff.housing_officer, data=data)
    meetings.record_core_group(core, user=p.staff.health_visitor, data=data)  # any agency may minute
    first.refresh_from_db()
    assert first.met_on == days_ago(25)
    nxt = episode.deadlines.get(kind=DueKind.CORE_GROUP_NEXT, met_on__isnull=True)
    assert nxt.due_on == days_ago(25) + timedelta(weeks=6)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DETAILED
    assert Event.objects.get(code="process.core_group.held", person=p.alys).details["chaired_by"] == "health_visiting"
    action.refresh_from_db()
    assert action.status == "on_track" and action.updates.get().meeting == core

    services.record_visit(
        episode, user=p.staff.social_worker, visited_on=days_ago(2), seen=True, seen_alone=True, at_home=True
    )
    alone = episode.deadlines.get(kind=DueKind.VISIT_ALONE, met_on__isnull=True)
    assert alone.starts_on == days_ago(2) and alone.due_on == timescales.timescale(DueKind.VISIT_ALONE).due(days_ago(2))
    with pytest.raises(ValidationError):
        services.record_visit(
            episode, user=p.staff.social_worker, visited_on=days_ago(1), seen=False, seen_alone=True, at_home=True
        )


def test_monitor_warns_before_and_escalates_after_once(prydderch, chair):
    p = prydderch
    episode, _icpc = _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    deadline = episode.deadlines.get(kind=DueKind.ICPC)
    assert deadline.due_on < timezone.localdate()
    result = monitor.sweep()
    assert result.escalated >= 1
    managers = Notification.objects.filter(kind="protection_overdue", recipient=p.staff.team_manager)
    assert managers.count() == 1
    assert "Initial child protection conference" in managers.get().subject or "Cynhadledd" in managers.get().subject
    again = monitor.sweep()
    assert again.escalated == 0 and managers.count() == 1
    # Warning: a deadline due tomorrow-ish.
    soon = timescales.start(
        episode, DueKind.FULL_RECORD, timezone.localdate(), key="x", due_on=timezone.localdate() + timedelta(days=1)
    )
    assert monitor.sweep().warned == 1
    soon.refresh_from_db()
    assert soon.warned_at is not None and monitor.sweep().warned == 0


def test_significant_change_requires_the_assessment_to_be_reviewed(prydderch):
    p = prydderch
    episode, _icpc = _to_conference(p, held_strategy=days_ago(10), concluded=days_ago(5))
    assessment = episode.assessments.get()
    services.add_contribution(assessment, user=p.staff.school_lead, text="Attendance 78% this term.")
    with pytest.raises(PermissionDenied):
        services.add_contribution(assessment, user=p.staff.other_la_social_worker, text="x")
    services.complete_assessment(assessment, user=p.staff.social_worker, analysis="Neglect across health and school.")
    review = services.significant_change(episode, user=p.staff.social_worker, because="Father returned to the home")
    assessment.refresh_from_db()
    assert assessment.review_needed_since is not None and review.trigger == "significant_change"
    assert services.significant_change(episode, user=None, because="again") == review  # once
    services.complete_assessment(review, user=p.staff.social_worker, analysis="Reviewed with the father's return.")
    assessment.refresh_from_db()
    assert assessment.review_needed_since is None


# --- the whole path ----------------------------------------------------------------------------


def test_full_path_report_to_deregistration(prydderch, chair):
    """Report -> front door -> strategy -> section 47 -> conference -> core group -> review ->
    de-registration, with every step on the spine and every date kept."""
    from cylch.reports.models import Outcome
    from cylch.reports.services import SubjectIn, report_decide, report_submit

    p = prydderch
    report = report_submit(channel="practitioner", children=[SubjectIn(person=p.alys)],
                           concern_codes=["social_care.abuse.physical.concern"],
                           what_happened="Alys has bruises on both arms and said her mum's boyfriend grabbed her.",
                           maker=p.staff.school_lead, received_at=timezone.now() - timedelta(days=131))  # fmt: skip
    with pytest.raises(ValidationError):
        services.open_from_report(report, user=p.staff.social_worker)  # not decided yet
    report = report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.STRATEGY_DISCUSSION,
                  rationale="Injuries and a disclosure: reasonable cause to suspect significant harm.")  # fmt: skip
    [episode] = services.open_from_report(report, user=p.staff.social_worker)
    assert episode.report == report and episode.child == p.alys
    strategy(p, episode, held=days_ago(130))
    services.conclude_enquiry(episode.enquiries.get(), user=p.staff.social_worker, outcome=Enquiry.Outcome.AT_RISK,
                              findings="Physical abuse substantiated.", concluded_on=days_ago(127), child_seen_alone=True)  # fmt: skip
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    meetings.submit_report(icpc.invitees.get(organisation=p.orgs.gp), user=p.staff.gp, text="GP report.")
    meetings.share_with_parents(icpc, user=p.staff.social_worker)
    meetings.record_conference(icpc, user=chair, data=conference_input(icpc, held=days_ago(120), decision=Decision.REGISTER,
                                                                       categories=("physical",)))  # fmt: skip
    meetings.circulate(icpc, Document.DECISIONS, user=p.staff.social_worker, on=days_ago(118))
    meetings.circulate(icpc, Document.RECORD, user=p.staff.social_worker, on=days_ago(105))
    plan = episode.plans.get(kind=PlanKind.CSPP)
    plans.add_action(plan, user=p.staff.social_worker, text="Safety work with Ceri", owner=p.orgs.childrens_services,
                     owner_name="Gwen Thomas", due_on=timezone.localdate() + timedelta(days=10))  # fmt: skip
    core = episode.meetings.get(kind=MeetingKind.CORE_GROUP, held_at__isnull=True)
    meetings.ensure_core_group_invitees(core)
    meetings.record_core_group(core, user=p.staff.social_worker, data=meetings.CoreGroupInput(
        held_at=moment(days_ago(112)), format="virtual", attended={i.pk: True for i in core.invitees.all()},
        chaired_by=p.orgs.childrens_services, minuted_by=p.orgs.school, progress="good", notes="Going well."))  # fmt: skip
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    meetings.send_invitations(review, user=p.staff.social_worker)
    meetings.record_conference(review, user=chair, data=conference_input(
        review, held=days_ago(40), decision=Decision.DEREGISTER, categories=(), progress="Plan outcomes met.",
        risk_of_future_harm="Low", eligible_needs="Early help: parenting programme", contingency="Any injury: strategy discussion."))  # fmt: skip

    codes = list(Event.objects.filter(person=p.alys, code__startswith="process.").order_by("occurred_at", "pk")
                 .values_list("code", flat=True))  # fmt: skip
    for code in ["process.strategy_discussion.held", "process.s47.started", "process.s47.concluded",
                 "process.conference.invitations_sent", "process.conference.report_submitted", "process.icpc.held",
                 "process.register.registered", "process.conference.decisions_circulated",
                 "process.conference.record_circulated", "process.core_group.held", "process.cspp.detailed_agreed",
                 "process.rcpc.held", "process.register.deregistered"]:  # fmt: skip
        assert code in codes, code
    assert codes.index("process.icpc.held") < codes.index("process.core_group.held") < codes.index("process.rcpc.held")
    met = {d.kind: d for d in episode.deadlines.filter(met_on__isnull=False)}
    assert met[DueKind.ICPC].on_time and met[DueKind.CORE_GROUP_FIRST].on_time and met[DueKind.RCPC_FIRST].on_time
    assert met[DueKind.DECISIONS_SUMMARY].on_time and met[DueKind.FULL_RECORD].on_time
    episode.refresh_from_db()
    assert episode.stage == Stage.CLOSED and register.current(p.alys) is None
    assert len(register.history(p.alys)) == 1


def test_an_entry_marked_significant_requires_the_assessment_reviewed_and_the_sweep_command_runs(prydderch):
    from io import StringIO

    from django.core.management import call_command

    from cylch.access.selectors import Viewer, access_person
    from cylch.chronology.services import significance_toggle

    p = prydderch
    episode, _icpc = _to_conference(p, held_strategy=days_ago(30), concluded=days_ago(25))
    assessment = episode.assessments.get()
    services.complete_assessment(assessment, user=p.staff.social_worker, analysis="Done.")
    injury = factories.event(organisation=p.orgs.gp, person=p.alys, code="health.injury.child",
                             occurred_at=at(days_ago(1)))  # fmt: skip
    access = access_person(Viewer.for_user(p.staff.social_worker), p.alys.public_id)
    significance_toggle(access=access, user=p.staff.social_worker, event_id=injury.public_id)
    assessment.refresh_from_db()
    assert assessment.review_needed_since is not None
    assert "health.injury.child" in assessment.review_needed_because
    out = StringIO()
    call_command("protection", "sweep", stdout=out)
    assert out.getvalue().startswith("warned ") and "escalated 1" in out.getvalue()  # the ICPC is overdue


def test_corrections_within_ten_working_days_and_a_translation_on_request(prydderch, chair):
    from cylch.protection.models import Circulation

    p = prydderch
    _episode, icpc = _to_conference(p, held_strategy=days_ago(30), concluded=days_ago(25))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(20), decision=Decision.REGISTER)
    )
    with pytest.raises(ValidationError):  # not sent yet
        meetings.request_correction(icpc, user=p.staff.gp, document=Document.RECORD, text="Wrong date of birth")
    circ = meetings.circulate(icpc, Document.RECORD, user=p.staff.social_worker)
    correction = meetings.request_correction(icpc, user=p.staff.gp, document=Document.RECORD,
                                             text="Alys was seen on 3 March, not 3 May.")  # fmt: skip
    assert Notification.objects.filter(recipient=chair, kind="protection_correction").exists()
    with pytest.raises(PermissionDenied):
        meetings.answer_correction(correction, user=p.staff.social_worker, accepted=True, answer="x")
    meetings.answer_correction(correction, user=chair, accepted=True, answer="Corrected in the record.")
    correction.refresh_from_db()
    assert (
        correction.accepted
        and Notification.objects.filter(recipient=p.staff.gp, kind="protection_correction_answered").exists()
    )
    # After 10 working days from sending, the window has closed.
    Circulation.objects.filter(pk=circ.pk).update(sent_at=timezone.now() - timedelta(days=30))
    with pytest.raises(ValidationError) as err:
        meetings.request_correction(icpc, user=p.staff.gp, document=Document.RECORD, text="Another")
    assert "Corrections could be asked for until" in err.value.messages[0]
    # The record was in Welsh; the GP asks for English; children's services provide it.
    meetings.request_translation(icpc, user=p.staff.gp)
    icpc.refresh_from_db()
    assert icpc.translation_requested_at is not None
    with pytest.raises(PermissionDenied):
        meetings.save_translation(icpc, user=p.staff.gp, text="The conference record.")
    meetings.save_translation(icpc, user=p.staff.social_worker, text="The conference record.")
    icpc.refresh_from_db()
    assert icpc.record_translated == "The conference record."


def move_to_carmarthenshire(p) -> None:
    """Alys moves to Carmarthenshire (as a report or a new GP registration would record it)."""
    from cylch.identity.services import household_add_member, household_create

    home = household_create(address_line="3 Heol y Felin", town="Llanelli", postcode="SA15 1AA",
                            local_authority=p.places.carmarthenshire)  # fmt: skip
    household_add_member(household=home, person=p.alys)


def test_a_registered_child_moving_in_gets_a_transfer_conference_and_the_plan_runs_until_it(prydderch, chair):
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(60), concluded=days_ago(55))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(50), decision=Decision.REGISTER)
    )
    first = register.current(p.alys)
    carms_chair = factories.demo_practitioner(username="carms.chair", role=Role.CONFERENCE_CHAIR,
                                              organisation=p.orgs.other_la_childrens_services)  # fmt: skip
    with pytest.raises(ValidationError):  # the same authority cannot receive its own child
        services.transfer_in(child=p.alys, user=p.staff.social_worker, told_on=days_ago(10), from_local_authority="x")
    with pytest.raises(PermissionDenied):  # nor another one a child Cylch does not know lives there
        services.transfer_in(child=p.alys, user=p.staff.other_la_social_worker, told_on=days_ago(10),
                             from_local_authority="Ceredigion")  # fmt: skip
    assert not episode.meetings.filter(kind=MeetingKind.TRANSFER).exists()
    move_to_carmarthenshire(p)
    services.transfer_in(child=p.alys, user=p.staff.other_la_social_worker, told_on=days_ago(10),
                         from_local_authority="Ceredigion")  # fmt: skip
    episode.refresh_from_db()
    assert episode.stage == Stage.TRANSFER_IN and episode.transfer_to == p.orgs.other_la_childrens_services
    deadline = episode.deadlines.get(kind=DueKind.TRANSFER)
    assert deadline.due_on == timescales.timescale(DueKind.TRANSFER).due(days_ago(10))
    # Until the transfer conference the sending authority's registration and plan stand.
    assert register.current(p.alys) == first
    transfer = episode.meetings.get(kind=MeetingKind.TRANSFER)
    assert transfer.invitees.filter(organisation=p.orgs.other_la_childrens_services, mandatory=True).exists()
    meetings.send_invitations(transfer, user=p.staff.other_la_social_worker)  # the receiving team runs it
    with pytest.raises(PermissionDenied):  # the sending authority's chair does not chair it
        meetings.record_conference(transfer, user=chair, data=conference_input(transfer, held=days_ago(2),
                                                                               decision=Decision.REGISTER))  # fmt: skip
    meetings.record_conference(transfer, user=carms_chair, data=conference_input(transfer, held=days_ago(2),
                                                                                 decision=Decision.REGISTER))  # fmt: skip
    first.refresh_from_db()
    assert first.end_reason == Registration.EndReason.TRANSFERRED and first.ended_on == days_ago(2)
    now = register.current(p.alys)
    assert now.local_authority == p.places.carmarthenshire and now.registered_on == days_ago(2)
    episode.refresh_from_db()
    assert episode.organisation == p.orgs.other_la_childrens_services and episode.stage == Stage.REGISTERED
    assert episode.deadlines.get(kind=DueKind.TRANSFER).met_on == days_ago(2)
    assert Event.objects.filter(code="process.transfer.conference_held", person=p.alys).exists()
    [review] = episode.meetings.filter(kind=MeetingKind.REVIEW, held_at__isnull=True)
    due = add_months(days_ago(2), 3)
    while not is_working_day(due):  # a review due at a weekend or bank holiday is set for the working day before
        due -= timedelta(days=1)
    assert timezone.localtime(review.scheduled_for).date() == due
    assert review.invitees.filter(organisation=p.orgs.other_la_childrens_services, mandatory=True).exists()
    assert episode.meetings.filter(kind=MeetingKind.CORE_GROUP, held_at__isnull=True).count() == 1


def test_agencies_at_the_strategy_discussion_are_invited_and_may_open_the_child(prydderch, chair):
    from cylch.access.policy import Relationship
    from cylch.access.selectors import Viewer, relationship_to_person

    p = prydderch
    # The police hold nothing on the Prydderch household, but took part in the discussion.
    assert relationship_to_person(Viewer.for_user(p.staff.police_officer), p.alys) == Relationship.NONE
    episode, icpc = _to_conference(p, held_strategy=days_ago(10), concluded=days_ago(5))
    police = icpc.invitees.get(organisation=p.orgs.police)
    assert police.why == "strategy" and police.report_requested
    # Adding the police again names the officer rather than listing the force twice.
    assert meetings.add_invitee(icpc, user=p.staff.social_worker, organisation=p.orgs.police, name="DS Parry") == police
    with pytest.raises(ValidationError):
        meetings.add_invitee(icpc, user=p.staff.social_worker, organisation=p.orgs.police, name="")
    assert icpc.invitees.filter(organisation=p.orgs.police).count() == 1
    police.refresh_from_db()
    assert relationship_to_person(Viewer.for_user(p.staff.police_officer), p.alys) == Relationship.INVOLVED
    # Left off the conference, they still took part in the discussion: involved while the process runs.
    meetings.remove_invitee(police, user=p.staff.social_worker, reason="Police enquiry closed; not needed")
    assert relationship_to_person(Viewer.for_user(p.staff.police_officer), p.alys) == Relationship.INVOLVED
    services.close_episode(episode, reason="test")
    assert relationship_to_person(Viewer.for_user(p.staff.police_officer), p.alys) == Relationship.NONE


def test_a_conference_due_at_a_weekend_is_set_for_the_working_day_before(prydderch, chair):
    from cylch.core.calendar import is_working_day

    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(130), concluded=days_ago(125))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(120), decision=Decision.REGISTER)
    )
    review = episode.meetings.get(kind=MeetingKind.REVIEW)
    due = episode.deadlines.get(kind=DueKind.RCPC_FIRST).due_on
    day = timezone.localtime(review.scheduled_for).date()
    assert is_working_day(day) and day <= due and (due - day).days < 5
    # Moving it (the chair, with reasons, as it is later) moves the plan's next conference too.
    later = review.scheduled_for + timedelta(days=7)
    meetings.schedule(review, user=chair, when=later, reason="Chair unwell")
    assert episode.plans.get(kind=PlanKind.CSPP).next_conference_on == timezone.localtime(later).date()


def test_a_long_action_is_named_in_the_version_note_cut_at_a_word_and_marked():
    """The version history named an action by its first 80 characters, cut mid-word
    ("...each morning and tell"): now at a word, with "…" to show there is more."""
    from cylch.protection.plans import _short

    long = "Family support worker to visit each morning and tell the school by ten if Alys has not had breakfast"
    assert _short(long) == "Family support worker to visit each morning and tell the school by ten if Alys…"
    assert len(_short(long)) <= 80 and _short("Breakfast club place") == "Breakfast club place"
    assert _short("  A  short\n action ") == "A short action"


def test_each_agency_report_date_says_whose_report_it_is(prydderch, chair):
    """Three rows read "Agency report for conference" with nothing to tell them apart, and the
    rule "from 16 Dec" beside a date of 11 Dec read as a start after the deadline."""
    from cylch.protection.selectors import due_list, status_of

    p = prydderch
    _episode, icpc = _to_conference(p, held_strategy=days_ago(10), concluded=days_ago(5))
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    owed = {d.owed_by for d in status_of(p.alys).deadlines if d.kind == DueKind.AGENCY_REPORT}
    gp = icpc.invitees.get(organisation=p.orgs.gp)
    assert gp.display_name in owed and "" not in owed and len(owed) >= 2
    rows = due_list(p.orgs.childrens_services, within_days=60)
    assert {r.deadline.owed_by for r in rows if r.deadline.kind == DueKind.AGENCY_REPORT} == owed
    assert all(r.deadline.owed_by == "" for r in rows if r.deadline.kind != DueKind.AGENCY_REPORT)

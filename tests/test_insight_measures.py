"""Every measure on hand-built records with a known answer, with the edges: a report's outcome
on working day 7 and on day 8 across Christmas, suppression under 5, areas and periods."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cylch.access.roles import Role
from cylch.insight import areas, periods
from cylch.insight.compute import figures, reading
from cylch.insight.measures import BY_ID, MEASURES
from cylch.protection import meetings, services
from cylch.protection.models import Decision, MeetingKind
from cylch.reports.models import Outcome, Report
from cylch.reports.services import SubjectIn, report_decide, report_submit
from tests import factories
from tests.test_protection import _to_conference, conference_input, days_ago, strategy

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def whole(measure_id: str, period, area):
    [fig] = [f for f in figures(BY_ID[measure_id], [period], [area]) if f.group == ""]
    return fig


def by_group(measure_id: str, period, area) -> dict[str, tuple[int, int | None]]:
    return {f.group: (f.numerator, f.denominator) for f in figures(BY_ID[measure_id], [period], [area]) if f.group}


@pytest.fixture
def chair(prydderch):
    return factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                       organisation=prydderch.orgs.childrens_services)  # fmt: skip


def test_every_measure_is_documented_in_both_languages_and_unique():
    from django.utils import translation

    assert len({m.id for m in MEASURES}) == len(MEASURES) >= 20
    for m in MEASURES:
        assert str(m.title) and str(m.numerator) and str(m.rules) and m.source and str(m.why)
        assert (m.denominator is None) == (m.kind == "count"), m.id
        with translation.override("cy"):
            assert str(m.title) != "" and str(m.rules) != ""


def _report(p, received: datetime, child=None) -> Report:
    return report_submit(channel="practitioner", children=[SubjectIn(person=child or p.alys)],
                         concern_codes=["social_care.neglect.concern"], what_happened="Hungry at school again.",
                         maker=p.staff.school_lead, received_at=received)  # fmt: skip


def test_feedback_within_7_working_days_on_day_7_and_day_8_across_christmas(prydderch):
    """Received Friday 19 December 2025: the outcome is due by Friday 2 January 2026 (day 7)."""
    p = prydderch
    received = datetime.combine(date(2025, 12, 19), time(11, 0), tzinfo=LONDON)
    on_time = [_report(p, received) for _ in range(5)]
    late = [_report(p, received) for _ in range(5)]
    assert {r.feedback_due_on for r in on_time + late} == {date(2026, 1, 2)}
    Report.objects.filter(pk__in=[r.pk for r in on_time]).update(
        feedback_sent_at=datetime.combine(date(2026, 1, 2), time(16, 59), tzinfo=LONDON)
    )
    Report.objects.filter(pk__in=[r.pk for r in late]).update(
        feedback_sent_at=datetime.combine(date(2026, 1, 5), time(9, 0), tzinfo=LONDON)
    )
    q4 = periods.quarter(2025, 4)
    ceredigion = areas.find("ceredigion")
    fig = whole("report-feedback-7wd", q4, ceredigion)
    assert (fig.numerator, fig.denominator, fig.value) == (5, 10, 50.0)
    assert not fig.suppressed
    # The board area and Wales hold Ceredigion; Carmarthenshire does not.
    assert whole("report-feedback-7wd", q4, areas.find("mid-west-wales")).denominator == 10
    assert whole("report-feedback-7wd", q4, areas.wales()).denominator == 10
    assert whole("report-feedback-7wd", q4, areas.find("carmarthenshire")).denominator == 0
    # Nothing counted in the next quarter: by the date received.
    assert whole("report-feedback-7wd", periods.quarter(2026, 1), ceredigion).denominator == 0


def test_small_numbers_are_suppressed_outside_the_drill_down(prydderch):
    p = prydderch
    received = datetime.combine(date(2025, 12, 19), time(11, 0), tzinfo=LONDON)
    reports = [_report(p, received) for _ in range(7)]
    sent = datetime.combine(date(2025, 12, 22), time(10, 0), tzinfo=LONDON)
    Report.objects.filter(pk__in=[r.pk for r in reports[:3]]).update(feedback_sent_at=sent)
    fig = whole("report-feedback-7wd", periods.quarter(2025, 4), areas.wales())
    assert (fig.numerator, fig.denominator) == (3, 7)  # 3 on time: fewer than 5
    assert fig.suppressed and fig.value is None and fig.shown() == "not shown"
    assert "not shown, because a number in it is from 1 to 4" in reading(fig)
    Report.objects.filter(pk__in=[r.pk for r in reports[3:5]]).update(feedback_sent_at=sent)
    fig = whole("report-feedback-7wd", periods.quarter(2025, 4), areas.wales())
    # 5 of 7: the 2 late would be given away by the difference.
    assert (fig.numerator, fig.denominator) == (5, 7) and fig.suppressed
    Report.objects.filter(pk__in=[r.pk for r in reports[5:]]).update(feedback_sent_at=sent)
    fig = whole("report-feedback-7wd", periods.quarter(2025, 4), areas.wales())
    assert (fig.numerator, fig.denominator, fig.suppressed, fig.value) == (7, 7, False, 100.0)


def test_re_reports_within_12_months_of_no_further_action(prydderch):
    p = prydderch
    first = _report(p, timezone.now() - timedelta(days=200))
    report_decide(report=first, user=p.staff.social_worker, outcome=Outcome.NO_FURTHER_ACTION,
                  rationale="Parents engaged with the school; no further action needed now.")  # fmt: skip
    twm = _report(p, timezone.now() - timedelta(days=199), child=p.twm)
    report_decide(report=twm, user=p.staff.social_worker, outcome=Outcome.NO_FURTHER_ACTION,
                  rationale="Parents engaged with the health visitor; no further action.")  # fmt: skip
    # A repeat report's "no further action" waits for a manager (issue 11): counted once approved.
    from cylch.governance.approvals import approval_approve
    from cylch.governance.models import ApprovalRequest

    approval_approve(request=ApprovalRequest.objects.get(report=twm), user=p.staff.team_manager)
    _report(p, timezone.now() - timedelta(days=20))  # Alys again
    Report.objects.filter(pk__in=[first.pk, twm.pk]).update(decided_at=timezone.now() - timedelta(days=199))
    first.refresh_from_db()
    period = periods.containing(timezone.localtime(first.decided_at).date(), "month")
    fig = whole("re-reports-after-nfa", period, areas.wales())
    assert (fig.numerator, fig.denominator) == (1, 2)


def test_protection_measures_from_one_path(prydderch, chair):
    """Alys: strategy with GP, school and health visitor; conference on time with the GP
    invited and reporting; registered for neglect; a core group late. Twm: strategy with police
    and children's services only."""
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(60), concluded=days_ago(55))
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    gp = icpc.invitees.get(organisation=p.orgs.gp)
    meetings.submit_report(gp, user=p.staff.gp, text="GP report")
    # Services stamp the moment they run; the report came 3 days before the conference.
    type(gp).objects.filter(pk=gp.pk).update(report_received_at=factories.at(days_ago(53)))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(50), decision=Decision.REGISTER)
    )
    core_due = episode.deadlines.get(kind="core_group_first").due_on
    core = episode.meetings.get(kind=MeetingKind.CORE_GROUP)
    meetings.ensure_core_group_invitees(core)
    held = core_due + timedelta(days=3)
    meetings.record_core_group(core, user=p.staff.social_worker, data=meetings.CoreGroupInput(
        held_at=factories.at(held), format="virtual", attended={i.pk: i.organisation_id == p.orgs.childrens_services.pk
                                                                for i in core.invitees.all()},
        chaired_by=p.orgs.childrens_services, minuted_by=p.orgs.childrens_services, progress="some", notes="x"))  # fmt: skip
    twm = services.open_episode(child=p.twm, user=p.staff.social_worker)
    strategy(p, twm, held=days_ago(59), decision=Decision.ASSESSMENT,
             participants=[services.Participant(p.orgs.childrens_services), services.Participant(p.orgs.police)])  # fmt: skip
    wales = areas.wales()
    span = periods.Period(days_ago(400), timezone.localdate(), "span")

    def rate(mid):
        f = whole(mid, span, wales)
        return f.numerator, f.denominator

    assert rate("strategy-with-health") == (1, 2)
    assert rate("strategy-with-education") == (1, 2)
    assert rate("icpc-in-time") == (1, 1)
    assert rate("core-group-in-time") == (0, 1)
    assert rate("gp-invited") == (1, 1) and rate("gp-report-received") == (1, 1)
    attendance = by_group("attendance-by-agency", span, wales)
    assert attendance["la_childrens_services"] == (2, 2)  # at the conference and the core group
    assert attendance["gp_practice"][0] == 1  # came to the conference, not the core group
    assert by_group("register-by-category", periods.Period(days_ago(10), days_ago(1), "x"), wales) == {
        "neglect": (1, None)
    }
    assert whole("register-by-category", periods.Period(days_ago(100), days_ago(60), "y"), wales).numerator == 0
    assert rate("re-registrations-12m") == (0, 1)
    assert whole("decisions-circulated-in-time", span, wales).denominator == 1  # due and not sent: late
    assert whole("decisions-circulated-in-time", span, wales).numerator == 0


def test_visits_seen_alone_and_registration_length_and_re_registration(prydderch, chair):
    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(200), concluded=days_ago(195))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(190), decision=Decision.REGISTER)
    )
    for n, alone in ((180, True), (170, False), (160, True)):
        services.record_visit(episode, user=p.staff.social_worker, visited_on=days_ago(n), seen=True, seen_alone=alone,
                              at_home=True)  # fmt: skip
    services.record_visit(episode, user=p.staff.social_worker, visited_on=days_ago(150), seen=False, seen_alone=False,
                          at_home=True)  # fmt: skip
    span = periods.Period(days_ago(400), timezone.localdate(), "span")
    wales = areas.wales()
    seen = whole("seen-alone", span, wales)
    assert (seen.numerator, seen.denominator) == (2, 3)  # the visit where she was not seen is not counted
    review = episode.meetings.get(kind=MeetingKind.REVIEW)
    meetings.record_conference(review, user=chair, data=conference_input(
        review, held=days_ago(90), decision=Decision.DEREGISTER, categories=(), progress="Better", risk_of_future_harm="Low",
        eligible_needs="Early help", contingency="Strategy discussion if worse"))  # fmt: skip
    assert by_group("registration-length", span, wales) == {"3_to_6_months": (1, None)}
    # Registered again 90 days after the end: a re-registration within 12 months.
    _episode2, icpc2 = _to_conference(p, held_strategy=days_ago(20), concluded=days_ago(15))
    meetings.record_conference(
        icpc2, user=chair, data=conference_input(icpc2, held=days_ago(10), decision=Decision.REGISTER)
    )
    assert whole("re-registrations-12m", span, wales).numerator == 1


def test_alert_and_escalation_measures(prydderch):
    from cylch.reports.challenges import challenge_raise
    from cylch.rules.models import Alert

    p = prydderch
    now = timezone.now()
    common = {"pack": "wales@test", "severity": "high", "local_authority": p.places.ceredigion,
              "owner_organisation": p.orgs.childrens_services, "evidence_updated_at": now}  # fmt: skip
    Alert.objects.create(rule_id="was-not-brought", scope_key="a", raised_at=now - timedelta(days=5),
                         acknowledge_by=now - timedelta(days=4), acknowledged_at=now - timedelta(days=4, hours=1), **common)  # fmt: skip
    Alert.objects.create(rule_id="was-not-brought", scope_key="b", raised_at=now - timedelta(days=5),
                         acknowledge_by=now - timedelta(days=4), **common)  # late, never acknowledged  # fmt: skip
    Alert.objects.create(rule_id="repeat-domestic-abuse", scope_key="c", raised_at=now - timedelta(days=1),
                         acknowledge_by=now + timedelta(days=1), outcome="early_help", closed_at=now, **common)  # fmt: skip
    span = periods.Period(days_ago(30), timezone.localdate(), "span")
    wales = areas.wales()
    assert by_group("alerts-raised", span, wales) == {"repeat-domestic-abuse": (1, None), "was-not-brought": (2, None)}
    on_time = whole("alerts-acknowledged-on-time", span, wales)
    assert (on_time.numerator, on_time.denominator) == (1, 2)  # the third is still within its time
    assert by_group("alert-outcomes", span, wales) == {"early_help": (1, None)}

    report = _report(p, now - timedelta(days=3))
    report = report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.NO_FURTHER_ACTION,
                           rationale="No further action at this time; school to monitor.")  # fmt: skip
    challenge_raise(report=report, user=p.staff.school_lead, reason="She came in hungry again today.")
    assert by_group("escalations", span, wales) == {"open": (1, None)}


def test_reading_says_what_changed_in_plain_words(prydderch):
    from cylch.insight.compute import Figure

    m = BY_ID["report-feedback-7wd"]
    q3, q4 = periods.quarter(2026, 3), periods.quarter(2026, 4)
    wales = areas.wales()
    before, now = Figure(m, q3, wales, "", 40, 50), Figure(m, q4, wales, "", 45, 50)
    assert reading(now, before) == "Wales, Q4 2026: 90% (45 of 50). Up from 80%: better."
    worse = Figure(BY_ID["re-reports-after-nfa"], q4, wales, "", 20, 50)
    assert reading(worse, Figure(worse.measure, q3, wales, "", 10, 50)).endswith("Up from 20%: worse.")
    # 61.7% and 62.3% both show as 62%: not a change to the reader.
    same = reading(Figure(m, q4, wales, "", 370, 600), Figure(m, q3, wales, "", 374, 600))
    assert same.endswith("The same as the period before.")
    count = BY_ID["register-by-category"]
    assert reading(Figure(count, q4, wales, "", 141, None), Figure(count, q3, wales, "", 148, None)) == (
        "Wales, Q4 2026: 141. Down from 148."
    )


def test_a_hidden_authority_cannot_be_worked_out_from_its_board_and_neighbour(prydderch):
    """Ceredigion 3 of 3 is suppressed. Mid and West Wales (Ceredigion and Carmarthenshire)
    shows 13 of 13, Carmarthenshire 10 of 10: 13 - 10 would give Ceredigion away, so
    Carmarthenshire is hidden too, on every output that shows it."""
    import dataclasses

    from cylch.insight.compute import figures as all_figures
    from cylch.insight.measures.base import Unit

    p = prydderch
    cer, carms = p.places.ceredigion.pk, p.places.carmarthenshire.pk
    day = date(2026, 8, 1)
    units = [Unit(cer, day, True, f"r:{i}") for i in range(3)] + [Unit(carms, day, True, f"c:{i}") for i in range(10)]
    m = dataclasses.replace(BY_ID["report-feedback-7wd"], units=lambda since, until, as_of: units)
    q3 = periods.quarter(2026, 3)
    board, wales = areas.find("mid-west-wales"), areas.wales()
    got = {
        f.area.code: f
        for f in all_figures(m, [q3], [areas.find("ceredigion"), areas.find("carmarthenshire"), board, wales])
    }
    assert got["ceredigion"].primary and got["ceredigion"].suppressed
    assert got["carmarthenshire"].secondary and got["carmarthenshire"].shown() == "not shown"
    assert not got["mid-west-wales"].suppressed and got["mid-west-wales"].numerator == 13
    # The same decision when only Carmarthenshire is asked for (a page showing one authority).
    [alone] = all_figures(m, [q3], [areas.find("carmarthenshire")])
    assert alone.suppressed


def test_review_recommendations_open_past_their_due_date_count_for_the_board_and_wales(prydderch):
    """As at 30 September 2026: made by then, due before then, not closed by then."""
    from cylch.reviews import recommendations as tracker
    from cylch.reviews import services as reviews
    from cylch.reviews.models import Incident, Recommendation

    p = prydderch
    board = factories.organisation(code="mww-board", kind="safeguarding_board", name_en="MWW board", name_cy="Bwrdd CGC",
                                   local_authority=None)  # fmt: skip
    board.board_area = p.places.mid_and_west_wales
    board.save()
    panel = factories.demo_practitioner(username="panel.chair", role=Role.REVIEW_PANEL, organisation=board)
    referral = reviews.refer(board_area=p.places.mid_and_west_wales, child=p.alys, incident=Incident.DIED,
                             incident_on=date(2026, 1, 10), user=panel, referred_on=date(2026, 1, 20))  # fmt: skip
    review = reviews.decide(referral, user=panel, review_type="cpr_concise", reasons="Criteria met.",
                            scope_from=date(2025, 1, 10))  # fmt: skip

    def rec(due: date, kind: str = "operational", closed: date | None = None):
        r = tracker.recommendation_add(review, user=panel, text="Share every missed appointment with the GP weekly.",
                                       success_measure="Audit", owner_agency="Health board", kind=kind, level="local",
                                       urgency="immediate", due_on=due)  # fmt: skip
        Recommendation.objects.filter(pk=r.pk).update(
            created_at=datetime(2026, 3, 1, 12, tzinfo=LONDON),
            closed_on=closed,
            status="completed" if closed else "open",
        )

    for _i in range(5):
        rec(date(2026, 6, 30))
    rec(date(2026, 9, 1), kind="strategic", closed=date(2026, 10, 15))  # closed after the period: still open then
    rec(date(2026, 6, 30), closed=date(2026, 9, 29))  # closed in time for the period's end
    rec(date(2026, 10, 31))  # not yet due at the period's end
    q3 = periods.quarter(2026, 3)
    board_area = areas.find(p.places.mid_and_west_wales.code)
    assert whole("review-recommendations-overdue", q3, board_area).numerator == 6
    assert whole("review-recommendations-overdue", q3, areas.wales()).numerator == 6
    assert by_group("review-recommendations-overdue", q3, board_area) == {
        "operational": (5, None),
        "strategic": (1, None),
    }
    assert whole("review-recommendations-overdue", q3, areas.find("ceredigion")).numerator == 0  # no authority's own

"""The edges of the board measures on hand-built records: statutory dates across Easter on the
day and the day after, the day the figures stand at (``as_of``) rather than the wall clock,
how professional differences ended, review conferences and full records on time, and secondary
suppression of kinds. With tests/test_insight_measures.py, every measure has a known answer."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.insight import areas, periods
from cylch.insight.compute import figures
from cylch.insight.measures import BY_ID, MEASURES
from cylch.insight.measures.base import Unit
from cylch.protection import services
from cylch.protection.models import Deadline, DueKind
from cylch.reports.challenges import challenge_answer, challenge_raise
from cylch.reports.models import ChallengeStep, Outcome, Report
from cylch.reports.services import report_decide
from tests.test_insight_measures import _report
from tests.test_protection import strategy

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
Q2_2026 = periods.quarter(2026, 2)


def whole(measure_id: str, period, area=None, *, as_of=None):
    [fig] = [f for f in figures(BY_ID[measure_id], [period], [area or areas.wales()], as_of=as_of) if f.group == ""]
    return fig


def pair(measure_id: str, period, area=None, *, as_of=None) -> tuple[int, int | None]:
    fig = whole(measure_id, period, area, as_of=as_of)
    return fig.numerator, fig.denominator


def _copies(deadline: Deadline, met: list[date | None], **changes) -> None:
    """More deadlines like ``deadline`` (the measure counts each statutory date once)."""
    for i, met_on in enumerate(met):
        Deadline.objects.create(episode=deadline.episode, kind=changes.get("kind", deadline.kind), key=f"copy-{i}",
                                starts_on=deadline.starts_on, due_on=changes.get("due_on", deadline.due_on),
                                rule=deadline.rule, met_on=met_on, cancelled_on=changes.get("cancelled_on"))  # fmt: skip


def test_initial_conferences_across_easter_on_day_15_and_day_16(prydderch):
    """A strategy discussion on Thursday 26 March 2026: Good Friday (3 April) and Easter Monday
    (6 April) are not working days, so day 15 is Monday 20 April. Five conferences held on the
    20th are on time; five held on Tuesday 21st are late: 5 of 10."""
    p = prydderch
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=date(2026, 3, 26))
    icpc = episode.deadlines.get(kind=DueKind.ICPC)
    assert icpc.due_on == date(2026, 4, 20)  # reckoned by the protection app's calendar
    Deadline.objects.filter(pk=icpc.pk).update(met_on=date(2026, 4, 20))
    _copies(icpc, [date(2026, 4, 20)] * 4 + [date(2026, 4, 21)] * 5)
    fig = whole("icpc-in-time", Q2_2026)
    assert (fig.numerator, fig.denominator, fig.value, fig.suppressed) == (5, 10, 50.0, False)
    assert pair("icpc-in-time", Q2_2026, areas.find("ceredigion")) == (5, 10)
    assert pair("icpc-in-time", Q2_2026, areas.find("carmarthenshire")) == (0, 0)


def test_figures_stand_at_the_as_of_day_not_the_wall_clock(prydderch):
    """The same ten conferences, asked about as things stood on different days: on the 19th
    none was due yet; at the end of the 20th the five held that day were on time and the other
    five not yet late; from the 21st the five held that day count as late. A deadline met early
    but due after the day is counted on time; one met after the day was not met then."""
    p = prydderch
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=date(2026, 3, 26))
    icpc = episode.deadlines.get(kind=DueKind.ICPC)
    Deadline.objects.filter(pk=icpc.pk).update(met_on=date(2026, 4, 20))
    _copies(icpc, [date(2026, 4, 20)] * 4 + [date(2026, 4, 21)] * 5)
    assert pair("icpc-in-time", Q2_2026, as_of=date(2026, 4, 19)) == (0, 0)
    assert pair("icpc-in-time", Q2_2026, as_of=date(2026, 4, 20)) == (5, 5)
    assert pair("icpc-in-time", Q2_2026, as_of=date(2026, 4, 21)) == (5, 10)
    assert pair("icpc-in-time", Q2_2026, as_of=date(2026, 5, 5)) == (5, 10)
    # Due 30 April, held on the 15th: on time as at the 20th, though not yet due.
    _copies(icpc, [date(2026, 4, 15)], due_on=date(2026, 4, 30))
    assert pair("icpc-in-time", Q2_2026, as_of=date(2026, 4, 20)) == (6, 6)
    # A quarter that had not begun on the day has nothing in it.
    assert pair("icpc-in-time", periods.quarter(2026, 3), as_of=date(2026, 4, 20)) == (0, 0)


def test_feedback_as_it_stood_on_a_day(prydderch):
    """Received Friday 19 December 2025, due Friday 2 January 2026 (day 7), told on Monday 5
    January. As at 2 January it was not yet late, so not counted; as at the 3rd it was late;
    as at a later day, still late. Another, told on the 2nd, is on time from the 2nd."""
    p = prydderch
    received = datetime.combine(date(2025, 12, 19), time(11, 0), tzinfo=LONDON)
    late, prompt = _report(p, received), _report(p, received)
    Report.objects.filter(pk=late.pk).update(feedback_sent_at=datetime(2026, 1, 5, 9, tzinfo=LONDON))
    Report.objects.filter(pk=prompt.pk).update(feedback_sent_at=datetime(2026, 1, 2, 16, 59, tzinfo=LONDON))
    q4 = periods.quarter(2025, 4)
    assert pair("report-feedback-7wd", q4, as_of=date(2026, 1, 1)) == (0, 0)
    assert pair("report-feedback-7wd", q4, as_of=date(2026, 1, 2)) == (1, 1)
    assert pair("report-feedback-7wd", q4, as_of=date(2026, 1, 3)) == (1, 2)
    assert pair("report-feedback-7wd", q4) == (1, 2)  # today
    # As at a day in the quarter, reports received after it had not arrived.
    assert pair("report-feedback-7wd", q4, as_of=date(2025, 12, 18)) == (0, 0)


def test_review_conferences_and_full_records_on_time(prydderch):
    """Review conferences due in Q2 2026: first reviews met on the day and the day before, a
    later review met a day late, one never held and now past, one cancelled (the child came off
    the register: not counted): 2 of 4. Full records: two sent on time, one late, one not sent
    and past: 2 of 4."""
    p = prydderch
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    base = Deadline.objects.create(episode=episode, kind=DueKind.RCPC_FIRST, key="review-1", starts_on=date(2026, 2, 1),
                                   due_on=date(2026, 5, 1), rule="3 months after", met_on=date(2026, 5, 1))  # fmt: skip
    _copies(base, [date(2026, 4, 30)])
    _copies(base, [date(2026, 5, 2), None], kind=DueKind.RCPC_NEXT)
    _copies(base, [None], cancelled_on=date(2026, 4, 1))
    assert pair("review-in-time", Q2_2026) == (2, 4)
    record = Deadline.objects.create(episode=episode, kind=DueKind.FULL_RECORD, key="record-1", starts_on=date(2026, 5, 5),
                                     due_on=date(2026, 6, 2), rule="20 working days after", met_on=date(2026, 6, 2))  # fmt: skip
    _copies(record, [date(2026, 5, 29), date(2026, 6, 3), None])
    assert pair("record-circulated-in-time", Q2_2026) == (2, 4)
    # Each measure reads its own kinds only.
    assert pair("decisions-circulated-in-time", Q2_2026) == (0, 0)
    assert pair("core-group-in-time", Q2_2026) == (0, 0)


def test_professional_differences_by_how_they_ended(prydderch):
    """Three challenges to "no further action": the decision stood at practitioner level; it was
    taken to managers and changed there; one still open. As at the day before the manager's
    answer, the second was still open."""
    p = prydderch
    q = periods.containing(timezone.localdate())

    def decided():
        from cylch.governance.approvals import approval_approve
        from cylch.governance.models import ApprovalRequest, ApprovalState

        report = _report(p, timezone.now() - timedelta(hours=6))
        report = report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.NO_FURTHER_ACTION,
                               rationale="Below threshold for intervention at present.")  # fmt: skip
        # A repeat report's "no further action" waits for a manager (issue 11).
        for waiting in ApprovalRequest.objects.filter(report=report, state=ApprovalState.PENDING):
            approval_approve(request=waiting, user=p.staff.team_manager)
        report.refresh_from_db()
        return report

    reason = "She came in hungry again today and would not say why."
    first = challenge_raise(report=decided(), user=p.staff.school_lead, reason=reason)
    challenge_answer(challenge=first, user=p.staff.social_worker, result=ChallengeStep.Result.DECISION_STANDS,
                     response="We looked again with the school: the decision stands.")  # fmt: skip
    second = challenge_raise(report=decided(), user=p.staff.school_lead, reason=reason)
    challenge_answer(challenge=second, user=p.staff.social_worker, result=ChallengeStep.Result.ESCALATED,
                     response="I cannot change this myself; passing to my manager.")  # fmt: skip
    challenge_answer(challenge=second, user=p.staff.team_manager, result=ChallengeStep.Result.DECISION_CHANGED,
                     new_outcome=Outcome.ASSESSMENT, response="Agreed: the pattern needs an assessment.")  # fmt: skip
    challenge_raise(report=decided(), user=p.staff.school_lead, reason=reason)
    got = {f.group: f.numerator for f in figures(BY_ID["escalations"], [q], [areas.wales()]) if f.group}
    assert got == {"resolved_practitioner": 1, "resolved_manager": 1, "open": 1}
    assert pair("escalations", q) == (3, None)
    # The manager answered today: as at yesterday the second was open (and all three raised
    # today are not yet raised then).
    ChallengeStep.objects.filter(challenge=second, result=ChallengeStep.Result.DECISION_CHANGED).update(
        answered_at=timezone.now() + timedelta(days=2)
    )
    got = {f.group: f.numerator for f in figures(BY_ID["escalations"], [q], [areas.wales()]) if f.group}
    assert got == {"resolved_practitioner": 1, "open": 2}


def _with_units(measure_id: str, units: list[Unit]):
    return dataclasses.replace(BY_ID[measure_id], units=lambda since, until, as_of: units)


def test_a_hidden_kind_cannot_be_worked_out_from_the_whole(prydderch):
    """Ceredigion's 13 alerts: 9 of one rule, 4 of another. The 4 is hidden; the 9 is hidden
    too, or 13 - 9 would give it away. Where a child sits under two kinds (the register) the
    kinds add up to more than the whole and nothing is hidden for that reason."""
    cer = prydderch.places.ceredigion.pk
    day = date(2026, 8, 1)
    units = [Unit(cer, day, True, f"a:{i}", group="was-not-brought") for i in range(9)]
    units += [Unit(cer, day, True, f"b:{i}", group="repeat-domestic-abuse") for i in range(4)]
    m = _with_units("alerts-raised", units)
    q3 = periods.quarter(2026, 3)
    got = {f.group: f for f in figures(m, [q3], [areas.find("ceredigion")])}
    assert got[""].numerator == 13 and not got[""].suppressed
    assert got["repeat-domestic-abuse"].primary
    assert got["was-not-brought"].secondary and got["was-not-brought"].value is None
    # Rates by kind: the same for numerators and denominators (9 of 14 and 3 of 5: the second
    # hidden, so the first too).
    units = [Unit(cer, day, i < 9, f"x:{i}", group="was-not-brought") for i in range(14)]
    units += [Unit(cer, day, i < 3, f"y:{i}", group="repeat-domestic-abuse") for i in range(5)]
    got = {
        f.group: f for f in figures(_with_units("alerts-acknowledged-on-time", units), [q3], [areas.find("ceredigion")])
    }
    assert got["repeat-domestic-abuse"].primary and got["was-not-brought"].secondary
    assert not got[""].suppressed and (got[""].numerator, got[""].denominator) == (12, 19)
    # Overlapping kinds: 10 children, 3 of them under two categories; the kinds add up to 13.
    units = [Unit(cer, day, True, f"r:{i}", group="neglect") for i in range(10)]
    units += [Unit(cer, day, True, f"r:{i}", group="emotional") for i in range(3)]
    got = {f.group: f for f in figures(_with_units("register-by-category", units), [q3], [areas.find("ceredigion")])}
    assert got[""].numerator == 10 and got["emotional"].primary
    assert not got["neglect"].suppressed and not got[""].suppressed


def test_both_kinds_hidden_and_the_whole_shown(prydderch):
    """Alerts closed in Wales, 3 with early help and 7 with no further action: the 3 is hidden,
    so the 7 is too; the whole, 10, is shown, since nothing shown can be taken from it."""
    cer = prydderch.places.ceredigion.pk
    day = date(2026, 8, 1)
    units = [Unit(cer, day, True, f"o:{i}", group="early_help") for i in range(3)]
    units += [Unit(cer, day, True, f"p:{i}", group="no_further_action") for i in range(7)]
    got = {
        f.group: f for f in figures(_with_units("alert-outcomes", units), [periods.quarter(2026, 3)], [areas.wales()])
    }
    assert got["early_help"].primary and got["no_further_action"].secondary and not got[""].suppressed


def test_return_and_api_take_the_as_of_day_and_say_it(client, prydderch, api_client):
    """The return's rows and the API's answer are the figures as they stood at the day asked
    for (never after today), and say which day that was."""
    from cylch.access.roles import Role
    from tests import factories

    p = prydderch
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=date(2026, 3, 26))
    icpc = episode.deadlines.get(kind=DueKind.ICPC)
    Deadline.objects.filter(pk=icpc.pk).update(met_on=date(2026, 4, 20))
    _copies(icpc, [date(2026, 4, 20)] * 4 + [date(2026, 4, 21)] * 5)
    api = api_client(p.orgs.childrens_services)
    body = api.get("/api/v1/measures/icpc-in-time?area=ceredigion&period=2026-Q2&as_of=2026-04-20").json()
    assert body["as_of"] == "2026-04-20"
    assert [(f["numerator"], f["denominator"]) for f in body["figures"] if f["group"] == ""] == [(5, 5)]
    later = api.get("/api/v1/measures/icpc-in-time?area=ceredigion&period=2026-Q2&as_of=2999-01-01").json()
    assert later["as_of"] == timezone.localdate().isoformat()
    assert [(f["numerator"], f["denominator"]) for f in later["figures"] if f["group"] == ""] == [(5, 10)]

    analyst = factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=factories.organisation(
        code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
        name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None))  # fmt: skip
    client.force_login(analyst)
    response = client.get(reverse("insight:return"), {"measures": ["icpc-in-time"], "period": "2026-Q2",
                                                       "area_kinds": ["la"], "format": "csv", "as_of": "2026-04-20"})  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    ceredigion = next(r for r in rows if r["area_code"] == "ceredigion")
    assert (ceredigion["numerator"], ceredigion["denominator"], ceredigion["as_of"]) == ("5", "5", "2026-04-20")
    page = client.get(reverse("insight:measure", args=["icpc-in-time"]), {"area": "ceredigion", "as_of": "2026-04-20"})
    body = page.content.decode()
    assert "Figures as they stood at the end of 20 April 2026." in body
    assert 'name="as_of" value="2026-04-20"' in body  # kept when the area or period is changed
    assert "Q2 2026 so far" in body  # the quarter still running on that day


def test_a_day_or_period_outside_the_years_figures_can_stand_at_is_refused_by_name(client, prydderch, api_client):
    """The API fuzzer's find: ``as_of=0001-01-01`` went back a quarter before the first date
    Python holds and answered 500. Now: 422 naming as_of or the period, the page reads today,
    and the return form says what to give."""
    from cylch.access.roles import Role
    from tests import factories

    api = api_client(prydderch.orgs.childrens_services)
    early = api.get("/api/v1/measures/icpc-in-time?area=wales&as_of=0001-01-01")
    assert early.status_code == 422 and "as_of 0001-01-01" in early.json()["detail"]
    late = api.get("/api/v1/measures/icpc-in-time?area=wales&period=9999-12")
    assert late.status_code == 422 and "9999-12" in late.json()["detail"]
    assert api.get("/api/v1/measures/icpc-in-time?area=wales&as_of=1900-01-01").status_code == 200

    analyst = factories.demo_practitioner(username="board.analyst", role=Role.BOARD_ANALYST, organisation=factories.organisation(
        code="mww-board", kind="safeguarding_board", name_en="Mid and West Wales Safeguarding Board",
        name_cy="Bwrdd Diogelu Canolbarth a Gorllewin Cymru", local_authority=None))  # fmt: skip
    client.force_login(analyst)
    page = client.get(reverse("insight:measure", args=["icpc-in-time"]), {"area": "wales", "as_of": "0001-01-01"})
    assert page.status_code == 200 and "Figures as they stood" not in page.content.decode()
    form = client.get(reverse("insight:return"), {"measures": ["icpc-in-time"], "period": "2026-Q2",
                                                  "area_kinds": ["la"], "format": "csv", "as_of": "0001-01-01"})  # fmt: skip
    assert form.status_code == 200 and "Give a date in 1900 or later" in form.content.decode()


def test_every_measure_has_a_hand_built_test_with_a_known_answer():
    """Every measure id is asked for by a test that builds its records by hand (here or in
    tests/test_insight_measures.py). A new measure without one fails here."""
    here = Path(__file__).parent
    source = (here / "test_insight_measures.py").read_text() + (here / "test_insight_edges.py").read_text()
    asked = set(re.findall(r"""(?:whole|pair|by_group|rate|_with_units)\(\s*["']([a-z0-9-]+)["']""", source))
    asked |= set(re.findall(r"""BY_ID\[["']([a-z0-9-]+)["']\]""", source))
    assert {m.id for m in MEASURES} - asked == set()


def test_alerts_that_led_to_something_being_done_by_rule(prydderch):
    """Closed alerts of two rules: was-not-brought, a report and early help against no action
    needed (2 of 3); repeat domestic abuse, a meeting against already in hand (1 of 2). One
    closed after the as-of day is not yet closed then."""
    from cylch.rules.models import Alert

    p = prydderch
    now = timezone.now()
    common = {"pack": "wales@test", "severity": "high", "local_authority": p.places.ceredigion,
              "owner_organisation": p.orgs.childrens_services, "evidence_updated_at": now,
              "raised_at": now - timedelta(days=10), "acknowledge_by": now - timedelta(days=9)}  # fmt: skip
    closed = now - timedelta(days=2)
    for i, (rule, outcome) in enumerate([("was-not-brought", "report_made"), ("was-not-brought", "early_help"),
                                         ("was-not-brought", "no_action"), ("repeat-domestic-abuse", "multi_agency_meeting"),
                                         ("repeat-domestic-abuse", "already_in_hand")]):  # fmt: skip
        Alert.objects.create(rule_id=rule, scope_key=f"s{i}", outcome=outcome, closed_at=closed, **common)
    span = periods.Period(timezone.localdate() - timedelta(days=30), timezone.localdate(), "span")
    by_rule = {
        f.group: (f.numerator, f.denominator) for f in figures(BY_ID["alerts-acted-on"], [span], [areas.wales()])
    }
    assert by_rule == {"": (3, 5), "was-not-brought": (2, 3), "repeat-domestic-abuse": (1, 2)}
    before = timezone.localdate() - timedelta(days=3)
    assert pair("alerts-acted-on", span, as_of=before) == (0, 0)


def test_a_quarter_is_named_as_each_language_writes_it():
    from django.utils import translation

    quarter = periods.quarter(2026, 3)
    with translation.override("en"):
        assert quarter.label == "Q3 2026"
    with translation.override("cy"):
        assert quarter.label == "Ch3 2026"  # Chwarter, as Welsh Government statistics write it

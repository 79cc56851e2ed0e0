"""The front door: reference numbers, clocks, reports on the spine, triage history, decisions,
feedback to the report maker, and the outbox surviving a mail server that is down."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from cylch.core.calendar import is_out_of_hours
from cylch.events.models import Event
from cylch.notify.models import Notification, OutboxMessage, OutboxStatus
from cylch.notify.services import deliver_due
from cylch.reports import reference as refs
from cylch.reports.clocks import reports_sweep
from cylch.reports.models import Channel, Outcome, Report, Status
from cylch.reports.selectors import queue_for, triage_history
from cylch.reports.services import SubjectIn, report_decide, report_submit

LONDON = ZoneInfo("Europe/London")
NEGLECT = "social_care.neglect.concern"

# ---- reference numbers -------------------------------------------------------------------

data_strings = st.text(alphabet=refs.ALPHABET, min_size=refs.DATA_LENGTH, max_size=refs.DATA_LENGTH)


@settings(max_examples=300)
@given(data_strings, st.integers(min_value=0, max_value=refs.DATA_LENGTH), st.sampled_from(refs.ALPHABET))
def test_any_single_wrong_character_is_caught(data, position, replacement):
    """Changing any one character (the check character included) makes the reference invalid."""
    full = data + refs.check_character(data)
    assert refs.is_valid(full)
    changed = full[:position] + replacement + full[position + 1 :]
    assert refs.is_valid(changed) == (changed == full)


@settings(max_examples=300)
@given(data_strings, st.integers(min_value=0, max_value=refs.DATA_LENGTH - 1))
def test_any_swap_of_neighbours_is_caught(data, position):
    """Swapping two adjacent different characters makes the reference invalid."""
    full = data + refs.check_character(data)
    swapped = full[:position] + full[position + 1] + full[position] + full[position + 2 :]
    assert refs.is_valid(swapped) == (swapped == full)


def test_references_avoid_look_alike_characters_and_read_in_groups():
    """No 0, O, 1, I or L; shown as XXXX-XXXX-C and accepted with spaces, dashes or lower case."""
    assert not set("0O1IL") & set(refs.ALPHABET)
    ref = refs.new_reference()
    assert len(ref) == 11 and ref[4] == ref[9] == "-"
    assert refs.is_valid(ref) and refs.is_valid(ref.lower().replace("-", " "))
    assert not refs.is_valid("ABCD") and not refs.is_valid(ref[:-1] + "0")


# ---- clocks ------------------------------------------------------------------------------


def received(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def submit(prydderch, *, when=None, children=None, maker=None, **kwargs) -> Report:
    maker = maker or prydderch.staff.health_visitor
    return report_submit(
        channel=kwargs.pop("channel", Channel.PRACTITIONER),
        children=children or [SubjectIn(person=prydderch.alys)],
        concern_codes=kwargs.pop("concern_codes", [NEGLECT]),
        what_happened=kwargs.pop("what_happened", "Alys came to clinic hungry and with head lice again."),
        maker=maker,
        received_at=when or timezone.now() - timedelta(hours=1),
        **kwargs,
    )


def test_seven_working_days_across_christmas(prydderch):
    """A report received on Friday 19 December 2025 is owed an outcome by Friday 2 January 2026,
    and a decision by 17:00 on Monday 22 December."""
    report = submit(prydderch, when=received(date(2025, 12, 19)))
    assert report.feedback_due_on == date(2026, 1, 2)
    assert timezone.localtime(report.decision_due_at) == received(date(2025, 12, 22), 17)


def test_seven_working_days_across_easter(prydderch):
    """Received Thursday 2 April 2026 (Good Friday and Easter Monday follow): outcome by 15 April."""
    report = submit(prydderch, when=received(date(2026, 4, 2)))
    assert report.feedback_due_on == date(2026, 4, 15)
    assert timezone.localtime(report.decision_due_at) == received(date(2026, 4, 7), 17)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (received(date(2026, 11, 18), 10), False),  # Wednesday morning
        (received(date(2026, 11, 18), 18), True),  # Wednesday evening
        (received(date(2026, 11, 20), 14, 59), False),  # Friday before 15:00
        (received(date(2026, 11, 20), 15, 1), True),  # Friday after 15:00: weekend ahead
        (received(date(2026, 4, 2), 15, 30), True),  # Thursday before Good Friday
        (received(date(2026, 11, 21), 11), True),  # Saturday
    ],
)
def test_out_of_hours_goes_to_the_emergency_duty_team_too(moment, expected):
    """After 15:00 before a weekend or bank holiday, or out of hours: the EDT queue as well."""
    assert is_out_of_hours(moment) is expected


# ---- receiving a report ------------------------------------------------------------------


def test_a_report_about_two_siblings_lands_on_both_records_and_is_acknowledged(prydderch):
    """A known child and a brother not yet known: both get the report and its concerns on their
    record; the unknown brother becomes an agency record and a person; the maker is acknowledged."""
    report = submit(
        prydderch,
        children=[
            SubjectIn(person=prydderch.alys),
            SubjectIn(given_name="Gethin", family_name="Prydderch", date_of_birth="2021-05-02"),
        ],
        child_words="Mam sleeps all day.",
    )
    assert refs.is_valid(report.reference)
    assert report.local_authority == prydderch.places.ceredigion  # routed by Alys's address
    children = [s.person for s in report.subjects.filter(role="child")]
    assert len(children) == 2 and prydderch.alys in children
    gethin = next(p for p in children if p != prydderch.alys)
    assert gethin.links.get().agency_record.local_id == f"{report.reference}-2"
    for child in children:
        codes = set(Event.objects.filter(person=child).values_list("code", flat=True))
        assert {"process.report.received", NEGLECT, "voice.lived_experience", "process.report.acknowledged"} <= codes
    ack = Notification.objects.get(recipient=prydderch.staff.health_visitor, kind="report_acknowledged")
    assert report.reference in ack.subject
    assert report in queue_for(prydderch.staff.social_worker)
    assert report not in queue_for(prydderch.staff.other_la_social_worker)


def test_a_public_report_needs_a_way_to_hear_back_and_is_emailed(prydderch):
    """A member of the public must give an email or phone; the acknowledgement is emailed in their language."""
    with pytest.raises(ValidationError) as exc:
        report_submit(
            channel=Channel.PUBLIC,
            children=[SubjectIn(given_name="Twm")],
            concern_codes=[NEGLECT],
            what_happened="Left alone at night.",
        )
    assert "maker_email" in exc.value.message_dict
    report = report_submit(channel=Channel.PUBLIC, language="cy", children=[SubjectIn(given_name="Twm", family_name="Prydderch")],
                           concern_codes=[NEGLECT], what_happened="Left alone at night.", maker_email="cymydog@example.invalid")  # fmt: skip
    message = OutboxMessage.objects.get(to="cymydog@example.invalid")
    assert report.reference in message.subject and "Report received" not in message.subject  # Welsh, not English
    assert report.local_authority is None  # no address known: the national queue


def test_nothing_is_half_written_when_a_child_has_a_bad_nhs_number(prydderch):
    """A bad NHS number for the second child is named, and no report, person or event is stored."""
    before = (Report.objects.count(), Event.objects.count())
    with pytest.raises(ValidationError) as exc:
        submit(
            prydderch,
            children=[SubjectIn(person=prydderch.alys), SubjectIn(given_name="Gethin", nhs_number="1234567890")],
        )
    assert "children.1.nhs_number" in exc.value.message_dict
    assert (Report.objects.count(), Event.objects.count()) == before


# ---- triage history -----------------------------------------------------------------------


def test_triage_shows_earlier_reports_for_a_sibling_and_the_household_and_warns_of_repeats(prydderch):
    """A new report about Twm shows an earlier report about Efa (his half-sister, living elsewhere)
    and one that named his mother Ceri, with the repeat warning because both were below threshold."""
    first = submit(prydderch, children=[SubjectIn(person=prydderch.efa)], when=timezone.now() - timedelta(days=100))
    report_decide(
        report=first,
        user=prydderch.staff.other_la_social_worker,
        outcome=Outcome.NO_FURTHER_ACTION,
        rationale="Below threshold: no evidence of harm found.",
    )
    second = submit(
        prydderch,
        children=[SubjectIn(given_name="Cai", family_name="Morris")],
        adults=[SubjectIn(role="adult", person=prydderch.ceri, relationship_to_child="aunt")],
        local_authority=prydderch.places.ceredigion,
        when=timezone.now() - timedelta(days=50),
    )
    report_decide(
        report=second,
        user=prydderch.staff.social_worker,
        outcome=Outcome.NO_FURTHER_ACTION,
        rationale="Below threshold again; advice given to the aunt.",
    )
    latest = submit(prydderch, children=[SubjectIn(person=prydderch.twm)])
    history = triage_history(latest)
    whys = {e.report.pk: e.why for e in history.earlier_reports}
    assert whys == {first.pk: "sibling", second.pk: "household"}
    assert history.repeat_warning == {"count": 3, "below": 2, "outcomes": ["No further action", "No further action"]}
    assert prydderch.orgs.gp in history.agencies


# ---- decisions and feedback --------------------------------------------------------------


def test_only_the_right_front_door_decides_and_the_maker_hears_the_outcome(prydderch):
    """Another authority cannot decide; the right one can, once, with reasons; the report maker is told."""
    report = submit(prydderch)
    with pytest.raises(PermissionDenied):
        report_decide(
            report=report, user=prydderch.staff.other_la_social_worker, outcome=Outcome.EARLY_HELP, rationale="x" * 30
        )
    with pytest.raises(PermissionDenied):
        report_decide(report=report, user=prydderch.staff.gp, outcome=Outcome.EARLY_HELP, rationale="x" * 30)
    with pytest.raises(ValidationError) as exc:
        report_decide(
            report=report, user=prydderch.staff.social_worker, outcome=Outcome.EARLY_HELP, rationale="too short"
        )
    assert "rationale" in exc.value.message_dict
    report_decide(
        report=report,
        user=prydderch.staff.social_worker,
        outcome=Outcome.EARLY_HELP,
        rationale="Family support team to visit this week.",
    )
    report.refresh_from_db()
    assert report.status == Status.DECIDED and report.feedback_sent_at is not None
    outcome = Notification.objects.get(recipient=prydderch.staff.health_visitor, kind="report_outcome")
    assert "Early help" in outcome.body and "Family support team" in outcome.body
    assert Event.objects.filter(
        person=prydderch.alys, code="process.report.decision", details__outcome="early_help"
    ).exists()
    with pytest.raises(ValidationError):
        report_decide(
            report=report,
            user=prydderch.staff.social_worker,
            outcome=Outcome.ASSESSMENT,
            rationale="Changing my mind about it.",
        )


def test_overdue_decisions_escalate_and_overdue_outcomes_chase_once(prydderch):
    """Past the 1-day deadline the manager is told; past 7 working days the manager is told and the
    maker is asked to chase; running the sweep again sends nothing new."""
    report = submit(prydderch, when=timezone.now() - timedelta(days=20))
    first = reports_sweep()
    assert (first.escalated, first.chased) == (1, 1)
    assert (
        Notification.objects.filter(recipient=prydderch.staff.team_manager, kind="report_decision_overdue").count() == 1
    )
    assert (
        Notification.objects.filter(recipient=prydderch.staff.team_manager, kind="report_feedback_overdue").count() == 1
    )
    chase = Notification.objects.get(recipient=prydderch.staff.health_visitor, kind="report_chase")
    assert report.reference in chase.body
    again = reports_sweep()
    assert (again.warned, again.escalated, again.chased) == (0, 0, 0)


def test_an_email_survives_a_mail_server_that_is_down_and_is_sent_exactly_once(prydderch, smtp_server, settings):
    """With the mail server down the acknowledgement stays queued; when it is back, one email is sent."""
    report = report_submit(channel=Channel.PUBLIC, children=[SubjectIn(given_name="Twm")], concern_codes=[NEGLECT],
                           what_happened="Left alone at night.", maker_email="neighbour@example.invalid")  # fmt: skip
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there: connection refused
    assert deliver_due() == (0, 1)
    message = OutboxMessage.objects.get(to="neighbour@example.invalid")
    assert message.status == OutboxStatus.PENDING and message.last_error
    settings.EMAIL_PORT = real_port
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())  # the retry time arrives
    assert deliver_due() == (1, 0)
    assert deliver_due() == (0, 0)
    mails = [m for m in smtp_server.received if m.rcpt_tos == ["neighbour@example.invalid"]]
    assert len(mails) == 1 and report.reference in mails[0].subject


def test_a_child_typed_in_with_a_unique_name_and_birthday_is_the_child_already_known(prydderch):
    """Typing Alys Prydderch with her date of birth finds her record (so triage sees her history);
    a child with no date of birth starts a new person for linkage to review later."""
    report = submit(
        prydderch,
        children=[
            SubjectIn(
                given_name="alys", family_name="PRYDDERCH", date_of_birth=prydderch.alys.date_of_birth.isoformat()
            ),
            SubjectIn(given_name="Twm", family_name="Prydderch"),
        ],
    )
    people = [s.person for s in report.subjects.filter(role="child").order_by("pk")]
    assert people[0] == prydderch.alys
    assert people[0].links.filter(method="demographic", agency_record__local_id=f"{report.reference}-1").exists()
    assert people[1] != prydderch.twm


def test_an_already_open_case_goes_to_the_allocated_worker(prydderch):
    """Deciding "already open" passes the report to the child's allocated social worker."""
    from cylch.identity.services import allocation_create

    allocation_create(
        person=prydderch.alys,
        organisation=prydderch.orgs.childrens_services,
        kind="social_worker",
        practitioner=prydderch.staff.team_manager,
    )
    report = submit(prydderch)
    report_decide(
        report=report,
        user=prydderch.staff.social_worker,
        outcome=Outcome.ALREADY_OPEN,
        rationale="Alys already has an allocated worker; passed on.",
    )
    note = Notification.objects.get(recipient=prydderch.staff.team_manager, kind="report_passed_on")
    assert report.reference in note.body or report.reference in note.subject


def test_triage_counts_reports_that_exist_only_on_the_spine(prydderch):
    """Two earlier reports about Alys, recorded as events before Cylch (each judged below
    threshold), appear in triage with their outcomes and raise the repeat warning."""
    from cylch.events.services import record_event

    for days, outcome in [(200, "no_further_action"), (90, "information_advice_assistance")]:
        when = timezone.now() - timedelta(days=days)
        record_event(organisation=prydderch.orgs.childrens_services, code="process.report.received", person=prydderch.alys,
                     occurred_at=when, external_id=f"legacy-{days}-r")  # fmt: skip
        record_event(organisation=prydderch.orgs.childrens_services, code="process.report.decision", person=prydderch.alys,
                     occurred_at=when + timedelta(hours=20), details={"outcome": outcome}, external_id=f"legacy-{days}-d")  # fmt: skip
    history = triage_history(submit(prydderch))
    assert [(e.why, e.outcome, e.report) for e in history.earlier_reports] == [
        ("child", "information_advice_assistance", None),
        ("child", "no_further_action", None),
    ]
    assert history.repeat_warning["count"] == 3 and history.repeat_warning["below"] == 2


# ---- found in review: queues, households, feedback that was never sent -------------------------


def test_children_at_different_addresses_get_different_households(prydderch):
    from cylch.identity.selectors import current_household

    report = submit(prydderch, children=[
        SubjectIn(given_name="Nel", family_name="Bowen", address_line="1 High Street", postcode="SA48 7AA"),
        SubjectIn(given_name="Ianto", family_name="Bowen", address_line="99 Other Road", postcode="SA48 9ZZ"),
        SubjectIn(given_name="Lili", family_name="Bowen", address_line="1 high street", postcode="sa487aa"),
    ])  # fmt: skip
    nel, ianto, lili = (s.person for s in report.subjects.order_by("pk"))
    assert current_household(nel) != current_household(ianto)
    assert current_household(nel) == current_household(lili)  # the same address written differently


def test_a_child_reported_at_a_home_cylch_holds_joins_that_household(prydderch):
    """A new child named at the family's address, written the reporter's way, joins the home the
    agencies already place the family in (not a household of the report's own, which would
    split the family's chronology); another flat at the same postcode is another home."""
    from cylch.identity.selectors import current_household

    fam = prydderch
    report = submit(fam, children=[
        SubjectIn(given_name="Gwion", family_name="Prydderch", address_line="4 maes-y-felin", postcode="SY23 3ZZ"),
    ])  # fmt: skip
    gwion = report.subjects.get().person
    assert gwion.pk not in {fam.alys.pk, fam.twm.pk, fam.ceri.pk}
    held = fam.home
    assert current_household(gwion) == held

    report = submit(fam, children=[
        SubjectIn(given_name="Mali", family_name="Jones", address_line="5 Maes y Felin", postcode="SY23 3ZZ"),
    ])  # fmt: skip
    assert current_household(report.subjects.get().person) not in (None, held)


def test_an_outcome_nobody_could_be_sent_stays_due_until_someone_phones(prydderch):
    from cylch.reports.selectors import feedback_due
    from cylch.reports.services import report_feedback_by_telephone

    report = report_submit(
        channel=Channel.PUBLIC, children=[SubjectIn(given_name="Twm", family_name="Prydderch", address_line="Y Bwthyn",
                                                    postcode="SA46 0AA")],
        concern_codes=[NEGLECT], what_happened="Left alone at night.", maker_phone="01970 000000",
        local_authority=prydderch.places.ceredigion,
    )  # fmt: skip
    sw = prydderch.staff.social_worker
    report_decide(report=report, user=sw, outcome=Outcome.EARLY_HELP, rationale="Family support team to visit.")
    report.refresh_from_db()
    assert report.feedback_sent_at is None
    assert not Event.objects.filter(code="process.report.feedback_sent").exists()
    assert report in feedback_due(prydderch.staff.team_manager, today=report.feedback_due_on)
    report_feedback_by_telephone(report=report, user=sw)
    report.refresh_from_db()
    assert report.feedback_sent_at is not None
    assert Event.objects.get(code="process.report.feedback_sent").details["method"] == "telephone"
    with pytest.raises(ValidationError):
        report_feedback_by_telephone(report=report, user=sw)


def test_a_user_without_an_organisation_sees_only_their_own_reports(prydderch):
    from cylch.access.roles import Role
    from cylch.reports.selectors import reports_made_by
    from tests import factories

    report_submit(channel=Channel.PUBLIC, children=[SubjectIn(given_name="Twm")], concern_codes=[NEGLECT],
                  what_happened="Left alone at night.", maker_email="cymydog@example.invalid")  # fmt: skip
    loose = factories.practitioner(username="no-org", role=Role.THIRD_SECTOR_WORKER, organisation=None)
    assert not reports_made_by(loose).exists()


def test_the_national_queue_is_decided_only_by_the_national_front_door(prydderch):
    from cylch.reports.selectors import out_of_hours_queue

    report = report_submit(channel=Channel.PUBLIC, children=[SubjectIn(given_name="Twm")], concern_codes=[NEGLECT],
                           what_happened="Left alone at night.", maker_email="cymydog@example.invalid")  # fmt: skip
    assert report.local_authority is None
    with pytest.raises(PermissionDenied):
        report_decide(report=report, user=prydderch.staff.other_la_social_worker, outcome=Outcome.EARLY_HELP,
                      rationale="Not ours to decide, surely.")  # fmt: skip
    Report.objects.filter(pk=report.pk).update(out_of_hours=True)
    assert not out_of_hours_queue(prydderch.staff.social_worker).filter(pk=report.pk).exists()

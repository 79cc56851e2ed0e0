"""The synthetic Wales demo: deterministic, valid against the taxonomy, and telling the reviews' stories."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from cylch.access.models import BoardArea, LocalAuthority, Organisation, User
from cylch.access.roles import Role
from cylch.core import taxonomy
from cylch.demo.builder import build
from cylch.events.models import Event
from cylch.identity.models import AgencyRecord, Household, Person, Relationship
from cylch.identity.validators import validate_nhs_number, validate_upn
from cylch.protection.models import Registration
from cylch.reports.models import Report

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 1)


def snapshot() -> str:
    """A digest of the demo's content, independent of database ids and build time."""
    rows = {
        "persons": list(
            Person.objects.order_by("public_id").values_list(
                "public_id",
                "given_name",
                "family_name",
                "date_of_birth",
                "sex",
                "nhs_number",
                "upn",
                "is_unborn",
                "expected_date_of_delivery",
            )
        ),
        "households": list(
            Household.objects.order_by("public_id").values_list(
                "public_id", "address_line", "postcode", "local_authority__code"
            )
        ),
        "records": list(
            AgencyRecord.objects.order_by("public_id").values_list(
                "public_id",
                "organisation__code",
                "local_id",
                "given_name",
                "family_name",
                "date_of_birth",
                "postcode",
                "nhs_number",
                "upn",
                "links__person__public_id",
                "links__method",
            )
        ),
        "relationships": sorted(
            Relationship.objects.values_list(
                "person__public_id", "kind", "relative__public_id", "parental_responsibility", "lives_with"
            )
        ),
        "events": list(
            Event.objects.order_by("public_id").values_list(
                "public_id",
                "code",
                "person__public_id",
                "organisation__code",
                "occurred_at",
                "summary",
                "details",
                "external_id",
            )
        ),
        "organisations": list(Organisation.objects.order_by("code").values_list("code", "kind", "name_en", "name_cy")),
    }
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


def build_and_snapshot(seed: int) -> tuple[str, int]:
    with transaction.atomic():
        build(seed=seed, persons=400, as_of=AS_OF, events_per_person=3, progress=False)
        digest, events = snapshot(), Event.objects.count()
        transaction.set_rollback(True)
    return digest, events


def test_same_seed_builds_the_same_data_and_another_seed_does_not():
    """Two builds with seed 5 are identical, ids included; seed 6 differs."""
    first, n_events = build_and_snapshot(5)
    again, _ = build_and_snapshot(5)
    other, _ = build_and_snapshot(6)
    assert n_events > 500
    assert first == again
    assert first != other


@pytest.fixture
def demo():
    return build(seed=2026, persons=600, as_of=AS_OF, events_per_person=4, progress=False)


def test_geography_organisations_and_demo_accounts(demo):
    """All of Wales is there, every organisation kind is, and every role has a demo account."""
    assert BoardArea.objects.count() == 6
    assert LocalAuthority.objects.count() == 22
    assert Organisation.objects.filter(kind="health_board").count() == 7
    assert Organisation.objects.filter(kind="police").count() == 4
    for kind in [
        "la_childrens_services",
        "gp_practice",
        "midwifery",
        "health_visiting",
        "emergency_department",
        "camhs",
        "school",
        "housing",
        "third_sector",
    ]:
        assert Organisation.objects.filter(kind=kind).exists(), kind
    usernames = set(User.objects.filter(is_demo=True).values_list("username", flat=True))
    assert usernames == {r.value for r in Role if r != Role.SYSTEM} | {"national-review-panel"}
    assert User.objects.get(username="front-door").check_password("cylch-demo")
    # Towns by their Welsh names in Welsh, and a Welsh-medium school by its Welsh name in both.
    assert Organisation.objects.filter(name_en="Ysgol Gymraeg Caerdydd", name_cy="Ysgol Gymraeg Caerdydd").exists()
    assert Organisation.objects.filter(name_en="Ely High School", name_cy="Ysgol Uwchradd Trelái").exists()
    assert Organisation.objects.filter(name_en="Ysgol Gymraeg Y Barri").exists()
    assert not Organisation.objects.filter(name_cy__contains="Cardiff").exists()


def test_every_event_fits_the_taxonomy_and_identifiers_are_valid(demo):
    """Generated details validate against each code's schema; NHS numbers and UPNs pass their checks."""
    for event in Event.objects.all().iterator():
        code = taxonomy.get(event.code)
        assert code is not None, event.code
        assert list(code.validator.iter_errors(event.details)) == [], (event.code, event.details)
        assert event.sensitivity == code.sensitivity
    for nhs in Person.objects.exclude(nhs_number="").values_list("nhs_number", flat=True):
        validate_nhs_number(nhs)
    for upn in AgencyRecord.objects.exclude(upn="").values_list("upn", flat=True):
        validate_upn(upn)


def test_records_disagree_like_real_ones(demo):
    """Some agency records carry another spelling, no NHS number, or stand unmatched as a separate person."""
    records = AgencyRecord.objects.select_related("organisation")
    linked = {r.pk: r for r in records}
    disagree = sum(
        1
        for r in records.prefetch_related("links__person")
        for link in r.links.all()
        if link.active and (link.person.given_name != r.given_name or link.person.date_of_birth != r.date_of_birth)
    )
    assert disagree > 10
    assert records.filter(organisation__kind="police").exclude(nhs_number="").count() == 0
    assert records.filter(links__method="new_person", organisation__kind__in=["police", "housing"]).exists()
    assert Relationship.objects.filter(kind="half_sibling").exists()
    assert Relationship.objects.filter(kind="parent", lives_with=False).exists()  # fathers living elsewhere
    assert Person.objects.filter(is_unborn=True).exists()
    assert linked


def test_the_reviews_scenarios_are_there(demo):
    """Nine standard-risk domestic abuse notices at one address in a year; four health services each
    seeing one missed appointment; self-harm known to CAMHS not school; no heating for nine months;
    three reports below threshold."""
    leanne = Person.objects.distinct().get(
        given_name="Leanne", family_name="Morgan", events__code="police.ppn.domestic_abuse"
    )
    ppns = Event.objects.filter(person=leanne, code="police.ppn.domestic_abuse")
    assert ppns.count() == 9
    assert {e.details["risk_level"] for e in ppns} == {"standard"}
    assert ppns.values("household").distinct().count() == 1
    span = max(e.occurred_at for e in ppns) - min(e.occurred_at for e in ppns)
    assert span <= timedelta(days=365)

    twm = Person.objects.get(given_name="Twm", family_name="Prydderch", date_of_birth__year__gte=AS_OF.year - 4)
    wnb = Event.objects.filter(person=twm, code="health.appointment.was_not_brought")
    assert wnb.count() == 8
    assert len({e.details["service"] for e in wnb}) >= 4

    # The scenario's Megan (the random background may hold another Megan Parry who self-harmed).
    megan = Person.objects.distinct().get(
        given_name="Megan", family_name="Parry", events__summary__startswith="Megan yn dawel iawn"
    )
    assert (
        Event.objects.filter(
            person=megan, code="health.self_harm.incident", organisation__kind="emergency_department"
        ).count()
        == 2
    )
    assert not Event.objects.filter(person=megan, organisation__kind="school", code__startswith="health.").exists()

    heating = Event.objects.filter(
        code="housing.utilities.none", person__family_name="Davies", details__duration_days__gte=270
    )
    assert heating.exists()

    jac = Person.objects.distinct().get(given_name="Jac", family_name="Roberts", events__code="process.report.decision")
    decisions = Event.objects.filter(person=jac, code="process.report.decision")
    assert [e.details["outcome"] for e in decisions] == ["no_further_action"] * 3


def test_the_review_repository_and_the_reviews_in_progress(demo):
    """At least 33 coded reviews across all six boards, and tracked reviews at every stage."""
    from cylch.reviews import quality
    from cylch.reviews import recommendations as tracker
    from cylch.reviews.models import CodedReview, Review, ReviewCode

    coded = CodedReview.objects.filter(review__isnull=True)
    assert coded.count() >= 33
    assert coded.values("board_area").distinct().count() == 6
    assert coded.filter(is_public=True).count() >= 20
    for code in ("parent.mental_health", "parent.domestic_abuse", "agency.childrens_services", "theme.coordination"):
        assert ReviewCode.objects.filter(code=code).count() >= 5, code
    assert coded.exclude(child_age_months=None).values("child_age_months").distinct().count() > 10
    from cylch.reviews import analysis

    result = analysis.analyse(analysis.select())
    for group in result.associations:  # TA figures 5 and 6: both maps have something to show
        assert group.significant and group.map is not None, (group.key, group.reason, group.map_reason)
    reviews = list(Review.objects.all())
    assert len(reviews) == 7
    done = [r for r in reviews if r.completed_on]
    assert len(done) == 2 and all(quality.assess(r).score == 100 for r in done)
    assert any(quality.assess(r).to_fix for r in reviews if not r.completed_on)
    assert tracker.overdue(tracker.tracked()).count() >= 10
    from cylch.insight import areas, periods
    from cylch.insight.compute import figures
    from cylch.insight.measures import BY_ID

    quarter = periods.containing(AS_OF, "quarter")
    shown = [f for f in figures(BY_ID["review-recommendations-overdue"], [quarter], areas.all_areas(), as_of=AS_OF)
             if f.group == "" and not f.suppressed and f.numerator]  # fmt: skip
    assert {f.area.kind for f in shown} >= {"wales", "board"}


def test_a_few_homes_are_held_twice_and_cardiffs_front_door_is_shown_cardiffs(demo, client):
    """Four homes are each two households with the family split across them (one found by its
    UPRN alone, three by spellings that read alike): ``duplicate_households`` finds exactly
    those, and the households page shows Cardiff's front door the three in Cardiff, with who
    lives at each spelling, and not Swansea's."""
    from django.urls import reverse

    from cylch.identity.households import address_of_household
    from cylch.identity.households.merge import duplicate_households, duplicates_for

    pairs = duplicate_households()
    assert len(pairs) == 4
    assert sorted(d.keep.local_authority.code for d in pairs) == ["cardiff"] * 3 + ["swansea"]
    for d in pairs:
        assert d.exact and d.keep_members and d.other_members
        assert d.keep.address_line != d.other.address_line  # written differently, held twice
        assert not {p.pk for p in d.keep_members} & {p.pk for p in d.other_members}
        surnames = {p.family_name for p in d.keep_members}
        assert surnames & {p.family_name for p in d.other_members}, "one family, split"
    by_uprn = [d for d in pairs if d.keep.uprn]
    assert len(by_uprn) == 1
    [d] = by_uprn
    assert address_of_household(d.keep).line != address_of_household(d.other).line

    front_door = User.objects.get(username="front-door")
    shown = duplicates_for(front_door)
    assert sorted(str(d.other.public_id) for d in shown) == sorted(
        str(d.other.public_id) for d in pairs if d.keep.local_authority.code == "cardiff"
    )
    client.force_login(front_door)
    page = client.get(reverse("identity:household-duplicates"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Heol y Bont" in page and "HEOL-Y-BONT" in page and "Rhodfa&#x27;r Môr" in page
    assert "Heol y Nant" not in page and "Heol Y Nant" not in page
    for d in shown:
        assert d.other_members[0].given_name in page


def test_demo_command_builds_once_and_lists_accounts(capsys, settings, tmp_path):
    """`cylch demo --build-only` builds, prints the accounts, and leaves an existing database alone;
    a CYLCH_VAR_DIR not made yet is made (it was "unable to open database file")."""
    settings.VAR_DIR = tmp_path / "not" / "made" / "yet"
    call_command("demo", "--build-only", "--size", "150", "--seed", "3", "--as-of", "2026-11-01", "--no-progress")
    assert settings.VAR_DIR.is_dir()
    out = capsys.readouterr().out
    assert "front-door" in out and "cylch-demo" in out and "Built in" in out
    persons = Person.objects.count()
    call_command("demo", "--build-only", "--size", "150", "--no-progress")
    out = capsys.readouterr().out
    assert "not rebuilding" in out
    assert Person.objects.count() == persons


def test_a_child_on_the_register_and_a_child_waiting_for_conference(demo):
    """Elis is on the register under neglect and emotional abuse with a plan four agencies act on,
    the first core group held on time and seeing him alone overdue; Ruby's initial conference is
    set on its statutory date, invitations out, the GP's report in and the school's awaited."""
    from cylch.protection import register
    from cylch.protection.models import DueKind, Episode, InviteeKind, MeetingKind, PlanKind, Stage

    elis = Person.objects.get(given_name="Elis", family_name="Bevan", registrations__isnull=False)
    registration = register.current(elis)
    assert registration is not None
    assert registration.categories == ["emotional", "neglect"]
    assert timedelta(weeks=6) <= AS_OF - registration.registered_on <= timedelta(weeks=8)
    assert registration.local_authority.code == "cardiff"
    episode = Episode.objects.get(child=elis, closed_on__isnull=True)
    assert episode.stage == Stage.REGISTERED
    assert episode.social_worker.username == "social-worker"
    strategy = episode.meetings.get(kind=MeetingKind.STRATEGY)
    assert {"la_childrens_services", "police", "gp_practice", "school"} <= set(
        strategy.invitees.filter(attended=True).values_list("organisation__kind", flat=True)
    )
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    assert icpc.chair.username == "conference-chair"
    met = {d.kind: d for d in episode.deadlines.filter(met_on__isnull=False)}
    for kind in (DueKind.ICPC, DueKind.DECISIONS_SUMMARY, DueKind.FULL_RECORD, DueKind.CORE_GROUP_FIRST):
        assert met[kind].met_on <= met[kind].due_on, kind

    plan = episode.plans.get(kind=PlanKind.CSPP, ended_on__isnull=True)
    assert plan.worries and plan.outcomes and plan.child_can_do and plan.contingency
    actions = list(plan.actions.select_related("owner_organisation"))
    assert 3 <= len(actions) <= 4
    assert {"school", "health_visiting", "la_childrens_services"} <= {a.owner_organisation.kind for a in actions}
    assert all(a.updates.exists() for a in actions)

    core_groups = episode.meetings.filter(kind=MeetingKind.CORE_GROUP)
    assert core_groups.filter(held_at__isnull=False).count() == 1
    nxt = episode.deadlines.get(kind=DueKind.CORE_GROUP_NEXT, met_on__isnull=True, cancelled_on__isnull=True)
    assert AS_OF <= nxt.due_on <= AS_OF + timedelta(days=14)  # due soon
    overdue = episode.deadlines.filter(met_on__isnull=True, cancelled_on__isnull=True, due_on__lt=AS_OF)
    assert list(overdue.values_list("kind", flat=True)) == [DueKind.VISIT_ALONE]
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    assert review.scheduled_for.date() > AS_OF
    assert elis.stories.exists()
    assert Event.objects.filter(person=elis, code="voice.lived_experience").count() >= 2

    ruby = Person.objects.get(given_name="Ruby", family_name="Walsh", protection_episodes__isnull=False)
    episode = Episode.objects.get(child=ruby, closed_on__isnull=True)
    assert episode.stage == Stage.CONFERENCE_DUE
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL, held_at__isnull=True)
    due = episode.deadlines.get(kind=DueKind.ICPC, met_on__isnull=True).due_on
    assert icpc.scheduled_for.date() == due > AS_OF
    agencies = {
        i.organisation.kind: i for i in icpc.invitees.filter(kind=InviteeKind.AGENCY).select_related("organisation")
    }
    assert all(i.invited_at is not None for i in icpc.invitees.filter(removed_at__isnull=True))
    assert agencies["gp_practice"].report_received_at is not None
    assert agencies["school"].report_requested and agencies["school"].report_received_at is None
    assert Event.objects.filter(person=ruby, code="process.conference.invitations_sent").exists()


def test_every_board_measure_has_history_to_show():
    """The history gives every board measure a Wales figure, not suppressed, in at least 6 of the
    dashboard's 8 quarters. (A demo of 3,500 people: the 600 of the other tests have too few
    children in the history's authorities for two years of the process.)"""
    build(seed=2026, persons=3500, as_of=AS_OF, events_per_person=1, progress=False)
    from cylch.insight import areas, periods
    from cylch.insight.compute import figures, units_by_period
    from cylch.insight.measures import MEASURES

    shown = periods.recent("quarter", 8, AS_OF)
    wales = [areas.wales()]
    thin = {}
    for measure in MEASURES:
        read = units_by_period(measure, shown, as_of=AS_OF)
        figs = figures(measure, shown, wales, by_group=False, read=read)
        with_value = [f for f in figs if not f.suppressed and (f.numerator or f.denominator)]
        # Reviews are few (one or two a board a year): the overdue-recommendations measure shows
        # from the quarter the demo's tracked reviews' recommendations fell due.
        needed = 2 if measure.id == "review-recommendations-overdue" else 6
        if len(with_value) < needed:
            thin[measure.id] = [f.shown() for f in figs]
    assert thin == {}, thin
    assert Registration.objects.filter(ended_on__isnull=False).exists()
    assert Report.objects.filter(local_authority__code="cardiff", feedback_sent_at__isnull=False).exists()


def test_the_team_manager_has_requests_to_answer_one_overdue_one_due_soon_one_answered(demo, client):
    from cylch.governance import rights_requests as rr
    from cylch.governance.models import RightsRequest

    manager = User.objects.get(username="team-manager")
    open_, answered = rr.team_requests(manager, today=AS_OF)
    assert [r.kind for r in answered] == ["objection"]
    lefts = sorted(rr.days_left(r, AS_OF) for r in open_)
    assert len(lefts) == 2 and lefts[0] < 0 and 0 < lefts[1] <= rr.WARN_WORKING_DAYS
    assert {r.person.display_name for r in RightsRequest.objects.all()} == {"Elis Bevan"}
    client.force_login(manager)
    assert "Elis Bevan" in client.get("/rights/requests/").content.decode()


@pytest.mark.parametrize(
    ("months", "said"),
    [(0, "a baby under a month old"), (1, "a baby of 1 month ("), (5, "a baby of 5 months"), (30, "a child aged 2"),
     (None, "a child whose age the review does not give")],
)  # fmt: skip
def test_a_demo_reviews_summary_gives_the_childs_age_in_plain_english(months, said):
    from cylch.demo.reviews import _summary

    text = _summary("A", months, "female", set(), "Death")
    assert text.startswith(f"This review concerns Child A, {said}")


@pytest.mark.parametrize(
    ("months", "said"),
    [(0, "babi o dan fis oed"), (1, "babi mis oed ("), (2, "babi 2 fis oed"), (5, "babi 5 mis oed"),
     (30, "plentyn 2 oed"),
     (None, "plentyn nad yw'r adolygiad yn nodi ei oed")],
)  # fmt: skip
def test_a_demo_reviews_welsh_summary_gives_the_childs_age_in_welsh(months, said):
    from cylch.demo.reviews import _summary_cy
    from cylch.reviews.models import Incident

    text = _summary_cy("A", months, "female", {"parent.mental_health", "theme.covid"}, Incident.DIED)
    assert text.startswith(f"Mae'r adolygiad hwn yn ymwneud â Phlentyn A, {said}")  # "â" mutates "Plentyn"
    assert "(merch), yn dilyn marwolaeth y plentyn." in text
    assert "yn y teulu: problemau iechyd meddwl rhiant." in text and "canlynol: pandemig Covid-19." in text


def test_the_demo_repository_has_every_published_summary_in_both_languages(db):
    from cylch.demo.reviews import _coded
    from cylch.reviews.models import CodedReview

    board, _ = BoardArea.objects.get_or_create(code="gwent", defaults={"name_en": "Gwent", "name_cy": "Gwent"})
    _coded(random.Random(3), board, 12, date(2026, 12, 1), random.Random(4))
    reviews = list(CodedReview.objects.filter(board_area=board))
    assert len(reviews) == 12
    for r in reviews:
        assert r.public_summary.startswith("This review concerns Child ")
        assert r.public_summary_cy.startswith("Mae'r adolygiad hwn yn ymwneud â Phlentyn ")


def test_the_demo_front_door_history_lists_each_earlier_report_once_by_name(demo):
    """The history's reports are on the spine as a report's own entries are, so the triage page
    does not list each again as a report known only from the spine, nameless; and each is of
    the kind of concern its maker saw."""
    from cylch.reports import concerns
    from cylch.reports.selectors import triage_history

    allowed = {code for code, _label in concerns.choices("en")}
    reports = list(Report.objects.prefetch_related("subjects").order_by("-received_at")[:60])
    assert reports and all(set(r.concern_codes) <= allowed for r in reports)
    earlier_seen = 0
    for report in reports:
        earlier = triage_history(report).earlier_reports
        earlier_seen += len(earlier)
        assert all(e.about and all(n.strip() for n in e.about) for e in earlier), report.reference
        assert len({(e.received_at, tuple(e.about)) for e in earlier}) == len(earlier), report.reference
        assert all(e.report is not None for e in earlier), report.reference  # none only from the spine
    assert earlier_seen > 0


def test_the_rules_alerts_are_dated_by_their_evidence_and_the_quarters_are_level(demo):
    """The rules' first run raised every alert on the build's day: on the board's chart one
    quarter with ten times the alerts of the others. Now an alert whose latest evidence is older
    than a fortnight is dated by it and worked; a scenario family's stays raised; and the
    dashboard's quarters hold about the same number of alerts."""
    from collections import Counter
    from datetime import datetime, time

    from django.db.models import Max
    from django.utils import timezone

    from cylch.demo.catch_up import RECENT
    from cylch.rules.models import Alert, AlertStatus

    end = min(timezone.now(), timezone.make_aware(datetime.combine(AS_OF, time(23, 0))))
    rules = Alert.objects.exclude(scope_key__startswith="history:").annotate(came=Max("evidence__event__recorded_at"))
    assert demo.history["rules_dated"] > 0
    for a in rules:
        if a.status == AlertStatus.RAISED and a.came < end - RECENT:
            assert a.children.filter(pk__in=_scenario_people()).exists(), a
        elif a.came < end - RECENT:
            assert (
                a.raised_at >= a.came
                and a.acknowledged_at > a.raised_at
                and a.steps.filter(action="raised", at=a.raised_at).exists()
            )
    assert Alert.objects.filter(status=AlertStatus.RAISED, children__given_name="Elis").exists()
    quarters = Counter()
    for raised in Alert.objects.values_list("raised_at", flat=True):
        day = timezone.localtime(raised).date()
        quarters[day.year, (day.month - 1) // 3] += 1
    shown = [n for _quarter, n in sorted(quarters.items())][-8:]  # the dashboard's eight
    middle = sorted(shown[:-1])[3]  # the median of the seven full quarters
    assert len(shown) == 8 and max(shown) <= 1.4 * middle and min(shown[:-1]) >= middle / 1.4, quarters


def _scenario_people() -> set[int]:
    from cylch.identity.models import Person

    names = {"Prydderch", "Morgan", "Owen", "Parry", "Davies", "Roberts", "Bevan", "Walsh"}
    return set(Person.objects.filter(family_name__in=names).values_list("pk", flat=True))


def test_every_notice_in_the_demo_opens_for_the_person_it_was_sent_to(demo, client):
    """A notice's link is the way in to what it is about (a report passed to a lead coordinator
    once linked to the front door's triage page, which only the front door may open:
    ``test_notices_about``). Every notice the demo holds, one of each kind per recipient's role,
    opens for its recipient, and an alert's notice names the alert's children on the page."""
    from cylch.notify.inbox import whom
    from cylch.notify.models import Notification
    from cylch.rules.models import Alert

    seen: set[tuple[str, str]] = set()
    opened = 0
    for notice in Notification.objects.exclude(url="").select_related("recipient").order_by("pk"):
        key = (notice.kind, notice.recipient.role)
        if key in seen:
            continue
        seen.add(key)
        client.force_login(notice.recipient)
        response = client.get(notice.url, follow=True)
        assert response.status_code == 200, (notice.kind, notice.recipient.role, notice.url)
        opened += 1
    assert opened >= 5, seen
    assert {"alert_raised", "protection_invitation", "register_change"} <= {k for k, _r in seen}, seen
    alerted = Notification.objects.filter(kind="alert_raised").select_related("recipient").first()
    assert whom(alerted.recipient, [alerted]) == {
        alerted.pk: ", ".join(
            c.display_name for c in Alert.objects.get(public_id=alerted.url.split("/")[2]).children.all()
        )
    }

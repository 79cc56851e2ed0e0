"""The retention schedule: due dates at their edges, legal holds, runs that remove exactly what
is due with an audit entry per removal and no content, a chain that still verifies after audit
entries are erased, idempotent re-runs, and a failed batch that leaves nothing half removed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from cylch.access.audit import audit_record, audit_verify
from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.models import Significance
from cylch.chronology.services import significance_toggle
from cylch.events.models import Event
from cylch.events.services import record_event
from cylch.governance import retention
from cylch.governance.models import LegalHold, Removal, RetentionRun, RunStatus
from cylch.governance.retention_records import CLASSES, add_years
from cylch.protection import register
from cylch.protection.models import Episode, Invitee, Meeting, Plan, Registration
from cylch.reports.attachments import attachment_add
from cylch.reports.models import Attachment, Report, ReportSubject
from cylch.reports.services import SubjectIn, report_decide, report_submit
from cylch.rules.models import Alert
from cylch.rules.services import alert_acknowledge, alert_close, alert_record_outcome
from tests import factories
from tests.test_protection_documents import build_registered

pytestmark = pytest.mark.django_db

ALYS_25 = date(2044, 4, 9)  # Alys Prydderch was born on 9 April 2019
TWM_25 = date(2048, 5, 2)  # Twm on 2 May 2023
DAY = timedelta(days=1)
WNB = "health.appointment.was_not_brought"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def ago(days: int):
    return timezone.now() - timedelta(days=days)


@dataclass
class World:
    p: factories.Prydderch
    report: Report  # about Alys alone: due on her 25th birthday
    both: Report  # about Alys and Twm: due on the younger one's 25th
    soft: Event  # a soft concern about Alys, corrected once: `soft` is the correction
    soft_original: Event
    school: Event  # an entry about Alys that is not soft, marked significant
    household: Event  # a police notice (soft) at the family home: Alys and Twm live there
    adult: Event  # a soft concern about Ceri, an adult: 8 years
    alert: Alert  # two missed appointments for Alys, closed
    episode: Episode  # Alys registered, then the registration ended: closed


def build_world(p, chair, upload_dir: Path) -> World:
    hv = p.staff.health_visitor
    report = report_submit(channel="practitioner", children=[SubjectIn(person=p.alys)],
                           adults=[SubjectIn(role="adult", person=p.ceri, relationship_to_child="mother")],
                           concern_codes=["social_care.neglect.concern"], maker=hv,
                           what_happened="Alys came to clinic hungry and with head lice again.",
                           child_words="Mam sleeps all day.", received_at=ago(30))  # fmt: skip
    attachment_add(report=report, uploaded=SimpleUploadedFile("photo.png", PNG, "image/png"), actor=hv)
    both = report_submit(channel="practitioner", children=[SubjectIn(person=p.alys), SubjectIn(person=p.twm)],
                         concern_codes=["social_care.neglect.concern"], maker=p.staff.school_lead,
                         what_happened="Both children collected late and unwashed.", received_at=ago(20))  # fmt: skip
    for made in (report, both):
        report_decide(report=made, user=p.staff.social_worker, outcome="early_help",
                      rationale="Early help offered to the family by the team.")  # fmt: skip
        made.refresh_from_db()
    first = record_event(organisation=p.orgs.gp, code=WNB, occurred_at=ago(40), person=p.alys,
                         details={"service": "dental"}, summary="Not brought to the dentist", recorded_by=p.staff.gp).event  # fmt: skip
    soft = factories.corrected_event(first, recorded_by=p.staff.gp, summary="Not brought to the GP")
    record_event(organisation=p.orgs.health_visiting, code=WNB, occurred_at=ago(12), person=p.alys,
                 details={"service": "gp"}, recorded_by=hv)  # fmt: skip
    school = factories.event(organisation=p.orgs.school, person=p.alys, code="education.welfare_service.involvement",
                             summary="The education welfare officer visited Alys at home", recorded_by=p.staff.school_lead,
                             occurred_at=ago(10))  # fmt: skip
    access = access_person(Viewer.for_user(p.staff.school_lead), p.alys.public_id)
    significance_toggle(access=access, user=p.staff.school_lead, event_id=school.public_id, note="Turning point")
    household = record_event(organisation=p.orgs.police, code="police.ppn.domestic_abuse", occurred_at=ago(9),
                             household=p.home, details={"risk_level": "standard"}).event  # fmt: skip
    adult = record_event(organisation=p.orgs.gp, code="health.adult_mental_health.concern", occurred_at=ago(8),
                         person=p.ceri, recorded_by=p.staff.gp).event  # fmt: skip
    _p, episode, _icpc, _plan = build_registered(p, chair)
    register.end_outside_conference(episode, user=p.staff.team_manager, reason="moved_permanently_abroad",
                                    eligible_needs="None known.", contingency="None.", on=timezone.localdate(),
                                    explanation="The family told us they have moved to Spain for good.")  # fmt: skip
    episode.refresh_from_db()
    for raised in Alert.objects.exclude(status="closed"):  # every alert the entries raised is dealt with
        alert_acknowledge(alert=raised, user=p.staff.social_worker)
        alert_record_outcome(alert=raised, user=p.staff.social_worker, outcome="early_help", note="Support offered.")
        alert_close(alert=raised, user=p.staff.social_worker)
    alert = Alert.objects.get(rule_id="was-not-brought-repeated", children=p.alys)
    return World(p, report, both, soft, first, school, household, adult, alert, episode)


@pytest.fixture
def chair(prydderch):
    return factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                       organisation=prydderch.orgs.childrens_services)  # fmt: skip


@pytest.fixture
def uploads(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CYLCH_UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture
def world(prydderch, chair, uploads, settings) -> World:
    settings.CYLCH_CHILD_INVITE_AGE = 18
    return build_world(prydderch, chair, uploads)


def due_ids(listing, record_class: str, status: str = retention.DUE) -> set[str]:
    return {d.record_id for d in listing.of(record_class, status)}


# --- the schedule as data ------------------------------------------------------------------------


def test_every_class_has_its_rules_with_a_source_and_cylch_defaults_say_so():
    """The shipped schedule names every class, with one action each, and every rule says where its
    period comes from; the periods not set by law are marked as Cylch's assumption."""
    plan = retention.schedule()
    assert set(plan.classes) == set(CLASSES)
    for key, rules in plan.classes.items():
        assert rules.enabled and rules.action == CLASSES[key].action
        for rule in rules.rules:
            assert rule.source.strip(), (key, rule.id)
    lac = next(r for r in plan.classes["reports"].rules if r.id == "looked_after")
    assert lac.years == 75 and not lac.assumption and "regulation 64" in lac.source
    assert all(r.assumption for r in plan.classes["audit_log"].rules + plan.classes["reviews"].rules)


def test_a_broken_schedule_names_file_line_and_field_for_every_problem(tmp_path):
    """Every mistake at once, each as file:line: where: message."""
    broken = tmp_path / "retention.yaml"
    text = Path(retention.DEFAULT_FILE).read_text()
    text = text.replace(
        "    action: anonymise\n    rules:\n      - id: after_review",
        "    action: delete\n    rules:\n      - id: after_review",
    )
    text = text.replace(
        '        years: 8\n        source: "Cylch default: the 6-year',
        '        years: eight\n        source: "Cylch default: the 6-year',
    )
    text = text.replace(
        "      - &adopted\n        id: adopted\n        when: [adopted]",
        "      - &adopted\n        id: adopted\n        when: [adopted, fostered]",
    )
    broken.write_text(text)
    with pytest.raises(retention.ScheduleError) as exc:
        retention.load(broken)
    lines = str(exc.value).splitlines()
    assert all(line.startswith("retention.yaml:") for line in lines)
    assert sum("classes.reviews.action: must be anonymise" in line for line in lines) == 1
    assert sum("classes.audit_log.rules.0.years: must be a whole number" in line for line in lines) == 1
    # The rule is shared (a YAML alias) by eight classes: each is named, at the rule's own line.
    fostered = [line for line in lines if "“fostered” is not a condition" in line]
    assert len(fostered) == 8 and len(lines) == 10
    at = next(i for i, line in enumerate(text.splitlines(), 1) if "when: [adopted, fostered]" in line)
    assert {line.split(":")[1] for line in fostered} == {str(at)}
    assert ": classes.reports.rules.3.when.1: " in fostered[0]
    number = int(next(line for line in lines if "reviews.action" in line).split(":")[1])
    assert broken.read_text().splitlines()[number - 1].strip() == "action: delete"


def test_a_class_missing_from_the_schedule_is_refused(tmp_path):
    text = Path(retention.DEFAULT_FILE).read_text()
    cut = text.index("  audit_log:")
    (tmp_path / "retention.yaml").write_text(text[:cut])
    with pytest.raises(retention.ScheduleError, match="audit_log is missing"):
        retention.load(tmp_path / "retention.yaml")


def test_a_schedule_that_does_not_load_stops_the_system_checks(tmp_path, settings):
    """As the rule packs and approvals do: found by `cylch migrate` or `cylch worker` at start-up,
    not by the first retention run."""
    from cylch.governance.checks import check_retention_schedule

    assert check_retention_schedule(None) == []  # the shipped schedule
    text = Path(retention.DEFAULT_FILE).read_text()
    (tmp_path / "retention.yaml").write_text(text[: text.index("  audit_log:")])
    settings.CYLCH_RETENTION_FILE = str(tmp_path / "retention.yaml")
    [error] = check_retention_schedule(None)
    assert error.id == "cylch.governance.E002" and "audit_log is missing" in error.msg
    settings.CYLCH_RETENTION_FILE = str(tmp_path / "nowhere.yaml")
    [error] = check_retention_schedule(None)
    assert error.id == "cylch.governance.E002" and "nowhere.yaml" in error.msg


# --- due dates at their edges --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_class", "record"),
    [("reports", "report"), ("soft_concerns", "soft"), ("chronology", "school"), ("alerts", "alert"),
     ("protection", "episode")],
)  # fmt: skip
def test_a_childs_record_is_kept_until_the_day_before_the_25th_birthday_and_due_on_it(world, record_class, record):
    """Each of Alys's records is kept on 8 April 2044 and due on 9 April 2044, her 25th birthday."""
    record_id = str(getattr(world, record).public_id)
    assert record_id not in due_ids(retention.due_list(today=ALYS_25 - DAY, classes=[record_class]), record_class)
    listing = retention.due_list(today=ALYS_25, classes=[record_class])
    assert record_id in due_ids(listing, record_class)
    item = next(d for d in listing.of(record_class) if d.record_id == record_id)
    assert (item.due_on, item.rule.id, item.trigger_date) == (ALYS_25, "children", date(2019, 4, 9))


def test_a_record_about_two_children_waits_for_the_younger_ones_25th_birthday(world):
    """The report about Alys and Twm is due when Twm is 25. The police notice at their home waits
    for the youngest child living there, the baby Ceri is expecting: 25 years from the expected
    date of delivery, 14 February 2027."""
    for today, expected in ((ALYS_25, False), (TWM_25 - DAY, False), (TWM_25, True)):
        listing = retention.due_list(today=today, classes=["reports"])
        assert (str(world.both.public_id) in due_ids(listing, "reports")) is expected, today
    household = str(world.household.public_id)
    assert household not in due_ids(
        retention.due_list(today=date(2052, 2, 13), classes=["soft_concerns"]), "soft_concerns"
    )
    item = next(d for d in retention.due_list(today=date(2052, 2, 14), classes=["soft_concerns"]).of("soft_concerns")
                if d.record_id == household)  # fmt: skip
    assert (item.rule.id, item.trigger_date) == ("children", date(2027, 2, 14))


def test_an_adults_entry_goes_8_years_after_it_was_made(world):
    made = timezone.localtime(world.adult.occurred_at).date()
    before = retention.due_list(today=add_years(made, 8) - DAY, classes=["soft_concerns"])
    assert str(world.adult.public_id) not in due_ids(before, "soft_concerns")
    item = next(d for d in retention.due_list(today=add_years(made, 8), classes=["soft_concerns"]).of("soft_concerns")
                if d.record_id == str(world.adult.public_id))  # fmt: skip
    assert item.rule.id == "adult_or_household"


def test_a_looked_after_child_is_kept_until_the_75th_birthday(world):
    """Once Alys is recorded as looked after, her records stay until 9 April 2094."""
    record_event(organisation=world.p.orgs.childrens_services, code="social_care.looked_after.started",
                 occurred_at=ago(2), person=world.p.alys, recorded_by=world.p.staff.social_worker,
                 details=factories.minimal_details("social_care.looked_after.started"))  # fmt: skip
    assert str(world.report.public_id) not in due_ids(retention.due_list(today=ALYS_25, classes=["reports"]), "reports")
    listing = retention.due_list(today=date(2094, 4, 9), classes=["reports"])
    item = next(d for d in listing.of("reports") if d.record_id == str(world.report.public_id))
    assert (item.due_on, item.rule.id) == (date(2094, 4, 9), "looked_after")
    assert str(world.report.public_id) not in due_ids(
        retention.due_list(today=date(2094, 4, 8), classes=["reports"]), "reports"
    )


def test_a_review_is_anonymised_15_years_after_it_was_completed_and_its_learning_stays(prydderch):
    """A multi-agency forum about Alys signed off yesterday: kept until the day before the 15th
    anniversary, then the referral loses its link to her and its narrative; the review, its dates
    and its learning stay."""
    from cylch.access.roles import OrganisationKind
    from cylch.reviews import services as reviews
    from cylch.reviews.models import Referral, Review

    area = prydderch.places.mid_and_west_wales
    board = factories.organisation(code="mid-west-board", kind=OrganisationKind.SAFEGUARDING_BOARD)
    board.board_area = area
    board.save(update_fields=["board_area"])
    panel = factories.demo_practitioner(username="panel.one", role=Role.REVIEW_PANEL, organisation=board)
    today = timezone.localdate()
    referral = reviews.refer(board_area=area, child=prydderch.alys, incident="potentially_life_threatening_injury",
                             incident_on=today - timedelta(days=60), user=panel, referred_on=today - timedelta(days=50),
                             summary="Alys was found with a head injury at home")  # fmt: skip
    review = reviews.decide(referral, user=panel, review_type="mapf", reasons="Learning for the agencies about Alys",
                            scope_from=today - timedelta(days=300))  # fmt: skip
    for milestone in review.milestones.exclude(done_on__isnull=False).order_by("position"):
        reviews.record_milestone(milestone, user=panel, done_on=today - DAY)
    completed = Review.objects.get(pk=review.pk).completed_on
    assert completed == today - DAY
    key = str(referral.public_id)
    assert key not in due_ids(retention.due_list(today=add_years(completed, 15) - DAY, classes=["reviews"]), "reviews")
    assert key in due_ids(retention.due_list(today=add_years(completed, 15), classes=["reviews"]), "reviews")
    run = retention.retention_run(today=add_years(completed, 15), classes=["reviews"])
    assert run.status == RunStatus.COMPLETED and run.removed["reviews"] == 1
    referral = Referral.objects.get(pk=referral.pk)
    assert (referral.child_id, referral.summary, referral.decision_reasons, referral.proposal_reasons) == (
        None,
        "",
        "",
        [],
    )
    assert referral.incident_on and Review.objects.get(pk=review.pk).completed_on == completed
    assert Review.objects.get(pk=review.pk).milestones.filter(done_on__isnull=False).count() == 3
    again = retention.retention_run(today=add_years(completed, 15), classes=["reviews"])
    assert again.removed["reviews"] == 0


def test_an_audit_entrys_content_is_due_8_years_after_it_was_written(prydderch):
    """Entries written today: none due the day before the 8th anniversary, all but the runs' own
    due on it; a hold on Twm keeps the entries that name him."""
    audit_record(action="read", actor=prydderch.staff.gp, object_type="person", object_id=prydderch.twm.public_id,
                 purpose="record opened")  # fmt: skip
    today = timezone.localdate()
    assert retention.due_list(today=add_years(today, 8) - DAY, classes=["audit_log"]).audit.due == 0
    written = AuditEntry.objects.exclude(object_type="retention").count()
    assert retention.due_list(today=add_years(today, 8), classes=["audit_log"]).audit.due == written
    retention.hold_place(person=prydderch.twm, reason="Twm's record is needed for a claim")
    due = retention.due_list(today=add_years(today, 8), classes=["audit_log"]).audit
    naming_twm = AuditEntry.objects.filter(
        Q(object_id=str(prydderch.twm.public_id)) | Q(detail__person=str(prydderch.twm.public_id))
    )
    assert due.held == naming_twm.count() >= 2 and due.due == written + 1 - due.held


def test_a_child_born_on_29_february_reaches_the_birthday_on_1_march_in_a_common_year():
    assert add_years(date(2020, 2, 29), 25) == date(2045, 3, 1)
    assert add_years(date(2020, 2, 29), 24) == date(2044, 2, 29)


def test_a_record_about_someone_whose_age_is_not_known_is_kept_25_years(prydderch):
    """A child known only by name: 25 years from the record, not the adult 8."""
    nobody = factories.agency_record_upsert(organisation=prydderch.orgs.school, local_id="P-NODOB", actor=None,
                                            data={"given_name": "Cai", "family_name": "Heb Ddyddiad"}).person  # fmt: skip
    event = factories.event(organisation=prydderch.orgs.school, person=nobody, code="education.welfare_service.involvement",
                            occurred_at=ago(3))  # fmt: skip
    made = timezone.localtime(event.occurred_at).date()
    assert str(event.public_id) not in due_ids(
        retention.due_list(today=add_years(made, 8), classes=["chronology"]), "chronology"
    )
    item = next(d for d in retention.due_list(today=add_years(made, 25), classes=["chronology"]).of("chronology")
                if d.record_id == str(event.public_id))  # fmt: skip
    assert item.rule.id == "age_unknown"


# --- other records about a child -------------------------------------------------------------------


def test_a_childs_story_goes_on_her_25th_birthday_and_a_hold_on_her_keeps_it(world):
    """The few sentences about Alys that meetings open with are hers: kept until the day before
    her 25th birthday, due on it, kept while a hold on her is in force, and gone with one audit
    entry and none of the words."""
    from cylch.chronology.models import ChildStory

    story = ChildStory.objects.get(child=world.p.alys)
    key = f"story-{story.pk}"
    assert key not in due_ids(retention.due_list(today=ALYS_25 - DAY, classes=["child_stories"]), "child_stories")
    item = next(d for d in retention.due_list(today=ALYS_25, classes=["child_stories"]).of("child_stories")
                if d.record_id == key)  # fmt: skip
    assert (item.rule.id, item.trigger_date) == ("children", date(2019, 4, 9))
    hold = retention.hold_place(person=world.p.alys, reason="Civil claim about her care, 2043")
    assert key in due_ids(retention.due_list(today=ALYS_25, classes=["child_stories"]), "child_stories", retention.HELD)
    retention.hold_release(hold=hold, reason="The claim was settled in 2044.")
    run = retention.retention_run(today=ALYS_25, classes=["child_stories"])
    assert run.status == RunStatus.COMPLETED and run.removed["child_stories"] == 1
    assert not ChildStory.objects.filter(pk=story.pk).exists()
    entry = AuditEntry.objects.get(object_type="retention", object_id=key)
    assert entry.detail["counts"] == {"chronology.childstory": 1}
    assert entry.detail["sha256"] == canonical_sha256([story])
    assert "horses" not in json.dumps(entry.detail) and audit_verify().ok


def test_a_break_glass_grant_goes_with_the_audit_entries_of_its_access_and_never_while_in_force(prydderch, settings):
    """Eight years after a practitioner opened Twm's record in an emergency, the grant (with the
    reason given) is deleted, as the audit entries of that access are erased; one still in force
    is never due."""
    from cylch.access.models import BreakGlass
    from cylch.access.services import break_glass_open

    today = timezone.localdate()
    settings.CYLCH_BREAK_GLASS_SECONDS = 3600
    running = break_glass_open(user=prydderch.staff.police_officer, person=prydderch.twm,
                               reason="Twm found alone at the station at night")  # fmt: skip
    settings.CYLCH_BREAK_GLASS_SECONDS = 0  # a grant that has already run out
    ended = break_glass_open(user=prydderch.staff.police_officer, person=prydderch.twm,
                             reason="Checking who to call about Twm tonight")  # fmt: skip
    assert str(ended.public_id) not in due_ids(
        retention.due_list(today=add_years(today, 8) - DAY, classes=["break_glass"]), "break_glass"
    )
    listing = retention.due_list(today=add_years(today, 8), classes=["break_glass"])
    assert due_ids(listing, "break_glass") == {str(ended.public_id)} and listing.open["break_glass"] == 1
    run = retention.retention_run(today=add_years(today, 8), classes=["break_glass"])
    assert run.status == RunStatus.COMPLETED and run.removed["break_glass"] == 1
    assert list(BreakGlass.objects.values_list("pk", flat=True)) == [running.pk]
    entry = AuditEntry.objects.get(object_type="retention", object_id=str(ended.public_id))
    assert entry.detail["rule"] == "eight_years" and "Twm" not in json.dumps(entry.detail)


# --- runs ------------------------------------------------------------------------------------------

# What an audit entry for a removal may hold: identifiers, counts and digests, never content.
RECEIPT_KEYS = {"class", "record", "action", "rule", "counts", "sha256", "run", "schedule_sha256",
                "versions", "reference", "files", "seqs"}  # fmt: skip


def receipts() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type="retention").order_by("seq"))


def canonical_sha256(objects) -> str:
    """The digest docs/governance.md describes, computed here independently of the module."""
    import hashlib

    from django.core import serializers

    rows = sorted(serializers.serialize("python", objects), key=lambda r: (r["model"], str(r["pk"])))
    blob = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def test_a_run_removes_exactly_what_is_due_and_audits_each_removal_without_content(
    world, uploads, django_capture_on_commit_callbacks
):
    """On Alys's 25th birthday the run removes what the dry run listed and nothing else: her
    report (with its file), her entries, the alert about her, and her protection record
    anonymised; the report about her and Twm and the notice at the family home stay. Each removal
    has one audit entry with the class, the record, the rule, the counts and a digest, and no
    word of what was removed."""
    p = world.p
    listing = retention.due_list(today=ALYS_25)
    due = {(d.record_class, d.record_id) for d in listing.items if d.status == retention.DUE}
    assert {("reports", str(world.report.public_id)), ("soft_concerns", str(world.soft.public_id)),
            ("chronology", str(world.school.public_id)), ("alerts", str(world.alert.public_id)),
            ("protection", str(world.episode.public_id)), ("soft_concerns", str(world.adult.public_id))} <= due  # fmt: skip
    assert ("reports", str(world.both.public_id)) not in due
    file = uploads / Attachment.objects.get(report=world.report).stored_name
    assert file.exists()
    school_sha = canonical_sha256([world.school, *Significance.objects.filter(event=world.school)])

    with django_capture_on_commit_callbacks(execute=True):
        run = retention.retention_run(today=ALYS_25, classes=[k for k in CLASSES if k != "audit_log"])
    assert run.status == RunStatus.COMPLETED, run.error
    removals = {(r.record_class, r.record_id) for r in Removal.objects.filter(run=run)}
    assert removals == due

    assert not Report.objects.filter(pk=world.report.pk).exists() and not file.exists()
    assert not ReportSubject.objects.filter(report_id=world.report.pk).exists()
    assert not Event.objects.filter(external_id__startswith=f"report:{world.report.reference}:").exists()
    assert not Event.objects.filter(pk__in=[world.soft.pk, world.soft_original.pk, world.school.pk]).exists()
    assert not Significance.objects.filter(event_id=world.school.pk).exists()
    assert not Alert.objects.filter(pk=world.alert.pk).exists()
    assert Report.objects.filter(pk=world.both.pk).exists() and world.both.subjects.count() == 2
    assert Event.objects.filter(pk=world.household.pk).exists()

    episode = Episode.objects.get(pk=world.episode.pk)
    stand_in = episode.child
    assert stand_in != p.alys and (stand_in.given_name, stand_in.family_name, stand_in.date_of_birth) == ("", "", None)
    registration = Registration.objects.get(episode=episode)
    assert registration.child == stand_in and sorted(registration.categories) == ["emotional", "neglect"]
    assert registration.registered_on is not None and registration.reasons == ""
    assert all(not m.record and not m.reasons and m.event_id is None for m in Meeting.objects.filter(episode=episode))
    assert all(
        not i.name and not i.email and i.person_id is None for i in Invitee.objects.filter(meeting__episode=episode)
    )
    assert all(not pl.worries and not pl.outcomes for pl in Plan.objects.filter(episode=episode))
    assert not Episode.objects.filter(child=p.alys).exists() and not Registration.objects.filter(child=p.alys).exists()

    by_record = {e.object_id: e for e in receipts()}
    for removal in Removal.objects.filter(run=run):
        entry = by_record[removal.record_id]
        assert entry.seq == removal.audit_seq and entry.action == "write"
        assert set(entry.detail) <= RECEIPT_KEYS, set(entry.detail) - RECEIPT_KEYS
        assert entry.detail["sha256"] == removal.sha256 and entry.detail["rule"] == removal.rule
        assert entry.detail["counts"] == removal.counts and entry.detail["run"] == str(run.public_id)
    assert by_record[str(world.school.public_id)].detail["sha256"] == school_sha
    assert by_record[str(world.report.public_id)].detail["counts"]["reports.attachment"] == 1
    text = json.dumps([(e.purpose, e.actor_label, e.detail) for e in receipts()], ensure_ascii=False)
    for word in ("Alys", "Prydderch", "hungry", "head lice", "dentist", "2019-04-09", "welfare officer",
                 "Spain", "breakfast", "Ceri", "photo.png"):  # fmt: skip
        assert word.lower() not in text.lower(), word
    assert audit_verify().ok


def test_running_again_removes_nothing_more(world):
    """A second run on the same day finds nothing due: no removal, no new audit entry."""
    first = retention.retention_run(today=ALYS_25)
    assert first.status == RunStatus.COMPLETED, first.error
    removals, entries = Removal.objects.count(), AuditEntry.objects.count()
    second = retention.retention_run(today=ALYS_25)
    assert second.status == RunStatus.COMPLETED
    assert Removal.objects.count() == removals and AuditEntry.objects.count() == entries
    assert sum(second.removed.values()) == 0
    assert not retention.due_list(today=ALYS_25).of("protection")  # anonymised once, not again


def test_a_legal_hold_on_a_person_keeps_all_their_records_until_it_is_released(world):
    """Alys's records are held for a claim: the run keeps every one of them (and says so) and
    removes Ceri's entry, which the hold does not cover; released, the next run removes them."""
    hold = retention.hold_place(person=world.p.alys, reason="Civil claim about her care, 2043", reference="CL-2043-17",
                                user=world.p.staff.team_manager)  # fmt: skip
    listing = retention.due_list(today=ALYS_25)
    held = {d.record_id for d in listing.items if d.status == retention.HELD}
    assert {str(world.report.public_id), str(world.soft.public_id), str(world.school.public_id),
            str(world.alert.public_id), str(world.episode.public_id)} <= held  # fmt: skip
    run = retention.retention_run(today=ALYS_25, classes=[k for k in CLASSES if k != "audit_log"])
    assert run.status == RunStatus.COMPLETED
    assert run.kept["reports"] >= 1 and run.kept["protection"] == 1
    assert Report.objects.filter(pk=world.report.pk).exists() and Event.objects.filter(pk=world.school.pk).exists()
    assert Episode.objects.get(pk=world.episode.pk).child == world.p.alys
    assert not Event.objects.filter(pk=world.adult.pk).exists()

    retention.hold_release(hold=hold, reason="The claim was settled in 2044.", user=world.p.staff.team_manager)
    again = retention.retention_run(today=ALYS_25, classes=[k for k in CLASSES if k != "audit_log"])
    assert again.status == RunStatus.COMPLETED
    assert (
        not Report.objects.filter(pk=world.report.pk).exists() and not Event.objects.filter(pk=world.school.pk).exists()
    )
    assert AuditEntry.objects.filter(object_type="legal_hold", purpose="legal hold released").count() == 1


def test_a_hold_on_one_record_keeps_it_and_what_it_needs(world):
    """A hold on Alys's protection record keeps it whole, and with it the entries on her spine that
    record its meetings (they are needed by it), while the rest of her records go."""
    retention.hold_place(record_class="protection", record_id=str(world.episode.public_id),
                         reason="Kept for the Child Practice Review panel", actor_label="records office")  # fmt: skip
    held_event = Meeting.objects.filter(episode=world.episode, event__isnull=False).first().event
    listing = retention.due_list(today=ALYS_25)
    needed = next(d for d in listing.items if d.record_id == str(held_event.public_id))
    assert needed.status == retention.NEEDED and needed.reason == f"protection {world.episode.public_id}"
    run = retention.retention_run(today=ALYS_25, classes=[k for k in CLASSES if k != "audit_log"])
    assert run.status == RunStatus.COMPLETED
    assert Episode.objects.get(pk=world.episode.pk).child == world.p.alys
    assert Event.objects.filter(pk=held_event.pk).exists()
    assert (
        not Event.objects.filter(pk=world.school.pk).exists() and not Report.objects.filter(pk=world.report.pk).exists()
    )


def test_a_hold_placed_on_an_entry_since_corrected_keeps_the_correction_too(world):
    """The hold names the version the claim is about; the correction that took its place (and
    with it the whole entry) is kept."""
    retention.hold_place(record_class="chronology", record_id=str(world.soft_original.public_id),
                         reason="The claim quotes the first version of this entry")  # fmt: skip
    listing = retention.due_list(today=ALYS_25, classes=["soft_concerns"])
    assert str(world.soft.public_id) in due_ids(listing, "soft_concerns", retention.HELD)
    retention.retention_run(today=ALYS_25, classes=["soft_concerns"])
    assert Event.objects.filter(pk__in=[world.soft.pk, world.soft_original.pk]).count() == 2


def test_holds_need_a_reason_and_an_existing_record_and_one_at_a_time(world):
    with pytest.raises(ValidationError) as exc:
        retention.hold_place(person=world.p.alys, reason="because")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        retention.hold_place(
            record_class="reports", record_id="5d9f3c1e-0000-4000-8000-000000000000", reason="A claim is coming"
        )
    assert "record_id" in exc.value.message_dict
    retention.hold_place(person=world.p.twm, reason="A claim is coming in 2030")
    with pytest.raises(ValidationError):
        retention.hold_place(person=world.p.twm, reason="A second claim is coming")
    assert LegalHold.objects.filter(released_at__isnull=True).count() == 1


# --- the audit log ---------------------------------------------------------------------------------


def test_audit_verify_passes_after_a_run_that_erased_entries_and_fails_when_one_is_tampered_with(world, capsys):
    """Eight years on, every entry's content is erased, the chain still verifies and every erasure
    is accounted for by the run's own entries; an entry altered afterwards is named."""
    held_entry = AuditEntry.objects.filter(object_type="person", object_id=str(world.p.twm.public_id)).first()
    if held_entry is None:
        held_entry = audit_record(action="read", actor=world.p.staff.gp, object_type="person",
                                  object_id=world.p.twm.public_id, purpose="record opened")  # fmt: skip
    retention.hold_place(person=world.p.twm, reason="Twm's records are needed for a claim")
    before = AuditEntry.objects.exclude(object_type__in=["retention", "legal_hold"]).count()
    eight_years = add_years(timezone.localdate(), 8) + DAY
    run = retention.retention_run(today=eight_years, classes=["audit_log"])
    assert run.status == RunStatus.COMPLETED, run.error
    erased = AuditEntry.objects.filter(redacted_at__isnull=False)
    assert erased.count() == run.removed["audit_log"] >= before - 20 and run.kept["audit_log"] >= 1
    assert all((e.actor_label, e.object_id, e.purpose, e.ip_address, e.detail, e.actor_id) == ("", "", "", "", {}, None)
               for e in erased)  # fmt: skip
    held_entry.refresh_from_db()
    assert held_entry.redacted_at is None and held_entry.object_id == str(world.p.twm.public_id)
    assert all(e.redacted_at is None for e in receipts())

    call_command("audit", "verify")
    assert "audit chain intact" in (out := capsys.readouterr().out) and "erased, each by a retention run" in out
    call_command("retention", "verify")
    assert "each by a retention run" in capsys.readouterr().out

    victim = erased.order_by("seq")[3]
    # Content put back into an erased entry: the chain names it.
    AuditEntry.objects.filter(pk=victim.pk).update(purpose="record opened")
    with pytest.raises(CommandError, match=f"#{victim.seq}.*keeps content"):
        call_command("audit", "verify")
    AuditEntry.objects.filter(pk=victim.pk).update(purpose="")
    # What an erased entry keeps (here its action) changed afterwards: the chain cannot see it,
    # the check of erasures does.
    AuditEntry.objects.filter(pk=victim.pk).update(action="export")
    assert audit_verify().ok
    with pytest.raises(CommandError, match="has changed since"):
        call_command("retention", "verify")
    with pytest.raises(CommandError, match="has changed since"):  # `cylch audit verify` checks erasures too
        call_command("audit", "verify")
    AuditEntry.objects.filter(pk=victim.pk).update(action=victim.action)
    # A receipt altered: the chain names it.
    receipt = receipts()[0]
    AuditEntry.objects.filter(pk=receipt.pk).update(detail={**receipt.detail, "rule": "none"})
    with pytest.raises(CommandError, match=f"#{receipt.seq}"):
        call_command("audit", "verify")
    AuditEntry.objects.filter(pk=receipt.pk).update(detail=receipt.detail)
    call_command("retention", "verify")
    # An entry erased by hand, not by a run: the chain passes, the check of erasures does not.
    AuditEntry.objects.filter(pk=held_entry.pk).update(redacted_at=timezone.now(), actor_label="", object_id="",
                                                       purpose="", ip_address="", detail={})  # fmt: skip
    assert audit_verify().ok
    with pytest.raises(CommandError, match=f"#{held_entry.seq} was erased without"):
        call_command("retention", "verify")


# --- a run that fails part way ---------------------------------------------------------------------


def _guard(reference: str) -> tuple[str, str]:
    """A database trigger that refuses to delete one report, as a records office's own database
    rule might: (create, drop) SQL for the engine in use."""
    if connection.vendor == "postgresql":
        return (
            "CREATE FUNCTION retention_test_guard() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'kept by the records office'; END; $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER retention_test_guard BEFORE DELETE ON reports_report FOR EACH ROW "
            f"WHEN (OLD.reference = '{reference}') EXECUTE FUNCTION retention_test_guard();",
            "DROP TRIGGER retention_test_guard ON reports_report; DROP FUNCTION retention_test_guard();",
        )
    return (
        f"CREATE TRIGGER retention_test_guard BEFORE DELETE ON reports_report WHEN OLD.reference = '{reference}' "
        "BEGIN SELECT RAISE(ABORT, 'kept by the records office'); END;",
        "DROP TRIGGER retention_test_guard;",
    )


def test_a_batch_that_fails_part_way_leaves_no_record_half_removed(world, uploads, django_capture_on_commit_callbacks):
    """Two of Alys's reports are due in one batch; the database refuses to delete the second
    after the first has gone. The whole batch rolls back: the first report is still there with
    its children, entries and file, no removal or audit entry is recorded for either, the run
    says it stopped and why, and the chain verifies. Once the refusal is lifted, a run finishes."""
    p = world.p
    second = report_submit(channel="practitioner", children=[SubjectIn(person=p.alys)], maker=p.staff.gp,
                           concern_codes=["social_care.neglect.concern"], what_happened="Alys had bruises on her arm.",
                           received_at=ago(5))  # fmt: skip
    report_decide(
        report=second,
        user=p.staff.social_worker,
        outcome="early_help",
        rationale="Early help offered again to the family.",
    )
    for raised in Alert.objects.exclude(status="closed"):
        alert_acknowledge(alert=raised, user=p.staff.social_worker)
        alert_record_outcome(alert=raised, user=p.staff.social_worker, outcome="early_help", note="Support offered.")
        alert_close(alert=raised, user=p.staff.social_worker)
    first_events = Event.objects.filter(external_id__startswith=f"report:{world.report.reference}:").count()
    file = uploads / Attachment.objects.get(report=world.report).stored_name
    create, drop = _guard(second.reference)
    with connection.cursor() as cursor:
        cursor.execute(create)
    with django_capture_on_commit_callbacks(execute=True):
        run = retention.retention_run(today=ALYS_25, classes=["reports"])
    assert (
        run.status == RunStatus.FAILED
        and run.error.startswith("reports: ")
        and "kept by the records office" in run.error
    )
    report = Report.objects.get(pk=world.report.pk)
    assert report.subjects.count() == 2 and report.attachments.count() == 1 and file.exists()
    assert Event.objects.filter(external_id__startswith=f"report:{report.reference}:").count() == first_events
    assert not Removal.objects.filter(record_class="reports").exists()
    assert not AuditEntry.objects.filter(object_type="retention", detail__class="reports").exists()
    assert audit_verify().ok and run.removed.get("reports", 0) == 0

    with connection.cursor() as cursor:
        cursor.execute(drop)
    with django_capture_on_commit_callbacks(execute=True):
        again = retention.retention_run(today=ALYS_25, classes=["reports"])
    assert again.status == RunStatus.COMPLETED, again.error
    assert not Report.objects.filter(pk__in=[world.report.pk, second.pk]).exists() and not file.exists()
    assert Removal.objects.filter(record_class="reports").count() == 2


def test_only_one_run_at_a_time_and_a_dead_run_does_not_block_for_ever(world):
    """A run in progress (in another process) refuses a second; one that started 13 hours ago and
    never finished is marked abandoned and the new run goes ahead."""
    other = RetentionRun.objects.create(started_at=timezone.now(), started_by_label="another operator",
                                        today=timezone.localdate(), schedule_sha256="0" * 64)  # fmt: skip
    with pytest.raises(retention.RetentionBusy):
        retention.retention_run(today=ALYS_25, classes=["reports"])
    RetentionRun.objects.filter(pk=other.pk).update(started_at=timezone.now() - timedelta(hours=13))
    run = retention.retention_run(today=ALYS_25, classes=["reports"])
    assert run.status == RunStatus.COMPLETED
    other.refresh_from_db()
    assert other.status == RunStatus.FAILED and other.error.startswith("abandoned")


# --- the command ------------------------------------------------------------------------------------


def test_the_command_lists_refuses_without_yes_runs_and_manages_holds(prydderch, capsys):
    """`cylch retention list` changes nothing; `run` needs --yes; holds are placed, listed and
    released from the command line, and each is audited."""
    old = record_event(organisation=prydderch.orgs.gp, code="health.adult_mental_health.concern",
                       occurred_at=ago(9 * 366), person=prydderch.ceri, recorded_by=prydderch.staff.gp).event  # fmt: skip
    call_command("retention", "list", "--class", "soft_concerns")
    out = capsys.readouterr().out
    assert str(old.public_id) in out and "adult_or_household: 8 years from when it was made" in out
    with pytest.raises(CommandError, match="add --yes"):
        call_command("retention", "run", "--class", "soft_concerns")
    assert Event.objects.filter(pk=old.pk).exists()

    call_command("retention", "hold", "add", "--person", str(prydderch.ceri.public_id), "--reason",
                 "Subject access complaint under review", "--reference", "ICO-123")  # fmt: skip
    hold = LegalHold.objects.get(person=prydderch.ceri)
    call_command("retention", "hold", "list")
    assert f"{hold.public_id}  person {prydderch.ceri.public_id} [ICO-123]" in capsys.readouterr().out
    call_command("retention", "run", "--class", "soft_concerns", "--yes")
    assert "soft_concerns: 0 removed, 1 kept" in capsys.readouterr().out and Event.objects.filter(pk=old.pk).exists()
    call_command("retention", "hold", "remove", str(hold.public_id), "--reason", "The complaint was closed.")
    call_command("retention", "run", "--class", "soft_concerns", "--yes")
    assert "soft_concerns: 1 removed" in capsys.readouterr().out and not Event.objects.filter(pk=old.pk).exists()
    with pytest.raises(CommandError, match="reason"):
        call_command("retention", "hold", "add", "--person", str(prydderch.ceri.public_id), "--reason", "short")
    assert AuditEntry.objects.filter(object_type="legal_hold").count() == 2

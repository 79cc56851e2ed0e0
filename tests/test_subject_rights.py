"""People's rights: the subject access export for Alys Prydderch holds every record about her,
marks what is about someone else for review, is audited and made only by her authority's team
managers; a correction at a person's request supersedes the entry and keeps the original."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from cylch.access.audit import audit_record
from cylch.access.models import AuditEntry
from cylch.access.roles import OrganisationKind, Role
from cylch.access.selectors import PersonNotFound, Viewer, access_person, visible_events
from cylch.chronology.models import ChildStory, Significance
from cylch.events.models import Event
from cylch.governance import rights
from cylch.governance.models import Rectification
from cylch.identity.models import HouseholdMembership, PersonLink, Relationship
from cylch.protection import models as protection
from cylch.reports.models import Attachment, ReportSubject
from cylch.rules.models import Alert
from tests import factories
from tests.test_retention import World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(prydderch, uploads, settings) -> World:
    settings.CYLCH_CHILD_INVITE_AGE = 18
    chair = factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                        organisation=prydderch.orgs.childrens_services)  # fmt: skip
    return build_world(prydderch, chair, uploads)


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    monkeypatch.setenv("CYLCH_UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def pdf_parts(body: bytes) -> tuple[dict, dict[str, bytes], str]:
    """The JSON inside the PDF, every file attached to it, and its text."""
    reader = PdfReader(io.BytesIO(body))
    files = {name: data[0] for name, data in reader.attachments.items()}
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return json.loads(files.pop(rights.JSON_NAME).decode("utf-8")), files, text


def items_of(document: dict) -> dict[str, dict]:
    return {item["id"]: item for section in document["sections"] for item in section["items"]}


def expected_ids(p, world: World) -> set[str]:
    """Every record about Alys, found here from the tables themselves."""
    alys = p.alys
    events = Event.objects.filter(Q(person=alys) | Q(household__memberships__person=alys, person__isnull=True))
    reports = ReportSubject.objects.filter(person=alys).values_list("report", flat=True)
    episodes = protection.Episode.objects.filter(child=alys)
    ids = {
        str(alys.public_id),
        *(str(link.agency_record.public_id) for link in PersonLink.objects.filter(person=alys, active=True)),
        *(str(m.household.public_id) for m in HouseholdMembership.objects.filter(person=alys)),
        *(f"relationship:{r.pk}" for r in Relationship.objects.filter(Q(person=alys) | Q(relative=alys))),
        *(str(pk) for pk in events.values_list("public_id", flat=True)),
        *(f"significance:{pk}" for pk in Significance.objects.filter(event__in=events).values_list("pk", flat=True)),
        *(f"story:{pk}" for pk in ChildStory.objects.filter(child=alys).values_list("pk", flat=True)),
        *(str(r.public_id) for r in world.report.__class__.objects.filter(pk__in=reports)),
        *(f"attachment:{a.pk}" for a in Attachment.objects.filter(report__in=reports)),
        *(str(e.public_id) for e in episodes),
        *(str(x.public_id) for x in protection.Meeting.objects.filter(episode__in=episodes)),
        *(str(x.public_id) for x in protection.Enquiry.objects.filter(episode__in=episodes)),
        *(str(x.public_id) for x in protection.Assessment.objects.filter(episode__in=episodes)),
        *(str(x.public_id) for x in protection.Plan.objects.filter(episode__in=episodes)),
        *(str(x.public_id) for x in protection.Registration.objects.filter(episode__in=episodes)),
        *(str(a.public_id) for a in Alert.objects.filter(children=alys)),
        *(str(r.public_id) for r in Rectification.objects.filter(person=alys)),
        *(
            f"audit:{seq}"
            for seq in AuditEntry.objects.filter(object_id=str(alys.public_id)).values_list("seq", flat=True)
        ),
    }
    return ids


# --- subject access -----------------------------------------------------------------------------


def test_subject_access_lists_every_record_about_alys_and_marks_third_party_items(world, uploads):
    """The file for Alys holds every record about her (found independently from the tables),
    nothing that is only about Ceri or Efa, and marks for review what names someone else, who
    made a report, what another organisation recorded that children's services would not see in
    full, and what is about the household; her own details are not marked."""
    p = world.p
    named = factories.event(organisation=p.orgs.school, person=p.alys, code="education.welfare_service.involvement",
                            summary="Alys said Dafydd shouts at night.", recorded_by=p.staff.school_lead)  # fmt: skip
    special = factories.event(organisation=p.orgs.gp, person=p.alys, code="health.appointment.was_not_brought",
                              details={"service": "camhs"}, sensitivity="special", recorded_by=p.staff.gp)  # fmt: skip
    fixed = rights.rectification_record(event=world.school, user=p.staff.school_lead, summary="The education welfare officer phoned",
                                        reason="Alys's mother says nobody visited the house.", requested_by_name="Ceri Prydderch",
                                        requester_relationship="parent", requested_on=timezone.localdate())  # fmt: skip
    audit_record(
        action="read", actor=p.staff.gp, object_type="person", object_id=p.alys.public_id, purpose="record opened"
    )
    ceri_only = world.adult
    efa_entry = factories.event(organisation=p.orgs.other_la_childrens_services, person=p.efa,
                                code="education.welfare_service.involvement", recorded_by=p.staff.other_la_social_worker)  # fmt: skip

    # Children's services know Alys through her process; without her social worker allocated
    # (starting the process allocates one) they are involved, not allocated, and do not see
    # the GP's special-category entry in full: the file marks it for review.
    from cylch.identity.models import Allocation, AllocationKind

    Allocation.objects.filter(person=p.alys, kind=AllocationKind.ALLOCATED_SOCIAL_WORKER).delete()
    expected = expected_ids(p, world)  # before the export, whose own audit entry comes after the file
    made = rights.subject_access_export(p.alys, user=p.staff.team_manager, fmt="pdf")
    document, files, text = pdf_parts(made.body)
    items = items_of(document)
    missing = expected - set(items)
    assert not missing, missing
    assert str(ceri_only.public_id) not in items and str(efa_entry.public_id) not in items
    assert str(fixed.correction.public_id) in items and str(world.school.public_id) in items  # both versions
    assert items[str(world.school.public_id)]["fields"]["corrected_by"] == str(fixed.correction.public_id)

    me = items[str(p.alys.public_id)]
    assert me["third_party"] is False and me["fields"]["date_of_birth"] == "2019-04-09"
    report = items[str(world.report.public_id)]
    assert report["third_party"] and "report_maker" in report["third_party_reasons"]
    assert "Ceri Prydderch" in report["names"] and report["fields"]["maker_name"] == "Nia Hughes"
    assert report["fields"]["what_happened"] == "Alys came to clinic hungry and with head lice again."
    assert "Twm Prydderch" in items[str(world.both.public_id)]["names"]
    assert "household" in items[str(world.household.public_id)]["third_party_reasons"]
    assert items[str(named.public_id)]["names"] == ["Dafydd"]
    assert "other_organisation" in items[str(special.public_id)]["third_party_reasons"]
    assert items[str(world.soft.public_id)]["third_party"] is False  # the GP's health entry, seen in full
    assert items[str(world.soft.public_id)]["practitioners"] == ["Rhodri Owen"]
    assert all(i["third_party"] for i in items.values() if i["kind"] in ("relationship", "household", "attachment"))
    assert document["counts"]["third_party"] == sum(i["third_party"] for i in items.values())

    stored = Attachment.objects.get(report=world.report)
    assert files[f"documents/{stored.pk}-photo.png"] == (uploads / stored.stored_name).read_bytes()
    assert "Check before release" in text and "hungry and with head lice" in text

    entry = made.audit
    assert (entry.action, entry.object_type, entry.object_id, entry.purpose) == (
        "export", "person", str(p.alys.public_id), "subject access export")  # fmt: skip
    assert (
        entry.detail["items"] == len(items) and entry.detail["third_party_items"] == document["counts"]["third_party"]
    )
    assert "Alys" not in json.dumps(entry.detail) and "Alys" not in made.filename


def test_the_readable_file_names_fields_and_dates_in_the_readers_language(world):
    """The PDF a person reads says "Dyddiad geni" and "9 Ebrill 2019" in Welsh ("Date of birth",
    "9 April 2019" in English), never the key or the ISO date; the JSON inside keeps both."""
    from django.utils import translation

    for language, label, born in (("cy", "Dyddiad geni", "9 Ebrill 2019"), ("en", "Date of birth", "9 April 2019")):
        with translation.override(language):
            made = rights.subject_access_export(world.p.alys, user=world.p.staff.team_manager, fmt="pdf")
        document, _files, text = pdf_parts(made.body)
        assert label in text and born in text, language
        assert "date_of_birth" not in text and "2019-04-09" not in text
        assert items_of(document)[str(world.p.alys.public_id)]["fields"]["date_of_birth"] == "2019-04-09"


def test_the_csv_has_a_row_per_field_with_the_third_party_mark(world):
    made = rights.subject_access_export(world.p.alys, user=world.p.staff.team_manager, fmt="csv")
    rows = list(csv.reader(io.StringIO(made.body.decode("utf-8-sig"))))
    assert rows[0] == rights.CSV_HEADER
    maker = next(r for r in rows if r[2] == str(world.report.public_id) and r[9] == "maker_name")
    assert (maker[5], maker[10]) == ("yes", "Nia Hughes") and "report_maker" in maker[6]
    assert made.audit.detail["format"] == "csv" and made.audit.detail["rows"] == made.audit.detail["items"]


def test_only_a_team_manager_of_an_authority_involved_with_the_person_may_export(world, client, demo_hub):
    """The social worker, the GP and Carmarthenshire's team manager get "not found" for Alys, as
    for a person who does not exist; Ceredigion's team manager gets the file, audited."""
    p = world.p
    carms = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                        organisation=p.orgs.other_la_childrens_services)  # fmt: skip
    for user in (p.staff.social_worker, p.staff.gp, carms):
        with pytest.raises(PersonNotFound):
            rights.subject_access_export(p.alys, user=user)
    assert rights.may_answer_requests(p.staff.team_manager) and not rights.may_answer_requests(p.staff.gp)
    url = reverse("governance:subject-access", args=[p.alys.public_id])
    client.force_login(p.staff.social_worker)
    assert client.get(url, {"format": "csv"}).status_code == 404
    client.force_login(carms)
    assert client.get(url, {"format": "csv"}).status_code == 404
    client.force_login(p.staff.team_manager)
    response = client.get(url, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    assert AuditEntry.objects.filter(action="export", object_id=str(p.alys.public_id),
                                     actor=p.staff.team_manager).count() == 1  # fmt: skip
    protected = client.get(url, {"format": "pdf", "protect": "yes"})
    assert protected.status_code == 200 and b"password" in protected.content.lower()


def test_the_rights_page_offers_the_export_to_the_manager_and_corrections_to_the_recorder(
    world, client, demo_hub, django_assert_num_queries
):
    """The manager is offered the file; the GP the GP's own entries to correct (not the school's),
    in a fixed number of queries however many entries there are."""
    p = world.p
    url = reverse("governance:rights", args=[p.alys.public_id])
    client.force_login(p.staff.gp)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(4):
        factories.event(organisation=p.orgs.gp, person=p.alys, code="health.appointment.was_not_brought",
                        details={"service": "gp"}, summary=f"Missed {n}", recorded_by=p.staff.gp)  # fmt: skip
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(url)
    client.force_login(p.staff.team_manager)
    page = client.get(url).content.decode()
    assert "Make the subject access file" in page
    client.force_login(p.staff.gp)
    page = client.get(url).content.decode()
    assert "Make the subject access file" not in page
    assert "made by a team manager of the children's services" in page  # whom to pass a request to
    assert reverse("governance:rectify", args=[p.alys.public_id, world.soft.public_id]) in page
    assert reverse("governance:rectify", args=[p.alys.public_id, world.school.public_id]) not in page  # the school's
    assert AuditEntry.objects.filter(purpose="people's rights page viewed", actor=p.staff.gp).count() == 4


def test_the_command_writes_the_file_as_the_manager_and_refuses_anyone_else(world, tmp_path, capsys):
    p = world.p
    out = tmp_path / "sar.pdf"
    call_command("rights", "access", str(p.alys.public_id), "--as", p.staff.team_manager.username, "--out", str(out))
    document, _files, _text = pdf_parts(out.read_bytes())
    assert str(world.report.public_id) in items_of(document)
    assert "Review every item marked third_party" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a team manager"):
        call_command(
            "rights", "access", str(p.alys.public_id), "--as", p.staff.gp.username, "--out", str(tmp_path / "x.pdf")
        )
    with pytest.raises(CommandError, match="exists"):
        call_command(
            "rights", "access", str(p.alys.public_id), "--as", p.staff.team_manager.username, "--out", str(out)
        )
    call_command("rights", "access", str(p.alys.public_id), "--as", p.staff.team_manager.username,
                 "--out", str(tmp_path / "locked.csv"), "--format", "csv", "--protect")  # fmt: skip
    said = capsys.readouterr().out
    assert (tmp_path / "locked.zip").exists() and "password (shown once" in said
    assert AuditEntry.objects.filter(action="export", purpose="subject access export").count() == 2


# --- rectification -----------------------------------------------------------------------------------


def test_a_correction_at_the_persons_request_supersedes_the_entry_and_keeps_the_original(world):
    """Ceri asks the GP practice to correct Alys's missed appointment: the correction takes its
    place in the chronology marked "Corrected", the original and its earlier version are kept
    unchanged, and the request (who asked, when, why) is recorded beside it and audited."""
    p = world.p
    before = (world.soft.summary, world.soft.details)
    done = rights.rectification_record(event=world.soft, user=p.staff.gp, summary="Not brought to the GP: the practice cancelled",
                                       reason="The practice cancelled the appointment, not the family.",
                                       requested_by_name="Ceri Prydderch", requester_relationship="parent",
                                       requested_on=date(2026, 12, 1))  # fmt: skip
    assert done.correction.supersedes == world.soft and done.person == p.alys and done.recorded_by == p.staff.gp
    world.soft.refresh_from_db()
    assert (world.soft.summary, world.soft.details) == before
    assert Event.objects.filter(pk__in=[world.soft.pk, world.soft_original.pk]).count() == 2
    shown = [v.event for v in visible_events(access_person(Viewer.for_user(p.staff.gp), p.alys.public_id))]
    assert done.correction in shown and world.soft not in shown
    entry = AuditEntry.objects.get(object_type="rectification", object_id=str(done.public_id))
    assert entry.detail["original"] == str(world.soft.public_id) and entry.detail["requester"] == "parent"

    versions = rights.versions_of(access_person(Viewer.for_user(p.staff.gp), p.alys.public_id), world.soft_original)
    assert [v.event for v in versions] == [done.correction, world.soft, world.soft_original]
    assert versions[0].current and versions[0].rectification == done and versions[1].rectification is None
    assert all(v.shows_content for v in versions)


def test_only_the_recording_organisation_corrects_and_a_correction_must_change_something(world):
    p = world.p
    with pytest.raises(PermissionDenied):
        rights.rectification_record(event=world.soft, user=p.staff.school_lead, summary="Something else",
                                    reason="Mother disagrees with it", requested_by_name="Ceri Prydderch",
                                    requester_relationship="parent", requested_on=date(2026, 12, 1))  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        rights.rectification_record(event=world.soft, user=p.staff.gp, summary=world.soft.summary, reason="short",
                                    requested_by_name="", requester_relationship="neighbour",
                                    requested_on=date(2099, 1, 1))  # fmt: skip
    assert set(exc.value.message_dict) == {
        "summary",
        "reason",
        "requested_by_name",
        "requester_relationship",
        "requested_on",
    }
    with pytest.raises(ValidationError) as exc:  # only the latest version can be corrected
        rights.rectification_record(event=world.soft_original, user=p.staff.gp, summary="Another go",
                                    reason="Mother disagrees with it", requested_by_name="Ceri Prydderch",
                                    requester_relationship="parent", requested_on=date(2026, 12, 1))  # fmt: skip
    assert "supersedes" in exc.value.message_dict
    assert not Rectification.objects.exists()


def test_the_pages_record_a_correction_and_show_every_version_to_those_who_may_see_them(world, client, demo_hub):
    """The GP corrects through the form and lands on the versions page; the school sees the
    same versions at the level the policy gives it (health entries: what and when, not the
    text) with who asked; the police see the page too, and a stranger gets not found."""
    p = world.p
    rectify = reverse("governance:rectify", args=[p.alys.public_id, world.soft.public_id])
    client.force_login(p.staff.school_lead)
    assert client.get(rectify).status_code == 403
    client.force_login(p.staff.gp)
    form = client.get(rectify).content.decode()
    assert "Not brought to the GP" in form and "What was wrong" in form
    bad = client.post(rectify, {"summary": "", "requester_relationship": "self", "requested_on": "01/12/2026"})
    assert bad.status_code == 200 and "Enter what the entry should say" in bad.content.decode()
    response = client.post(rectify, {
        "summary": "Not brought to the GP: the practice cancelled", "occurred_on": "", "requested_by_name": "Ceri Prydderch",
        "requester_relationship": "parent", "requested_on": "01/12/2026",
        "reason": "The practice cancelled the appointment, not the family."})  # fmt: skip
    done = Rectification.objects.get()
    versions_url = reverse("governance:versions", args=[p.alys.public_id, done.correction.public_id])
    assert response.status_code == 302 and response["Location"] == versions_url
    page = client.get(versions_url).content.decode()
    assert page.count("Corrected</strong>") == 2 and "The practice cancelled the appointment, not the family." in page
    assert "Not brought to the dentist" in page and "Asked for by a parent or carer" in page

    client.force_login(p.staff.school_lead)
    page = client.get(versions_url).content.decode()
    assert "Asked for by a parent or carer" in page and "Not brought to the dentist" not in page
    assert "Summary only: ask the recording agency for the details." in page
    stranger = factories.demo_practitioner(username="gp.elsewhere", role=Role.GP, organisation=factories.organisation(
        code="meddygfa-arall", kind=OrganisationKind.GP_PRACTICE, local_authority=p.places.carmarthenshire))  # fmt: skip
    client.force_login(stranger)
    page = client.get(versions_url).content.decode()
    assert "Withheld: recorded by" in page and "Not brought" not in page
    assert AuditEntry.objects.filter(purpose="entry versions viewed").count() == 3

"""The process's documents: the conference record, the plan and the decision letter to a
parent, as PDF in English, Welsh or both; only for people in the process; always audited."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.voice import story_save
from cylch.protection import documents, meetings, plans, services
from cylch.protection.models import Decision, Enquiry, InviteeKind, MeetingKind, PlanKind
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db


# --- building the process through its services (as in test_protection) -----------------------


def days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


def strategy(p, episode, *, held: date):
    meeting = episode.meetings.get(kind=MeetingKind.STRATEGY, held_at__isnull=True)
    parts = [
        services.Participant(p.orgs.childrens_services, "Gwen Thomas"),
        services.Participant(p.orgs.police, "DC Parry"),
        services.Participant(p.orgs.gp, "Dr Owen"),
        services.Participant(p.orgs.school, "Bethan Jenkins"),
    ]
    data = services.StrategyInput(held_at=at(held, 10), format="virtual", participants=parts,
                                  information_shared="Bruising seen at school; two police notices.",
                                  decision=Decision.SECTION_47, reasons="Reasonable cause to suspect significant harm.")  # fmt: skip
    return services.record_strategy(meeting, user=p.staff.social_worker, data=data)


def to_conference(p):
    episode = services.open_episode(child=p.alys, user=p.staff.social_worker)
    strategy(p, episode, held=days_ago(20))
    services.conclude_enquiry(episode.enquiries.get(), user=p.staff.social_worker, outcome=Enquiry.Outcome.AT_RISK,
                              findings="Neglect substantiated.", concluded_on=days_ago(15), child_seen_alone=True)  # fmt: skip
    episode.refresh_from_db()
    return episode, episode.meetings.get(kind=MeetingKind.INITIAL)


@pytest.fixture
def chair(prydderch):
    return factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                       organisation=prydderch.orgs.childrens_services, first_name="Menna",
                                       last_name="Huws")  # fmt: skip


@pytest.fixture
def registered(prydderch, chair, settings):
    settings.CYLCH_CHILD_INVITE_AGE = 18  # no child invitee: the lists stay short
    return build_registered(prydderch, chair)


def build_registered(p, chair):
    """Alys registered under neglect and emotional abuse at a Welsh-language conference her
    mother could not attend, with the GP's report shared, a dissent, her story, and a plan."""
    access = access_person(Viewer.for_user(p.staff.school_lead), p.alys.public_id)
    story_save(access=access, user=p.staff.school_lead, summary="Alys loves drawing horses and wants a dog.")
    episode, icpc = to_conference(p)
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    meetings.submit_report(icpc.invitees.get(organisation=p.orgs.gp), user=p.staff.gp, text="Missed immunisations.")
    meetings.share_with_parents(icpc, user=p.staff.social_worker)
    attended = {i.pk: i.kind != InviteeKind.PARENT for i in icpc.invitees.filter(removed_at__isnull=True)}
    meetings.record_conference(icpc, user=chair, data=meetings.ConferenceInput(
        held_at=at(days_ago(12), 14), format="hybrid", language="cy", attended=attended, decision=Decision.REGISTER,
        categories=["neglect", "emotional"], reasons="Continuing risk of neglect: Alys is often hungry.",
        record="Cofnod y gynhadledd: trafodwyd anghenion Alys.",
        challenges=[services.ChallengeInput(kind="dissent", raised_by="Dr Owen", organisation=p.orgs.gp,
                                            text="The GP thought a plan without registration was enough.")]))  # fmt: skip
    plan = episode.plans.get(kind=PlanKind.CSPP)
    plans.save_plan(plan, user=p.staff.social_worker, text=plans.PlanText(
        worries="Alys often arrives at school hungry.", outcomes="Alys has breakfast every day.",
        child_can_do="Tell Mrs Jenkins at school.", contingency="Strategy discussion if she is not in school."))  # fmt: skip
    action = plans.add_action(plan, user=p.staff.social_worker, text="Breakfast club place", owner=p.orgs.school,
                              owner_name="Bethan Jenkins", due_on=timezone.localdate() + timedelta(days=14))  # fmt: skip
    plans.update_action(action, user=p.staff.school_lead, status="on_track", note="Started on Monday")
    icpc.refresh_from_db()
    plan.refresh_from_db()
    return p, episode, icpc, plan


def pdf_text(response) -> str:
    from pypdf import PdfReader

    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def between(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


# --- the conference record ----------------------------------------------------------------------


def test_the_conference_record_in_english_holds_the_story_the_absentee_the_decision_and_the_watermark(
    registered, client, demo_hub
):
    """The record opens with the child's story, lists the parent who was not there, names the
    categories and reasons, the GP's report and when it was shared, the dissent, and the next
    conference; every page says who exported it."""
    p, episode, icpc, _plan = registered
    client.force_login(p.staff.social_worker)
    text = pdf_text(client.get(reverse("protection:record-pdf", args=[icpc.public_id]), {"lang": "en"}))
    assert "Initial child protection conference" in text
    assert "Conference record for Alys Prydderch" in text
    assert "Exported from Cylch by Gwen Thomas (Ceredigion Children's Services)" in text
    assert text.index("The child's story") < text.index("Who was invited") < text.index("Decision")
    assert "Alys loves drawing horses" in text
    absent = between(text, "Invited but not present", "Reports from agencies")
    assert "Ceri Prydderch" in absent and "Meddygfa'r Bont" not in absent
    assert "Meddygfa'r Bont" in between(text, "Attended", "Invited but not present")
    reports = between(text, "Reports from agencies", "Decision")
    assert "Meddygfa'r Bont" in reports and "Not received" in reports  # the school sent none
    assert "Register: the child is at continuing risk of harm" in text
    assert "Neglect" in text and "Emotional or psychological abuse" in text
    assert "Continuing risk of neglect: Alys is often hungry." in text
    assert "Dissent from the decision" in text and "a plan without registration was enough" in text
    # Held in Welsh, read in English: the record as written, and a pointer to a translation.
    assert "Cofnod y gynhadledd" in text and "written in Welsh" in text
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    next_on = timezone.localtime(review.scheduled_for).date()
    assert f"{next_on.day} {next_on:%B %Y}" in between(text, "Next conference", "If anything")
    audit = AuditEntry.objects.get(action="export", purpose="conference record exported")
    assert audit.actor == p.staff.social_worker and audit.object_id == str(icpc.public_id)
    assert audit.detail["language"] == "en" and audit.detail["child"] == str(p.alys.public_id)


def test_the_welsh_and_bilingual_records_are_rendered_in_welsh_welsh_first(registered, client, demo_hub):
    """The Welsh version is rendered under Welsh: its watermark, headings already translated,
    organisation names and month names. Bilingual is the Welsh then the English."""
    p, _episode, icpc, _plan = registered
    client.force_login(p.staff.social_worker)
    url = reverse("protection:record-pdf", args=[icpc.public_id])
    cy = pdf_text(client.get(url, {"lang": "cy"}))
    assert "Allforiwyd o Gylch gan Gwen Thomas (Gwasanaethau Plant Ceredigion)" in cy
    assert "Exported from Cylch" not in cy
    assert "Penderfyniad" in cy and "Dyddiad" in cy and "Rhesymau dros y penderfyniad" in cy
    held = timezone.localtime(icpc.held_at).date()
    assert f"{held.day} {welsh_month(held)} {held.year}" in cy
    assert "written in Welsh" not in cy  # the record is in the language it was held in
    both = pdf_text(client.get(url, {"lang": "both"}))
    assert "Allforiwyd o Gylch" in both and "Exported from Cylch" in both
    assert both.index("Penderfyniad") < both.index("Reasons for the decision")
    assert both.index("Allforiwyd o Gylch") < both.index("Exported from Cylch")
    assert [e.detail["language"] for e in AuditEntry.objects.filter(purpose="conference record exported")] == [
        "cy",
        "both",
    ]


def welsh_month(day: date) -> str:
    from django.utils import translation
    from django.utils.dates import MONTHS

    with translation.override("cy"):
        return str(MONTHS[day.month])


def test_the_language_follows_the_request_when_none_is_asked_for(registered, client, demo_hub):
    p, _episode, icpc, _plan = registered
    client.force_login(p.staff.social_worker)
    client.cookies["cylch_language"] = "cy"
    text = pdf_text(client.get(reverse("protection:record-pdf", args=[icpc.public_id])))
    assert "Allforiwyd o Gylch" in text
    assert AuditEntry.objects.get(purpose="conference record exported").detail["language"] == "cy"


def test_no_record_for_a_meeting_not_yet_held_or_for_an_outsider(registered, client, demo_hub):
    """A conference not held has no record; someone outside the process gets a 404 whether
    or not the meeting exists, and nothing is audited as exported."""
    p, episode, icpc, plan = registered
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    client.force_login(p.staff.social_worker)
    assert client.get(reverse("protection:record-pdf", args=[review.public_id])).status_code == 404
    client.force_login(p.staff.other_la_social_worker)  # Carmarthenshire: may open people, not in Alys's process
    assert client.get(reverse("protection:record-pdf", args=[icpc.public_id])).status_code == 404
    assert client.get(reverse("protection:plan-pdf", args=[plan.public_id])).status_code == 404
    parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    assert client.get(reverse("protection:letter-pdf", args=[icpc.public_id, parent.public_id])).status_code == 404
    assert not AuditEntry.objects.filter(action="export").exists()


def test_an_invited_agency_may_download_the_record(registered, client, demo_hub):
    p, _episode, icpc, _plan = registered
    client.force_login(p.staff.gp)
    text = pdf_text(client.get(reverse("protection:record-pdf", args=[icpc.public_id]), {"lang": "en"}))
    assert "Exported from Cylch by Rhodri Owen (Meddygfa'r Bont)" in text


# --- the plan ---------------------------------------------------------------------------------


def test_the_plan_has_its_version_words_and_actions_with_the_latest_update(registered, client, demo_hub):
    p, _episode, _icpc, plan = registered
    client.force_login(p.staff.school_lead)  # owns an action and was invited
    text = pdf_text(client.get(reverse("protection:plan-pdf", args=[plan.public_id]), {"lang": "en"}))
    assert "Care and support protection plan" in text and "The plan for Alys Prydderch" in text
    assert f"Version {plan.version}," in text
    assert "Alys often arrives at school hungry." in between(text, "What we are worried about", "What needs to change")
    assert "Alys has breakfast every day." in text
    assert "Tell Mrs Jenkins at school." in between(text, "What Alys can do if they feel unsafe", "contingency")
    assert "Strategy discussion if she is not in school." in text
    actions = between(text, "Actions", "This plan is a living document")
    for expected in ["Breakfast club place", "Ysgol Glan-y-Môr", "Bethan Jenkins", "On track", "Started on Monday"]:
        assert expected.replace(" ", "") in actions.replace(" ", ""), expected  # cells wrap
    assert "Exported from Cylch by Bethan Jenkins" in text
    audit = AuditEntry.objects.get(purpose="protection plan exported")
    assert audit.detail["version"] == plan.version and audit.object_id == str(plan.public_id)


def test_the_bilingual_plan_is_welsh_first(registered, client, demo_hub):
    p, _episode, _icpc, plan = registered
    client.force_login(p.staff.social_worker)
    text = pdf_text(client.get(reverse("protection:plan-pdf", args=[plan.public_id]), {"lang": "both"}))
    assert text.index("Allforiwyd o Gylch") < text.index("Exported from Cylch")
    assert text.count("Breakfast club place") == 2
    assert "Statws" in text and "Status" in text


# --- the decision letter --------------------------------------------------------------------------


def test_the_decision_letter_to_a_parent_says_plainly_what_was_decided_and_what_happens_next(
    registered, client, demo_hub
):
    p, episode, icpc, _plan = registered
    client.force_login(p.staff.social_worker)
    parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    text = pdf_text(client.get(reverse("protection:letter-pdf", args=[icpc.public_id, parent.public_id]),
                               {"lang": "en"}))  # fmt: skip
    assert "Dear Ceri Prydderch," in text
    assert "4 Maes y Felin" in text and "SY23 3ZZ" in text
    assert "We decided to put Alys's name on the child protection register." in text
    assert "It is not a criminal record." in text
    assert "Neglect: Alys may not be getting the care they need every day" in text
    assert "Emotional abuse:" in text
    assert "Continuing risk of neglect: Alys is often hungry." in text
    assert "You were not at the meeting." in text  # she sent apologies
    core = episode.meetings.filter(kind=MeetingKind.CORE_GROUP, held_at__isnull=True).get()
    core_on = timezone.localtime(core.scheduled_for).date()
    assert "within 10 working days" in text and f"by {core_on.day} {core_on:%B %Y}" in text
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    review_on = timezone.localtime(review.scheduled_for).date()
    assert f"The next conference (a review) will be on {review_on.day} {review_on:%B %Y}" in text
    assert "Gwen Thomas" in between(text, "Who to contact", "If something is wrong")
    assert "within 10 working days of getting it" in text
    assert "advocate" in text and "in Welsh or in English" in text
    assert "Menna Huws" in text
    assert re.search(r"Exported from Cylch by Gwen Thomas", text)
    audit = AuditEntry.objects.get(purpose="decision letter to a parent exported")
    assert audit.detail["invitee"] == str(parent.public_id)


def test_a_letter_only_for_a_parent_invited_to_that_conference(registered, client, demo_hub):
    p, episode, icpc, _plan = registered
    client.force_login(p.staff.social_worker)
    gp = icpc.invitees.get(organisation=p.orgs.gp)
    assert client.get(reverse("protection:letter-pdf", args=[icpc.public_id, gp.public_id])).status_code == 404
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    parent_at_review = review.invitees.get(kind=InviteeKind.PARENT)
    url = reverse("protection:letter-pdf", args=[icpc.public_id, parent_at_review.public_id])
    assert client.get(url).status_code == 404  # another meeting's invitee
    url = reverse("protection:letter-pdf", args=[review.public_id, parent_at_review.public_id])
    assert client.get(url).status_code == 404  # not held yet


def test_the_bilingual_letter_is_welsh_first_with_welsh_names(registered, client, demo_hub):
    p, _episode, icpc, _plan = registered
    client.force_login(p.staff.social_worker)
    parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    text = pdf_text(client.get(reverse("protection:letter-pdf", args=[icpc.public_id, parent.public_id]),
                               {"lang": "both"}))  # fmt: skip
    welsh, english = text[: text.index("Exported from Cylch")], text[text.index("Exported from Cylch") :]
    assert "Allforiwyd o Gylch" in welsh and "Gwasanaethau Plant Ceredigion" in welsh
    assert "Ceredigion Children's Services" in english
    assert "Dear Ceri Prydderch," in english


# --- the functions themselves ---------------------------------------------------------------------


def test_an_unknown_language_is_refused(registered):
    p, _episode, _icpc, plan = registered
    with pytest.raises(ValueError):
        documents.plan_pdf(plan, user=p.staff.social_worker, language="fr")
    assert documents.languages("both") == ["cy", "en"]


def test_a_review_that_ends_the_registration_says_so_in_the_record_and_the_letter(registered, chair, client, demo_hub):
    """The review's record carries progress and risk of future harm, the support after the
    register and the contingency; the parent's letter says plainly the name comes off."""
    p, episode, _icpc, _plan = registered
    review = episode.meetings.get(kind=MeetingKind.REVIEW, held_at__isnull=True)
    meetings.send_invitations(review, user=p.staff.social_worker)
    attended = {i.pk: True for i in review.invitees.filter(removed_at__isnull=True)}
    meetings.record_conference(review, user=chair, data=meetings.ConferenceInput(
        held_at=at(days_ago(2), 10), format="in_person", language="en", attended=attended,
        decision=Decision.DEREGISTER, categories=[], reasons="Alys has breakfast every day now.",
        record="Review held.", progress="Breakfast club every day; weight back on track.",
        risk_of_future_harm="Low", eligible_needs="Early help: parenting programme",
        contingency="Any weight loss: the GP calls the social worker."))  # fmt: skip
    client.force_login(p.staff.social_worker)
    text = pdf_text(client.get(reverse("protection:record-pdf", args=[review.public_id]), {"lang": "en"}))
    assert "Review child protection conference" in text
    assert "Breakfast club every day" in between(text, "Progress since the last conference", "Risk of future harm")
    assert "Remove from the register" in text
    assert "Early help: parenting programme" in text and "Any weight loss" in text
    assert "None: the child's name was removed from the register." in text
    parent = review.invitees.get(kind=InviteeKind.PARENT)
    letter = pdf_text(client.get(reverse("protection:letter-pdf", args=[review.public_id, parent.public_id]),
                                 {"lang": "en"}))  # fmt: skip
    assert "We decided to take Alys's name off the child protection register." in letter
    assert "What the register means" not in letter and "Early help: parenting programme" in letter
    assert "You were not at the meeting." not in letter

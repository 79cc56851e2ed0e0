"""The review report (template sections, the chronology drafted from the records), the quality
checklist on a complete and an incomplete review, sign-off waiting for it, the recommendations
tracker, who sees which review, and the PDF and Word exports."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry, BoardArea
from cylch.access.roles import Role
from cylch.chronology.models import Significance
from cylch.reviews import quality, report, services
from cylch.reviews import recommendations as tracker
from cylch.reviews.models import Incident, Recommendation
from tests import factories

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
INCIDENT = TODAY - timedelta(days=200)


def _board(p, code, area, kind="safeguarding_board"):
    board = factories.organisation(
        code=code, kind=kind, name_en=f"{code} board", name_cy=f"Bwrdd {code}", local_authority=None
    )
    board.board_area = area
    board.save()
    return board


@pytest.fixture
def world(prydderch):
    p = prydderch
    area = p.places.mid_and_west_wales
    panel = factories.demo_practitioner(
        username="review.chair", role=Role.REVIEW_PANEL, organisation=_board(p, "mww", area)
    )
    national_org = _board(p, "nisb", None, kind="national_board")
    national = factories.demo_practitioner(username="nisb.panel", role=Role.REVIEW_PANEL, organisation=national_org)
    referral = services.refer(board_area=area, child=p.alys, incident=Incident.LIFE_THREATENING, incident_on=INCIDENT,
                              user=panel, referred_on=INCIDENT + timedelta(days=10))  # fmt: skip
    review = services.decide(referral, user=panel, review_type="cpr_concise", reasons="No statutory involvement.",
                             scope_from=INCIDENT - timedelta(days=300))  # fmt: skip
    return {"p": p, "panel": panel, "national": national, "review": review}


def _event(p, code, day, *, sensitivity=None, significant=False, org=None):
    event = factories.event(organisation=org or p.orgs.childrens_services, person=p.alys, code=code,
                            occurred_at=factories.at(day), details=factories.minimal_details(code))  # fmt: skip
    if sensitivity:
        type(event).objects.filter(pk=event.pk).update(sensitivity=sensitivity)
    if significant:
        Significance.objects.create(event=event, organisation=event.organisation, note="", marked_at=timezone.now())
    return event


# --- sections ---------------------------------------------------------------------------------


def test_a_section_saves_text_and_an_empty_one_keeps_the_reason_it_was_left_out(world):
    review, panel = world["review"], world["panel"]
    report.section_save(review, user=panel, key="parallel_investigations", omitted="Police enquiry still open.")
    assert report.report_of(review).section("parallel_investigations") == {
        "text": "",
        "omitted": "Police enquiry still open.",
    }
    report.section_save(review, user=panel, key="parallel_investigations", text="None.", omitted="stale")
    assert report.report_of(review).section("parallel_investigations") == {"text": "None.", "omitted": ""}
    assert (
        AuditEntry.objects.filter(
            action="write", detail__what="review.report.section", object_id=str(review.public_id)
        ).count()
        == 2
    )


def test_row_sections_drop_blank_rows_and_name_the_row_of_a_bad_date(world):
    review, panel = world["review"], world["panel"]
    report.section_save(review, user=panel, key="chronology",
                        rows=[["01/02/2026", "GP: missed", ""], ["", "", ""], ["03/02/2026", "School: worry", "Logged"]])  # fmt: skip
    assert len(report.report_of(review).section("chronology")["rows"]) == 2
    with pytest.raises(ValidationError) as err:
        report.section_save(
            review, user=panel, key="chronology", rows=[["01/02/2026", "a", ""], ["31/02/2026", "b", ""]]
        )
    assert "Row 2" in str(err.value.message_dict["rows"])
    assert len(report.report_of(review).section("chronology")["rows"]) == 2  # unchanged
    with pytest.raises(ValidationError):
        report.section_save(review, user=panel, key="no_such_section", text="x")


def test_the_chronology_is_drafted_from_significant_entries_and_statutory_steps_in_the_period(world):
    p, review, panel = world["p"], world["review"], world["panel"]
    inside = INCIDENT - timedelta(days=30)
    _event(p, "health.appointment.was_not_brought", inside, org=p.orgs.gp, significant=True)
    _event(p, "health.appointment.was_not_brought", inside - timedelta(days=2), org=p.orgs.gp)  # not marked
    _event(p, "health.appointment.was_not_brought", inside - timedelta(days=4), org=p.orgs.gp, significant=True,
           sensitivity="special")  # fmt: skip
    _event(p, "health.appointment.was_not_brought", INCIDENT - timedelta(days=400), org=p.orgs.gp, significant=True)
    rows = report.chronology_draft(review)
    assert [r[0] for r in rows] == [inside.strftime("%d/%m/%Y")]
    assert rows[0][1].startswith(p.orgs.gp.name_en + ": ")
    assert report.chronology_generate(review, user=panel) == 1
    assert AuditEntry.objects.filter(
        action="read", detail__what="review.chronology.drafted", object_id=str(p.alys.public_id)
    ).exists()
    with pytest.raises(ValidationError):  # an edited chronology is not overwritten unasked
        report.chronology_generate(review, user=panel)
    assert report.chronology_generate(review, user=panel, replace=True) == 1


# --- the quality checklist ---------------------------------------------------------------------


def _complete(review, panel):
    fill = {
        "outline": "Concise review under the guidance; period 10 months.",
        "circumstances": "An anonymised account.",
        "child": "Girl, aged 7.",
        "family_dynamic": "Mother, stepfather, two siblings aged 3 and 10.",
        "objectives": "The terms of reference's questions.",
        "learning_event": "Held with eight agencies.",
        "parallel_investigations": "A police investigation; the review went ahead.",
        "core_compliance": "Mostly.",
        "core_inter_agency": "Agency by agency.",
        "core_child_focused": "Individual focus.",
        "scrutiny": "Debated at two panel meetings.",
        "actioned_changes": "The GP practice now flags missed appointments.",
    }
    for key, text in fill.items():
        report.section_save(review, user=panel, key=key, text=text)
    rows = {
        "panel": [["Chair", "A. Chair", "Board", "Strategic"], ["Member", "B. Member", "Police", "Operational"]],
        "agency_involvement": [["Health visiting", "Visits", "Written account"]],
        "chronology": [["01/01/2026", "Referral", "No further action"]],
        "family_perspectives": [["Mother", "Interview", "Nobody asked about her partner."]],
        "learning_points": [["Missed appointments seen alone", "Three services"]],
        "reviewer_statements": [
            ["R. Viewer", "Reviewer", "yes", "01/03/2026"],
            ["A. Chair", "Chair of the panel", "", "01/03/2026"],
        ],
        "family_tree": [["Mother", "Mother", "29", "yes"]],
    }
    for key, value in rows.items():
        report.section_save(review, user=panel, key=key, rows=value)
    tracker.recommendation_add(review, user=panel, text="Health visitors share missed appointments with the GP weekly.",
                               success_measure="Audit of 20 cases shows sharing.", owner_agency="Hywel Dda UHB",
                               kind="operational", level="local", urgency="immediate", due_on=TODAY + timedelta(days=90),
                               themes=["theme.health_complexity"])  # fmt: skip
    learning = review.milestones.get(step="learning_event")
    learning.done_on = TODAY - timedelta(days=5)
    learning.save()


def test_the_checklist_on_an_incomplete_review_lists_what_to_fix(world):
    result = quality.assess(world["review"])
    ids = {i.id for i in result.to_fix}
    assert {"age_gender", "chronology", "family_voice", "recommendations", "signed"} <= ids
    assert "incident_date" not in ids and "timeline_rationale" not in ids  # 10 months back: no rationale needed
    assert {i.id: i.status for i in result.items}["publication_date"] == quality.NOT_DUE
    assert "interim_reflection" not in {i.id for i in result.items}  # not a step of a concise review
    assert result.score < 30


def test_the_checklist_on_a_complete_review_scores_fully_and_a_reason_counts_as_explained(world):
    review, panel = world["review"], world["panel"]
    _complete(review, panel)
    result = quality.assess(review)
    assert result.to_fix == [] and result.score == 100, [(i.id, i.status) for i in result.items if i.status != "met"]
    report.section_save(review, user=panel, key="scrutiny", text="")
    assert [i.id for i in quality.assess(review).to_fix] == ["scrutiny"]
    quality.rationale_set(review, user=panel, item="scrutiny", rationale="The board did not meet before sign-off.")
    result = quality.assess(review)
    assert result.to_fix == [] and result.explained == 1 and result.score < 100


def test_sign_off_waits_for_the_checklist(world):
    review, panel = world["review"], world["panel"]
    sign_off = review.milestones.get(step="sign_off")
    with pytest.raises(ValidationError) as err:
        services.record_milestone(sign_off, user=panel, done_on=TODAY, delay_reason="reviewer_availability")
    assert "cannot be signed off" in str(err.value)
    review.refresh_from_db()
    assert review.completed_on is None
    _complete(review, panel)
    services.record_milestone(sign_off, user=panel, done_on=TODAY, delay_reason="reviewer_availability")
    review.refresh_from_db()
    assert review.completed_on == TODAY
    with pytest.raises(ValidationError):  # signed off: the report is fixed
        report.section_save(review, user=panel, key="outline", text="changed")


def test_a_long_review_period_needs_its_rationale(world):
    p, panel = world["p"], world["panel"]
    referral = services.refer(board_area=p.places.mid_and_west_wales, child=p.twm, incident=Incident.DIED,
                              incident_on=INCIDENT, user=panel, referred_on=INCIDENT + timedelta(days=3))  # fmt: skip
    review = services.decide(referral, user=panel, review_type="cpr_extended", reasons="On the register.",
                             scope_from=INCIDENT - timedelta(days=500), scope_rationale="Two earlier referrals.")  # fmt: skip
    statuses = {i.id: i.status for i in quality.assess(review).items}
    assert statuses["timeline_rationale"] == quality.MET
    assert statuses["interim_reflection"] == quality.MISSING  # an extended review's step, not yet held


# --- the recommendations tracker ---------------------------------------------------------------


def test_a_recommendation_must_be_smart_and_closing_needs_evidence(world):
    review, panel = world["review"], world["panel"]
    with pytest.raises(ValidationError) as err:
        tracker.recommendation_add(review, user=panel, text="Improve practice.", success_measure="", owner_agency="",
                                   kind="x", level="local", urgency="immediate", due_on=None, themes=["theme.nope"])  # fmt: skip
    assert set(err.value.message_dict) == {"text", "success_measure", "owner_agency", "kind", "due_on", "themes"}
    rec = tracker.recommendation_add(review, user=panel, text="Schools tell the MASH of every PPN they receive.",
                                     success_measure="Dip sample", owner_agency="Education", kind="strategic",
                                     level="regional", urgency="planning", due_on=TODAY + timedelta(days=30))  # fmt: skip
    second = tracker.recommendation_add(review, user=panel, text="Police copy each domestic abuse notice to school.",
                                        success_measure="Audit", owner_agency="Police", kind="operational",
                                        level="regional", urgency="immediate", due_on=TODAY + timedelta(days=30))  # fmt: skip
    assert (rec.number, second.number) == (1, 2)
    with pytest.raises(ValidationError) as err:
        tracker.recommendation_update(rec, user=panel, status="completed", note="Done.")
    assert "evidence" in err.value.message_dict
    tracker.recommendation_update(rec, user=panel, status="completed", note="Done.", evidence="Protocol v2 signed off.")
    rec.refresh_from_db()
    assert rec.status == "completed" and rec.closed_on == TODAY and rec.updates.count() == 1
    with pytest.raises(ValidationError):
        tracker.recommendation_update(rec, user=panel, status="in_progress", note="Reopen?")


def test_overdue_annual_review_and_common_themes(world):
    review, panel = world["review"], world["panel"]
    late = tracker.recommendation_add(review, user=panel, text="Midwives share concerns with health visitors at handover.",
                                      success_measure="Audit", owner_agency="Midwifery", kind="operational", level="local",
                                      urgency="immediate", due_on=TODAY - timedelta(days=1),
                                      themes=["theme.health_complexity", "finding.missed_health_appointments"])  # fmt: skip
    fine = tracker.recommendation_add(review, user=panel, text="The board audits the whole-family approach yearly.",
                                      success_measure="Audit report", owner_agency="Board", kind="strategic",
                                      level="regional", urgency="planning", due_on=TODAY + timedelta(days=60),
                                      themes=["theme.health_complexity"])  # fmt: skip
    qs = tracker.tracked(board_area=world["p"].places.mid_and_west_wales)
    assert list(tracker.overdue(qs)) == [late]
    Recommendation.objects.filter(pk=fine.pk).update(created_at=timezone.now() - timedelta(days=400))
    assert tracker.annual_review_due(qs) == [fine]
    tracker.recommendation_update(fine, user=panel, status="in_progress", note="Reviewed.", annual_review=True)
    assert tracker.annual_review_due(qs) == []
    themes = {c.theme: c for c in tracker.common_themes(qs)}
    assert themes["theme.health_complexity"].recommendations == 2 and themes["theme.health_complexity"].overdue == 1
    assert themes["finding.missed_health_appointments"].boards == 1


# --- who sees what, the pages and the exports -------------------------------------------------


def test_pages_for_the_board_read_only_for_the_national_board_and_nothing_for_others(world, client, demo_hub):
    review, panel, national, p = world["review"], world["panel"], world["national"], world["p"]
    _complete(review, panel)
    rec = review.recommendations.get()
    urls = [
        reverse("reviews:board"), reverse("reviews:review", args=[review.public_id]),
        reverse("reviews:report", args=[review.public_id]), reverse("reviews:report-section", args=[review.public_id, "panel"]),
        reverse("reviews:report-section", args=[review.public_id, "outline"]), reverse("reviews:quality", args=[review.public_id]),
        reverse("reviews:recommendations", args=[review.public_id]), reverse("reviews:recommendation-new", args=[review.public_id]),
        reverse("reviews:recommendation", args=[rec.public_id]), reverse("reviews:tracker"),
    ]  # fmt: skip
    client.force_login(panel)
    for url in urls:
        assert client.get(url).status_code == 200, url
    client.force_login(national)
    assert client.get(reverse("reviews:tracker")).status_code == 200
    assert client.get(reverse("reviews:report", args=[review.public_id])).status_code == 200
    assert client.post(
        reverse("reviews:report-section", args=[review.public_id, "outline"]), {"text": "x"}
    ).status_code in (403, 404)
    assert client.get(reverse("reviews:recommendation-new", args=[review.public_id])).status_code in (403, 404)
    client.force_login(p.staff.social_worker)
    assert client.get(reverse("reviews:report", args=[review.public_id])).status_code == 403
    north = BoardArea.objects.create(code="north-wales-test", name_en="North Wales", name_cy="Gogledd Cymru")
    other = factories.demo_practitioner(
        username="other.board", role=Role.REVIEW_PANEL, organisation=_board(p, "nw", north)
    )
    client.force_login(other)
    for url in urls[1:-1]:  # not the board page or the tracker, which show their own board
        assert client.get(url).status_code == 404, url
    assert review.referral.board_area.name_en not in client.get(reverse("reviews:tracker")).content.decode()


def test_editing_a_row_section_through_the_page(world, client, demo_hub):
    review, panel = world["review"], world["panel"]
    client.force_login(panel)
    url = reverse("reviews:report-section", args=[review.public_id, "family_perspectives"])
    response = client.post(
        url, {"r0c0": "Mother", "r0c1": "Interview", "r0c2": "She felt unheard.", "r1c0": "", "omitted": ""}
    )
    assert response.status_code == 302
    assert report.report_of(review).section("family_perspectives")["rows"] == [
        ["Mother", "Interview", "She felt unheard."]
    ]
    response = client.post(
        reverse("reviews:report-section", args=[review.public_id, "chronology"]), {"r0c0": "soon", "r0c1": "x"}
    )
    assert response.status_code == 200 and "Row 1" in response.content.decode()


def test_the_report_exports_as_pdf_and_word_in_both_languages(world, client, demo_hub):
    from docx import Document as Docx
    from pypdf import PdfReader

    review, panel = world["review"], world["panel"]
    _complete(review, panel)
    client.force_login(panel)
    response = client.get(reverse("reviews:report-export", args=[review.public_id]), {"format": "pdf", "lang": "both"})
    assert response["Content-Type"] == "application/pdf" and "attachment" in response["Content-Disposition"]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Family members" in text and "Safbwyntiau aelodau" in text and "Nobody asked about her partner." in text
    response = client.get(reverse("reviews:report-export", args=[review.public_id]), {"format": "docx", "lang": "cy"})
    doc = Docx(io.BytesIO(response.content))
    words = " ".join(p.text for p in doc.paragraphs) + " ".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells
    )
    assert "Safbwyntiau aelodau'r teulu" in words and "Hywel Dda UHB" in words
    assert (
        AuditEntry.objects.filter(
            action="export", detail__what="review.report.exported", object_id=str(review.public_id)
        ).count()
        == 2
    )
    assert client.get(reverse("reviews:report-export", args=[review.public_id]), {"format": "exe"}).status_code == 404


def test_a_protected_report_export_shows_the_password_once_and_is_audited_as_encrypted(world, client, demo_hub):
    from cylch.governance.exports import PROTECT

    review, panel = world["review"], world["panel"]
    client.force_login(panel)
    response = client.get(reverse("reviews:report-export", args=[review.public_id]),
                          {"format": "docx", "lang": "en", "protect": PROTECT})  # fmt: skip
    assert response.status_code == 200 and "Your protected file is ready" in response.content.decode()
    entry = AuditEntry.objects.get(action="export", detail__what="review.report.exported")
    assert entry.detail["encrypted"] is True

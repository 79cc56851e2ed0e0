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


def test_the_checklist_says_where_each_standard_comes_from_in_the_reader_s_language(world):
    from django.utils import translation

    english = {i.id: i for i in quality.assess(world["review"]).items}
    with translation.override("cy"):
        welsh = {i.id: i for i in quality.assess(world["review"]).items}
    assert english["family_dynamic"].source == "TA s3 1.2; appendix 6 family tree"
    assert welsh["family_dynamic"].source == "Dadansoddiad thematig, adran 3, 1.2; atodiad 6, coeden deulu"
    assert welsh["age_gender"].label == "Rhoddir oedran a rhywedd y plentyn"
    assert not [i.id for i in welsh.values() if "TA" in i.source or "appendix" in i.source]


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
    # Its own list has none of the other board's; the counts across Wales name every board.
    tracker_page = client.get(reverse("reviews:tracker")).content.decode()
    assert review.referral.board_area.name_en not in tracker_page.split("Across Wales")[0]
    assert rec.text not in tracker_page


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


# --- the bilingual report ---------------------------------------------------------------------


def test_each_section_has_an_english_and_a_welsh_version_and_the_report_says_which_wait(world):
    """A section is saved one language at a time and keeps the other; a Welsh report shows the
    Welsh where written and says where the English stands in for it."""
    from django.utils import translation

    review, panel = world["review"], world["panel"]
    report.section_save(review, user=panel, key="child", text="Girl, aged 7.")
    report.section_save(review, user=panel, key="child", text="Merch, 7 oed.", language="cy")
    report.section_save(review, user=panel, key="outline", text="Concise review; period 10 months.")
    assert report.report_of(review).section("child") == {
        "text": "Girl, aged 7.",
        "text_cy": "Merch, 7 oed.",
        "omitted": "",
    }
    with translation.override("cy"):
        doc = report.document(review)
    sections = {s.key: s for s in doc.sections}
    assert (sections["child"].text, sections["child"].borrowed, sections["child"].bilingual) == (
        "Merch, 7 oed.",
        False,
        True,
    )
    assert (sections["outline"].text, sections["outline"].borrowed) == ("Concise review; period 10 months.", True)
    assert [s.key for s in doc.untranslated] == ["outline"]
    with translation.override("en"):
        assert {s.key: s.text for s in report.document(review).sections}["child"] == "Girl, aged 7."
    # A table written in Welsh only counts for the checklist (the panel may write Welsh first).
    report.section_save(review, user=panel, key="panel", language="cy",
                        rows=[["Cadeirydd", "A. Cadeirydd", "Bwrdd", "Strategol"], ["Aelod", "B. Aelod", "Heddlu", "Gweithredol"]])  # fmt: skip
    assert {i.id: i.status for i in quality.assess(review).items}["panel"] == quality.MET
    # Emptying the English version of a section written in Welsh leaves it written.
    report.section_save(review, user=panel, key="child", text="")
    assert report.is_filled(report.report_of(review).section("child"))
    with pytest.raises(ValidationError):
        report.section_save(review, user=panel, key="child", text="x", language="fr")


def test_the_chronology_is_drafted_in_english_and_welsh_at_once(world):
    p, review, panel = world["p"], world["review"], world["panel"]
    _event(p, "health.appointment.was_not_brought", INCIDENT - timedelta(days=30), org=p.orgs.gp, significant=True)
    assert report.chronology_generate(review, user=panel) == 1
    content = report.report_of(review).section("chronology")
    english, welsh = content["rows"][0], content["rows_cy"][0]
    assert english[0] == welsh[0] and english[1] != welsh[1]
    assert welsh[1].startswith((p.orgs.gp.name_cy or p.orgs.gp.name_en) + ": ")


def test_a_recommendation_has_its_welsh_wording_until_sign_off(world):
    from django.utils import translation

    review, panel = world["review"], world["panel"]
    rec = tracker.recommendation_add(review, user=panel, text="Schools tell the MASH of every PPN they receive.",
                                     success_measure="Dip sample of 20 PPNs.", owner_agency="Education", kind="strategic",
                                     level="regional", urgency="planning", due_on=TODAY + timedelta(days=30),
                                     text_cy="Mae ysgolion yn rhoi gwybod i'r MASH am bob PPN a gânt.")  # fmt: skip
    assert rec.wording("cy") == (
        "Mae ysgolion yn rhoi gwybod i'r MASH am bob PPN a gânt.",
        "Dip sample of 20 PPNs.",
        True,
    )
    with pytest.raises(ValidationError) as err:
        tracker.recommendation_wording(rec, user=panel, text_cy="", success_measure_cy="Sampl o 20.")
    assert "text_cy" in err.value.message_dict
    tracker.recommendation_wording(rec, user=panel, text_cy=rec.text_cy, success_measure_cy="Sampl o 20 PPN.")
    rec.refresh_from_db()
    assert rec.wording("cy")[2] is False and rec.wording("en")[0] == rec.text
    with translation.override("cy"):
        shown = report.document(review).recommendations[0]
    assert (shown.shown_text, shown.shown_measure, shown.borrowed) == (rec.text_cy, "Sampl o 20 PPN.", False)
    _complete(review, panel)
    services.record_milestone(review.milestones.get(step="sign_off"), user=panel, done_on=TODAY,
                              delay_reason="reviewer_availability")  # fmt: skip
    with pytest.raises(ValidationError):
        tracker.recommendation_wording(rec, user=panel, text_cy="Newid", success_measure_cy="")


def test_the_welsh_export_says_which_sections_are_still_in_english(world, client, demo_hub):
    from docx import Document as Docx
    from pypdf import PdfReader

    review, panel = world["review"], world["panel"]
    _complete(review, panel)
    report.section_save(review, user=panel, key="child", text="Merch, 7 oed.", language="cy")
    client.force_login(panel)
    url = reverse("reviews:report-export", args=[review.public_id])
    pdf = client.get(url, {"format": "pdf", "lang": "both"})
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Merch, 7 oed." in text and "Girl, aged 7." in text
    assert "Not yet written in Welsh" in text or "Heb ei ysgrifennu yn Gymraeg" in text
    doc = Docx(io.BytesIO(client.get(url, {"format": "docx", "lang": "cy"}).content))
    paragraphs = [p.text for p in doc.paragraphs]
    assert "Merch, 7 oed." in paragraphs and "Girl, aged 7." not in paragraphs
    assert "An anonymised account." in paragraphs  # the circumstances: English only, borrowed


def test_the_section_page_edits_the_welsh_version_beside_the_english(world, client, demo_hub):
    review, panel = world["review"], world["panel"]
    report.section_save(review, user=panel, key="outline", text="Concise review; period 10 months.")
    report.section_save(review, user=panel, key="family_perspectives", rows=[["Mother", "Interview", "Unheard."]])
    client.force_login(panel)
    url = reverse("reviews:report-section", args=[review.public_id, "outline"])
    page = client.get(url, {"version": "cy"}).content.decode()
    assert "Concise review; period 10 months." in page and 'name="version" value="cy"' in page
    assert client.post(url, {"version": "cy", "text": "Adolygiad cryno; cyfnod o 10 mis."}).status_code == 302
    assert report.report_of(review).section("outline") == {
        "text": "Concise review; period 10 months.",
        "text_cy": "Adolygiad cryno; cyfnod o 10 mis.",
        "omitted": "",
    }
    rows_url = reverse("reviews:report-section", args=[review.public_id, "family_perspectives"])
    page = client.get(rows_url, {"version": "cy"}).content.decode()
    assert "copied in for you to translate" in page and ">Mother</textarea>" in page
    assert "rows_cy" not in report.report_of(review).section("family_perspectives")  # nothing saved by looking
    assert client.get(url, {"version": "de"}).status_code == 404
    overview = client.get(reverse("reviews:report", args=[review.public_id])).content.decode()
    assert "In English and Welsh" in overview and "1 section is written in one language only" in overview


# --- the board's view and the steps after sign-off --------------------------------------------


def test_publication_waits_for_the_sign_off_and_is_warned_of_after_it(world):
    review, panel = world["review"], world["panel"]
    published = review.milestones.get(step="publication")
    type(published).objects.filter(pk=published.pk).update(due_on=TODAY - timedelta(days=1))
    published.refresh_from_db()
    with pytest.raises(ValidationError) as err:
        services.record_milestone(published, user=panel, done_on=TODAY, delay_reason="other")
    assert "sign-off first" in str(err.value)
    with pytest.raises(ValidationError) as err:  # before the referral
        services.record_milestone(review.milestones.get(step="panel"), user=panel, done_on=INCIDENT)
    assert "before the referral" in str(err.value)
    steps = {(w.milestone.step if w.milestone else None) for w in services.warnings()}
    assert "sign_off" in steps and "publication" not in steps and "wg_notified" not in steps  # they wait for it
    _complete(review, panel)
    services.record_milestone(review.milestones.get(step="sign_off"), user=panel, done_on=TODAY - timedelta(days=3),
                              delay_reason="parallel_investigation")  # fmt: skip
    with pytest.raises(ValidationError) as err:
        services.record_milestone(published, user=panel, done_on=TODAY - timedelta(days=4), delay_reason="other")
    assert "comes after the sign-off" in str(err.value)
    found = {(w.milestone.step, w.kind) for w in services.warnings() if w.milestone}
    assert ("wg_notified", "overdue") in found and ("publication", "overdue") in found  # signed off: now due
    assert not any(w.kind == "completion_overdue" for w in services.warnings())
    services.record_milestone(published, user=panel, done_on=TODAY, delay_reason="parallel_investigation")
    assert "publication" not in {w.milestone.step for w in services.warnings() if w.milestone}


def test_a_step_due_within_14_days_is_due_soon(world):
    review = world["review"]
    step = review.milestones.get(step="first_draft")
    type(step).objects.filter(pk=step.pk).update(due_on=TODAY + timedelta(days=14))
    assert ("first_draft", "due_soon") in {(w.milestone.step, w.kind) for w in services.warnings() if w.milestone}
    type(step).objects.filter(pk=step.pk).update(due_on=TODAY + timedelta(days=15))
    assert "first_draft" not in {w.milestone.step for w in services.warnings() if w.milestone}


def test_the_board_page_shows_each_reviews_next_step_and_checklist_and_those_signed_off(world, client, demo_hub):
    review, panel = world["review"], world["panel"]
    client.force_login(panel)
    page = client.get(reverse("reviews:board")).content.decode()
    check = quality.assess(review)
    assert f"{check.score}% met" in page and f"{len(check.to_fix)} standards to fix" in page
    assert "Next step" in page and "Signed off in the last two years" in page
    timeline = client.get(reverse("reviews:review", args=[review.public_id])).content.decode()
    assert "Before sign-off" in timeline and "Sign-off waits until each of these" in timeline
    _complete(review, panel)
    services.record_milestone(review.milestones.get(step="sign_off"), user=panel, done_on=TODAY,
                              delay_reason="parallel_investigation")  # fmt: skip
    page = client.get(reverse("reviews:board")).content.decode()
    signed = page.split("Signed off in the last two years")[-1]
    after = quality.assess(review)  # signed off: the publication date is now due, and missing
    assert [i.id for i in after.to_fix] == ["publication_date"]
    assert f"{after.score}% met" in signed and "1 standard to fix" in signed and "Not yet" in signed
    assert "Before sign-off" not in client.get(reverse("reviews:review", args=[review.public_id])).content.decode()


def test_every_board_sees_common_themes_and_overdue_counts_across_wales(world, client, demo_hub):
    p, review, panel = world["p"], world["review"], world["panel"]
    north = BoardArea.objects.create(code="north-wales-test", name_en="North Wales", name_cy="Gogledd Cymru")
    other = factories.demo_practitioner(
        username="other.board", role=Role.REVIEW_PANEL, organisation=_board(p, "nw", north)
    )
    referral = services.refer(board_area=north, child=None, incident=Incident.DIED, incident_on=INCIDENT, user=other,
                              referred_on=INCIDENT + timedelta(days=5))  # fmt: skip
    theirs = services.decide(referral, user=other, review_type="cpr_concise", reasons="Criteria met.",
                             scope_from=INCIDENT - timedelta(days=300))  # fmt: skip
    for rev, user, due in ((review, panel, TODAY - timedelta(days=1)), (theirs, other, TODAY + timedelta(days=9))):
        tracker.recommendation_add(rev, user=user, text="Agencies hold one shared chronology for the family.",
                                   success_measure="Audit", owner_agency="Board", kind="strategic", level="regional",
                                   urgency="planning", due_on=due, themes=["theme.coordination"])  # fmt: skip
    counts = {c.board: (c.recommendations, c.open, c.overdue) for c in tracker.by_board(tracker.tracked())}
    assert counts == {review.referral.board_area.name_en: (1, 1, 1), "North Wales": (1, 1, 0)}
    client.force_login(other)
    page = client.get(reverse("reviews:tracker")).content.decode()
    themes = page.split("Common themes across the boards")[-1]
    assert "Pathway and coordination" in themes and ">2<" in themes  # two boards
    assert review.referral.board_area.name_en in page.split("Overdue actions by board")[-1]
    assert "Agencies hold one shared chronology" in page.split("Across Wales")[0]  # its own, listed


def test_opening_a_new_reviews_pages_and_checklist_writes_no_report(world, client, demo_hub):
    """A page or an export is a read: the report row is made by the first edit, not by a look."""
    from cylch.reviews.models import ReviewReport

    review = world["review"]
    assert quality.assess(review).to_fix
    client.force_login(world["panel"])
    for url in (reverse("reviews:report", args=[review.public_id]), reverse("reviews:review", args=[review.public_id])):
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("reviews:report-export", args=[review.public_id]), {"format": "pdf"}).status_code == 200
    assert not ReviewReport.objects.filter(review=review).exists()
    report.section_save(review, user=world["panel"], key="outline", text="What happened.", omitted="")
    assert ReviewReport.objects.get(review=review).section("outline")["text"] == "What happened."

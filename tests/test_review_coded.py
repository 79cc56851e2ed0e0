"""Coded reviews and the coding assistant's pages: validation that names the field, the age
bands following the age, uploads read in memory and refused when unreadable, suggestions kept
once per code however often they are made, accept and reject and what each changes, agreement
on a hand-checked case, and one board never reaching another's reviews."""

from __future__ import annotations

import re
from datetime import date, timedelta
from io import BytesIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry, BoardArea
from cylch.access.roles import Role
from cylch.reviews import coded
from cylch.reviews.coding import suggest as sg
from cylch.reviews.models import CodedReview, CodeSuggestion, PreviousHistory, ReviewCode
from tests import factories

pytestmark = pytest.mark.django_db

# A fictional extract. With or without embeddings the assistant suggests exactly these seven.
REVIEW_TEXT = """Fictional review for the tests

Circumstances
Police shared three notices about domestic abuse at the family home. The health visitor smelt cannabis during a home visit. Nia, a 10-week-old baby, was not brought to two health appointments.
"""
SUGGESTED = {
    "agency.health_visiting",
    "agency.police",
    "finding.missed_health_appointments",
    "parent.domestic_abuse",
    "parent.substance_misuse",
    "age.0_3m",
    "age_panel.under_1",
}


def _board_user(username: str, area: BoardArea | None, role: str = Role.REVIEW_PANEL):
    org = factories.organisation(code=f"{username}-board", kind="safeguarding_board", local_authority=None)
    org.board_area = area
    org.save()
    return factories.demo_practitioner(username=username, role=role, organisation=org)


@pytest.fixture
def mww():
    return factories.places().mid_and_west_wales


@pytest.fixture
def panel(mww):
    return _board_user("mww.panel", mww)


@pytest.fixture
def north():
    return BoardArea.objects.create(code="north-wales", name_en="North Wales", name_cy="Gogledd Cymru")


@pytest.fixture
def outsider(north):
    return _board_user("north.panel", north)


def details(**changes) -> coded.ReviewDetails:
    base = {"reference": "MWWSB 1/2024", "type": "cpr_concise", "title": "Baby N", "incident_on": date(2023, 5, 1),
            "published_on": date(2024, 6, 1)}  # fmt: skip
    return coded.ReviewDetails(**{**base, **changes})


@pytest.fixture
def review(panel, mww):
    return coded.coded_review_create(user=panel, board_area=mww, details=details())


def upload(review, user, text=REVIEW_TEXT, name="review.txt", public=False, **kw):
    return coded.review_upload(review, user=user, name=name, data=text.encode(), public_version=public,
                               use_embeddings=False, **kw)  # fmt: skip


def _errors(call) -> dict:
    with pytest.raises(ValidationError) as err:
        call()
    return err.value.message_dict


# --- details -------------------------------------------------------------------------------------


def test_validation_names_each_field_at_fault(panel, mww):
    """Every problem is reported at once, each under the field it is about."""
    tomorrow = timezone.localdate() + timedelta(days=1)
    errors = _errors(lambda: coded.coded_review_create(user=panel, board_area=mww, details=details(
        reference=" ", title="", type="serious_case_review", signed_off_on=tomorrow, child_age_months=19 * 12,
        child_gender="x", previous_history="unknown", is_public=True, published_on=None)))  # fmt: skip
    assert set(errors) == {"reference", "title", "type", "signed_off_on", "child_age_months", "child_gender",
                           "previous_history", "public_summary", "published_on"}  # fmt: skip
    assert "future" in errors["signed_off_on"][0]
    errors = _errors(lambda: coded.coded_review_create(user=panel, board_area=mww, details=details(
        referred_on=date(2023, 6, 1), published_on=date(2023, 4, 1))))  # fmt: skip
    assert errors == {"published_on": ["This cannot be before the referral."]}
    assert not CodedReview.objects.exists()


def test_a_reference_is_unique_within_a_board_not_across_boards(review, panel, mww, outsider, north):
    errors = _errors(
        lambda: coded.coded_review_create(user=panel, board_area=mww, details=details(reference="mwwsb 1/2024"))
    )
    assert list(errors) == ["reference"]
    other = coded.coded_review_create(user=outsider, board_area=north, details=details())
    assert other.reference == review.reference
    coded.coded_review_update(
        review, user=panel, details=details(title="Baby N (renamed)")
    )  # its own reference is fine
    assert CodedReview.objects.get(pk=review.pk).title == "Baby N (renamed)"


def test_codes_and_the_age_bands_that_follow_the_age(panel, mww):
    """Ticked codes are stored as manual; the age gives one band of each set and a new age replaces them."""
    r = coded.coded_review_create(user=panel, board_area=mww, details=details(child_age_months=2),
                                  codes={"parent.domestic_abuse", "child.neglect"})  # fmt: skip
    assert set(r.codes.values_list("code", "source")) == {
        ("parent.domestic_abuse", "manual"), ("child.neglect", "manual"), ("age.0_3m", "manual"),
        ("age_panel.under_1", "manual"),
    }  # fmt: skip
    coded.coded_review_update(r, user=panel, details=details(child_age_months=14 * 12 + 3))
    assert set(r.codes.values_list("code", flat=True)) == {"parent.domestic_abuse", "child.neglect", "age.13_17y",
                                                           "age_panel.11_15y"}  # fmt: skip
    assert list(_errors(lambda: coded.codes_set(r, user=panel, codes={"age.3_5y"}))) == ["codes"]
    assert list(_errors(lambda: coded.codes_set(r, user=panel, codes={"parent.made_up"}))) == ["codes"]
    coded.codes_set(r, user=panel, codes={"theme.fathers"})
    assert set(r.codes.values_list("code", flat=True)) == {"theme.fathers", "age.13_17y", "age_panel.11_15y"}


def test_every_write_is_audited(panel, mww):
    before = AuditEntry.objects.count()
    r = coded.coded_review_create(user=panel, board_area=mww, details=details())
    coded.codes_set(r, user=panel, codes={"child.neglect"})
    upload(r, panel)
    s = r.suggestions.get(code="agency.police")
    coded.suggestion_decide(s, user=panel, accept=True)
    coded.code_add(r, user=panel, code="theme.fathers")
    entries = AuditEntry.objects.filter(object_type="coded_review", object_id=str(r.public_id)).order_by("seq")
    assert AuditEntry.objects.count() == before + 5
    assert [e.detail["op"] for e in entries] == ["create", "codes_set", "upload", "suggestion_decide", "code_add"]
    assert entries[2].detail["suggested"] == 7 and entries[2].detail["public_text_kept"] is False
    assert all(e.actor_id == panel.pk for e in entries)


# --- uploads ------------------------------------------------------------------------------------


def _blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("review.exe", b"MZ\x90\x00", "cannot be read"),
        ("review.doc", b"\xd0\xcf\x11\xe0", "cannot be read"),
        ("review.txt", b"", "empty"),
        ("review.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not plain text"),
        ("review.pdf", b"%PDF-1.4\nthis is not really a PDF", "PDF could not be read"),
        ("review.pdf", "blank", "no text to read"),
        ("review.docx", b"not a zip at all", "could not be read"),
        ("review.txt", b"   \n\n  ", "No text"),
    ],
)
def test_an_unreadable_upload_is_refused_and_nothing_is_kept(review, panel, name, data, says):
    data = _blank_pdf() if data == "blank" else data
    errors = _errors(lambda: coded.review_upload(review, user=panel, name=name, data=data, public_version=True,
                                                 use_embeddings=False))  # fmt: skip
    assert list(errors) == ["file"] and says in errors["file"][0]
    review.refresh_from_db()
    assert review.public_text == "" and not review.suggestions.exists()


def test_a_file_over_the_limit_is_refused(review, panel, monkeypatch):
    monkeypatch.setattr(coded, "MAX_UPLOAD_BYTES", 100)
    errors = _errors(lambda: upload(review, panel))
    assert errors == {"file": ["The file is larger than 100\xa0bytes: upload a smaller one."]}


def test_the_text_is_kept_only_when_it_is_the_public_version(review, panel):
    upload(review, panel, public=False)
    review.refresh_from_db()
    assert review.public_text == ""
    assert set(review.suggestions.values_list("code", flat=True)) == SUGGESTED
    upload(review, panel, public=True)
    review.refresh_from_db()
    assert review.public_text.startswith("Fictional review for the tests\n\nCircumstances\nPolice shared")


def test_suggesting_again_keeps_one_row_per_code_and_the_decisions(review, panel):
    upload(review, panel, public=True)
    police = review.suggestions.get(code="agency.police")
    coded.suggestion_decide(police, user=panel, accept=False)
    upload(review, panel, public=True)
    coded.suggestions_refresh(review, user=panel, use_embeddings=False)
    assert review.suggestions.count() == len(SUGGESTED)
    assert review.suggestions.get(code="agency.police").decision == CodeSuggestion.Decision.REJECTED
    # A new text that no longer suggests a waiting code withdraws it; decided ones stay as history.
    upload(review, panel, text="Circumstances\nThe police attended the home twice.")
    assert set(review.suggestions.values_list("code", "decision")) == {("agency.police", "rejected")}


def test_suggestions_carry_their_sentences_and_reasons(review, panel):
    upload(review, panel)
    s = review.suggestions.get(code="parent.substance_misuse")
    assert s.evidence == [{"section": "Circumstances", "sentence": "The health visitor smelt cannabis during a home visit.",
                           "reason": "lexicon: 'cannabis'"}]  # fmt: skip
    assert coded.marked(s.code, s.evidence[0]["sentence"]) == [
        ("The health visitor smelt ", False), ("cannabis", True), (" during a home visit.", False)]  # fmt: skip
    assert coded.reasons_in_words("lexicon: 'cannabis'; similarity 0.77 to anchor 'A smell of cannabis.'") == [
        "Words from the code book: 'cannabis'", "Close in meaning (similarity 0.77) to the code's example: 'A smell of cannabis.'"]  # fmt: skip


# --- decisions ----------------------------------------------------------------------------------


def test_accept_adds_the_code_from_the_assistant_with_its_sentence(review, panel):
    upload(review, panel)
    coded.codes_set(review, user=panel, codes={"child.neglect"})
    s = review.suggestions.get(code="parent.domestic_abuse")
    coded.suggestion_decide(s, user=panel, accept=True)
    code = review.codes.get(code="parent.domestic_abuse")
    assert code.source == ReviewCode.Source.ASSISTANT
    assert code.evidence == "Police shared three notices about domestic abuse at the family home."
    assert s.decision == "accepted" and s.decided_by == panel


def test_reject_marks_the_suggestion_and_removes_nothing_else(review, panel):
    upload(review, panel)
    coded.codes_set(review, user=panel, codes={"child.neglect"})
    coded.suggestion_decide(review.suggestions.get(code="agency.police"), user=panel, accept=True)
    coded.suggestion_decide(review.suggestions.get(code="parent.domestic_abuse"), user=panel, accept=False)
    assert set(review.codes.values_list("code", flat=True)) == {"child.neglect", "agency.police"}
    # Changing one's mind: rejecting an accepted suggestion takes away the code it added.
    coded.suggestion_decide(review.suggestions.get(code="agency.police"), user=panel, accept=False)
    assert set(review.codes.values_list("code", flat=True)) == {"child.neglect"}


def test_a_code_the_reviewer_ticked_is_not_rejected_behind_their_back(review, panel):
    upload(review, panel)
    coded.codes_set(review, user=panel, codes={"agency.police"})
    errors = _errors(
        lambda: coded.suggestion_decide(review.suggestions.get(code="agency.police"), user=panel, accept=False)
    )
    assert list(errors) == ["code"]
    coded.suggestion_decide(review.suggestions.get(code="agency.police"), user=panel, accept=True)
    assert review.codes.get(code="agency.police").source == ReviewCode.Source.MANUAL  # kept as the reviewer coded it


def test_unticking_an_accepted_code_rejects_its_suggestion(review, panel):
    upload(review, panel)
    coded.suggestion_decide(review.suggestions.get(code="agency.police"), user=panel, accept=True)
    coded.codes_set(review, user=panel, codes=set())
    assert review.suggestions.get(code="agency.police").decision == "rejected"
    coded.codes_set(review, user=panel, codes={"agency.police"})
    assert review.suggestions.get(code="agency.police").decision == "accepted"
    assert review.suggestions.get(code="agency.health_visiting").decision == "pending"


def test_one_age_band_of_each_set(review, panel):
    upload(
        review,
        panel,
        text="Circumstances\nOwain, a 10-week-old baby, lived with his brother, aged 3, and their mother.",
    )
    coded.suggestion_decide(review.suggestions.get(code="age.0_3m"), user=panel, accept=True)
    errors = _errors(lambda: coded.suggestion_decide(review.suggestions.get(code="age.3_5y"), user=panel, accept=True))
    assert list(errors) == ["code"] and "0-3 months" in errors["code"][0]
    assert list(_errors(lambda: coded.code_add(review, user=panel, code="age.3_5y"))) == ["code"]


def test_agreement_on_a_hand_checked_case(review, panel):
    """7 suggested, 6 kept, 1 rejected, 1 added by the reviewer, over the 81 codes of the code
    book: a=6, b=1, c=1, d=73. Precision 6/7, recall 6/7, po = 79/81, pe = (7*7 + 74*74)/81^2,
    kappa = (po - pe)/(1 - pe) = (79*81 - 5525)/(6561 - 5525) = 874/1036 = 437/518."""
    assert len(sg.load_codebook().ids) == 81
    upload(review, panel)
    for s in review.suggestions.all():
        assert not coded.agreement_report(review).complete
        coded.suggestion_decide(s, user=panel, accept=s.code != "agency.health_visiting")
    coded.code_add(review, user=panel, code="child.neglect", evidence="The home was cold and the baby underfed.")
    report = coded.agreement_report(review)
    assert report.complete and report.suggested == 7 and report.pending == 0
    f = report.figures
    assert (f["both"], f["suggested_only"], f["final_only"], f["neither"], f["n"]) == (6, 1, 1, 73, 81)
    assert f["precision"] == pytest.approx(6 / 7) and f["recall"] == pytest.approx(6 / 7)
    assert f["observed_agreement"] == pytest.approx(79 / 81)
    assert f["kappa"] == pytest.approx(437 / 518)
    assert report.missed == ["child.neglect"] and report.rejected == ["agency.health_visiting"]


# --- who may ------------------------------------------------------------------------------------


def test_another_boards_review_is_not_found_and_its_writes_refused(review, panel, outsider):
    from django.http import Http404

    with pytest.raises(Http404):
        coded.coded_review_for(outsider, review.public_id)
    with pytest.raises(PermissionDenied):
        coded.codes_set(review, user=outsider, codes={"child.neglect"})
    with pytest.raises(PermissionDenied):
        upload(review, outsider)
    with pytest.raises(PermissionDenied):
        coded.coded_review_create(user=outsider, board_area=review.board_area, details=details(reference="X"))
    assert not review.codes.exists() and not review.suggestions.exists()


def test_pages_of_another_board_answer_404_and_others_403(client, review, outsider, mww):
    client.force_login(outsider)
    for name in ("reviews:coded", "reviews:coded-upload", "reviews:coded-suggestions"):
        assert client.get(reverse(name, args=[review.public_id])).status_code == 404
    response = client.post(reverse("reviews:coded-suggestions", args=[review.public_id]),
                           {"action": "add", "code": "child.neglect"})  # fmt: skip
    assert response.status_code == 404 and not review.codes.exists()
    assert review.reference not in client.get(reverse("reviews:coded-list")).content.decode()
    national = _board_user("nisb.analyst", None, Role.BOARD_ANALYST)
    social_worker = factories.demo_practitioner(
        username="sw", role=Role.SOCIAL_WORKER, organisation=national.organisation
    )
    for user in (national, social_worker):
        client.force_login(user)
        assert client.get(reverse("reviews:coded-list")).status_code == 403
        assert client.get(reverse("reviews:coded", args=[review.public_id])).status_code == 403


# --- pages --------------------------------------------------------------------------------------


def test_the_list_takes_a_fixed_number_of_queries(client, panel, mww, django_assert_max_num_queries):
    for n in range(4):
        r = coded.coded_review_create(user=panel, board_area=mww, details=details(reference=f"MWWSB {n}/2024"))
        upload(r, panel)
    client.force_login(panel)
    with django_assert_max_num_queries(9):  # 8, and the navigation's unread-notices count
        response = client.get(reverse("reviews:coded-list"))
    body = response.content.decode()
    assert body.count("MWWSB ") >= 4 and ">7<" in body  # seven suggestions waiting on each


def test_adding_a_review_on_the_page(client, panel):
    client.force_login(panel)
    page = client.get(reverse("reviews:coded-add")).content.decode()
    assert "Parent/carer risk indicators" in page and "Learning themes" in page
    response = client.post(reverse("reviews:coded-add"), {"reference": "", "title": "Baby T", "type": "cpr_concise",
                                                           "age_years": "20", "child_gender": "female",
                                                           "previous_history": "not_known"})  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in body
    assert 'href="#id_reference"' in body and 'href="#id_age_years"' in body
    response = client.post(reverse("reviews:coded-add"), {
        "reference": "MWWSB 7/2022", "title": "Baby T", "type": "cpr_extended", "incident_on": "01/02/2022",
        "age_years": "0", "age_months": "5", "child_gender": "female", "previous_history": PreviousHistory.REGISTER,
        "codes_parent": ["parent.domestic_abuse", "parent.young_parent"], "codes_agency": ["agency.police"],
        "public_summary": "A baby of five months.", "public_summary_cy": "Babi pum mis oed.",
    })  # fmt: skip
    r = CodedReview.objects.get(reference="MWWSB 7/2022")
    assert response.status_code == 302 and response["Location"] == reverse("reviews:coded", args=[r.public_id])
    assert r.child_age_months == 5 and r.previous_history == "register" and r.incident_on == date(2022, 2, 1)
    assert (r.public_summary, r.public_summary_cy) == ("A baby of five months.", "Babi pum mis oed.")
    assert set(r.codes.values_list("code", flat=True)) == {"parent.domestic_abuse", "parent.young_parent",
                                                           "agency.police", "age.4_6m", "age_panel.under_1"}  # fmt: skip
    page = client.get(response["Location"]).content.decode()
    assert 'value="parent.young_parent" checked' in page and "4-6 months" in page
    assert "Public summary in Welsh" in page and ">Babi pum mis oed.</textarea>" in page


def test_upload_suggest_accept_and_agreement_on_the_pages(client, panel, review, settings, tmp_path, monkeypatch):
    """The whole flow through the pages, with the assistant as it runs here (embeddings if the
    model is installed); the upload never touches the disk, even past Django's memory limit."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    client.force_login(panel)
    url = reverse("reviews:coded-upload", args=[review.public_id])
    page = client.get(url).content.decode()
    assert "How Cylch suggests:" in page
    refused = client.post(url, {"file": SimpleUploadedFile("review.png", b"\x89PNG....")})
    assert refused.status_code == 200 and "Files of this type cannot be read" in refused.content.decode()
    with monkeypatch.context() as m:
        m.setattr(coded, "MAX_UPLOAD_BYTES", 50)
        refused = client.post(url, {"file": SimpleUploadedFile("review.txt", REVIEW_TEXT.encode())})
    assert "The file is larger than 50\xa0bytes" in refused.content.decode()
    response = client.post(
        url, {"file": SimpleUploadedFile("review.txt", REVIEW_TEXT.encode()), "public_version": "on"}
    )
    assert response.status_code == 302 and response["Location"].endswith("/suggestions/")
    assert list(tmp_path.iterdir()) == []
    review.refresh_from_db()
    assert "Police shared three notices" in review.public_text
    page = client.get(response["Location"]).content.decode()
    model_used = sg.model_status().loaded
    assert ("sentence embeddings (the all-MiniLM-L6-v2 model" in page) == model_used
    assert "<mark>cannabis</mark>" in page and "0 of 7 suggestions decided" in page
    assert "Shown once every suggestion is decided: 7 are waiting." in page
    here = reverse("reviews:coded-suggestions", args=[review.public_id])
    for code in sorted(SUGGESTED):
        response = client.post(
            here, {"code": code, "action": "reject" if code == "agency.health_visiting" else "accept"}
        )
        assert response.status_code == 302 and re.search(r"#(s-[\w.]+|agreement)$", response["Location"])
    response = client.post(here, {"action": "add", "code": "child.neglect", "evidence": ""})
    assert response.status_code == 302
    page = client.get(here).content.decode()
    assert "6 of the 7 codes Cylch suggested are in your coding (precision 0.86)" in page
    assert "Cylch suggested 6 of the 7 codes in your coding (recall 0.86)" in page
    assert "0.84 over all 81 codes" in page
    assert review.codes.get(code="agency.police").source == "assistant"


def test_the_page_says_when_a_decision_is_refused(client, panel, review):
    upload(review, panel)
    coded.codes_set(review, user=panel, codes={"agency.police"})
    client.force_login(panel)
    here = reverse("reviews:coded-suggestions", args=[review.public_id])
    response = client.post(here, {"code": "agency.police", "action": "reject"}, follow=True)
    assert "You coded this yourself" in response.content.decode()
    assert review.suggestions.get(code="agency.police").decision == "pending"
    assert client.post(here, {"code": "not.a.code", "action": "accept"}).status_code == 404


def test_the_upload_page_still_checks_csrf(panel, review):
    """The upload view is exempt only so its in-memory handler can be set first; the page checks CSRF itself."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(panel)
    url = reverse("reviews:coded-upload", args=[review.public_id])
    response = client.post(url, {"file": SimpleUploadedFile("review.txt", REVIEW_TEXT.encode())})
    assert response.status_code == 403 and not review.suggestions.exists()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()).group(1)
    response = client.post(
        url, {"file": SimpleUploadedFile("review.txt", REVIEW_TEXT.encode()), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and review.suggestions.count() == len(SUGGESTED)

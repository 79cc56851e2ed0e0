"""The report pages as a browser-less client sees them: forms, honeypot, rate limit, triage, decision."""

from __future__ import annotations

import html
import re

import pytest

from cylch.core.collation import sorted_by
from cylch.reports.models import Channel, Report

NEGLECT = "social_care.neglect.concern"


def public_post(client, **extra):
    data = {
        "child0-given_name": "Twm", "child0-family_name": "Prydderch", "concern_codes": [NEGLECT],
        "what_happened": "The children are left alone every evening.", "immediate_danger": "no",
        "maker_email": "neighbour@example.invalid",
    }  # fmt: skip
    data.update(extra)
    return client.post("/report/new/", data)


def test_the_public_can_report_without_signing_in_and_see_their_reference(db, client, demo_hub):
    """No account needed; the confirmation page shows the reference."""
    response = public_post(client)
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/report/{report.reference}/sent/"
    page = client.get(response["Location"])
    assert report.reference in page.content.decode()
    assert report.channel == "public" and report.maker_email == "neighbour@example.invalid"
    assert 'href="/report/"' in client.get("/sign-in/").content.decode()  # the way in for someone without an account


def test_the_sent_page_says_how_to_reach_the_front_door_that_has_the_report(prydderch, client, demo_hub):
    from cylch.reports.services import front_door_for

    door = front_door_for(prydderch.places.ceredigion)
    door.safeguarding_phone, door.safeguarding_email = "01545 570881", "drws.ffrynt@example.invalid"
    door.save()
    response = public_post(client, local_authority=prydderch.places.ceredigion.pk)
    page = client.get(response["Location"]).content.decode()
    assert (
        f"{html.escape(door.name_en)}: " in page
        and '<a class="govuk-link" href="tel:01545570881">01545 570881</a>' in page
    )
    assert 'href="mailto:drws.ffrynt@example.invalid"' in page
    door.safeguarding_phone = door.safeguarding_email = ""
    door.save()
    page = client.get(response["Location"]).content.decode()
    assert "tel:" not in page and "quote your reference" in page  # nothing to show: the sentence alone


def test_a_bot_filling_the_honeypot_stores_nothing(db, client, demo_hub):
    response = public_post(client, website="http://spam.example")
    assert response.status_code == 200 and Report.objects.count() == 0


def test_the_public_form_is_rate_limited_per_connection(db, client, demo_hub):
    """Five reports an hour from one address; the sixth is asked to wait (429) and not stored."""
    for _ in range(5):
        assert public_post(client).status_code == 302
    response = public_post(client)
    assert response.status_code == 429 and Report.objects.count() == 5


def test_immediate_danger_shows_call_999_and_still_saves_an_urgent_report(db, client, demo_hub):
    response = public_post(client, immediate_danger="yes")
    report = Report.objects.get()
    assert report.urgent and response["Location"] == f"/report/{report.reference}/danger/"
    assert "999" in client.get(response["Location"]).content.decode()


def test_missing_answers_are_named_on_the_form(db, client, demo_hub):
    """Without a concern, a description or a way to hear back, the form says what is missing and stores nothing."""
    response = client.post("/report/new/", {"child0-given_name": "Twm", "immediate_danger": "no"})
    text = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in text
    assert "Choose at least one kind of concern" in text and "Tell us what happened" in text
    assert "Give an email address or phone number" in text
    assert Report.objects.count() == 0
    assert "Your name is optional, but we need an email address or a phone number" in text  # not "anonymous"


def test_the_form_reads_in_the_expected_order_and_says_when_photos_must_be_chosen_again(db, client, demo_hub):
    """Yes before No (GOV.UK's order); each brother or sister's fold says which child it opens;
    and a form sent back with errors says that the files chosen were not kept, as a browser
    never refills a file box."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = client.get("/report/new/").content.decode()
    assert page.index('name="immediate_danger" type="radio" value="yes"') < page.index('value="no"')
    assert "Add child 2 (a brother or sister)" in page and "Add child 3 (a brother or sister)" in page
    photo = SimpleUploadedFile("bruise.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    back = client.post("/report/new/", {"child0-given_name": "Twm", "attachments": [photo]}).content.decode()
    assert "The file you chose was not kept while the form was checked" in back
    assert "not kept" not in client.post("/report/new/", {"child0-given_name": "Twm"}).content.decode()


def test_a_mistyped_email_and_an_impossible_birthday_are_each_told_once_and_truly(db, client, demo_hub):
    response = public_post(client, maker_email="not-an-email", **{"child0-date_of_birth": "31/02/2019"})
    text = response.content.decode()
    assert response.status_code == 200 and Report.objects.count() == 0
    assert "Enter a valid email address." in text
    assert "Give an email address or phone number" not in text  # untrue: one was given
    assert "There is no such date: check the day and the month" in text
    assert "Enter the date of birth as day/month/year" not in text  # it was written so
    text = public_post(client, **{"child0-date_of_birth": "the second of May"}).content.decode()
    assert "Enter the date of birth as day/month/year, for example 27/03/2019" in text


def test_a_practitioner_reports_from_the_person_page_and_the_front_door_decides(prydderch, client, demo_hub):
    """The health visitor reports about Alys (and a brother); the front door sees it on the queue,
    opens triage, decides; the health visitor finds the outcome by reference."""
    hv, sw = prydderch.staff.health_visitor, prydderch.staff.social_worker
    client.force_login(hv)
    form = client.get(f"/report/new/?person={prydderch.alys.public_id}")
    assert "Alys Prydderch" in form.content.decode()
    response = client.post(
        f"/report/new/?person={prydderch.alys.public_id}",
        {"child0-given_name": "Gethin", "child0-family_name": "Prydderch", "concern_codes": [NEGLECT],
         "what_happened": "Both children hungry at clinic.", "immediate_danger": "no"},
    )  # fmt: skip
    report = Report.objects.get()
    assert response["Location"] == f"/report/{report.reference}/sent/"
    client.force_login(sw)
    assert report.reference in client.get("/front-door/").content.decode()
    triage = client.get(f"/front-door/{report.reference}/").content.decode()
    assert "What is already known" in triage and "Alys Prydderch" in triage
    decided = client.post(
        f"/front-door/{report.reference}/decide/",
        {"outcome": "early_help", "rationale": "Family support worker will visit this week."},
    )
    assert decided.status_code == 302
    client.force_login(hv)
    found = client.get(f"/reports/find/?reference={report.reference.lower().replace('-', '')}").content.decode()
    assert "Early help" in found and "Family support worker" in found


def test_a_refused_decision_keeps_what_was_chosen_and_written_and_says_where(prydderch, client, demo_hub):
    """The page comes back with the outcome still chosen, the reasons still there, and each
    problem in the error summary linked to its field (they were lost in a redirect)."""
    from cylch.reports.services import SubjectIn, report_submit

    report = report_submit(channel=Channel.PUBLIC, children=[SubjectIn(given_name="Twm", family_name="Prydderch")],
                           concern_codes=[NEGLECT], what_happened="Left alone at night.", maker_phone="01970 000000",
                           local_authority=prydderch.places.ceredigion)  # fmt: skip
    url = f"/front-door/{report.reference}/decide/"
    client.force_login(prydderch.staff.social_worker)
    reasons = "Wedi siarad â'r ysgol; " + "the family has support in place. " * 8
    response = client.post(url, {"rationale": reasons, "support_offered": "Banc bwyd"})
    page = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in page
    assert '<a href="#id_outcome">Choose an outcome</a>' in page and 'id="outcome-error"' in page
    assert html.escape(reasons) + "</textarea>" in page and ">Banc bwyd</textarea>" in page
    response = client.post(url, {"outcome": "early_help", "rationale": "Too short"})
    page = response.content.decode()
    assert '<a href="#id_rationale">Give the reasons for the decision (at least 20 characters)</a>' in page
    assert 'value="early_help" checked' in page and ">Too short</textarea>" in page
    report.refresh_from_db()
    assert report.status != "decided"
    # The language link goes back to the triage page the form was on: the decision's address
    # takes only POST, and a link to it answered 405.
    triage = f"/front-door/{report.reference}/"
    page = client.post(url, {"rationale": "x"}, HTTP_REFERER=f"http://testserver{triage}").content.decode()
    assert f'/language/cy/?next={triage}"' in page
    assert client.get(f"/language/cy/?next={triage}").status_code == 302
    assert f'?next={triage}"' in client.post(url, {"rationale": "x"}).content.decode()  # without a Referer too
    client.get("/language/en/")
    # Someone at another authority's front door finds nothing there, with or without errors.
    client.force_login(prydderch.staff.other_la_social_worker)
    assert client.post(url, {"rationale": "x"}).status_code == 404
    assert client.post(url, {"outcome": "early_help", "rationale": reasons}).status_code == 404


def test_other_practitioners_cannot_open_triage(prydderch, client, demo_hub):
    client.force_login(prydderch.staff.health_visitor)
    response = client.post("/report/new/", {"child0-given_name": "Twm", "concern_codes": [NEGLECT], "what_happened": "x", "immediate_danger": "no",
                                            "local_authority": prydderch.places.ceredigion.pk})  # fmt: skip
    reference = Report.objects.get().reference
    assert response.status_code == 302
    assert client.get(f"/front-door/{reference}/").status_code == 403
    client.force_login(prydderch.staff.other_la_social_worker)
    assert client.get(f"/front-door/{reference}/").status_code == 404


@pytest.mark.parametrize("typo", ["swap", "change"])
def test_find_my_report_catches_a_mistyped_reference(prydderch, client, demo_hub, typo):
    client.force_login(prydderch.staff.health_visitor)
    client.post(
        "/report/new/",
        {"child0-given_name": "Twm", "concern_codes": [NEGLECT], "what_happened": "x", "immediate_danger": "no"},
    )
    ref = Report.objects.get().reference.replace("-", "")
    bad = (
        ref[1] + ref[0] + ref[2:] if typo == "swap" and ref[0] != ref[1] else ("2" if ref[0] != "2" else "3") + ref[1:]
    )
    text = client.get(f"/reports/find/?reference={bad}").content.decode()
    assert "That reference is not right" in text


def test_the_report_maker_challenges_and_the_front_door_answers_through_the_pages(prydderch, client, demo_hub):
    """“I remain concerned” from the find-my-report page; the answer from the triage page."""
    from cylch.reports.models import Challenge

    client.force_login(prydderch.staff.health_visitor)
    client.post("/report/new/", {"child0-given_name": "Twm", "concern_codes": [NEGLECT], "what_happened": "x", "immediate_danger": "no",
                                 "local_authority": prydderch.places.ceredigion.pk})  # fmt: skip
    report = Report.objects.get()
    client.force_login(prydderch.staff.social_worker)
    client.post(
        f"/front-door/{report.reference}/decide/",
        {"outcome": "no_further_action", "rationale": "Nothing suggests harm at the moment."},
    )
    client.force_login(prydderch.staff.health_visitor)
    page = client.get(f"/reports/find/?reference={report.reference}").content.decode()
    assert "I remain concerned" in page and '<td class="govuk-table__cell">Twm </td>' in page  # whom each is about
    # Too short: the page comes back with the words kept, the error at the box and in the summary.
    short = client.post(f"/reports/{report.reference}/challenge/", {"reason": "Still worried."})
    assert short.status_code == 200 and not Challenge.objects.exists()
    short = short.content.decode()
    assert "<title>Error: Find my report" in short and 'href="#id_reason"' in short
    assert 'id="reason-error"' in short and "govuk-textarea--error" in short and ">Still worried.</textarea>" in short
    client.post(
        f"/reports/{report.reference}/challenge/",
        {"reason": "Twm has missed three appointments since; I am still worried."},
    )
    challenge = Challenge.objects.get()
    client.force_login(prydderch.staff.social_worker)
    assert report.reference in client.get("/front-door/").content.decode()
    client.post(f"/front-door/{report.reference}/challenges/{challenge.public_id}/answer/",
                {"result": "decision_changed", "new_outcome": "early_help", "response": "Agreed, early help will contact the family."})  # fmt: skip
    report.refresh_from_db()
    assert report.outcome == "early_help"


def test_a_report_with_a_photo_and_one_with_a_bad_file(db, client, demo_hub, tmp_path, monkeypatch):
    """A photo is kept with the report; a disguised program refuses the whole submission, storing nothing."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    monkeypatch.setenv("CYLCH_UPLOAD_DIR", str(tmp_path))
    png = SimpleUploadedFile("bruise.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    assert public_post(client, attachments=[png]).status_code == 302
    assert Report.objects.get().attachments.get().original_name == "bruise.png"
    bad = SimpleUploadedFile("photo.png", b"MZ\x90\x00", content_type="image/png")
    response = public_post(client, attachments=[bad])
    assert response.status_code == 200 and "Attach a PDF" in response.content.decode()
    assert Report.objects.count() == 1 and len(list(tmp_path.iterdir())) == 1


def test_a_decision_nobody_could_be_sent_asks_for_a_phone_call_and_records_it(prydderch, client):
    from cylch.reports.services import SubjectIn, report_submit

    report = report_submit(channel=Channel.PUBLIC, children=[SubjectIn(given_name="Twm", family_name="Prydderch")],
                           concern_codes=[NEGLECT], what_happened="Left alone at night.", maker_phone="01970 000000",
                           local_authority=prydderch.places.ceredigion)  # fmt: skip
    client.force_login(prydderch.staff.social_worker)
    decided = client.post(f"/front-door/{report.reference}/decide/",
                          {"outcome": "early_help", "rationale": "Family support worker will visit this week."},
                          follow=True)  # fmt: skip
    page = decided.content.decode()
    assert "phone them with the outcome" in page and "I have told them the outcome by telephone" in page
    told = client.post(f"/front-door/{report.reference}/told/", follow=True)
    assert "by telephone" in told.content.decode()
    report.refresh_from_db()
    assert report.feedback_sent_at is not None


def test_triage_in_welsh_says_who_is_on_the_register_and_who_reported_in_welsh(prydderch, client, demo_hub):
    """What is already known and who made the report read in the front door's language: the
    status labels, the reporting organisation, the agencies that know the family and those that
    recorded its smaller concerns were English on the Welsh page."""
    from datetime import timedelta

    from django.utils import timezone

    from cylch.events.models import Event
    from cylch.events.services import record_event
    from cylch.identity.services import agency_record_upsert
    from tests import factories

    registered = "process.register.registered"
    if not Event.objects.filter(person=prydderch.alys, code=registered).exists():
        record_event(organisation=prydderch.orgs.childrens_services, code=registered,
                     occurred_at=timezone.now() - timedelta(days=10), person=prydderch.alys,
                     recorded_by=prydderch.staff.social_worker, details=factories.minimal_details(registered))  # fmt: skip
    no_access = "health.home_visit.no_access"  # a smaller concern, from the health visitors
    record_event(organisation=prydderch.orgs.health_visiting, code=no_access,
                 occurred_at=timezone.now() - timedelta(days=5), person=prydderch.alys,
                 recorded_by=prydderch.staff.health_visitor, details=factories.minimal_details(no_access))  # fmt: skip
    # The housing association knows Alys too: "Tai Teifi Housing Association" comes late in English
    # and "Cymdeithas Tai Teifi" early in Welsh.
    agency_record_upsert(organisation=prydderch.orgs.housing, local_id="TT-ALYS", data={"given_name": "Alys"},
                         link_to=prydderch.alys)  # fmt: skip
    client.force_login(prydderch.staff.health_visitor)
    client.post(f"/report/new/?person={prydderch.alys.public_id}",
                {"concern_codes": [NEGLECT], "what_happened": "Hungry at clinic.", "immediate_danger": "no"})  # fmt: skip
    reference = Report.objects.get().reference
    client.force_login(prydderch.staff.social_worker)
    client.cookies["cylch_language"] = "cy"
    welsh = client.get(f"/front-door/{reference}/").content.decode()
    assert "Alys Prydderch: ar y gofrestr" in welsh and "on the register" not in welsh
    assert "Gwasanaeth Ymwelwyr Iechyd Ceredigion" in welsh and "Ceredigion Health Visiting Service" not in welsh
    # The agencies in Welsh alphabetical order of their Welsh names (they were ordered by the English).
    section = welsh.split("n adnabod y teulu</h3>", 1)[1].split("</ul>", 1)[0]
    agencies = [re.sub(r" – .*", "", html.unescape(li)) for li in re.findall(r"<li>(.*?)</li>", section)]
    assert "Cymdeithas Tai Teifi" in agencies and agencies == sorted_by(agencies, str, "cy")
    client.cookies["cylch_language"] = "en"
    english = client.get(f"/front-door/{reference}/").content.decode()
    section = english.split("Agencies that know the family</h3>", 1)[1].split("</ul>", 1)[0]
    in_english = [re.sub(r" – .*", "", html.unescape(li)) for li in re.findall(r"<li>(.*?)</li>", section)]
    assert len(in_english) == len(agencies) and in_english == sorted_by(in_english, str, "en")
    assert "Alys Prydderch: on the register" in english and "Ceredigion Health Visiting Service" in english


def test_an_empty_form_names_every_missing_answer_at_once_in_the_order_of_the_page(db, client, demo_hub):
    """ "Tell us about at least one child" used to come only on a second try, after the other
    answers, and its link led to no field. Now it comes with the others, beside the child's
    first name, and the summary lists the problems top to bottom as the page asks them."""
    text = client.post("/report/new/", {"immediate_danger": "yes", "maker_email": "bad"}).content.decode()
    summary = text[text.index("govuk-error-summary") : text.index("</ul>", text.index("govuk-error-summary"))]
    links = re.findall(r'href="#([^"]+)"', summary)
    assert links == ["id_child0-given_name", "id_concern_codes", "id_what_happened", "id_maker_email"], links
    assert all(f'id="{anchor}"' in text for anchor in links)
    assert 'id="id_child0-given_name-error"' in text and "Tell us about at least one child." in text
    named = client.post("/report/new/", {"child0-date_of_birth": "01/02/2019"}).content.decode()
    assert "Give the child&#x27;s name, or as much of it as you know." in named
    assert "Tell us about at least one child." not in named
    assert Report.objects.count() == 0


def test_a_worry_raised_from_an_adults_record_asks_for_the_child_and_names_the_adult(prydderch, client, demo_hub):
    """An adult's record offered "Report a worry about this child", a "Child's voice" and a child
    protection page; its report form would have sent the adult in as the child. Now the record
    offers a report about a child in the adult's life, and the form names the adult as an adult
    and asks for the child."""
    from cylch.reports.models import SubjectRole

    p = prydderch
    client.force_login(p.staff.health_visitor)
    page = client.get(f"/people/{p.ceri.public_id}/").content.decode()
    assert "Report a worry about a child in this person's life" in page
    assert "Report a worry about this child" not in page and f"/people/{p.ceri.public_id}/voice/" not in page
    child_page = client.get(f"/people/{p.alys.public_id}/").content.decode()
    assert "Report a worry about this child" in child_page and f"/people/{p.alys.public_id}/voice/" in child_page
    url = f"/report/new/?person={p.ceri.public_id}"
    assert "as an adult in the child's life" in client.get(url).content.decode()
    answers = {
        "concern_codes": [NEGLECT],
        "what_happened": "Ceri said the baby is left with strangers.",
        "immediate_danger": "no",
    }
    refused = client.post(url, answers).content.decode()
    assert "Tell us about at least one child." in refused and Report.objects.count() == 0
    sent = client.post(url, {**answers, "child0-given_name": "Nel", "child0-family_name": "Prydderch"})
    assert sent.status_code == 302
    report = Report.objects.get()
    roles = sorted((s.role, s.person_id == p.ceri.pk) for s in report.subjects.all())
    assert roles == [(SubjectRole.ADULT, True), (SubjectRole.CHILD, False)]


def test_a_service_error_about_a_child_or_adult_links_to_the_form_it_came_from(prydderch):
    """The service counts the record the report starts from first, then only the forms filled
    in; the error summary's link must land on the form the words were typed in."""
    from cylch.reports.forms import AdultForm, ChildForm
    from cylch.reports.views import _anchor

    data = {"child1-given_name": "Nel", "adult1-given_name": "Ifor"}
    children = [ChildForm(data, prefix=f"child{i}") for i in range(3)]
    adults = [AdultForm(data, prefix=f"adult{i}") for i in range(2)]
    assert all(f.is_valid() for f in children + adults)
    p = prydderch
    assert _anchor("children.0.postcode", None, children, adults) == "id_child1-postcode"
    assert _anchor("children.1.postcode", p.alys, children, adults) == "id_child1-postcode"  # Alys is children.0
    assert _anchor("adults.0.given_name", None, children, adults) == "id_adult1-given_name"
    assert _anchor("adults.1.given_name", p.ceri, children, adults) == "id_adult1-given_name"  # Ceri is adults.0
    assert _anchor("children.0.postcode", p.ceri, children, adults) == "id_child1-postcode"
    assert _anchor("children", None, children, adults) == "id_child0-given_name"

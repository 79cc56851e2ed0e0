"""The process pages, driven through HTTP by the people who use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.access.roles import Role
from cylch.protection.models import Episode, InviteeKind, MeetingKind, PlanKind, Stage
from cylch.protection.register import current
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def chair(prydderch):
    return factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                       organisation=prydderch.orgs.childrens_services, first_name="Menna",
                                       last_name="Huws")  # fmt: skip


def day(n: int) -> str:
    return (timezone.localdate() - timedelta(days=n)).strftime("%d/%m/%Y")


def as_user(client, user, language="en"):
    client.force_login(user)
    client.cookies["cylch_language"] = language
    return client


def test_the_path_through_the_pages(client, prydderch, chair, demo_hub):
    p = prydderch
    sw = as_user(client, p.staff.social_worker)
    child_url = reverse("protection:child", args=[p.alys.public_id])
    page = sw.get(child_url)
    assert page.status_code == 200 and "Not on the child protection register" in page.content.decode()
    start = sw.post(reverse("protection:start", args=[p.alys.public_id]))
    episode = Episode.objects.get(child=p.alys)
    assert start.url == reverse("protection:strategy", args=[episode.public_id])

    form = sw.get(start.url).content.decode()
    assert "Dyfed-Powys Police" in form and "Meddygfa&#x27;r Bont" in form and "Must take part" in form
    # Missing police: the error names the problem, nothing is stored.
    bad = sw.post(start.url, {"held_on": day(30), "held_time": "10:00", "format": "virtual", "information_shared": "x",
                              "decision": "section_47_enquiries", "reasons": "Significant harm suspected",
                              "took_0": "yes", "took_1": "no", "took_2": "yes", "took_3": "yes", "took_4": "yes"})  # fmt: skip
    assert bad.status_code == 200 and "Police must take part in a strategy discussion." in bad.content.decode()
    episode.refresh_from_db()
    assert episode.stage == Stage.STRATEGY
    ok = sw.post(start.url, {"held_on": day(30), "held_time": "10:00", "format": "virtual", "information_shared": "x",
                             "decision": "section_47_enquiries", "reasons": "Significant harm suspected",
                             "took_0": "yes", "took_1": "yes", "took_2": "yes", "took_3": "no",
                             "why_3": "School closed for half term; head teacher sent a note",
                             "took_4": "yes"})  # fmt: skip
    assert ok.status_code == 302
    episode.refresh_from_db()
    assert episode.stage == Stage.ENQUIRY

    enquiry_url = reverse("protection:enquiry", args=[episode.public_id])
    assert sw.post(enquiry_url, {"outcome": "substantiated_at_risk", "findings": "Neglect", "concluded_on": day(27),
                                 "seen_alone": "yes"}).status_code == 302  # fmt: skip
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    meeting_url = reverse("protection:meeting", args=[icpc.public_id])
    page = sw.get(meeting_url).content.decode()
    assert "Must be invited" in page and "Meddygfa&#x27;r Bont" in page and "Must be held by" in page
    # The GP cannot be dropped without a reason.
    gp = icpc.invitees.get(organisation=p.orgs.gp)
    refused = sw.post(meeting_url, {"form": "remove", "invitee": gp.public_id, "reason": ""}, follow=True)
    assert "must be invited: record why they are not" in refused.content.decode()
    assert sw.post(meeting_url, {"form": "invite"}).status_code == 302
    gp.refresh_from_db()
    assert gp.invited_at is not None

    # The GP writes the report from the same page.
    doctor = as_user(client, p.staff.gp)
    assert doctor.get(meeting_url).status_code == 200
    report_url = reverse("protection:agency-report", args=[gp.public_id])
    assert doctor.post(report_url, {"text": "Weight faltering; two missed immunisations."}).status_code == 302
    # The housing association knows the household but is not invited to the meetings: nothing to see.
    as_user(client, p.staff.housing_officer)
    icpc.invitees.filter(organisation=p.orgs.housing).update(removed_at=timezone.now(), removed_reason="test")
    assert client.get(meeting_url).status_code == 404

    # Only the chair records the conference.
    sw = as_user(client, p.staff.social_worker)
    record_url = reverse("protection:meeting-record", args=[icpc.public_id])
    assert sw.get(record_url).status_code == 403
    ch = as_user(client, chair)
    attended = [str(i.pk) for i in icpc.invitees.filter(removed_at__isnull=True).exclude(kind=InviteeKind.PARENT)]
    missing = ch.post(record_url, {"held_on": day(20), "held_time": "14:00", "format": "hybrid", "language": "cy",
                                   "decision": "registered", "reasons": "Continuing risk", "record": "Cofnod",
                                   "attended": attended})  # fmt: skip
    assert "Choose at least one category of registration for this child." in missing.content.decode()
    assert ch.post(record_url, {"held_on": day(20), "held_time": "14:00", "format": "hybrid", "language": "cy",
                                "decision": "registered", "categories": ["neglect"], "reasons": "Continuing risk",
                                "record": "Cofnod", "attended": attended}).status_code == 302  # fmt: skip
    assert current(p.alys).categories == ["neglect"]

    # Circulation reaches the parents who did not come.
    sw = as_user(client, p.staff.social_worker)
    circ_url = reverse("protection:circulate", args=[icpc.public_id]) + "?document=decisions"
    page = sw.get(circ_url).content.decode()
    assert "did not attend" in page
    parent = icpc.invitees.get(kind=InviteeKind.PARENT)
    assert sw.post(circ_url, {"document": "decisions", f"channel_{parent.pk}": "by_hand"}).status_code == 302
    assert icpc.circulations.get().deliveries.get(invitee=parent).channel == "by_hand"

    # The plan: an action for the school, whose lead records progress.
    plan = episode.plans.get(kind=PlanKind.CSPP)
    plan_url = reverse("protection:plan", args=[plan.public_id])
    due = (timezone.localdate() + timedelta(days=20)).strftime("%d/%m/%Y")
    assert sw.post(plan_url, {"form": "action", "text": "Breakfast club", "owner": p.orgs.school.pk,
                              "owner_name": "Bethan", "due_on": due}).status_code == 302  # fmt: skip
    action = plan.actions.get()
    school = as_user(client, p.staff.school_lead)
    assert school.get(plan_url).status_code == 200
    assert school.post(reverse("protection:action", args=[action.public_id]),
                       {"status": "on_track", "note": "Started"}).status_code == 302  # fmt: skip

    # The child's page in Welsh shows the register, the dates and the meetings.
    cy = as_user(client, p.staff.health_visitor, "cy").get(child_url).content.decode()
    assert 'lang="cy"' in cy
    due_page = as_user(client, p.staff.team_manager).get(reverse("protection:due")).content.decode()
    assert "Alys" in due_page


def test_register_status_is_visible_to_every_involved_agency_but_not_the_plan(client, prydderch, chair, demo_hub):
    from cylch.protection import meetings
    from cylch.protection.models import Decision
    from tests.test_protection import _to_conference, conference_input, days_ago

    p = prydderch
    # The housing association knows Ceri; it is invited, then left off with a reason.
    factories.event(organisation=p.orgs.housing, person=p.ceri, code="housing.rent_arrears")
    episode, icpc = _to_conference(p, held_strategy=days_ago(20), concluded=days_ago(15))
    housing_invite = icpc.invitees.get(organisation=p.orgs.housing)
    meetings.remove_invitee(housing_invite, user=p.staff.social_worker, reason="Rent arrears only; no role in the plan")
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(10), decision=Decision.REGISTER)
    )
    # The review conference's list is built afresh from who is involved: left off there too.
    review = episode.meetings.get(kind=MeetingKind.REVIEW)
    meetings.remove_invitee(
        review.invitees.get(organisation=p.orgs.housing), user=p.staff.social_worker, reason="As before"
    )
    child_url = reverse("protection:child", args=[p.alys.public_id])
    housing = as_user(client, p.staff.housing_officer).get(child_url).content.decode()
    assert "On the child protection register" in housing and "Neglect" in housing
    assert "Tell the social worker at once" in housing
    plan = episode.plans.get(kind=PlanKind.CSPP)
    assert client.get(reverse("protection:plan", args=[plan.public_id])).status_code == 404
    # An organisation with nothing to do with the child cannot open the page at all.
    as_user(client, p.staff.other_la_social_worker)
    assert client.get(child_url).status_code == 404


def test_the_receiving_authority_records_a_move_in(client, prydderch, chair, demo_hub):
    from cylch.protection import meetings
    from cylch.protection.models import Decision
    from tests.test_protection import _to_conference, conference_input, days_ago, move_to_carmarthenshire

    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(30), decision=Decision.REGISTER)
    )
    # Carmarthenshire's social worker knows the family through Efa, Alys's brother's half-sister.
    carms = as_user(client, p.staff.other_la_social_worker)
    factories.event(
        organisation=p.orgs.other_la_childrens_services, person=p.alys, code="social_care.visit.child_not_seen"
    )
    url = reverse("protection:transfer-in", args=[p.alys.public_id])
    # Until Cylch holds her new address there, Carmarthenshire cannot receive her: the page says why.
    page = carms.get(reverse("protection:child", args=[p.alys.public_id])).content.decode()
    assert "This child has moved to our area" not in page and "does not hold an address" in page
    assert carms.post(url, {"told_on": day(3), "from_local_authority": "Ceredigion"}).status_code == 403
    assert not episode.meetings.filter(kind=MeetingKind.TRANSFER).exists()
    move_to_carmarthenshire(p)
    page = carms.get(reverse("protection:child", args=[p.alys.public_id])).content.decode()
    assert "This child has moved to our area" in page
    response = carms.post(url, {"told_on": day(3), "from_local_authority": "Ceredigion"})
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.transfer_to == p.orgs.other_la_childrens_services
    transfer = episode.meetings.get(kind=MeetingKind.TRANSFER)
    assert response.url == reverse("protection:meeting", args=[transfer.public_id])
    assert carms.get(response.url).status_code == 200


def test_a_team_manager_ends_a_registration_only_for_the_reasons_the_procedures_allow(
    client, prydderch, chair, demo_hub
):
    from cylch.protection import meetings
    from cylch.protection.models import Decision
    from tests.test_protection import _to_conference, conference_input, days_ago

    p = prydderch
    episode, icpc = _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    meetings.record_conference(
        icpc, user=chair, data=conference_input(icpc, held=days_ago(30), decision=Decision.REGISTER)
    )
    url = reverse("protection:end-registration", args=[episode.public_id])
    manager = as_user(client, p.staff.team_manager)
    # Leaving the UK needs the needs and contingency recorded; nothing is ended without them.
    missing = manager.post(
        url, {"reason": "moved_permanently_abroad", "on": day(1), "explanation": "Family emigrated to Canada"}
    )
    assert "Record the child" in missing.content.decode() and current(p.alys) is not None
    # Not a reason the procedures allow outside a conference: not even offered.
    wrong = manager.post(url, {"reason": "review_conference_decision", "on": day(1), "explanation": "x"})
    assert wrong.status_code == 200 and current(p.alys) is not None
    done = manager.post(url, {"reason": "moved_permanently_abroad", "on": day(1), "explanation": "Family emigrated to Canada",
                              "eligible_needs": "None in Wales; Canadian services told", "contingency": "If they return, strategy discussion"})  # fmt: skip
    assert done.status_code == 302 and current(p.alys) is None
    episode.refresh_from_db()
    assert episode.stage == Stage.CLOSED


def test_the_child_protection_tab_is_shown_exactly_to_those_it_opens_for(client, prydderch, chair, demo_hub):
    """The tab beside a child's record, chronology, family and voice led some roles to "page not
    found" (found in the demo by a midwife on Elis Bevan): it is now shown only to those for whom
    the page opens."""
    from dataclasses import fields

    from tests.test_protection import _to_conference, days_ago

    p = prydderch
    _to_conference(p, held_strategy=days_ago(20), concluded=days_ago(15))
    child_url = reverse("protection:child", args=[p.alys.public_id])
    seen = set()
    for f in fields(p.staff):
        user = getattr(p.staff, f.name)
        as_user(client, user)
        for page in ("identity:person", "chronology:chronology", "chronology:voice", "chronology:family"):
            response = client.get(reverse(page, args=[p.alys.public_id]))
            if response.status_code != 200:
                continue
            opens = client.get(child_url).status_code == 200
            assert (f'href="{child_url}"' in response.content.decode()) is opens, (f.name, page)
            seen.add(opens)
    assert seen == {True, False}  # both kinds of viewer were met

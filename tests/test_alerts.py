"""Working an alert: pages, API, acknowledgement, escalation, feedback, register notices and
the lead coordinator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.access.roles import Role
from cylch.events.services import record_event
from cylch.identity.models import Allocation, AllocationKind
from cylch.identity.services import allocation_create
from cylch.notify.models import Notification
from cylch.rules.coordinator import lead_coordinator_check, proposal_confirm, proposal_decline
from cylch.rules.models import Alert, AlertStatus, LeadCoordinatorProposal, ProposalStatus
from cylch.rules.register import register_notice
from cylch.rules.services import alert_acknowledge, alerts_sweep, may_act
from tests import factories
from tests.openapi_check import assert_declared, openapi_document

WNB = "health.appointment.was_not_brought"


def ago(days=0, **kw):
    return timezone.now() - timedelta(days=days, **kw)


def wnb(fam, org, user, days, person=None):
    return record_event(organisation=org, code=WNB, occurred_at=ago(days), person=person or fam.twm,
                        details={"service": "gp"}, recorded_by=user).event  # fmt: skip


@pytest.fixture
def raised(prydderch, demo_hub):
    fam = prydderch
    wnb(fam, fam.orgs.gp, fam.staff.gp, 40)
    wnb(fam, fam.orgs.health_visiting, fam.staff.health_visitor, 12)
    return fam, Alert.objects.get(rule_id="was-not-brought-repeated")


def test_the_front_door_sees_it_explained_with_both_events_and_who_recorded_them(raised, client):
    fam, alert = raised
    client.force_login(fam.staff.team_manager)  # Welsh-speaking front-door manager
    client.cookies["cylch_language"] = "cy"
    page = client.get(reverse("rules:alerts")).content.decode()
    assert "Plentyn heb ei ddwyn i apwyntiadau iechyd fwy nag unwaith" in page
    client.cookies["cylch_language"] = "en"
    client.force_login(fam.staff.social_worker)
    html = client.get(reverse("rules:alert", args=[alert.public_id])).content.decode()
    assert "2 × Child not brought to a health appointment: Ceredigion Health Visiting Service" not in html  # date order
    assert "2 × Child not brought to a health appointment: Meddygfa&#x27;r Bont" in html
    assert "Rhodri Owen" in html and "Nia Hughes" in html
    assert "TA missed-appointments deep dive" in html


def test_who_has_it_names_the_organisations_in_the_readers_language(raised, client):
    """The "Responsible" and "Sent to" lines name each organisation in Welsh on the Welsh page, as the
    evidence does (they printed the English name whatever the language)."""
    fam, alert = raised
    client.force_login(fam.staff.team_manager)
    url = reverse("rules:alert", args=[alert.public_id])
    client.cookies["cylch_language"] = "cy"
    welsh = client.get(url).content.decode()
    assert "Gwasanaethau Plant Ceredigion" in welsh and "Gwasanaeth Ymwelwyr Iechyd Ceredigion" in welsh
    assert "Ceredigion Children&#x27;s Services" not in welsh and "Ceredigion Health Visiting Service" not in welsh
    client.cookies["cylch_language"] = "en"
    english = client.get(url).content.decode()
    assert "Ceredigion Children&#x27;s Services" in english and "Gwasanaethau Plant Ceredigion" not in english


def test_someone_it_was_not_sent_to_cannot_open_it(raised, client):
    fam, alert = raised
    client.force_login(fam.staff.police_officer)
    assert client.get(reverse("rules:alert", args=[alert.public_id])).status_code == 404
    assert not may_act(fam.staff.police_officer, alert)
    assert str(alert.public_id) not in client.get(reverse("rules:alerts")).content.decode()


def test_evidence_the_reader_may_not_see_shows_as_withheld(prydderch, demo_hub, client):
    fam = prydderch
    # a special-category entry among the evidence
    record_event(organisation=fam.orgs.gp, code="health.adult_mental_health.concern", occurred_at=ago(31),
                 person=fam.ceri, recorded_by=fam.staff.gp)  # fmt: skip
    record_event(organisation=fam.orgs.police, code="police.ppn.domestic_abuse", occurred_at=ago(40),
                 household=fam.home, details={"risk_level": "standard"})  # fmt: skip
    record_event(
        organisation=fam.orgs.gp, code="health.substance_misuse.concern", occurred_at=ago(25), person=fam.dafydd
    )
    alert = Alert.objects.get(rule_id="parental-risks-together")
    lead = factories.demo_practitioner(username="school.lead2", role=Role.SCHOOL_SAFEGUARDING_LEAD,
                                  organisation=fam.orgs.school, is_safeguarding_lead=True)  # fmt: skip
    assert may_act(lead, alert)
    client.force_login(lead)
    response = client.get(reverse("rules:alert", args=[alert.public_id]))
    assert response.status_code == 200, response
    html = response.content.decode()
    assert "Withheld" in html and "Meddygfa&#x27;r Bont" in html
    assert "Adult mental health" not in html


def test_acknowledge_then_outcome_feeds_back_to_every_contributing_organisation(raised, client):
    fam, alert = raised
    client.force_login(fam.staff.social_worker)
    client.post(reverse("rules:acknowledge", args=[alert.public_id]))
    client.post(reverse("rules:acknowledge", args=[alert.public_id]))  # a double click changes nothing
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == fam.staff.social_worker
    assert alert.steps.filter(action="acknowledged").count() == 1
    response = client.post(reverse("rules:close", args=[alert.public_id]), follow=True)
    assert "Record what happened before closing" in response.content.decode()
    client.post(
        reverse("rules:outcome", args=[alert.public_id]), {"outcome": "multi_agency_meeting", "note": "Meeting Friday"}
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACTIONED and alert.outcome == "multi_agency_meeting"
    told = set(Notification.objects.filter(kind="alert_outcome").values_list("recipient__username", flat=True))
    assert told == {"dr.owen", "nia.hv"}
    client.post(reverse("rules:close", args=[alert.public_id]))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED


def test_an_outcome_refused_keeps_what_was_written_and_says_where(raised, client):
    """With no outcome chosen the page comes back with the note still there and the problem on
    the field, in the error summary and beside it (a redirect lost the note)."""
    fam, alert = raised
    client.force_login(fam.staff.social_worker)
    note = "Spoke to the school & the GP; a meeting on Friday."
    response = client.post(reverse("rules:outcome", args=[alert.public_id]), {"note": note})
    page = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in page
    assert '<a href="#id_outcome">Choose what happened.</a>' in page and 'id="outcome-error"' in page
    assert "Spoke to the school &amp; the GP; a meeting on Friday.</textarea>" in page
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RAISED and alert.outcome == ""
    response = client.post(
        reverse("rules:outcome", args=[alert.public_id]), {"outcome": "multi_agency_meeting", "note": note}
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.outcome == "multi_agency_meeting" and alert.outcome_note == note


def test_an_alert_nobody_acknowledges_goes_to_the_team_manager_once(raised):
    fam, alert = raised
    assert alerts_sweep(now=alert.acknowledge_by - timedelta(minutes=1)) == 0
    assert alerts_sweep(now=alert.acknowledge_by + timedelta(minutes=1)) == 1
    assert alerts_sweep(now=alert.acknowledge_by + timedelta(hours=5)) == 0
    assert Notification.objects.filter(kind="alert_escalated", recipient=fam.staff.team_manager).count() == 1


def test_api_lists_and_acknowledges_idempotently(raised, api_client):
    fam, alert = raised
    client = api_client(fam.orgs.childrens_services)
    body = client.get("/api/v1/alerts").json()
    assert [a["id"] for a in body] == [str(alert.public_id)]
    assert body[0]["title_cy"].startswith("Plentyn heb ei ddwyn") and body[0]["evidence_count"] == 2
    assert body[0]["evidence"] == []  # the front door recorded none of it
    for _ in range(2):
        r = client.post(f"/api/v1/alerts/{alert.public_id}/acknowledge")
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert alert.steps.filter(action="acknowledged").count() == 1
    police = api_client(fam.orgs.police)
    assert police.post(f"/api/v1/alerts/{alert.public_id}/acknowledge").status_code == 404
    assert police.get("/api/v1/alerts").json() == []


def test_the_api_lists_many_alerts_in_as_many_queries_as_one(raised, api_client):
    """Each alert's children and evidence come prefetched, not a query or two per alert."""
    import uuid

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cylch.rules.models import AlertEvidence

    fam, alert = raised
    client = api_client(fam.orgs.childrens_services)
    client.get("/api/v1/alerts")  # the first call also notes when the token was last used
    with CaptureQueriesContext(connection) as one:
        assert len(client.get("/api/v1/alerts").json()) == 1
    children, evidence = list(alert.children.all()), list(alert.evidence.all())
    for n in range(4):
        copy = Alert.objects.get(pk=alert.pk)
        copy.pk, copy.public_id, copy.scope_key = None, uuid.uuid4(), f"{alert.scope_key}:{n}"
        copy.save()
        copy.children.set(children)
        AlertEvidence.objects.bulk_create(
            [AlertEvidence(alert=copy, event_id=e.event_id, added_at=e.added_at) for e in evidence]
        )
    with CaptureQueriesContext(connection) as five:
        body = client.get("/api/v1/alerts").json()
    assert len(body) == 5 and all(a["evidence_count"] == 2 and len(a["children"]) == len(children) for a in body)
    assert len(five) == len(one), [q["sql"] for q in five.captured_queries]


def test_the_api_pages_alerts_and_says_how_many_and_where_the_next_page_is(raised, api_client):
    """Newest first, ``limit`` at a time: every alert is reached by following ``Link`` (the answer
    used to stop at 500 without saying so); a bad page is refused by name."""
    import uuid

    fam, alert = raised
    for n in range(4):
        copy = Alert.objects.get(pk=alert.pk)
        copy.pk, copy.public_id, copy.scope_key = None, uuid.uuid4(), f"{alert.scope_key}:{n}"
        copy.raised_at = alert.raised_at + timedelta(minutes=n + 1)
        copy.save()
    client = api_client(fam.orgs.childrens_services)
    everything = client.get("/api/v1/alerts")
    assert everything["X-Total-Count"] == "5" and "Link" not in everything
    newest_first = [a["id"] for a in everything.json()]
    seen, url = [], "/api/v1/alerts?limit=2"
    while url:
        page = client.get(url)
        assert page.status_code == 200 and page["X-Total-Count"] == "5" and len(page.json()) <= 2
        seen += [a["id"] for a in page.json()]
        link = page.get("Link", "")
        url = link[1 : link.index(">")] if link else ""
        assert not link or link.endswith('rel="next"')
    assert seen == newest_first and newest_first[-1] == str(alert.public_id)
    for bad in ("limit=0", "limit=501", "offset=-1", "limit=two"):
        refused = client.get(f"/api/v1/alerts?{bad}")
        assert refused.status_code == 422 and bad.split("=")[0] in str(refused.json()), refused.json()


def test_the_rule_pack_reads_in_welsh(prydderch, client):
    client.force_login(prydderch.staff.team_manager)
    client.cookies["cylch_language"] = "cy"
    html = client.get(reverse("rules:pack")).content.decode()
    assert "Rheolau cenedlaethol Cymru" in html and "Ymgyrch Encompass" in html


# --- the register -----------------------------------------------------------------------------


def test_an_entry_about_a_child_on_the_register_reaches_the_social_worker_at_once(prydderch):
    fam = prydderch
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    record_event(organisation=fam.orgs.childrens_services, code="process.register.registered", occurred_at=ago(10),
                 person=fam.alys, recorded_by=fam.staff.social_worker,
                 details=factories.minimal_details("process.register.registered"))  # fmt: skip
    assert not Notification.objects.filter(kind="register_entry").exists()  # her own entry
    record_event(organisation=fam.orgs.school, code="education.behaviour.change", occurred_at=ago(1),
                 person=fam.alys, details={}, recorded_by=fam.staff.school_lead)  # fmt: skip
    assert Notification.objects.filter(kind="register_entry", recipient=fam.staff.social_worker).count() == 1
    notice = register_notice(fam.alys)
    assert notice.on_register and notice.worker_name == "Gwen Thomas" and notice.email == "gwen.social@example.cymru"
    assert register_notice(fam.twm) is None


# --- the lead coordinator ---------------------------------------------------------------------


def test_two_agencies_and_no_social_worker_propose_the_health_visitor_for_an_under_five(raised, client):
    fam, alert = raised
    proposal = LeadCoordinatorProposal.objects.get(person=fam.twm)
    assert proposal.organisation == fam.orgs.health_visiting and proposal.reason == "under_five_health_visitor"
    assert proposal.practitioner == fam.staff.health_visitor
    notice = Notification.objects.get(kind="lead_coordinator_proposed", recipient=fam.staff.team_manager)
    client.force_login(fam.staff.team_manager)
    page = client.get(reverse("rules:proposals")).content.decode()
    assert fam.twm.display_name in page and f'id="proposal-{proposal.public_id}"' in page
    # The notice links to the child's card, and the notices page names the child; the email does not.
    assert notice.url == f"{reverse('rules:proposals')}#proposal-{proposal.public_id}"
    assert f"About: {fam.twm.display_name}" in client.get(reverse("notify:notices")).content.decode()
    assert fam.twm.given_name not in notice.subject + notice.body
    client.post(reverse("rules:proposal-confirm", args=[proposal.public_id]))
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.CONFIRMED
    assert Allocation.objects.get(person=fam.twm, kind=AllocationKind.LEAD_COORDINATOR).practitioner == fam.staff.health_visitor  # fmt: skip
    alert.refresh_from_db()
    assert alert.owner == fam.staff.health_visitor  # the open alert moved to her
    assert alert.steps.filter(action="handed_over").exists()
    assert fam.twm.events.filter(code="process.lead_coordinator.assigned").count() == 1
    wnb(fam, fam.orgs.gp, fam.staff.gp, 2)
    assert LeadCoordinatorProposal.objects.filter(person=fam.twm).count() == 1  # none while one is allocated


def test_a_declined_proposal_is_not_made_again_until_another_agency_joins(raised):
    fam, _alert = raised
    proposal = LeadCoordinatorProposal.objects.get(person=fam.twm)
    with pytest.raises(Exception, match="Only a team manager"):
        proposal_decline(proposal=proposal, user=fam.staff.gp, note="no")
    proposal_decline(proposal=proposal, user=fam.staff.team_manager, note="Family moving next week")
    assert lead_coordinator_check(fam.twm) is None
    record_event(organisation=fam.orgs.school, code="education.presentation.concern", occurred_at=ago(1),
                 person=fam.twm, details=factories.minimal_details("education.presentation.concern"))  # fmt: skip
    assert LeadCoordinatorProposal.objects.filter(person=fam.twm, status=ProposalStatus.PROPOSED).count() == 1


def test_only_the_childs_front_door_manager_confirms(raised):
    fam, _alert = raised
    proposal = LeadCoordinatorProposal.objects.get(person=fam.twm)
    other = factories.practitioner(username="carms.tm", role=Role.TEAM_MANAGER, organisation=fam.orgs.other_la_childrens_services)  # fmt: skip
    with pytest.raises(Exception, match="Only a team manager"):
        proposal_confirm(proposal=proposal, user=other)


def test_acknowledge_service_refuses_strangers(raised):
    fam, alert = raised
    with pytest.raises(Exception, match="not sent to you"):
        alert_acknowledge(alert=alert, user=fam.staff.housing_officer)


def test_acknowledging_an_alert_id_that_is_not_a_uuid_is_a_declared_422(prydderch, api_client):
    client = api_client(prydderch.orgs.gp)
    response = client.post("/api/v1/alerts/not-a-uuid/acknowledge")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "alert_id"
    assert_declared(openapi_document(client), "post", "/api/v1/alerts/{alert_id}/acknowledge", response)


def test_listing_alerts_with_a_nul_in_the_status_is_a_declared_422(prydderch, api_client):
    """Found by schemathesis on PostgreSQL: the NUL reached the query and raised a DataError."""
    client = api_client(prydderch.orgs.gp)
    response = client.get("/api/v1/alerts", {"status": "open\x00"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "status"
    assert_declared(openapi_document(client), "get", "/api/v1/alerts", response)


def test_the_batch_run_proposes_a_lead_coordinator_as_new_entries_would(prydderch, settings):
    """Entries written in bulk (an import with the rules off, the demo's history) make no
    proposals as they go: ``cylch rules run`` makes them, once, for the children that need one."""
    from io import StringIO

    from django.core.management import call_command

    fam = prydderch
    settings.CYLCH_RULES_ON_RECORD = False
    wnb(fam, fam.orgs.gp, fam.staff.gp, 40)
    wnb(fam, fam.orgs.health_visiting, fam.staff.health_visitor, 12)
    wnb(fam, fam.orgs.gp, fam.staff.gp, 30, person=fam.alys)  # one agency only: no proposal
    assert not LeadCoordinatorProposal.objects.exists()
    out = StringIO()
    call_command("rules", "run", "--no-progress", stdout=out)
    assert "1 lead coordinator proposals made" in out.getvalue()
    [proposal] = LeadCoordinatorProposal.objects.all()
    assert proposal.person == fam.twm and proposal.organisation == fam.orgs.health_visiting
    call_command("rules", "run", "--no-progress", stdout=(again := StringIO()))
    assert "0 lead coordinator proposals made" in again.getvalue()  # one waiting: not made twice


def test_a_success_message_is_announced_and_an_important_one_is_not_forced_on_the_reader(raised, client):
    """GOV.UK's success banner takes focus (role="alert"), so a screen reader says what was done;
    a message that is not a success stays a region the reader can find."""
    fam, alert = raised
    client.force_login(fam.staff.social_worker)
    done = client.post(reverse("rules:acknowledge", args=[alert.public_id]), follow=True).content.decode()
    assert 'govuk-notification-banner--success" role="alert"' in done
    refused = client.post(reverse("rules:close", args=[alert.public_id]), follow=True).content.decode()
    assert "Record what happened before closing" in refused and 'role="region" aria-labelledby="message-1"' in refused


def test_a_refused_outcome_says_error_first_in_the__title(raised, client):
    fam, alert = raised
    client.force_login(fam.staff.social_worker)
    client.post(reverse("rules:acknowledge", args=[alert.public_id]))
    refused = client.post(reverse("rules:outcome", args=[alert.public_id]), {"outcome": "", "note": ""})
    assert _title(refused).startswith("Error: ") and _title(refused).count("Error:") == 1
    client.get("/language/cy/")
    assert _title(client.post(reverse("rules:outcome", args=[alert.public_id]), {"outcome": ""})).startswith("Gwall: ")


def _title(response) -> str:
    import re

    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


def test_an_alerts_notice_says_on_the_hub_whom_it_is_about_and_the_email_does_not(raised, client):
    """Forty notices reading "Alert: Child not brought ..." had to be opened one by one to learn
    whom each was about. The notices page now names the children, for an alert the reader may
    open; the email, which may go anywhere, still names nobody."""
    from cylch.notify.inbox import named
    from cylch.notify.models import OutboxMessage

    fam, alert = raised
    notice = Notification.objects.filter(
        kind="alert_raised", url=reverse("rules:alert", args=[alert.public_id])
    ).first()
    assert notice is not None
    child = alert.children.get()
    client.force_login(notice.recipient)
    page = client.get(reverse("notify:notices")).content.decode()
    assert f"About: {child.display_name}" in page
    assert child.given_name not in notice.body and child.given_name not in notice.subject
    assert not OutboxMessage.objects.filter(body__contains=child.given_name).exists()
    assert named(fam.staff.other_la_social_worker, [notice.url]) == {}  # not theirs to open


def test_a_job_title_that_is_only_a_role_reads_in_the_pages_language(raised, client):
    """The Welsh alert page named "Nia Hughes, Health visitor": the recorder's role is stored as
    it was written, in English. A title that is only a role's name now reads in the page's
    language; anyone's own job title stays as they gave it."""
    from cylch.access.roles import role_words
    from cylch.events.models import Event

    fam, alert = raised
    Event.objects.filter(recorded_by=fam.staff.gp).update(recorder_role="Senior partner, Meddygfa'r Bont")
    Event.objects.filter(recorded_by=fam.staff.health_visitor).update(recorder_role="Health visitor")
    client.force_login(fam.staff.team_manager)
    client.cookies["cylch_language"] = "cy"
    welsh = client.get(reverse("rules:alert", args=[alert.public_id])).content.decode()
    assert "Nia Hughes, Ymwelydd iechyd" in welsh and "Health visitor" not in welsh
    assert "Senior partner, Meddygfa&#x27;r Bont" in welsh
    client.cookies["cylch_language"] = "en"
    assert "Nia Hughes, Health visitor" in client.get(reverse("rules:alert", args=[alert.public_id])).content.decode()
    assert role_words("  health VISITOR ") == "Health visitor" and role_words("") == ""


def test_once_acknowledged_who_has_it_names_who_acknowledged_it(raised, client):
    """The button promises "the others it was sent to will see who has it", but the box showed
    only the organisation and the deadline to acknowledge by, long past its use."""
    fam, alert = raised
    url = reverse("rules:alert", args=[alert.public_id])
    client.force_login(fam.staff.team_manager)
    before = client.get(url).content.decode()
    assert "Acknowledge by" in before and "Acknowledged</dt>" not in before
    client.force_login(fam.staff.social_worker)
    client.post(reverse("rules:acknowledge", args=[alert.public_id]))
    client.force_login(fam.staff.team_manager)
    after = client.get(url).content.decode()
    assert "Acknowledged</dt>" in after and fam.staff.social_worker.get_full_name() + ", " in after
    assert "Acknowledge by</dt>" not in after


def test_the_language_link_on_a_refused_outcome_returns_to_the_alert(raised, client):
    """A refused outcome is shown at its POST-only address; the language link went there and
    the browser showed a 405. It returns to the alert's page, from a second refusal too."""
    fam, alert = raised
    client.force_login(fam.staff.social_worker)
    client.post(reverse("rules:acknowledge", args=[alert.public_id]))
    page = reverse("rules:alert", args=[alert.public_id])
    for _try in range(2):
        refused = client.post(reverse("rules:outcome", args=[alert.public_id]), {"outcome": ""}).content.decode()
        assert f'?next={page}"' in refused

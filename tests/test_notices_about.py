"""Notices that go out by email name no child; the hub's notices page names them, to a reader
who may see the child's details, for deadlines, meetings and reports passed on as for alerts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cylch.identity.services import allocation_create
from cylch.notify.inbox import named
from cylch.notify.models import Notification, OutboxMessage
from cylch.protection import meetings, monitor
from cylch.reports.models import Outcome
from cylch.reports.services import report_decide
from tests.test_protection import _to_conference, days_ago
from tests.test_reports import submit

pytestmark = pytest.mark.django_db


def _about(client, user) -> str:
    client.force_login(user)
    return client.get(reverse("notify:notices")).content.decode()


def _no_email_names(person) -> None:
    assert not OutboxMessage.objects.filter(body__contains=person.given_name).exists()
    assert not OutboxMessage.objects.filter(subject__contains=person.given_name).exists()


def test_an_overdue_conference_is_named_on_the_page_and_not_in_the_email(prydderch, client):
    p = prydderch
    _to_conference(p, held_strategy=days_ago(40), concluded=days_ago(35))
    assert monitor.sweep().escalated >= 1
    notice = Notification.objects.get(kind="protection_overdue", recipient=p.staff.team_manager)
    assert p.alys.given_name not in notice.subject + notice.body
    assert all(p.alys.given_name not in " ".join(t) for t in notice.texts.values())
    _no_email_names(p.alys)
    assert f"About: {p.alys.display_name}" in _about(client, p.staff.team_manager)
    assert named(p.staff.other_la_social_worker, [notice.url]) == {}


def test_an_invitation_names_the_child_to_an_agency_taking_part_only(prydderch, client):
    p = prydderch
    _episode, icpc = _to_conference(p, held_strategy=days_ago(10), concluded=days_ago(5))
    p.staff.gp.is_safeguarding_lead = True  # an agency is invited through its safeguarding leads
    p.staff.gp.save(update_fields=["is_safeguarding_lead"])
    meetings.send_invitations(icpc, user=p.staff.social_worker)
    notices = Notification.objects.filter(kind="protection_invitation").exclude(
        recipient__organisation=p.orgs.childrens_services
    )
    assert notices.exists()
    for notice in notices:
        assert p.alys.given_name not in notice.subject + notice.body
        assert f"About: {p.alys.display_name}" in _about(client, notice.recipient)
        assert named(notice.recipient, [notice.url]) == {notice.url: p.alys.display_name}
    _no_email_names(p.alys)
    assert named(p.staff.other_la_social_worker, [notice.url]) == {}


def test_a_report_passed_on_links_each_worker_to_a_page_they_can_open(prydderch, client):
    """The allocated social worker on the front door's queue is sent to the triage page; a lead
    coordinator in a school, who cannot open the front door's pages, to the child's record,
    where the report is an entry. Neither email names the child."""
    p = prydderch
    for user, kind in ((p.staff.team_manager, "social_worker"), (p.staff.school_lead, "lead_coordinator")):
        allocation_create(person=p.alys, organisation=user.organisation, kind=kind, practitioner=user)
    report = submit(p)
    report_decide(report=report, user=p.staff.social_worker, outcome=Outcome.ALREADY_OPEN,
                  rationale="Already allocated: a social worker and a lead coordinator.")  # fmt: skip
    manager = Notification.objects.get(kind="report_passed_on", recipient=p.staff.team_manager)
    school = Notification.objects.get(kind="report_passed_on", recipient=p.staff.school_lead)
    assert manager.url == reverse("reports:triage", args=[report.reference])
    assert school.url == reverse("identity:person", args=[p.alys.public_id])
    for notice in (manager, school):
        assert report.reference in notice.subject and p.alys.given_name not in notice.subject + notice.body
    _no_email_names(p.alys)
    client.force_login(p.staff.school_lead)
    assert client.get(school.url).status_code == 200
    assert f"About: {p.alys.display_name}" in _about(client, p.staff.school_lead)
    assert f"About: {p.alys.display_name}" in _about(client, p.staff.team_manager)
    assert named(p.staff.team_manager, [manager.url]) == {manager.url: p.alys.display_name}
    assert named(p.staff.school_lead, [manager.url]) == {}


def test_a_child_who_died_is_still_a_child(prydderch):
    """Age is counted to the day of death: a child who died keeps the child's pages, however
    long ago, and a report from their record is about them as a child."""
    from datetime import date

    alys = prydderch.alys
    alys.date_of_birth, alys.date_of_death = date(2000, 5, 1), date(2010, 1, 1)
    assert alys.is_adult is False
    alys.date_of_death = None
    assert alys.is_adult is True
    alys.date_of_birth = None
    assert alys.is_adult is False  # an unknown age is not taken as adult

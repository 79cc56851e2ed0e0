"""Undoing a wrong link revisits the alerts built on the entries that moved (HAZ-002).

The health visiting service's record of "Alys" carried a mistyped NHS number that happened to be
Alys Prydderch's, so it linked to her and its two missed appointments raised an alert about her.
The records and alerts are made through the real services; the undo is ``link_undo``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.events.services import record_event
from cylch.identity.models import PersonLink
from cylch.identity.services import agency_record_upsert, link_undo
from cylch.notify.models import Notification, OutboxMessage
from cylch.rules import routing
from cylch.rules.models import Alert, AlertStatus
from cylch.rules.services import alert_close, alert_record_outcome
from tests import factories

pytestmark = pytest.mark.django_db

WNB = "health.appointment.was_not_brought"
REPEATED = "was-not-brought-repeated"
REASON = "The health visitor's Alys is another child: her NHS number was mistyped"


def ago(days: int):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def wrong_link(prydderch):
    """(family, the wrong link, the two moved entries, the alert they raised about Alys)."""
    p = prydderch
    record = agency_record_upsert(
        organisation=p.orgs.health_visiting, local_id="HV-2041", actor=p.staff.health_visitor,
        data={"given_name": "Alys", "family_name": "Prydderch", "date_of_birth": "2019-04-09",
              "nhs_number": factories.NHS["alys"]},
    ).record  # fmt: skip
    link = PersonLink.objects.get(agency_record=record, active=True)
    assert link.person == p.alys
    entries = [
        record_event(
            organisation=p.orgs.health_visiting, code=WNB, occurred_at=ago(days), person=p.alys, agency_record=record,
            details=factories.minimal_details(WNB), recorded_by=p.staff.health_visitor,
        ).event
        for days in (60, 30)
    ]  # fmt: skip
    [alert] = Alert.objects.filter(rule_id=REPEATED, children=p.alys)
    assert set(alert.evidence.values_list("event_id", flat=True)) == {e.pk for e in entries}
    return p, link, entries, alert


def _owners(alert):
    return routing.people_to_tell(routing.Target(alert.owner_organisation, alert.owner, "owner"))


def test_an_open_alert_built_on_moved_entries_is_flagged_and_its_owner_told(wrong_link):
    """After the undo the alert about Alys is still open with its evidence (nothing is taken off
    it), carries an 'evidence moved' step with the reason, who undid it and how many entries
    moved, is audited, and everyone who owns it is told in the app and by email to check it."""
    p, link, entries, alert = wrong_link
    owners = _owners(alert)
    assert owners
    assert not Notification.objects.filter(kind="alert_evidence_moved").exists()

    other = link_undo(link=link, actor=p.staff.social_worker, reason=REASON)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RAISED
    assert set(alert.evidence.values_list("event_id", flat=True)) == {e.pk for e in entries}
    step = alert.steps.get(action="evidence_moved")
    assert step.note == REASON and step.actor == p.staff.social_worker
    assert step.detail["events"] == 2 and step.detail["to_person"] == str(other.public_id)
    told = Notification.objects.filter(kind="alert_evidence_moved")
    assert sorted(n.recipient_id for n in told) == sorted(u.pk for u in owners)
    assert all(str(alert.public_id) in n.url for n in told)
    assert OutboxMessage.objects.filter(to__in=[u.email for u in owners if u.email], dedupe_key__contains=":moved:")
    audit = AuditEntry.objects.get(object_type="alert", object_id=str(alert.public_id), purpose__contains="moved")
    assert audit.detail["events"] == 2


def test_the_moved_entries_are_evaluated_again_on_the_child_they_belong_to(wrong_link):
    """The two missed appointments were another child's: after the undo the same rule raises an
    alert about that child, with those two entries as its evidence."""
    p, link, entries, _alert = wrong_link
    other = link_undo(link=link, actor=p.staff.social_worker, reason=REASON)
    [theirs] = Alert.objects.filter(rule_id=REPEATED, children=other)
    assert set(theirs.evidence.values_list("event_id", flat=True)) == {e.pk for e in entries}
    assert list(theirs.children.all()) == [other]


def test_a_closed_alert_gets_the_note_but_nobody_is_called_back_and_other_alerts_are_untouched(wrong_link):
    """An alert already closed records that its evidence moved, and tells no one about it; Twm's
    missed-appointments alert, built on the GP's entries only, gets nothing. (The soft-concerns
    alert about Alys and Twm, open and partly built on the moved entries, is flagged.)"""
    p, link, _entries, alert = wrong_link
    owner = _owners(alert)[0]
    alert_record_outcome(alert=alert, user=owner, outcome="plan_changed", note="Visits increased")
    alert_close(alert=alert, user=owner)
    for days in (50, 20):
        factories.event(organisation=p.orgs.gp, person=p.twm, code=WNB, occurred_at=ago(days))
    [twms] = Alert.objects.filter(rule_id=REPEATED, children=p.twm)

    link_undo(link=link, actor=p.staff.social_worker, reason=REASON)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED and alert.steps.filter(action="evidence_moved").count() == 1
    assert not Notification.objects.filter(kind="alert_evidence_moved", url__contains=alert.public_id).exists()
    assert not twms.steps.filter(action="evidence_moved").exists()
    flagged = set(Alert.objects.filter(steps__action="evidence_moved").values_list("rule_id", "status"))
    assert flagged == {(REPEATED, AlertStatus.CLOSED), ("soft-concerns-across-agencies", AlertStatus.RAISED)}


def test_an_undo_refused_flags_nothing(wrong_link):
    """No reason, no undo: the alert is not flagged and nobody is told."""
    p, link, _entries, alert = wrong_link
    with pytest.raises(Exception, match="reason"):
        link_undo(link=link, actor=p.staff.social_worker, reason="  ")
    assert not alert.steps.filter(action="evidence_moved").exists()
    assert not Notification.objects.filter(kind="alert_evidence_moved").exists()

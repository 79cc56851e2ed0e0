"""Hand-over when a child's family moves to another local authority (rules/handover.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.events.services import record_event
from cylch.identity.models import Allocation, AllocationKind
from cylch.identity.services import household_add_member, household_create
from cylch.notify.models import Notification
from cylch.rules.coordinator import proposal_confirm
from cylch.rules.handover import HANDED_OVER, SHARED, child_moved
from cylch.rules.models import Alert, AlertStatus, LeadCoordinatorProposal, ProposalStatus
from cylch.rules.selectors import alerts_for
from cylch.rules.services import alert_acknowledge, may_act
from tests import factories

WNB = "health.appointment.was_not_brought"
HANDOVER_KINDS = (
    "alert_handed_over",
    "alert_handed_over_in",
    "alert_shared_on_move",
    "alert_shared_in",
    "lead_coordinator_ended",
    "lead_coordinator_withdrawn",
)


def ago(days=0, **kw):
    return timezone.now() - timedelta(days=days, **kw)


def wnb(fam, org, user, days, person):
    record_event(organisation=org, code=WNB, occurred_at=ago(days), person=person, details={"service": "gp"},
                 recorded_by=user)  # fmt: skip


def carmarthenshire_home(fam, address="3 Heol y Felin"):
    return household_create(address_line=address, town="Llanelli", postcode="SA15 1AA",
                            local_authority=fam.places.carmarthenshire)  # fmt: skip


def move(fam, person, home=None):
    """``person`` moves house, as a report or a new GP registration would record it."""
    return household_add_member(household=home or carmarthenshire_home(fam), person=person)


def handover_notices(**filters) -> int:
    return Notification.objects.filter(kind__in=HANDOVER_KINDS, **filters).count()


@pytest.fixture
def coordinated(prydderch, demo_hub):
    """Twm (3) was not brought to the GP and the health visitor: an alert, and the health visitor
    confirmed as his lead coordinator (the alert moved to her). Carmarthenshire has a manager."""
    fam = prydderch
    wnb(fam, fam.orgs.gp, fam.staff.gp, 40, fam.twm)
    wnb(fam, fam.orgs.health_visiting, fam.staff.health_visitor, 12, fam.twm)
    proposal = LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED)
    proposal_confirm(proposal=proposal, user=fam.staff.team_manager)
    alert = Alert.objects.get(rule_id="was-not-brought-repeated", children=fam.twm)
    assert alert.owner == fam.staff.health_visitor
    carms_manager = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                                organisation=fam.orgs.other_la_childrens_services)  # fmt: skip
    return fam, alert, carms_manager


def test_a_child_moving_away_hands_the_alert_and_the_lead_coordinator_to_the_new_front_door(coordinated):
    """The alert goes to the new front door, new again, with the evidence, the earlier steps and a
    hand-over step; the lead coordinator ends; the new managers are asked to confirm one."""
    fam, alert, carms_manager = coordinated
    steps_before = list(alert.steps.values_list("action", flat=True))
    move(fam, fam.twm)

    alert.refresh_from_db()
    assert alert.owner_organisation == fam.orgs.other_la_childrens_services and alert.owner is None
    assert alert.local_authority == fam.places.carmarthenshire and alert.status == AlertStatus.RAISED
    assert alert.acknowledge_by > timezone.now()
    assert alert.evidence.count() == 2
    actions = list(alert.steps.values_list("action", flat=True))
    assert actions == [*steps_before, HANDED_OVER]
    step = alert.steps.get(action=HANDED_OVER)
    assert step.detail["from"] == fam.orgs.health_visiting.code
    assert step.detail["to"] == fam.orgs.other_la_childrens_services.code
    assert step.detail["to_local_authority"] == "carmarthenshire"
    removed = {(r["organisation"], r["part"]) for r in step.detail["recipients_removed"]}
    assert removed == {(fam.orgs.health_visiting.code, "lead_coordinator"),
                       (fam.orgs.childrens_services.code, "front_door")}  # fmt: skip
    parts = {(r.organisation.code, r.part) for r in alert.recipients.select_related("organisation")}
    assert (fam.orgs.other_la_childrens_services.code, "front_door") in parts
    assert (fam.orgs.gp.code, "gp") in parts  # the GP still holds its record: it stays

    lead = Allocation.objects.get(person=fam.twm, kind=AllocationKind.LEAD_COORDINATOR)
    assert lead.to_date == timezone.localdate() - timedelta(days=1)
    fresh = LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED)
    assert fresh.local_authority == fam.places.carmarthenshire

    # Both sides told, once each.
    hv, tm = fam.staff.health_visitor, fam.staff.team_manager
    assert Notification.objects.filter(recipient=hv, kind="alert_handed_over").count() == 1
    assert Notification.objects.filter(recipient=hv, kind="lead_coordinator_ended").count() == 1
    assert Notification.objects.filter(recipient=carms_manager, kind="alert_handed_over_in").count() == 1
    assert Notification.objects.filter(recipient=carms_manager, kind="lead_coordinator_proposed").count() == 1
    told = Notification.objects.get(recipient=carms_manager, kind="alert_handed_over_in")
    assert "Ceredigion" in told.body and "history" in told.body
    assert "Carmarthenshire" in Notification.objects.get(recipient=hv, kind="alert_handed_over").body
    assert not Notification.objects.filter(recipient=tm, kind__in=HANDOVER_KINDS).exists()

    audited = AuditEntry.objects.filter(action="write", actor_label="Cylch hand-over")
    assert set(audited.values_list("object_type", flat=True)) == {"alert", "allocation"}
    assert audited.get(object_type="allocation").detail["reason"] == "moved"


def test_the_new_owner_opens_and_acknowledges_it_and_the_old_no_longer_has_it(coordinated, client):
    fam, alert, carms_manager = coordinated
    alert_acknowledge(alert=alert, user=fam.staff.health_visitor)  # the old owner had it in hand
    move(fam, fam.twm)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RAISED  # the new team picks it up afresh
    for old in (fam.staff.health_visitor, fam.staff.team_manager, fam.staff.social_worker):
        assert not may_act(old, alert)
        assert alert not in alerts_for(old)
    with pytest.raises(Exception, match="not sent to you"):
        alert_acknowledge(alert=alert, user=fam.staff.health_visitor)

    assert alert in alerts_for(carms_manager)
    client.force_login(carms_manager)
    html = client.get(reverse("rules:alert", args=[alert.public_id])).content.decode()
    assert "The child moved to another local authority: handed over from Ceredigion Health Visiting Service" in html
    client.post(reverse("rules:acknowledge", args=[alert.public_id]))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == carms_manager
    assert list(alert.steps.values_list("action", flat=True)).count("acknowledged") == 2  # both kept

    client.cookies["cylch_language"] = "cy"
    html = client.get(reverse("rules:alert", args=[alert.public_id])).content.decode()
    assert "Gwasanaeth Ymwelwyr Iechyd Ceredigion" in html  # the organisations named in Welsh


def test_replaying_the_move_changes_nothing_and_tells_nobody_again(coordinated):
    fam, alert, _manager = coordinated
    home = carmarthenshire_home(fam)
    membership = move(fam, fam.twm, home)
    counts = (handover_notices(), Notification.objects.count(), alert.steps.count(), AuditEntry.objects.count())
    proposals = LeadCoordinatorProposal.objects.filter(person=fam.twm).count()
    move(fam, fam.twm, home)  # recorded again: the same home, nothing new
    again = child_moved(child=fam.twm, from_la=fam.places.ceredigion, to_la=fam.places.carmarthenshire,
                        move=f"m{membership.pk}")  # fmt: skip
    assert not again
    membership.save()  # a later save of the membership is not a move
    assert counts[:3] == (handover_notices(), Notification.objects.count(), alert.steps.count())
    assert LeadCoordinatorProposal.objects.filter(person=fam.twm).count() == proposals


def test_a_move_within_the_same_authority_changes_nothing(coordinated):
    fam, alert, _manager = coordinated
    steps = alert.steps.count()
    household_add_member(
        household=household_create(address_line="9 Stryd y Bont", town="Aberystwyth",
                                    local_authority=fam.places.ceredigion),
        person=fam.twm,
    )  # fmt: skip
    alert.refresh_from_db()
    assert alert.owner == fam.staff.health_visitor and alert.local_authority == fam.places.ceredigion
    assert alert.steps.count() == steps
    assert Allocation.objects.get(person=fam.twm, kind=AllocationKind.LEAD_COORDINATOR).to_date is None
    assert handover_notices() == 0


def test_a_move_to_an_address_whose_authority_is_not_known_hands_nothing_over(coordinated):
    """A health board (no authority of its own) gave the address, so Cylch does not know its
    authority: the authority that knows Twm keeps his alert and his lead coordinator; the national
    front door does not take them over on a guess."""
    fam, alert, _manager = coordinated
    steps = alert.steps.count()
    household_add_member(household=household_create(address_line="12 Unknown Row", postcode="CF10 4AF"), person=fam.twm)
    alert.refresh_from_db()
    assert alert.owner == fam.staff.health_visitor and alert.local_authority == fam.places.ceredigion
    assert alert.steps.count() == steps
    assert Allocation.objects.get(person=fam.twm, kind=AllocationKind.LEAD_COORDINATOR).to_date is None
    assert handover_notices() == 0


def test_an_adult_moving_alone_does_not_move_the_childs_alerts_the_child_moving_does(coordinated):
    fam, alert, _manager = coordinated
    home = carmarthenshire_home(fam)
    move(fam, fam.ceri, home)
    alert.refresh_from_db()
    assert alert.owner == fam.staff.health_visitor and not alert.steps.filter(action=HANDED_OVER).exists()
    assert handover_notices() == 0
    move(fam, fam.twm, home)  # the child has his own membership: his move hands over
    alert.refresh_from_db()
    assert alert.owner_organisation == fam.orgs.other_la_childrens_services
    assert alert.steps.filter(action=HANDED_OVER).count() == 1


def test_a_pending_proposal_is_withdrawn_and_the_new_authority_asked(prydderch, demo_hub):
    fam = prydderch
    wnb(fam, fam.orgs.gp, fam.staff.gp, 40, fam.twm)
    wnb(fam, fam.orgs.health_visiting, fam.staff.health_visitor, 12, fam.twm)
    old = LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED)
    carms_manager = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                                organisation=fam.orgs.other_la_childrens_services)  # fmt: skip
    move(fam, fam.twm)
    old.refresh_from_db()
    assert old.status == ProposalStatus.WITHDRAWN and "Carmarthenshire" in old.decision_note
    fresh = LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED)
    assert fresh.local_authority == fam.places.carmarthenshire
    assert Notification.objects.filter(recipient=fam.staff.team_manager, kind="lead_coordinator_withdrawn").count() == 1  # fmt: skip
    assert Notification.objects.filter(recipient=carms_manager, kind="lead_coordinator_proposed").count() == 1
    # The front door owned the alert (no coordinator yet): it goes to the new front door.
    alert = Alert.objects.get(rule_id="was-not-brought-repeated", children=fam.twm)
    assert alert.owner_organisation == fam.orgs.other_la_childrens_services
    assert Notification.objects.filter(recipient=fam.staff.team_manager, kind="alert_handed_over").count() == 1


def test_the_old_authoritys_no_does_not_speak_for_the_new_one(prydderch, demo_hub):
    """Ceredigion's manager declined a lead coordinator; the family moves to Carmarthenshire,
    whose managers are asked all the same (until they too decline)."""
    from cylch.rules.coordinator import lead_coordinator_check, proposal_decline

    fam = prydderch
    wnb(fam, fam.orgs.gp, fam.staff.gp, 40, fam.twm)
    wnb(fam, fam.orgs.health_visiting, fam.staff.health_visitor, 12, fam.twm)
    proposal_decline(proposal=LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED),
                     user=fam.staff.team_manager, note="Known to us, no need")  # fmt: skip
    assert lead_coordinator_check(fam.twm) is None
    move(fam, fam.twm)
    fresh = LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED)
    assert fresh.local_authority == fam.places.carmarthenshire


def test_an_alert_about_children_who_stay_is_shared_until_the_last_one_moves(prydderch, demo_hub):
    """A household alert about Alys and Twm: Alys moving alone shares it with the new front door;
    the old one keeps it until Twm moves too."""
    fam = prydderch
    record_event(organisation=fam.orgs.gp, code="health.adult_mental_health.concern", occurred_at=ago(31),
                 person=fam.ceri, recorded_by=fam.staff.gp)  # fmt: skip
    record_event(organisation=fam.orgs.police, code="police.ppn.domestic_abuse", occurred_at=ago(40),
                 household=fam.home, details={"risk_level": "standard"})  # fmt: skip
    record_event(organisation=fam.orgs.gp, code="health.substance_misuse.concern", occurred_at=ago(25),
                 person=fam.dafydd)  # fmt: skip
    alert = Alert.objects.get(rule_id="parental-risks-together")
    assert {fam.alys, fam.twm} <= set(alert.children.all())
    assert alert.owner_organisation == fam.orgs.childrens_services
    carms_manager = factories.demo_practitioner(username="carms.manager", role=Role.TEAM_MANAGER,
                                                organisation=fam.orgs.other_la_childrens_services)  # fmt: skip
    home = carmarthenshire_home(fam)
    move(fam, fam.alys, home)
    alert.refresh_from_db()
    assert alert.owner_organisation == fam.orgs.childrens_services  # Twm still lives in Ceredigion
    assert alert.steps.filter(action=SHARED).count() == 1
    assert may_act(carms_manager, alert) and may_act(fam.staff.team_manager, alert)
    assert Notification.objects.filter(recipient=carms_manager, kind="alert_shared_in").count() == 1
    assert Notification.objects.filter(recipient=fam.staff.team_manager, kind="alert_shared_on_move").count() == 1
    for child in (fam.twm, fam.unborn):
        move(fam, child, home)
    alert.refresh_from_db()
    assert alert.owner_organisation == fam.orgs.other_la_childrens_services
    assert alert.steps.filter(action=HANDED_OVER).count() == 1 and alert.steps.filter(action=SHARED).count() == 1
    assert not may_act(fam.staff.team_manager, alert)
    assert Notification.objects.filter(recipient=carms_manager, kind="alert_handed_over_in").count() == 1


def test_a_social_workers_alert_stays_with_them_until_the_transfer_and_is_shared(coordinated):
    """The sending authority keeps a child with an allocated social worker until the transfer."""
    fam, _alert, carms_manager = coordinated
    factories.allocated(fam.alys, fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                        kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    wnb(fam, fam.orgs.gp, fam.staff.gp, 30, fam.alys)
    wnb(fam, fam.orgs.gp, fam.staff.gp, 10, fam.alys)
    alert = Alert.objects.get(rule_id="was-not-brought-repeated", children=fam.alys)
    assert alert.owner == fam.staff.social_worker
    move(fam, fam.alys)
    alert.refresh_from_db()
    assert alert.owner == fam.staff.social_worker and alert.steps.filter(action=SHARED).count() == 1
    assert may_act(carms_manager, alert)
    told = Notification.objects.filter(recipient=fam.staff.social_worker, kind="alert_shared_on_move")
    assert told.filter(url=reverse("rules:alert", args=[alert.public_id])).count() == 1
    # Every alert about Alys her social worker holds is shared, none handed over.
    assert not Alert.objects.filter(children=fam.alys, steps__action=HANDED_OVER).exists()


def test_the_new_authority_confirms_a_lead_coordinator_and_the_alert_follows(coordinated):
    """The proposal mechanism carries on in the new authority: its manager confirms, the handed-over
    alert moves to the new coordinator, and the ended allocation stays in the history."""
    fam, alert, carms_manager = coordinated
    move(fam, fam.twm)
    fresh = LeadCoordinatorProposal.objects.get(person=fam.twm, status=ProposalStatus.PROPOSED)
    with pytest.raises(Exception, match="Only a team manager"):
        proposal_confirm(proposal=fresh, user=fam.staff.team_manager)  # no longer Ceredigion's call
    proposal_confirm(proposal=fresh, user=carms_manager)
    alert.refresh_from_db()
    assert alert.owner_organisation == fresh.organisation and alert.owner == fresh.practitioner
    leads = Allocation.objects.filter(person=fam.twm, kind=AllocationKind.LEAD_COORDINATOR).order_by("pk")
    assert [a.to_date is None for a in leads] == [False, True]


def test_an_alert_another_agency_owns_stays_with_it(prydderch, demo_hub):
    """Operation Encompass goes to Alys's school, which still teaches her after the move."""
    fam = prydderch
    record_event(organisation=fam.orgs.police, code="police.ppn.domestic_abuse", occurred_at=ago(0, hours=2),
                 household=fam.home, details={"risk_level": "standard"})  # fmt: skip
    alert = Alert.objects.get(rule_id="operation-encompass")
    assert alert.owner_organisation == fam.orgs.school
    steps, recipients = alert.steps.count(), set(alert.recipients.values_list("organisation", "user", "part"))
    home = carmarthenshire_home(fam)
    for child in (fam.alys, fam.twm, fam.unborn):
        move(fam, child, home)
    alert.refresh_from_db()
    assert alert.owner_organisation == fam.orgs.school and alert.local_authority == fam.places.ceredigion
    assert alert.steps.count() == steps
    assert set(alert.recipients.values_list("organisation", "user", "part")) == recipients
    assert not Notification.objects.filter(kind__in=["alert_handed_over", "alert_handed_over_in"]).exists()


def test_a_no_action_closure_waiting_for_approval_is_withdrawn_when_the_alert_is_handed_over(coordinated):
    """The health visitor asked to close the alert with no action; before a manager answered,
    Twm moved. The request no longer applies: Cylch withdraws it (on the request, the spine and
    the audit log), tells her why in her language, and the old team's manager can no longer
    approve it, so the new front door's alert is not closed by the authority it left."""
    from django.core.exceptions import ValidationError

    from cylch.governance.approvals import approval_approve
    from cylch.governance.models import ApprovalRequest, ApprovalState
    from cylch.rules.services import alert_record_outcome

    fam, alert, _carms_manager = coordinated
    hv = fam.staff.health_visitor
    alert_record_outcome(alert=alert, user=hv, outcome="no_action", note="Seen at clinic since; no concerns.")
    request = ApprovalRequest.objects.get(alert=alert, state=ApprovalState.PENDING)
    hv.language = "cy"
    hv.save(update_fields=["language"])

    move(fam, fam.twm)

    request.refresh_from_db()
    alert.refresh_from_db()
    assert request.state == ApprovalState.WITHDRAWN and request.decided_by is None
    assert "handed over to" in request.reasons
    assert alert.status == AlertStatus.RAISED and alert.owner_organisation == fam.orgs.other_la_childrens_services
    told = Notification.objects.get(recipient=hv, kind="approval_withdrawn")
    welsh_name = fam.orgs.other_la_childrens_services.name_cy or fam.orgs.other_la_childrens_services.name_en
    assert "Mae Cylch wedi tynnu" in told.body and welsh_name in told.body
    assert AuditEntry.objects.filter(object_id=str(request.public_id), actor_label="Cylch",
                                     purpose="approval request withdrawn").exists()  # fmt: skip
    assert fam.twm.events.filter(code="process.approval.withdrawn").exists()
    with pytest.raises(ValidationError):
        approval_approve(request=request, user=fam.staff.team_manager)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RAISED

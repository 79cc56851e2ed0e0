"""Hand-over when a child moves to another local authority (issue 5, item 5).

A child's open alerts, a lead-coordinator proposal waiting for a manager and a confirmed lead
coordinator all belong to the authority the child lived in when they were made. When the child's
current household changes to one in another authority, ``child_moved`` hands them over, inside
the transaction that recorded the move:

* an open alert the old authority holds (its children's services own it: the front door or a
  team, or the lead coordinator whose role ends here) goes to the new authority's front door,
  back to "new" with a fresh acknowledgement deadline; the old authority's recipients are taken
  off it and listed in the hand-over step, so the evidence and every earlier step stay;
* it is only shared (the new front door added as a recipient) when another child of the alert
  still lives in the old authority, or when the child's allocated social worker owns it: the
  sending authority keeps a case until the transfer (protection's transfer conference);
* an alert another agency owns (GP, school, health visitor, police...) stays: that agency
  still holds its record of the child;
* a current lead coordinator whose organisation is not in the new authority ends (its last day
  the day before the hand-over), a proposal waiting for the old authority's managers is
  withdrawn, and ``lead_coordinator_check`` asks the new front door's managers;
* both sides are told and every change is audited.

Nothing is done twice: a second run finds nothing left to hand over, and the notifications'
email dedupe keys name the move. The rule is documented in docs/rules.md ("Moving to another
local authority").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record, hold_recording
from cylch.access.models import LocalAuthority, Organisation, User
from cylch.access.roles import OrganisationKind, Role
from cylch.identity.models import Allocation, AllocationKind, HouseholdMembership, Person
from cylch.identity.selectors import age_on, current_household
from cylch.notify.services import at_moment, in_language, notify_address, notify_user
from cylch.rules import routing
from cylch.rules.coordinator import lead_coordinator_check
from cylch.rules.models import (
    OPEN_STATUSES,
    Alert,
    AlertRecipient,
    AlertStatus,
    AlertStep,
    LeadCoordinatorProposal,
    ProposalStatus,
)
from cylch.rules.register import social_worker_of
from cylch.rules.selectors import rule_of

HANDED_OVER = "moved_handed_over"  # the alert step: the new front door owns it now
SHARED = "moved_shared"  # the alert step: the new front door was added, the owner stays
ACTOR = "Cylch hand-over"


@dataclass
class HandOver:
    """What one move changed (all empty when there was nothing, or nothing left, to hand over)."""

    handed_over: list[Alert] = field(default_factory=list)
    shared: list[Alert] = field(default_factory=list)
    ended: list[Allocation] = field(default_factory=list)
    withdrawn: list[LeadCoordinatorProposal] = field(default_factory=list)
    proposal: LeadCoordinatorProposal | None = None

    def __bool__(self) -> bool:
        return bool(self.handed_over or self.shared or self.ended or self.withdrawn or self.proposal)


def on_membership_created(sender, instance: HouseholdMembership, created: bool, raw: bool = False, **kwargs) -> None:
    """``post_save`` on ``HouseholdMembership``: a new current home in another authority is a move.

    ``household_add_member`` closes the old membership before it creates the new one, so the
    person's previous membership is the latest other one."""
    if not created or raw or instance.to_date is not None:
        return
    previous = (
        HouseholdMembership.objects.filter(person_id=instance.person_id)
        .exclude(pk=instance.pk)
        .select_related("household__local_authority")
        .order_by("-id")
        .first()
    )
    if previous is None:
        return
    home = instance.household
    if previous.household.local_authority_id == home.local_authority_id:
        return
    child = instance.person
    if child.merged_into_id or not is_child(child):
        return
    child_moved(
        child=child,
        from_la=previous.household.local_authority,
        to_la=home.local_authority,
        move=f"m{instance.pk}",
    )


def is_child(person: Person, today=None) -> bool:
    """Under 18, or unborn; a person whose age is not known counts as a child (alerts only ever
    name children, so nothing is handed over for an adult who is not in one)."""
    if person.is_unborn or person.date_of_birth is None:
        return True
    return age_on(person.date_of_birth, today or timezone.localdate()) < 18


def child_moved(
    *,
    child: Person,
    from_la: LocalAuthority | None,
    to_la: LocalAuthority | None,
    move: str,
    now: datetime | None = None,
) -> HandOver:
    """Hand over what the old authority holds for ``child`` to ``to_la`` (see the module doc).

    ``move`` names the move in the notifications' dedupe keys (the new membership). Idempotent."""
    now = now or timezone.now()
    result = HandOver()
    if _id(from_la) == _id(to_la):
        return result
    if to_la is None and from_la is not None:
        # An address whose authority Cylch does not know (an agency with no authority of its
        # own sent it) is not a move away: the authority that knows the child keeps what it
        # holds, rather than the national front door taking it over on a guess.
        return result
    with transaction.atomic():
        hold_recording()  # before the alert rows: see hold_recording
        door = routing.front_door(to_la)
        result.ended = _end_lead_coordinators(child, from_la, to_la, door, now)
        result.withdrawn = _withdraw_proposals(child, to_la, door, now)
        ended_orgs = {a.organisation_id for a in result.ended}
        ids = list(
            Alert.objects.filter(children=child, status__in=OPEN_STATUSES).order_by("pk").values_list("pk", flat=True)
        )
        for alert in Alert.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            what = _decide(alert, child, from_la, door, ended_orgs)
            if what == "hand_over":
                _hand_over(alert, child, from_la, to_la, door, ended_orgs, move, now)
                result.handed_over.append(alert)
            elif what == "share" and _share(alert, child, from_la, to_la, door, move, now):
                result.shared.append(alert)
        result.proposal = lead_coordinator_check(child, now=now)
    return result


def _id(la: LocalAuthority | None) -> int | None:
    return la.pk if la is not None else None


def _old_side(org: Organisation, from_la: LocalAuthority | None) -> bool:
    """The old authority's own children's services (its front door and teams)."""
    return org.kind == OrganisationKind.LA_CHILDRENS_SERVICES and org.local_authority_id == _id(from_la)


def _decide(alert: Alert, child: Person, from_la, door: Organisation, ended_orgs: set[int]) -> str:
    """One of hand_over, share or stay (see the module doc)."""
    owner_org = alert.owner_organisation
    if owner_org.pk == door.pk:
        return "stay"  # already the new front door's
    as_coordinator = (
        owner_org.pk in ended_orgs
        and AlertRecipient.objects.filter(
            alert=alert, organisation=owner_org, user_id=alert.owner_id, part="lead_coordinator"
        ).exists()
    )
    if not (as_coordinator or _old_side(owner_org, from_la)):
        return "stay"  # another agency owns it and still holds its record of the child
    worker_org, _worker = social_worker_of(child)  # allocated, or the child protection process's
    if worker_org is not None and worker_org.pk == owner_org.pk:
        return "share"  # the sending authority keeps the case until the transfer
    for other in alert.children.exclude(pk=child.pk):
        home = current_household(other)
        if home is not None and home.local_authority_id == _id(from_la):
            return "share"  # a brother or sister still lives there
    return "hand_over"


def _names(obj) -> dict[str, str]:
    if obj is None:
        return {"en": "", "cy": ""}
    return {"en": obj.name_en, "cy": obj.name_cy or obj.name_en}


def _in(names: dict[str, str], language: str) -> str:
    return names["cy"] if language == "cy" and names["cy"] else names["en"]


def _area(la: LocalAuthority | None, door: Organisation) -> dict[str, str]:
    """The authority's name, or the front door's when the new address has no known authority."""
    return _names(la) if la is not None else _names(door)


def _title(alert: Alert, rule, language: str) -> str:
    return rule.text("title", language) if rule else alert.rule_id


def _hand_over(alert, child, from_la, to_la, door, ended_orgs, move, now) -> None:
    rule = rule_of(alert)  # read while the alert still names the authority it was raised in
    previous_org, previous_user, status_was = alert.owner_organisation, alert.owner, alert.status
    # The old authority's recipients come off it (listed in the step): they no longer work it.
    gone = alert.recipients.filter(
        Q(organisation__kind=OrganisationKind.LA_CHILDRENS_SERVICES, organisation__local_authority_id=_id(from_la))
        | Q(part="lead_coordinator", organisation_id__in=ended_orgs)
    ).select_related("organisation")
    removed = [{"organisation": r.organisation.code, "user": r.user_id, "part": r.part} for r in gone]
    AlertRecipient.objects.filter(pk__in=[r.pk for r in gone]).delete()
    alert.owner_organisation, alert.owner, alert.local_authority = door, None, to_la
    fields = ["owner_organisation", "owner", "local_authority"]
    if alert.status in (AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED):
        # The new team has to pick it up: new again, with a fresh deadline from now.
        alert.status, alert.acknowledged_at, alert.acknowledged_by, alert.escalated_at = AlertStatus.RAISED, None, None, None  # fmt: skip
        # School-day deadlines (Operation Encompass) follow the new authority's term dates.
        due = routing.acknowledge_by(rule.acknowledge, now, local_authority=to_la) if rule else None
        alert.acknowledge_by = due or now + timedelta(days=1)
        fields += ["status", "acknowledged_at", "acknowledged_by", "escalated_at", "acknowledge_by"]
    alert.save(update_fields=fields)
    AlertRecipient.objects.get_or_create(
        alert=alert, organisation=door, user=None, part="front_door", defaults={"notified_at": now}
    )
    from_names, to_names, area_from, area_to = _names(previous_org), _names(door), _area(from_la, previous_org), _area(to_la, door)  # fmt: skip
    _withdraw_waiting_closure(alert, door, to_names)
    AlertStep.objects.create(
        alert=alert, at=now, action=HANDED_OVER,
        detail={"from": previous_org.code, "to": door.code, "from_name": from_names, "to_name": to_names,
                "from_local_authority": from_la.code if from_la else None, "to_local_authority": to_la.code if to_la else None,
                "child": str(child.public_id), "previous_owner": previous_user.pk if previous_user else None,
                "status_was": status_was, "recipients_removed": removed, "move": move},
    )  # fmt: skip
    audit_record(
        action="write", actor=None, actor_label=ACTOR, object_type="alert", object_id=alert.public_id,
        purpose="alert handed over: the child moved to another local authority",
        detail={"from": previous_org.code, "to": door.code, "child": str(child.public_id), "status_was": status_was,
                "recipients_removed": removed, "move": move},
    )  # fmt: skip
    url = reverse("rules:alert", args=[alert.public_id])
    for user in routing.people_to_tell(routing.Target(previous_org, previous_user, "owner")):
        notify_user(
            recipient=user,
            kind="alert_handed_over",
            dedupe_key=f"handover:{alert.public_id}:{move}:out:{user.pk}",
            subject=_("Alert handed over: %(title)s"),
            body=_(
                "A child you held an alert about has moved to %(area)s, so Cylch has handed the alert over to "
                "%(to)s, with its evidence and history. You no longer hold it."
            ),
            context={"title": in_language(partial(_title, alert, rule)), "area": in_language(partial(_in, area_to)),
                     "to": in_language(partial(_in, to_names))},
        )  # fmt: skip
    _tell_new_front_door(
        door,
        kind="alert_handed_over_in",
        url=url,
        dedupe=f"handover:{alert.public_id}:{move}:in",
        subject=_("Alert handed over to you: %(title)s"),
        body=_(
            "A child has moved into your area from %(area)s. Cylch has handed over an open alert about them from "
            "%(from)s, with its evidence and history. Open it to acknowledge it by %(due)s."
        ),
        context=lambda lang: {"title": _title(alert, rule, lang), "area": _in(area_from, lang),
                              "from": _in(from_names, lang),
                              "due": at_moment(alert.acknowledge_by).fn(lang)},
    )  # fmt: skip


def _withdraw_waiting_closure(alert: Alert, door: Organisation, to_names: dict[str, str]) -> None:
    """A "no action" closure the old team's manager had still to approve no longer applies: the
    alert is the new front door's to decide afresh (it is new again for them), and a manager of
    the old team must not close it."""
    from cylch.governance.approvals import approvals_withdraw_for
    from cylch.governance.models import ApprovalKind

    approvals_withdraw_for(
        ApprovalKind.ALERT_NO_ACTION, alert,
        reasons=f"The alert was handed over to {to_names['en']} when the child moved: their team decides it afresh.",
        why=_LazyIn(_("The alert was handed over to %(to)s when the child moved: their team decides it afresh."), to_names),
    )  # fmt: skip


class _LazyIn:
    """A translatable sentence naming an organisation, read in the reader's language when it is
    formatted (``notify_user`` formats under the recipient's language)."""

    def __init__(self, text, names: dict[str, str]) -> None:
        self.text, self.names = text, names

    def __str__(self) -> str:
        return str(self.text) % {"to": _in(self.names, get_language() or "en")}


def _share(alert, child, from_la, to_la, door, move, now) -> bool:
    """Add the new front door to an alert the old authority keeps. False when it already was."""
    _recipient, created = AlertRecipient.objects.get_or_create(
        alert=alert, organisation=door, user=None, part="front_door", defaults={"notified_at": now}
    )
    if not created:
        return False
    rule = rule_of(alert)
    owner_org = alert.owner_organisation
    owner_names, to_names, area_from, area_to = _names(owner_org), _names(door), _area(from_la, owner_org), _area(to_la, door)  # fmt: skip
    AlertStep.objects.create(
        alert=alert, at=now, action=SHARED,
        detail={"owner": owner_org.code, "to": door.code, "owner_name": owner_names, "to_name": to_names,
                "from_local_authority": from_la.code if from_la else None, "to_local_authority": to_la.code if to_la else None,
                "child": str(child.public_id), "move": move},
    )  # fmt: skip
    audit_record(
        action="write", actor=None, actor_label=ACTOR, object_type="alert", object_id=alert.public_id,
        purpose="alert shared: a child moved to another local authority",
        detail={"owner": owner_org.code, "to": door.code, "child": str(child.public_id), "move": move},
    )  # fmt: skip
    url = reverse("rules:alert", args=[alert.public_id])
    for user in routing.people_to_tell(routing.Target(owner_org, alert.owner, "owner")):
        notify_user(
            recipient=user,
            kind="alert_shared_on_move",
            url=url,
            dedupe_key=f"handover:{alert.public_id}:{move}:shared-out:{user.pk}",
            subject=_("A child in an alert you hold has moved: %(title)s"),
            body=_(
                "A child in an alert you hold has moved to %(area)s. You keep the alert; Cylch has shared it with "
                "%(to)s so they can see it."
            ),
            context={"title": in_language(partial(_title, alert, rule)), "area": in_language(partial(_in, area_to)),
                     "to": in_language(partial(_in, to_names))},
        )  # fmt: skip
    _tell_new_front_door(
        door,
        kind="alert_shared_in",
        url=url,
        dedupe=f"handover:{alert.public_id}:{move}:shared-in",
        subject=_("Alert about a child who moved into your area: %(title)s"),
        body=_(
            "A child has moved into your area from %(area)s. An open alert about them stays with %(owner)s, who "
            "still works with the child or their family there; Cylch has shared it with you."
        ),
        context=lambda lang: {"title": _title(alert, rule, lang), "area": _in(area_from, lang),
                              "owner": _in(owner_names, lang)},
    )  # fmt: skip
    return True


def _tell_new_front_door(door: Organisation, *, kind, url, dedupe, subject, body, context) -> None:
    """The new front door's duty staff and managers (as an alert is raised to it), else its mailbox."""
    people = routing.people_to_tell(routing.Target(door, None, "front_door"))
    # Each value in the language it is written in: the mailbox's email is in Welsh and English.
    lazily = {k: in_language(lambda lang, k=k: context(lang)[k]) for k in context("en")}
    for user in people:
        notify_user(recipient=user, kind=kind, url=url, dedupe_key=f"{dedupe}:{user.pk}", subject=subject,
                    body=body, context=lazily)  # fmt: skip
    if not people and door.safeguarding_email:
        notify_address(to=door.safeguarding_email, subject=subject, body=body, url=url,
                       dedupe_key=f"{dedupe}:org:{door.pk}", context=lazily)  # fmt: skip


def _end_lead_coordinators(child, from_la, to_la, door, now) -> list[Allocation]:
    """End the child's current lead coordinator unless their organisation is in the new authority."""
    today = timezone.localdate(now)
    current = (
        Allocation.objects.filter(person=child, kind=AllocationKind.LEAD_COORDINATOR, from_date__lte=today)
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .select_related("organisation", "practitioner")
        .order_by("pk")
    )
    ended = []
    area_to, to_names = _area(to_la, door), _names(door)
    for allocation in current:
        if to_la is not None and allocation.organisation.local_authority_id == to_la.pk:
            continue  # a coordinator in the new authority carries on
        # Allocations are current up to and including their last day, so it ends yesterday: the
        # new front door's managers are asked today.
        allocation.to_date = today - timedelta(days=1)
        allocation.save(update_fields=["to_date", "modified_at"])
        ended.append(allocation)
        audit_record(
            action="write", actor=None, actor_label=ACTOR, object_type="allocation", object_id=allocation.public_id,
            purpose="lead coordinator ended: the child moved to another local authority",
            detail={"person": str(child.public_id), "organisation": allocation.organisation.code,
                    "kind": allocation.kind, "to_date": allocation.to_date, "reason": "moved",
                    "from_local_authority": from_la.code if from_la else None,
                    "to_local_authority": to_la.code if to_la else None},
        )  # fmt: skip
        target = routing.Target(allocation.organisation, allocation.practitioner, "lead_coordinator")
        for user in routing.people_to_tell(target):
            notify_user(
                recipient=user,
                kind="lead_coordinator_ended",
                dedupe_key=f"handover:lead:{allocation.public_id}:{user.pk}",
                subject=_("Lead coordinator role ended: the child moved"),
                body=_(
                    "A child you were lead coordinator for has moved to %(area)s. Your role has ended; the front "
                    "door there, %(to)s, decides on a new lead coordinator. The child's history is kept."
                ),
                context={"area": in_language(partial(_in, area_to)), "to": in_language(partial(_in, to_names))},
            )
    return ended


def _withdraw_proposals(child, to_la, door, now) -> list[LeadCoordinatorProposal]:
    """Withdraw a proposal waiting for another authority's managers (they no longer decide)."""
    waiting = LeadCoordinatorProposal.objects.select_for_update().filter(person=child, status=ProposalStatus.PROPOSED)
    if to_la is not None:
        waiting = waiting.exclude(local_authority=to_la)
    else:
        waiting = waiting.exclude(local_authority__isnull=True)
    withdrawn = []
    area_to, to_names = _area(to_la, door), _names(door)
    for proposal in waiting.order_by("pk"):
        old_door = routing.front_door(proposal.local_authority)
        proposal.status, proposal.decided_at, proposal.decided_by = ProposalStatus.WITHDRAWN, now, None
        proposal.decision_note = f"Withdrawn: the child moved to {area_to['en']}."
        proposal.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        withdrawn.append(proposal)
        audit_record(
            action="write", actor=None, actor_label=ACTOR, object_type="lead_proposal", object_id=proposal.public_id,
            purpose="lead coordinator proposal withdrawn: the child moved to another local authority",
            detail={"person": str(child.public_id), "from": old_door.code, "to": door.code, "reason": "moved"},
        )  # fmt: skip
        for manager in User.objects.filter(organisation=old_door, role=Role.TEAM_MANAGER, is_active=True).order_by("pk"):  # fmt: skip
            notify_user(
                recipient=manager,
                kind="lead_coordinator_withdrawn",
                url=reverse("rules:proposals"),
                dedupe_key=f"handover:proposal:{proposal.public_id}:{manager.pk}",
                subject=_("Lead coordinator proposal withdrawn: the child moved"),
                body=_(
                    "A child waiting for a lead coordinator has moved to %(area)s. Cylch has withdrawn the proposal; "
                    "the front door there, %(to)s, decides instead."
                ),
                context={"area": in_language(partial(_in, area_to)), "to": in_language(partial(_in, to_names))},
            )
    return withdrawn

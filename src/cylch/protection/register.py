"""The child protection register: adding and removing with evidence and reasons, and telling
every organisation involved with the child (RR KLOE 1: GP records showed nothing; RR 1.9:
schools did not know).

A registration is a row that is never deleted; its end is recorded on it. The spine carries
``process.register.registered`` / ``deregistered`` too, which is what the rules read to send
every new entry about a registered child to the social worker.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.models import User
from cylch.access.roles import Role
from cylch.notify.services import notify_user
from cylch.protection import timescales
from cylch.protection.involved import organisations_involved
from cylch.protection.models import DueKind, Episode, Meeting, PlanStatus, Registration
from cylch.protection.services import _as_moment, _local_day, _spine, close_episode

STOPPED_BY_DEREGISTRATION = [
    DueKind.CORE_GROUP_FIRST,
    DueKind.CORE_GROUP_NEXT,
    DueKind.RCPC_FIRST,
    DueKind.RCPC_NEXT,
    DueKind.VISIT_ALONE,
    DueKind.VISIT_HOME,
    DueKind.TRANSFER,
]


def current(child) -> Registration | None:
    return Registration.objects.filter(child=child, ended_on__isnull=True).first()


def history(child) -> list[Registration]:
    return list(
        Registration.objects.filter(child=child).select_related("local_authority").order_by("registered_on", "pk")
    )


def register_child(
    episode: Episode, *, conference: Meeting, user: User, categories: list[str], reasons: str
) -> Registration:
    if current(episode.child) is not None:
        raise ValidationError({"decision": [_("This child is already on the register.")]})
    day = _local_day(conference.held_at)
    reg = Registration.objects.create(
        child=episode.child, episode=episode, local_authority=episode.local_authority, registered_on=day,
        categories=sorted(categories), conference=conference, reasons=reasons, created_by=user,
    )  # fmt: skip
    _spine(episode, code="process.register.registered", when=conference.held_at, user=user,
           key=f"{reg.public_id}:registered",
           details={"categories": sorted(categories),
                    "conference_type": "transfer" if conference.kind == "transfer" else "initial"})  # fmt: skip
    tell_agencies(episode, user=user, change="registered", on=day)
    return reg


def recategorise(episode: Episode, *, categories: list[str], user: User, on: date) -> None:
    """A review conference keeps the child registered, perhaps under other categories."""
    reg = current(episode.child)
    if reg is None or sorted(categories) == reg.categories:
        return
    reg.categories = sorted(categories)
    reg.save(update_fields=["categories", "modified_at"])
    tell_agencies(episode, user=user, change="categories_changed", on=on)


def deregister(
    episode: Episode,
    *,
    user: User,
    reason: str,
    meeting: Meeting | None = None,
    eligible_needs: str = "",
    contingency: str = "",
    explanation: str = "",
    on: date | None = None,
) -> Registration:
    """End the registration. Only a review conference, or the child turning 18, dying or
    leaving the UK for good; and never without the child's eligible care and support needs and
    a contingency plan, so support does not stop at the door (RR 1.2)."""
    reg = current(episode.child)
    errors: dict[str, list[str]] = {}
    if reg is None:
        errors["reason"] = [_("This child is not on the register.")]
    if reason == Registration.EndReason.REVIEW_CONFERENCE and (meeting is None or meeting.kind != "review"):
        errors["reason"] = [_("Only a review conference can decide to remove a child from the register.")]
    if reason not in Registration.EndReason.values:
        errors["reason"] = [_("Choose why the registration ends.")]
    needs_plan = reason not in (Registration.EndReason.DIED, Registration.EndReason.TRANSFERRED)
    if needs_plan and not eligible_needs.strip():
        errors["eligible_needs"] = [_("Record the child's eligible care and support needs after registration.")]
    if needs_plan and not contingency.strip():
        errors["contingency"] = [_("Record the contingency plan.")]
    if errors:
        raise ValidationError(errors)
    day = on or timezone.localdate()
    with transaction.atomic():
        reg.ended_on, reg.end_reason, reg.end_meeting = day, reason, meeting
        reg.eligible_needs, reg.contingency, reg.end_explanation = eligible_needs, contingency, explanation
        reg.save()
        timescales.cancel(episode, STOPPED_BY_DEREGISTRATION, f"removed from the register: {reason}", on=day)
        _spine(episode, code="process.register.deregistered", when=_as_moment(meeting.held_at if meeting else day),
               user=user, key=f"{reg.public_id}:deregistered",
               details={"reason": reason, "eligible_needs_recorded": bool(eligible_needs.strip()),
                        "contingency_plan_recorded": bool(contingency.strip()),
                        "ongoing_support": "care_and_support_plan" if eligible_needs.strip() else "none"})  # fmt: skip
        tell_agencies(episode, user=user, change="deregistered", on=day)
    return reg


END_OUTSIDE_CONFERENCE = {
    Registration.EndReason.TURNED_18,
    Registration.EndReason.DIED,
    Registration.EndReason.LEFT_UK,
}

# Removal for any other reason is a review conference's decision (Wales Safeguarding
# Procedures). It is refused outside one, never sent for a manager's approval: no manager
# may approve what only the conference decides.
ONLY_AT_REVIEW_CONFERENCE = _(
    "Only a review conference can remove a child from the register, unless the child has turned 18, died or "
    "left the UK permanently. Propose the removal at the child's next review conference, where the chair decides it."
)
ONLY_AT_REVIEW_CONFERENCE_BY = _(
    "Only a review conference can remove a child from the register, unless the child has turned 18, died or "
    "left the UK permanently. Propose the removal at the child's next review conference (due by %(date)s), where the "
    "chair decides it."
)


def next_review_conference(episode: Episode) -> tuple[Meeting | None, date | None]:
    """The review conference to come and the date it is held or due by, where a proposal to
    remove the child from the register belongs."""
    meeting = episode.meetings.filter(kind="review", held_at__isnull=True).order_by("scheduled_for", "pk").first()
    if meeting is not None and meeting.scheduled_for is not None:
        return meeting, timezone.localtime(meeting.scheduled_for).date()
    deadline = (
        episode.deadlines.filter(kind__in=[DueKind.RCPC_FIRST, DueKind.RCPC_NEXT], met_on__isnull=True,
                                 cancelled_on__isnull=True)
        .order_by("due_on")
        .first()
    )  # fmt: skip
    return meeting, deadline.due_on if deadline is not None else None


def refusal_outside_conference(episode: Episode) -> str:
    """Why a removal outside a review conference is refused, and where it must be decided."""
    _meeting, when = next_review_conference(episode)
    if when is None:
        return str(ONLY_AT_REVIEW_CONFERENCE)
    return str(ONLY_AT_REVIEW_CONFERENCE_BY) % {"date": when.strftime("%d/%m/%Y")}


def end_outside_conference(episode: Episode, *, user: User, reason: str, eligible_needs: str, contingency: str,
                           explanation: str, on: date) -> Registration:  # fmt: skip
    """The three ends the procedures allow without a review conference. A team manager or
    conference chair of the authority records them; any other proposal to de-register is
    refused here, naming the review conference where it must be decided (it is not one a
    manager may approve)."""
    from cylch.protection.services import check_children_services

    check_children_services(user, episode)
    if user.role not in (Role.TEAM_MANAGER, Role.CONFERENCE_CHAIR):
        raise PermissionDenied(_("A team manager or conference chair records the end of a registration."))
    if reason not in END_OUTSIDE_CONFERENCE:
        raise ValidationError({"reason": [refusal_outside_conference(episode)]})
    if not explanation.strip():
        raise ValidationError(
            {"explanation": [_("Record the evidence (for example the date of birth or the notification received).")]}
        )
    with transaction.atomic():
        reg = deregister(episode, user=user, reason=reason, eligible_needs=eligible_needs, contingency=contingency,
                         explanation=explanation, on=on)  # fmt: skip
        episode.plans.filter(ended_on__isnull=True).update(status=PlanStatus.ENDED, ended_on=on)
        episode.meetings.filter(held_at__isnull=True).delete()
        close_episode(episode, reason=f"registration ended: {reason}", on=on)
    return reg


def transfer(
    episode: Episode, *, conference: Meeting, user: User, categories: list[str], reasons: str, keep: bool
) -> None:
    """The receiving authority's transfer conference: the sending registration ends only now;
    the child stays registered (a new registration here) or does not."""
    receiving = episode.transfer_to
    day = _local_day(conference.held_at)
    old = current(episode.child)
    if old is not None:
        deregister(episode, user=user, reason=Registration.EndReason.TRANSFERRED, meeting=conference,
                   explanation=f"transferred to {receiving.name_en}", on=day)  # fmt: skip
    episode.local_authority_id = receiving.local_authority_id
    episode.organisation = receiving
    episode.transfer_to = None
    episode.save(update_fields=["local_authority", "organisation", "transfer_to", "modified_at"])
    if keep:
        register_child(episode, conference=conference, user=user, categories=categories, reasons=reasons)


def tell_agencies(episode: Episode, *, user: User, change: str, on: date) -> int:
    """Every organisation involved with the child learns of the change at once, and it is
    recorded who was told."""
    from cylch.protection.meetings import _INVITEE_KINDS, _people_at
    from cylch.protection.models import Invitee

    told = 0
    kinds = set()
    url = reverse("protection:child", args=[episode.child.public_id])
    for inv in organisations_involved(episode.child):
        kinds.add(inv.organisation.kind)
        for person in _people_at(Invitee(organisation=inv.organisation, user=inv.named)):
            notify_user(recipient=person, kind="register_change", subject=_("Child protection register: a change for a child you know"),
                        body=_("A child your organisation works with has a change in their child protection registration. "
                               "Open Cylch to see their status and who to contact."),
                        url=url, dedupe_key=f"register:{episode.public_id}:{change}:{on}:{person.pk}")  # fmt: skip
            told += 1
    _spine(episode, code="process.register.agencies_notified", when=timezone.now(), user=user,
           key=f"{episode.public_id}:notified:{change}:{on}",
           details={"notified": sorted(k for k in kinds if k in _INVITEE_KINDS - {"parent", "child", "advocate"}),
                    "change": "transferred" if change == "transferred" else change})  # fmt: skip
    return told

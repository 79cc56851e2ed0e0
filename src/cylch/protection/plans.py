"""The care and support protection plan (and the interim safety plan) as living documents.

Every save is a numbered version with a snapshot, so a conference can see what the plan said
when it last met, and nothing is lost by editing. Actions have an owner organisation and a
due date; progress is an update with a note, never an overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cylch.access.models import Organisation, User
from cylch.access.roles import OrganisationKind
from cylch.protection.models import ActionStatus, ActionUpdate, Plan, PlanAction, PlanKind, PlanStatus, PlanVersion
from cylch.protection.services import check_children_services

TEXT_FIELDS = ("worries", "outcomes", "child_can_do", "contingency")


def _short(text: str) -> str:
    """An action as a version note names it: cut at a word, and marked as cut."""
    text = " ".join(text.split())
    if len(text) <= 80:
        return text
    return text[:79].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def snapshot(plan: Plan) -> dict:
    return {
        "status": plan.status,
        "next_conference_on": plan.next_conference_on.isoformat() if plan.next_conference_on else None,
        **{f: getattr(plan, f) for f in TEXT_FIELDS},
        "actions": [
            {
                "id": str(a.public_id),
                "text": a.text,
                "owner": a.owner_organisation.code,
                "owner_name": a.owner_name,
                "due_on": a.due_on.isoformat(),
                "status": a.status,
            }
            for a in plan.actions.select_related("owner_organisation").order_by("due_on", "pk")
        ],
    }


def _new_version(plan: Plan, *, user: User, note: str) -> PlanVersion:
    plan.version += 1
    plan.save(update_fields=["version", "modified_at"])
    return PlanVersion.objects.create(plan=plan, number=plan.version, snapshot=snapshot(plan), note=note[:200],
                                      saved_by=user, saved_at=timezone.now())  # fmt: skip


@dataclass
class PlanText:
    worries: str
    outcomes: str
    child_can_do: str
    contingency: str


def save_plan(plan: Plan, *, user: User, text: PlanText, note: str = "") -> PlanVersion | None:
    """Save the plan's words; a new version only when something changed."""
    check_children_services(user, plan.episode)
    if plan.status == PlanStatus.ENDED:
        raise ValidationError({"plan": [_("This plan has ended; it is kept as it was.")]})
    errors = {}
    if plan.kind == PlanKind.CSPP and not text.worries.strip():
        errors["worries"] = [_("Say what we are worried about.")]
    if plan.kind == PlanKind.CSPP and not text.outcomes.strip():
        errors["outcomes"] = [_("Say what needs to change.")]
    if errors:
        raise ValidationError(errors)
    changed = [f for f in TEXT_FIELDS if getattr(plan, f) != getattr(text, f)]
    if not changed:
        return None
    with transaction.atomic():
        for f in changed:
            setattr(plan, f, getattr(text, f))
        plan.save(update_fields=[*changed, "modified_at"])
        return _new_version(plan, user=user, note=note or gettext("Plan updated"))


def add_action(
    plan: Plan, *, user: User, text: str, owner: Organisation | None, owner_name: str, due_on: date | None
) -> PlanAction:
    check_children_services(user, plan.episode)
    errors = {}
    if plan.status == PlanStatus.ENDED:
        errors["plan"] = [_("This plan has ended.")]
    if not text.strip():
        errors["text"] = [_("Say what will be done.")]
    if owner is None:
        errors["owner"] = [_("Choose the organisation that owns this action.")]
    if due_on is None:
        errors["due_on"] = [_("Give the date it is due.")]
    elif due_on < timezone.localdate():
        errors["due_on"] = [_("The due date has passed: give a date from today.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        action = PlanAction.objects.create(plan=plan, text=text.strip(), owner_organisation=owner,
                                           owner_name=owner_name.strip(), due_on=due_on)  # fmt: skip
        _new_version(plan, user=user, note=gettext("Action added: %(action)s") % {"action": _short(text)})
    return action


def may_update(user: User, action: PlanAction) -> bool:
    org = user.organisation
    if org is None:
        return False
    if org.pk == action.owner_organisation_id:
        return True
    episode = action.plan.episode
    return org.kind == OrganisationKind.LA_CHILDRENS_SERVICES and org.local_authority_id == episode.local_authority_id


def update_action(action: PlanAction, *, user: User, status: str, note: str) -> ActionUpdate:
    """Progress on an action: by its owner or by children's services."""
    if not may_update(user, action):
        raise PermissionDenied(_("Only the action's owner or children's services may record its progress."))
    errors = {}
    if status not in ActionStatus.values:
        errors["status"] = [_("Choose where the action stands.")]
    if not note.strip():
        errors["note"] = [_("Say what has happened.")]
    if action.plan.status == PlanStatus.ENDED:
        errors["status"] = [_("This plan has ended.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        update = ActionUpdate.objects.create(action=action, status=status, note=note.strip(), by=user)
        if action.status != status:
            action.status = status
            action.save(update_fields=["status"])
            _new_version(
                action.plan,
                user=user,
                note=gettext("Action now “%(status)s”: %(action)s")
                % {"status": ActionStatus(status).label, "action": _short(action.text)},
            )
    return update

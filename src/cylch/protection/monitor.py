"""The timescale monitor: a warning before each statutory date, escalation to the team manager
after it (RR KLOE 2). ``cylch protection sweep`` runs it; each warning and escalation is sent
once, because the deadline remembers when it was done.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.access.roles import Role
from cylch.core.calendar import add_working_days
from cylch.notify.services import notify_user, on_day
from cylch.protection.models import Deadline, DueKind, Invitee
from cylch.protection.timescales import WARN_WORKING_DAYS


@dataclass
class SweepResult:
    warned: int = 0
    escalated: int = 0


def _managers(deadline: Deadline) -> list[User]:
    org = deadline.episode.organisation
    return list(User.objects.filter(organisation=org, role=Role.TEAM_MANAGER, is_active=True).order_by("pk"))


def responsible(deadline: Deadline) -> list[User]:
    """Who must act: the agency that owes a report, else the social worker, else the team's
    managers."""
    if deadline.kind == DueKind.AGENCY_REPORT:
        from cylch.protection.meetings import _people_at

        invitee = Invitee.objects.filter(public_id=deadline.key).select_related("organisation", "user").first()
        if invitee is not None:
            people = _people_at(invitee)
            if people:
                return people
    worker = deadline.episode.social_worker
    if worker is not None and worker.is_active:
        return [worker]
    return _managers(deadline)


def _context(deadline: Deadline) -> dict:
    """The email goes wherever the address does, so it names no child: the link does, and the
    notices page names the child to those who may see them (``protection.notices``)."""
    return {"what": DueKind(deadline.kind).label, "due": on_day(deadline.due_on)}


def sweep(*, now=None) -> SweepResult:
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    horizon = add_working_days(today, WARN_WORKING_DAYS)
    result = SweepResult()
    open_ = Deadline.objects.filter(met_on__isnull=True, cancelled_on__isnull=True).select_related(
        "episode__child", "episode__organisation", "episode__social_worker"
    )
    for deadline in open_.filter(warned_at__isnull=True, due_on__gte=today, due_on__lte=horizon):
        url = reverse("protection:child", args=[deadline.episode.child.public_id])
        with transaction.atomic():
            for person in responsible(deadline):
                notify_user(recipient=person, kind="protection_due", subject=_("Due by %(due)s: %(what)s"),
                            body=_("%(what)s is due by %(due)s."), url=url,
                            dedupe_key=f"deadline:{deadline.pk}:warn:{person.pk}", context=_context(deadline))  # fmt: skip
            Deadline.objects.filter(pk=deadline.pk).update(warned_at=now)
            result.warned += 1
    for deadline in open_.filter(escalated_at__isnull=True, due_on__lt=today):
        url = reverse("protection:child", args=[deadline.episode.child.public_id])
        people = {p.pk: p for p in responsible(deadline) + _managers(deadline)}
        with transaction.atomic():
            for person in people.values():
                notify_user(recipient=person, kind="protection_overdue", subject=_("Overdue: %(what)s"),
                            body=_("%(what)s was due by %(due)s and has not happened. "
                                   "Please make sure it is arranged now, or record why not."),
                            url=url, dedupe_key=f"deadline:{deadline.pk}:escalate:{person.pk}", context=_context(deadline))  # fmt: skip
            Deadline.objects.filter(pk=deadline.pk).update(escalated_at=now)
            audit_record(action="write", actor_label="cylch timescale monitor", object_type="protection_deadline",
                         object_id=str(deadline.pk), purpose=f"{deadline.kind} overdue: escalated")  # fmt: skip
            result.escalated += 1
    return result

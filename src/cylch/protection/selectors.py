"""Reading the process: a child's protection status and next statutory dates, and a team's
list of what is due and overdue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q
from django.utils import timezone

from cylch.access.models import Organisation
from cylch.protection.models import (
    Deadline,
    DueKind,
    Episode,
    Invitee,
    Meeting,
    MeetingKind,
    Plan,
    PlanKind,
    Registration,
    Visit,
)


@dataclass
class Status:
    child_id: int
    registration: Registration | None
    history: list[Registration]
    episode: Episode | None
    deadlines: list[Deadline] = field(default_factory=list)  # open, soonest first
    plan: Plan | None = None
    meetings: list[Meeting] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)

    @property
    def on_register(self) -> bool:
        return self.registration is not None

    @property
    def overdue(self) -> list[Deadline]:
        today = timezone.localdate()
        return [d for d in self.deadlines if d.due_on < today]

    @property
    def next_meetings(self) -> list[Meeting]:
        return [m for m in self.meetings if not m.is_held]


def status_of(child) -> Status:
    latest = Episode.objects.filter(child=child).order_by("-opened_on", "-pk").first()
    open_episode = (
        Episode.objects.filter(child=child, closed_on__isnull=True)
        .select_related("organisation", "social_worker", "local_authority", "transfer_to")
        .first()
    )
    episode = open_episode or latest
    registrations = list(
        Registration.objects.filter(child=child).select_related("local_authority").order_by("registered_on", "pk")
    )
    status = Status(
        child_id=child.pk,
        registration=next((r for r in registrations if r.ended_on is None), None),
        history=registrations,
        episode=episode,
    )
    if episode is None:
        return status
    status.deadlines = with_who_owes(
        list(episode.deadlines.filter(met_on__isnull=True, cancelled_on__isnull=True).order_by("due_on", "pk"))
    )
    status.plan = (
        episode.plans.filter(kind=PlanKind.CSPP).order_by("-pk").first() or episode.plans.order_by("-pk").first()
    )
    # Held meetings in the order they were held, then those to come in date order.
    status.meetings = sorted(
        episode.meetings.select_related("chair"),
        key=lambda m: (m.held_at is None, m.held_at or m.scheduled_for or timezone.now() + timedelta(days=3650), m.pk),
    )
    status.visits = list(episode.visits.all()[:10])
    return status


@dataclass
class DueRow:
    deadline: Deadline
    overdue: bool
    days: int  # calendar days until due (negative when overdue)

    @property
    def late_by(self) -> int:
        return -self.days


def due_list(organisation: Organisation, *, within_days: int = 28, today: date | None = None) -> list[DueRow]:
    """What is due in the next four weeks and everything overdue, for a children's services
    team (the episodes it runs, or is receiving on transfer)."""
    today = today or timezone.localdate()
    rows = (
        Deadline.objects.filter(met_on__isnull=True, cancelled_on__isnull=True)
        .filter(Q(episode__organisation=organisation) | Q(episode__transfer_to=organisation))
        .filter(due_on__lte=today + timezone.timedelta(days=within_days))
        .select_related("episode__child", "episode__social_worker")
        .order_by("due_on", "pk")
    )
    return [DueRow(d, d.due_on < today, (d.due_on - today).days) for d in with_who_owes(list(rows))]


def with_who_owes(deadlines: list[Deadline]) -> list[Deadline]:
    """Each agency's report is its own date, keyed by its invitation: three read alike as
    "Agency report for conference" until each says whose it is (``owed_by``)."""
    keys = {d.key for d in deadlines if d.kind == DueKind.AGENCY_REPORT}
    names = {}
    if keys:
        for invitee in Invitee.objects.filter(public_id__in=keys).select_related("organisation"):
            names[str(invitee.public_id)] = invitee.display_name
    for d in deadlines:
        d.owed_by = names.get(d.key, "") if d.kind == DueKind.AGENCY_REPORT else ""
    return deadlines


def meeting_kind_label(kind: str) -> str:
    return str(MeetingKind(kind).label)

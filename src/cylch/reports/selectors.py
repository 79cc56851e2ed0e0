"""Reads for the front door: the queues, and everything known before a decision is made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.models import Organisation, User
from cylch.access.roles import OrganisationKind
from cylch.core import taxonomy
from cylch.events.models import Event
from cylch.identity.models import HouseholdMembership, Person, PersonLink, Relationship
from cylch.reports.models import Outcome, Report, ReportSubject, Status, SubjectRole

# A child's latest register or looked-after entry, as triage shows it: "Alys: on the register (…)".
STATUS_LABELS = {
    ("register", False): _("on the register"),
    ("register", True): _("was on the register"),
    ("looked_after", False): _("looked after"),
    ("looked_after", True): _("was looked after"),
}

SIBLING_KINDS = ("sibling", "half_sibling")


def on_queue_of(organisation, report: Report) -> bool:
    """Whether a report is on this organisation's front-door queue: its authority's, or for the
    all-Wales front door (no authority) a report with no known address."""
    return (
        organisation is not None
        and organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES
        and organisation.local_authority_id == report.local_authority_id
    )


def _queue(user: User) -> QuerySet[Report]:
    """Undecided reports on the user's front-door queue (the rule of ``on_queue_of``)."""
    org = user.organisation
    qs = Report.objects.filter(status=Status.RECEIVED).prefetch_related("subjects")
    if org is None or org.kind != OrganisationKind.LA_CHILDRENS_SERVICES:
        return qs.none()
    return qs.filter(local_authority_id=org.local_authority_id)  # None matches reports with none


def queue_for(user: User) -> QuerySet[Report]:
    """Undecided reports for the user's front door: urgent first, then oldest first."""
    return _queue(user).order_by("-urgent", "received_at")


def out_of_hours_queue(user: User) -> QuerySet[Report]:
    """The emergency duty team's part of the same queue: undecided reports that arrived out of hours."""
    return _queue(user).filter(out_of_hours=True).order_by("-urgent", "received_at")


def feedback_due(user: User, *, today=None) -> QuerySet[Report]:
    """For managers: reports of their authority whose outcome is due within 2 working days or overdue."""
    from cylch.core.calendar import add_working_days

    today = today or timezone.localdate()
    org = user.organisation
    qs = Report.objects.filter(feedback_sent_at__isnull=True, feedback_due_on__lte=add_working_days(today, 2))
    if org is not None and org.local_authority_id:
        qs = qs.filter(local_authority_id=org.local_authority_id)
    else:
        qs = qs.filter(local_authority__isnull=True)
    return qs.order_by("feedback_due_on", "received_at")


@dataclass
class EarlierReport:
    """An earlier report: one made through Cylch, or one on the spine only (made before Cylch,
    or recorded by an agency system as events)."""

    received_at: object
    about: list[str]
    why: str  # "child", "sibling" or "household"
    outcome: str = ""
    decided_at: object = None
    report: Report | None = None

    @property
    def outcome_label(self) -> str:
        return str(Outcome(self.outcome).label) if self.outcome in Outcome.values else ""


@dataclass
class TriageHistory:
    """What the front door must see before deciding (TA 2.1: never judge a report alone)."""

    children: list[Person]
    circle: dict[int, str]
    earlier_reports: list[EarlierReport] = field(default_factory=list)
    soft_concerns: list[Event] = field(default_factory=list)
    agencies: list[Organisation] = field(default_factory=list)
    register: list[tuple[Person, str, Event]] = field(default_factory=list)
    repeat_warning: dict | None = None


def _circle(children: list[Person]) -> dict[int, str]:
    """person id -> why they are in view: the child, a sibling, or someone in the household."""
    circle: dict[int, str] = {c.pk: "child" for c in children}
    ids = [c.pk for c in children]
    for rel in Relationship.objects.filter(Q(person_id__in=ids) | Q(relative_id__in=ids), kind__in=SIBLING_KINDS):
        for pid in (rel.person_id, rel.relative_id):
            circle.setdefault(pid, "sibling")
    households = HouseholdMembership.objects.filter(person_id__in=ids, to_date__isnull=True).values_list(
        "household_id", flat=True
    )
    for pid in HouseholdMembership.objects.filter(household_id__in=list(households), to_date__isnull=True).values_list(
        "person_id", flat=True
    ):
        circle.setdefault(pid, "household")
    return circle


def triage_history(report: Report, *, months: int = 12) -> TriageHistory:
    children = [s.person for s in report.subjects.filter(role=SubjectRole.CHILD).select_related("person")]
    circle = _circle(children)
    history = TriageHistory(children=children, circle=circle)
    since = timezone.now() - timedelta(days=31 * months)

    earlier = (
        Report.objects.filter(subjects__person_id__in=circle, received_at__lt=report.received_at)
        .exclude(pk=report.pk)
        .distinct()
        .order_by("-received_at")
        .prefetch_related("subjects")
    )
    for other in earlier:
        people = [s for s in other.subjects.all() if s.person_id in circle]
        why = min((circle[s.person_id] for s in people), key=["child", "sibling", "household"].index)
        history.earlier_reports.append(
            EarlierReport(
                other.received_at,
                [f"{s.given_name} {s.family_name}".strip() for s in people],
                why,
                other.outcome,
                other.decided_at,
                other,
            )
        )
    history.earlier_reports.extend(_spine_only_reports(report, circle))
    history.earlier_reports.sort(key=lambda e: e.received_at, reverse=True)

    soft_codes = [c.code for c in taxonomy.codes().values() if c.soft]
    history.soft_concerns = list(
        Event.objects.filter(person_id__in=circle, code__in=soft_codes, occurred_at__gte=since)
        .exclude(external_id__startswith=f"report:{report.reference}:")
        .select_related("organisation", "person")
        .order_by("-occurred_at")[:100]
    )
    org_ids = PersonLink.objects.filter(person_id__in=circle, active=True).values_list(
        "agency_record__organisation_id", flat=True
    )
    history.agencies = list(Organisation.objects.filter(pk__in=set(org_ids)).order_by("name_en"))

    flags = Event.objects.filter(
        person__in=children,
        code__in=[
            "process.register.registered",
            "process.register.deregistered",
            "social_care.looked_after.started",
            "social_care.looked_after.ended",
        ],
    ).order_by("occurred_at")
    status: dict[tuple[int, str], Event] = {}
    for e in flags:
        kind = "register" if e.code.startswith("process.register") else "looked_after"
        status[(e.person_id, kind)] = e
    by_id = {c.pk: c for c in children}
    for (pid, kind), e in status.items():
        ended = e.code.endswith(("deregistered", "ended"))
        history.register.append((by_id[pid], STATUS_LABELS[(kind, ended)], e))

    recent = [r for r in history.earlier_reports if r.received_at >= since]
    below = [r for r in recent if r.outcome in {Outcome.NO_FURTHER_ACTION, Outcome.INFORMATION_ADVICE}]
    if below:
        history.repeat_warning = {
            "count": len(recent) + 1,
            "below": len(below),
            "outcomes": [r.outcome_label or "—" for r in sorted(recent, key=lambda r: r.received_at)],
        }
    return history


def _spine_only_reports(report: Report, circle: dict[int, str]) -> list[EarlierReport]:
    """Reports that exist only as events (``process.report.received``), each with the decision
    recorded after it for the same person. Events that Cylch's own reports wrote are skipped:
    those reports are listed already."""
    events = (
        Event.objects.filter(person_id__in=circle, code__in=["process.report.received", "process.report.decision"],
                             occurred_at__lt=report.received_at)
        .exclude(external_id__startswith="report:")
        .select_related("person")
        .order_by("person_id", "occurred_at", "id")
    )  # fmt: skip
    out: list[EarlierReport] = []
    pending: dict[int, EarlierReport] = {}
    for e in events:
        if e.code == "process.report.received":
            pending[e.person_id] = EarlierReport(e.occurred_at, [e.person.display_name], circle[e.person_id])
            out.append(pending[e.person_id])
        elif e.person_id in pending and not pending[e.person_id].outcome:
            pending[e.person_id].outcome = (e.details or {}).get("outcome", "")
            pending[e.person_id].decided_at = e.occurred_at
    return out


def reports_made_by(user: User) -> QuerySet[Report]:
    mine = Q(maker=user)
    if user.organisation_id:  # a user with no organisation must not match every public report
        mine |= Q(maker_organisation_id=user.organisation_id)
    return Report.objects.filter(mine).order_by("-received_at")


def subjects_of(report: Report) -> list[ReportSubject]:
    return list(report.subjects.select_related("person").order_by("role", "pk"))


def front_door_staff(report: Report, roles: set[str]) -> QuerySet[User]:
    """Active children's-services staff with these roles on the report's queue (the authority's,
    or the all-Wales front door for a report with no known address)."""
    qs = User.objects.filter(is_active=True, role__in=roles, organisation__kind=OrganisationKind.LA_CHILDRENS_SERVICES)
    if report.local_authority_id:
        return qs.filter(organisation__local_authority_id=report.local_authority_id)
    return qs.filter(organisation__code="national-front-door")

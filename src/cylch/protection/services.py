"""The process from the front door's decision to the conference: the episode, the strategy
discussion, the section 47 enquiry, the consolidated assessment and the interim safety plan.
Visits and the transfer-in of a registered child live here too.

Each function is one step a practitioner takes. It checks who may take it, writes the
working records and the spine event in one transaction, and keeps the statutory dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.access.roles import OrganisationKind, Role
from cylch.events.services import record_event
from cylch.governance.approvals import hold
from cylch.governance.models import ApprovalKind, ApprovalRequest
from cylch.identity.models import Person
from cylch.identity.selectors import current_household
from cylch.protection import timescales
from cylch.protection.involved import organisations_involved
from cylch.protection.models import (
    Assessment,
    Challenge,
    Contribution,
    Decision,
    DueKind,
    Enquiry,
    Episode,
    Invitee,
    InviteeKind,
    Meeting,
    MeetingKind,
    Plan,
    PlanKind,
    Stage,
    Visit,
    Why,
)

LA_ROLES = frozenset({Role.FRONT_DOOR, Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.CONFERENCE_CHAIR})
REQUIRED_AT_STRATEGY = (OrganisationKind.LA_CHILDRENS_SERVICES, OrganisationKind.POLICE)


def check_children_services(user: User, episode: Episode) -> None:
    """Steps the local authority owns: its own children's services staff only."""
    org = user.organisation
    authorities = {episode.local_authority_id}
    if episode.transfer_to_id:  # the receiving authority runs the transfer conference
        authorities.add(episode.transfer_to.local_authority_id)
    if not (
        user.role in LA_ROLES
        and org is not None
        and org.kind == OrganisationKind.LA_CHILDRENS_SERVICES
        and org.local_authority_id in authorities
    ):
        raise PermissionDenied(_("Only children's services in the child's local authority may do this."))


def _spine(episode: Episode, *, code: str, when: datetime, user: User, key: str, details: dict, summary: str = ""):
    return record_event(
        organisation=episode.organisation,
        code=code,
        occurred_at=when,
        person=episode.child,
        details=details,
        summary=summary,
        recorded_by=user,
        recorder_name=user.get_full_name() or user.username,
        recorder_role=user.job_title or user.get_role_display(),
        recorder_contact=user.email or user.phone,
        external_id=f"protection:{key}",
    ).event


def _as_moment(day_or_time) -> datetime:
    """A moment for the spine: a day given without a time is noon that day, or now if that is
    today (noon today is still to come for anyone working in the morning)."""
    if isinstance(day_or_time, datetime):
        return day_or_time if timezone.is_aware(day_or_time) else timezone.make_aware(day_or_time)
    if day_or_time >= timezone.localdate():
        return timezone.now()
    return timezone.make_aware(datetime.combine(day_or_time, datetime.min.time().replace(hour=12)))


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


# --- the episode ---------------------------------------------------------------------------


def open_episode(*, child: Person, user: User, report=None) -> Episode:
    """Start the process for one child, from the front door's decision to hold a strategy
    discussion. A child already in the process keeps the episode they have."""
    org = user.organisation
    if org is None or org.kind != OrganisationKind.LA_CHILDRENS_SERVICES or user.role not in LA_ROLES:
        raise PermissionDenied(_("Only children's services may start the child protection process."))
    with transaction.atomic():
        existing = Episode.objects.select_for_update().filter(child=child, closed_on__isnull=True).first()
        if existing is not None:
            return existing
        home = current_household(child)
        la = (home.local_authority if home and home.local_authority_id else None) or org.local_authority
        if la is None:
            raise ValidationError({"child": [_("Cylch does not know which local authority this child lives in.")]})
        episode = Episode.objects.create(
            child=child,
            local_authority=la,
            organisation=org,
            report=report,
            social_worker=user if user.role == Role.SOCIAL_WORKER else None,
            opened_on=timezone.localdate(),
            created_by=user,
        )
        Meeting.objects.create(episode=episode, kind=MeetingKind.STRATEGY, created_by=user)
        audit_record(action="write", actor=user, object_type="protection_episode", object_id=episode.public_id,
                     purpose="child protection process started")  # fmt: skip
        if episode.social_worker is not None:
            _allocate(episode)
        return episode


def _allocate(episode: Episode) -> None:
    """The process's social worker is the child's allocated social worker too, unless the child
    has one: alerts, register notices and the lead coordinator all read allocations."""
    from cylch.identity.models import AllocationKind
    from cylch.identity.services import allocation_create
    from cylch.rules.routing import current_allocation

    if current_allocation(episode.child, AllocationKind.ALLOCATED_SOCIAL_WORKER) is None:
        allocation_create(person=episode.child, organisation=episode.organisation, practitioner=episode.social_worker,
                          kind=AllocationKind.ALLOCATED_SOCIAL_WORKER, actor=episode.social_worker)  # fmt: skip


def open_from_report(report, *, user: User) -> list[Episode]:
    """The front door decided to hold a strategy discussion: one episode for each child the
    report is about (siblings are each decided for)."""
    from cylch.reports.models import Outcome, SubjectRole

    if report.outcome != Outcome.STRATEGY_DISCUSSION:
        raise ValidationError(
            {"report": [_("The front door has not decided to hold a strategy discussion on this report.")]}
        )
    children = [
        s.person for s in report.subjects.filter(role=SubjectRole.CHILD, person__isnull=False).select_related("person")
    ]
    if not children:
        raise ValidationError({"report": [_("This report's children are not yet linked to their records.")]})
    return [open_episode(child=child, user=user, report=report) for child in children]


def close_episode(episode: Episode, *, reason: str, on: date | None = None) -> None:
    """Close the process. Dates about documents still owed (circulation) stay open."""
    episode.stage = Stage.CLOSED
    episode.closed_on = on or timezone.localdate()
    episode.close_reason = reason[:200]
    episode.save(update_fields=["stage", "closed_on", "close_reason", "modified_at"])
    timescales.cancel(
        episode,
        [k for k in DueKind.values if k not in (DueKind.DECISIONS_SUMMARY, DueKind.FULL_RECORD)],
        f"process closed: {reason}",
        on=episode.closed_on,
    )


# --- the strategy discussion ---------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """An agency the strategy discussion should hear from."""

    organisation: Organisation
    required: bool
    why: str


def strategy_prompts(episode: Episode) -> list[Prompt]:
    """Police and children's services always; health and education whenever they know the
    child (RR KLOE 2: most discussions heard only police and children's services)."""
    prompts = [Prompt(episode.organisation, True, "children's services")]
    police = [
        i.organisation for i in organisations_involved(episode.child) if i.organisation.kind == OrganisationKind.POLICE
    ]
    if not police:
        police = list(
            Organisation.objects.filter(kind=OrganisationKind.POLICE, local_authority=episode.local_authority)[:1]
        ) or list(Organisation.objects.filter(kind=OrganisationKind.POLICE).order_by("pk")[:1])
    prompts += [Prompt(o, True, "police") for o in police]
    for inv in organisations_involved(episode.child):
        if inv.organisation.kind in REQUIRED_AT_STRATEGY:
            continue
        if inv.is_health or inv.is_education:
            why = "knows the child" if inv.with_child else "knows the household"
            prompts.append(Prompt(inv.organisation, False, why))
    return prompts


@dataclass
class Participant:
    organisation: Organisation
    name: str = ""
    took_part: bool = True
    why_not: str = ""  # for a prompted agency that did not take part


@dataclass
class ChallengeInput:
    kind: str
    raised_by: str
    text: str
    organisation: Organisation | None = None
    response: str = ""


@dataclass
class StrategyInput:
    held_at: datetime
    format: str
    participants: list[Participant]
    information_shared: str
    decision: str
    reasons: str
    immediate_action: str = ""
    challenges: list[ChallengeInput] = field(default_factory=list)


STRATEGY_DECISIONS = {Decision.SECTION_47, Decision.ASSESSMENT, Decision.NO_FURTHER_ACTION, Decision.FURTHER_STRATEGY}


def record_strategy(meeting: Meeting, *, user: User, data: StrategyInput) -> Meeting:
    """Record a strategy discussion held. Police and children's services must take part;
    every prompted agency that did not needs a reason. Section 47 starts the 15-working-day
    clock to the initial conference, restarted by any later discussion."""
    episode = meeting.episode
    check_children_services(user, episode)
    if meeting.kind != MeetingKind.STRATEGY or meeting.is_held:
        raise ValidationError({"meeting": [_("This strategy discussion is already recorded.")]})
    errors: dict[str, list[str]] = {}
    taking_part = {p.organisation.kind for p in data.participants if p.took_part}
    for kind in REQUIRED_AT_STRATEGY:
        if kind not in taking_part:
            errors.setdefault("participants", []).append(
                _("Police must take part in a strategy discussion.")
                if kind == OrganisationKind.POLICE
                else _("Children's services must take part in a strategy discussion.")
            )
    for p in data.participants:
        if not p.took_part and not p.why_not.strip():
            errors.setdefault("participants", []).append(
                gettext("Say why %(organisation)s did not take part: it knows the child or the household.")
                % {"organisation": p.organisation.name(get_language() or "en")}
            )
    if data.decision not in STRATEGY_DECISIONS:
        errors["decision"] = [_("Choose the decision.")]
    if not data.reasons.strip():
        errors["reasons"] = [_("Record the reasons for the decision.")]
    if data.held_at > timezone.now():
        errors["held_at"] = [_("This is in the future: record a discussion once it has been held.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        meeting.held_at = data.held_at
        meeting.format = data.format
        meeting.chair = user
        meeting.information_shared = data.information_shared
        meeting.decision = data.decision
        meeting.reasons = data.reasons
        meeting.immediate_action = data.immediate_action
        for p in data.participants:
            Invitee.objects.create(
                meeting=meeting,
                kind=InviteeKind.AGENCY,
                organisation=p.organisation,
                name=p.name,
                mandatory=p.organisation.kind in REQUIRED_AT_STRATEGY,
                attended=p.took_part,
                why=Why.TOOK_PART if p.took_part else "",
                removed_reason=p.why_not if not p.took_part else "",
            )
        for c in data.challenges:
            Challenge.objects.create(meeting=meeting, kind=c.kind, organisation=c.organisation, raised_by=c.raised_by,
                                     text=c.text, response=c.response, recorded_by=user)  # fmt: skip
        meeting.event = _spine(
            episode,
            code="process.strategy_discussion.held",
            when=data.held_at,
            user=user,
            key=f"{meeting.public_id}:held",
            details={
                "format": "meeting" if data.format == "in_person" else "discussion",
                "agencies_present": sorted({p.organisation.kind for p in data.participants if p.took_part}),
                "decision": data.decision,
                "reasons_recorded": True,
            },
        )
        meeting.save()
        day = _local_day(data.held_at)
        if data.decision == Decision.SECTION_47:
            timescales.start(episode, DueKind.ICPC, day)
            if not episode.enquiries.filter(concluded_on__isnull=True).exists():
                Enquiry.objects.create(episode=episode, strategy=meeting, started_on=day, created_by=user,
                                       joint_with_police=True)  # fmt: skip
                _spine(episode, code="process.s47.started", when=data.held_at, user=user,
                       key=f"{meeting.public_id}:s47", details={"joint_with_police": True})  # fmt: skip
            episode.stage = Stage.ENQUIRY
            episode.save(update_fields=["stage", "modified_at"])
        elif data.decision == Decision.FURTHER_STRATEGY:
            Meeting.objects.create(episode=episode, kind=MeetingKind.STRATEGY, created_by=user)
        elif episode.stage in (Stage.STRATEGY,):
            close_episode(episode, reason=f"strategy discussion: {data.decision}", on=day)
    return meeting


# --- section 47, assessment, safety plan -----------------------------------------------------


def conclude_enquiry(
    enquiry: Enquiry,
    *,
    user: User,
    outcome: str,
    findings: str,
    concluded_on: date,
    child_seen_alone: bool | None,
    approval: ApprovalRequest | None = None,
) -> Enquiry:
    """The three determinations. At continuing risk: convene the initial conference, with a
    consolidated assessment and an interim safety plan to carry the child until it.

    "Not substantiated" is for a manager to ratify (the procedures): it is held until a
    manager approves (``governance/approvals.yaml``), which calls this again with ``approval``;
    until then the enquiry stays open and its conference clock keeps running."""
    episode = enquiry.episode
    check_children_services(user, episode)
    errors = {}
    if enquiry.concluded_on:
        errors["outcome"] = [_("This enquiry is already concluded.")]
    if outcome not in Enquiry.Outcome.values:
        errors["outcome"] = [_("Choose the outcome of the enquiry.")]
    if not findings.strip():
        errors["findings"] = [_("Record what the enquiry found.")]
    if concluded_on > timezone.localdate() or concluded_on < enquiry.started_on:
        errors["concluded_on"] = [_("Give a date between the start of the enquiry and today.")]
    if errors:
        raise ValidationError(errors)
    from cylch.protection.meetings import new_conference

    with transaction.atomic():
        enquiry = Enquiry.objects.select_for_update().select_related("episode").get(pk=enquiry.pk)
        if enquiry.concluded_on:
            raise ValidationError({"outcome": [_("This enquiry is already concluded.")]})
        payload = {"outcome": outcome, "findings": findings, "concluded_on": concluded_on.isoformat(),
                   "child_seen_alone": child_seen_alone}  # fmt: skip
        if hold(ApprovalKind.S47_NOT_SUBSTANTIATED, target=enquiry, user=user, outcome=outcome, payload=payload,
                approval=approval):  # fmt: skip
            return enquiry
        enquiry.outcome, enquiry.findings = outcome, findings
        enquiry.concluded_on, enquiry.child_seen_alone = concluded_on, child_seen_alone
        enquiry.save()
        details = {"outcome": outcome}
        if child_seen_alone is not None:
            details["child_seen_alone"] = child_seen_alone
        _spine(episode, code="process.s47.concluded", when=_as_moment(concluded_on), user=user,
               key=f"{enquiry.public_id}:concluded", details=details)  # fmt: skip
        if outcome == Enquiry.Outcome.AT_RISK:
            episode.stage = Stage.CONFERENCE_DUE
            episode.save(update_fields=["stage", "modified_at"])
            Assessment.objects.get_or_create(episode=episode, trigger=Assessment.Trigger.AFTER_S47,
                                             completed_on=None, defaults={"created_by": user})  # fmt: skip
            Plan.objects.get_or_create(episode=episode, kind=PlanKind.SAFETY, defaults={"created_by": user})
            new_conference(episode, MeetingKind.INITIAL, user=user)
        else:
            close_episode(episode, reason=f"section 47: {outcome}", on=concluded_on)
    return enquiry


def add_contribution(assessment: Assessment, *, user: User, text: str) -> Contribution:
    """An agency's part of the consolidated assessment. Any agency invited to the conference,
    and children's services, may contribute."""
    if not text.strip():
        raise ValidationError({"text": [_("Write your agency's contribution.")]})
    from cylch.protection.meetings import is_member

    if not is_member(user, assessment.episode):
        raise PermissionDenied(_("Only agencies taking part in this child's plan may contribute."))
    return Contribution.objects.create(assessment=assessment, organisation=user.organisation, author=user, text=text)


def complete_assessment(assessment: Assessment, *, user: User, analysis: str) -> Assessment:
    check_children_services(user, assessment.episode)
    if not analysis.strip():
        raise ValidationError({"analysis": [_("Write the analysis that brings the contributions together.")]})
    with transaction.atomic():
        assessment.analysis = analysis
        assessment.completed_on = timezone.localdate()
        assessment.save()
        _spine(assessment.episode, code="process.assessment.consolidated", when=timezone.now(), user=user,
               key=f"{assessment.public_id}:completed", details={"trigger": assessment.trigger})  # fmt: skip
        # A review brings the earlier assessment up to date: the flag on it is answered.
        Assessment.objects.filter(episode=assessment.episode, review_needed_since__isnull=False).exclude(
            pk=assessment.pk
        ).update(review_needed_since=None)
    return assessment


def significant_change(episode: Episode, *, user: User | None, because: str) -> Assessment | None:
    """A significant change means the consolidated assessment must be reviewed (RR 6.1): the
    latest completed one is flagged and a review assessment is opened, once."""
    latest = episode.assessments.filter(completed_on__isnull=False).order_by("-completed_on", "-pk").first()
    if latest is None or not episode.is_open:
        return None
    with transaction.atomic():
        if latest.review_needed_since is None:
            latest.review_needed_since = timezone.now()
            latest.review_needed_because = because[:500]
            latest.save(update_fields=["review_needed_since", "review_needed_because", "modified_at"])
        review, _ = Assessment.objects.get_or_create(
            episode=episode, trigger=Assessment.Trigger.SIGNIFICANT_CHANGE, completed_on=None,
            defaults={"created_by": user},
        )  # fmt: skip
    return review


# --- visits --------------------------------------------------------------------------------


def record_visit(
    episode: Episode, *, user: User, visited_on: date, seen: bool, seen_alone: bool, at_home: bool, note: str = ""
) -> Visit:
    """A statutory visit, against the local visiting standard (seen alone every 10 working
    days and at home every 4 weeks by default)."""
    check_children_services(user, episode)
    errors = {}
    if visited_on > timezone.localdate():
        errors["visited_on"] = [_("This is in the future: record a visit once it has happened.")]
    if seen_alone and not seen:
        errors["seen_alone"] = [_("A child not seen cannot have been seen alone.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        visit = Visit.objects.create(episode=episode, visited_on=visited_on, seen=seen, seen_alone=seen_alone,
                                     at_home=at_home, by=user, note=note, created_by=user)  # fmt: skip
        if seen:
            details = {"child_seen": True, "seen_alone": seen_alone, "location": "home" if at_home else "other"}
            _spine(episode, code="social_care.visit.statutory", when=_as_moment(visited_on), user=user,
                   key=f"{visit.public_id}:visit", details=details, summary=note)  # fmt: skip
        else:
            _spine(episode, code="social_care.visit.child_not_seen", when=_as_moment(visited_on), user=user,
                   key=f"{visit.public_id}:visit", details={"reason": "other"}, summary=note)  # fmt: skip
        if episode.stage == Stage.REGISTERED:
            if seen_alone:
                timescales.meet(episode, DueKind.VISIT_ALONE, visited_on)
                timescales.start(episode, DueKind.VISIT_ALONE, visited_on)
            if seen and at_home:
                timescales.meet(episode, DueKind.VISIT_HOME, visited_on)
                timescales.start(episode, DueKind.VISIT_HOME, visited_on)
    return visit


# --- a registered child moving in ----------------------------------------------------------


NOT_LIVING_HERE = _(
    "Cylch does not hold an address for this child in your authority, so you cannot receive them yet. "
    "The child's new address reaches Cylch with a report or an agency's records (for example a new GP registration)."
)


def lives_in(child: Person, local_authority_id: int | None) -> bool:
    """Whether the child's current address (an open household membership) is in the authority."""
    return (
        local_authority_id is not None
        and child.memberships.filter(to_date__isnull=True, household__local_authority_id=local_authority_id).exists()
    )


def transfer_in(*, child: Person, user: User, told_on: date, from_local_authority: str) -> Episode:
    """A child on another authority's register has moved here: the receiving authority holds
    a transfer conference within 15 working days of being told; the sending authority's plan
    runs until then."""
    org = user.organisation
    if org is None or org.kind != OrganisationKind.LA_CHILDRENS_SERVICES or user.role not in LA_ROLES:
        raise PermissionDenied(_("Only children's services may receive a transfer."))
    if not lives_in(child, org.local_authority_id):
        # Otherwise children's services anywhere could make themselves part of any registered
        # child's process (its meetings, plan and records) by "receiving" them.
        raise PermissionDenied(NOT_LIVING_HERE)
    from cylch.protection.meetings import new_conference

    with transaction.atomic():
        sending = Episode.objects.select_for_update().filter(child=child, closed_on__isnull=True).first()
        if sending is None or sending.stage != Stage.REGISTERED:
            raise ValidationError({"child": [_("This child is not on a child protection register in Wales.")]})
        if sending.local_authority_id == org.local_authority_id:
            raise ValidationError({"child": [_("This child is already on this authority's register.")]})
        # The receiving authority's own episode waits beside the sending one; it takes over at
        # the transfer conference.
        sending.stage = Stage.TRANSFER_IN
        sending.transfer_to = org
        sending.save(update_fields=["stage", "transfer_to", "modified_at"])
        timescales.start(sending, DueKind.TRANSFER, told_on)
        conference = new_conference(sending, MeetingKind.TRANSFER, user=user)
        conference.information_shared = f"Moved from {from_local_authority}; receiving authority: {org.name_en}."
        conference.save(update_fields=["information_shared"])
        _spine(sending, code="process.transfer.moved_in", when=_as_moment(told_on), user=user,
               key=f"{sending.public_id}:moved_in:{told_on}",
               details={"from_local_authority": from_local_authority, "notified_by": "sending_authority"})  # fmt: skip
    return sending

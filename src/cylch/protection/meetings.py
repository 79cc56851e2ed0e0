"""Conferences and core groups: who is invited, the agencies' reports, the decision, and the
circulation of what was decided to everyone invited.

The rapid review found GPs not invited and their reports missing (RR 1.4, 1.8), reports not
shared with parents in time, plans not circulated, and attendance at core groups patchy
(KLOE 5). Mandatory invitees here cannot be dropped without a recorded reason, every agency
report has a deadline, and circulation goes to absentees as well as those who came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from cylch.access.models import Organisation, User
from cylch.access.roles import OrganisationKind, Role
from cylch.core.calendar import add_working_days, is_working_day
from cylch.identity.selectors import age_on
from cylch.notify.services import at_moment, notify_address, notify_user, on_day
from cylch.protection import timescales
from cylch.protection.involved import organisations_involved, parents_of
from cylch.protection.models import (
    ActionStatus,
    ActionUpdate,
    Challenge,
    Circulation,
    Correction,
    Decision,
    Delivery,
    Document,
    DueKind,
    Episode,
    Invitee,
    InviteeKind,
    Meeting,
    MeetingKind,
    Plan,
    PlanAction,
    PlanKind,
    PlanStatus,
    Postponement,
    Stage,
    Why,
)
from cylch.protection.services import LA_ROLES, ChallengeInput, _as_moment, _local_day, _spine, check_children_services

CONFERENCE_STARTS = {
    MeetingKind.INITIAL: DueKind.ICPC,
    MeetingKind.TRANSFER: DueKind.TRANSFER,
}


def child_invite_age() -> int:
    """From this age a child is presumed of the age and understanding to be invited (RR 3.2)."""
    return getattr(settings, "CYLCH_CHILD_INVITE_AGE", 12)


def is_member(user: User, episode: Episode) -> bool:
    """Children's services of the child's authority, or an agency on any of the episode's
    meeting lists or owning an action in the plan."""
    return episode.pk in member_episodes(user, [episode])


def member_episodes(user: User, episodes) -> set[int]:
    """The pks of those ``episodes`` the user's organisation is a member of (:func:`is_member`),
    in at most two queries for them all (the notices page asks for a page of meetings)."""
    org = user.organisation
    if org is None:
        return set()
    episodes = list(episodes)
    found = set()
    if org.kind == OrganisationKind.LA_CHILDRENS_SERVICES:
        found = {
            e.pk
            for e in episodes
            if org.local_authority_id
            in (e.local_authority_id, e.transfer_to.local_authority_id if e.transfer_to_id else None)
        }
    rest = [e.pk for e in episodes if e.pk not in found]
    if rest:
        found |= set(
            Invitee.objects.filter(meeting__episode__in=rest, organisation=org, removed_at__isnull=True).values_list(
                "meeting__episode_id", flat=True
            )
        )
        rest = [pk for pk in rest if pk not in found]
    if rest:
        found |= set(
            PlanAction.objects.filter(plan__episode__in=rest, owner_organisation=org).values_list(
                "plan__episode_id", flat=True
            )
        )
    return found


def check_chair(user: User, meeting: Meeting) -> None:
    """Conference decisions and postponements are the chair's (an independent reviewing
    officer in the child's authority, or the receiving authority's for a transfer)."""
    episode = meeting.episode
    authority = (
        episode.transfer_to.local_authority_id if meeting.kind == MeetingKind.TRANSFER else episode.local_authority_id
    )
    org = user.organisation
    if not (
        user.role == Role.CONFERENCE_CHAIR
        and org is not None
        and org.kind == OrganisationKind.LA_CHILDRENS_SERVICES
        and org.local_authority_id == authority
    ):
        raise PermissionDenied(_("Only a conference chair of the authority holding the conference may do this."))


def _key(meeting: Meeting) -> str:
    return str(meeting.public_id)


def _due_moment(day: date) -> datetime:
    """10:00 on the due date, or on the working day before it when it falls on a weekend or a
    bank holiday (a date "by" which it must happen)."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(10, 0)))


# --- setting up a meeting ------------------------------------------------------------------


def new_conference(episode: Episode, kind: str, *, user: User | None, due_on: date | None = None) -> Meeting:
    """A conference or core group to be held, on its due date until someone sets another,
    with its invitation list built from everyone involved."""
    due_kind = CONFERENCE_STARTS.get(kind)
    if due_on is None and due_kind:
        deadline = episode.deadlines.filter(kind=due_kind, met_on__isnull=True, cancelled_on__isnull=True).first()
        due_on = deadline.due_on if deadline else None
    meeting = Meeting.objects.create(
        episode=episode,
        kind=kind,
        scheduled_for=_due_moment(due_on) if due_on else None,
        created_by=user,
    )
    build_invitees(meeting)
    return meeting


def build_invitees(meeting: Meeting) -> list[Invitee]:
    """Everyone involved with the child and household. Mandatory, and only removable with a
    reason: children's services, the GP (RR 1.4), the parents, and the child of age and
    understanding, with an advocate offered (RR 3.2)."""
    episode, child = meeting.episode, meeting.episode.child
    conference = MeetingKind(meeting.kind).is_conference
    made: list[Invitee] = []

    def add(**kw) -> None:
        made.append(Invitee(meeting=meeting, **kw))

    owner = (
        episode.transfer_to if meeting.kind == MeetingKind.TRANSFER and episode.transfer_to_id else episode.organisation
    )
    add(kind=InviteeKind.AGENCY, organisation=owner, user=episode.social_worker, mandatory=True,
        why=Why.CHILDRENS_SERVICES, report_requested=conference)  # fmt: skip
    involved = organisations_involved(child)
    if meeting.kind == MeetingKind.CORE_GROUP:
        owners = set(
            PlanAction.objects.filter(plan__episode=episode, plan__kind=PlanKind.CSPP).values_list(
                "owner_organisation_id", flat=True
            )
        )
        involved = [
            i for i in involved if i.organisation.pk in owners or i.organisation.kind == OrganisationKind.GP_PRACTICE
        ]
        extra = Organisation.objects.filter(pk__in=owners - {i.organisation.pk for i in involved} - {owner.pk})
        for org in extra:
            add(kind=InviteeKind.AGENCY, organisation=org, why=Why.OWNS_ACTION)
    elif conference:
        # Agencies that took part in the strategy discussion or the enquiry (the police, always)
        # are invited even when they hold no record of the household.
        known = {i.organisation.pk for i in involved} | {owner.pk}
        took_part = Organisation.objects.filter(
            pk__in=Invitee.objects.filter(meeting__episode=episode, meeting__kind=MeetingKind.STRATEGY, attended=True)
            .exclude(organisation_id__in=known)
            .values("organisation_id")
        ).exclude(kind=OrganisationKind.LA_CHILDRENS_SERVICES)
        for org in took_part:
            add(kind=InviteeKind.AGENCY, organisation=org, why=Why.STRATEGY, report_requested=True)
    gps = [i for i in involved if i.organisation.kind == OrganisationKind.GP_PRACTICE]
    for i in involved:
        if i.organisation.pk == owner.pk or i.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES:
            continue
        is_gp = i.organisation.kind == OrganisationKind.GP_PRACTICE
        add(kind=InviteeKind.AGENCY, organisation=i.organisation, user=i.named, mandatory=is_gp and conference,
            why=Why.GP if is_gp else (Why.KNOWS_CHILD if i.with_child else Why.KNOWS_HOUSEHOLD),
            report_requested=conference)  # fmt: skip
    if conference and not gps:
        add(kind=InviteeKind.AGENCY, mandatory=True, why=Why.GP, report_requested=True)  # fmt: skip
    for rel in parents_of(child):
        if rel.parental_responsibility or rel.lives_with:
            add(kind=InviteeKind.PARENT, person=rel.person, name=f"{rel.person.given_name} {rel.person.family_name}".strip(),
                mandatory=True, why=rel.kind)  # fmt: skip
    age = age_on(child.date_of_birth, timezone.localdate())
    if age is not None and age >= child_invite_age():
        add(kind=InviteeKind.CHILD, person=child, name=f"{child.given_name} {child.family_name}".strip(),
            mandatory=True, why=Why.OF_AGE)  # fmt: skip
        if conference:
            add(kind=InviteeKind.ADVOCATE, why=Why.ADVOCATE)
    report_due = None
    if meeting.scheduled_for and conference:
        report_due = timescales.timescale(DueKind.AGENCY_REPORT).due(_local_day(meeting.scheduled_for))
    for inv in made:
        if inv.report_requested:
            inv.report_due_on = report_due
    Invitee.objects.bulk_create(made)
    return made


def add_invitee(meeting: Meeting, *, user: User, organisation: Organisation | None, name: str, email: str = "",
                kind: str = InviteeKind.AGENCY) -> Invitee:  # fmt: skip
    check_children_services(user, meeting.episode)
    if organisation is None and not name.strip():
        raise ValidationError({"name": [_("Give the organisation or the person's name.")]})
    already = (
        meeting.invitees.filter(organisation=organisation, removed_at__isnull=True).first() if organisation else None
    )
    if already is not None:
        if name.strip() and not already.name:
            # The organisation is on the list: name the person who will come.
            already.name, already.email = name.strip(), email or already.email
            already.save(update_fields=["name", "email"])
            return already
        raise ValidationError({"organisation": [_("This organisation is already on the invitation list.")]})
    with transaction.atomic():
        # Adding the GP practice answers the placeholder for an unknown GP.
        if organisation is not None and organisation.kind == OrganisationKind.GP_PRACTICE:
            placeholder = meeting.invitees.filter(organisation__isnull=True, why=Why.GP, removed_at__isnull=True)
            placeholder.update(
                removed_at=timezone.now(),
                removed_reason=gettext("GP practice added: %(practice)s")
                % {"practice": organisation.name(get_language() or "en")},
            )
        conference = MeetingKind(meeting.kind).is_conference
        invitee = Invitee.objects.create(
            meeting=meeting, kind=kind, organisation=organisation, name=name, email=email,
            mandatory=bool(organisation and organisation.kind == OrganisationKind.GP_PRACTICE and conference),
            why=Why.ADDED, report_requested=conference and kind == InviteeKind.AGENCY,
            report_due_on=(timescales.timescale(DueKind.AGENCY_REPORT).due(_local_day(meeting.scheduled_for))
                           if conference and meeting.scheduled_for else None),
        )  # fmt: skip
    return invitee


def remove_invitee(invitee: Invitee, *, user: User, reason: str) -> Invitee:
    check_children_services(user, invitee.meeting.episode)
    if invitee.meeting.is_held:
        raise ValidationError({"invitee": [_("The meeting has been held: its list is the record of who was invited.")]})
    if invitee.mandatory and not reason.strip():
        raise ValidationError(
            {"reason": [gettext("%(name)s must be invited: record why they are not.") % {"name": invitee.display_name}]}
        )
    invitee.removed_at = timezone.now()
    invitee.removed_reason = reason.strip() or gettext("No reason needed: not a required invitee")
    invitee.save(update_fields=["removed_at", "removed_reason"])
    return invitee


def schedule(meeting: Meeting, *, user: User, when: datetime, reason: str = "") -> Meeting:
    """Set or move the date. Setting it past the statutory date, or moving a conference already
    set, is a postponement: the chair's, with reasons recorded."""
    episode = meeting.episode
    conference = MeetingKind(meeting.kind).is_conference
    due_kind = CONFERENCE_STARTS.get(meeting.kind) or (
        {MeetingKind.REVIEW: DueKind.RCPC_NEXT} if meeting.kind == MeetingKind.REVIEW else {}
    ).get(meeting.kind)
    deadline = None
    if meeting.kind == MeetingKind.REVIEW:
        deadline = episode.deadlines.filter(kind__in=[DueKind.RCPC_FIRST, DueKind.RCPC_NEXT], met_on__isnull=True,
                                            cancelled_on__isnull=True).first()  # fmt: skip
    elif due_kind:
        deadline = episode.deadlines.filter(kind=due_kind, met_on__isnull=True, cancelled_on__isnull=True).first()
    moving_later = meeting.scheduled_for is not None and when > meeting.scheduled_for
    past_due = deadline is not None and _local_day(when) > deadline.due_on
    if meeting.is_held:
        raise ValidationError({"when": [_("This meeting has been held.")]})
    if conference and (moving_later or past_due):
        check_chair(user, meeting)
        if not reason.strip():
            raise ValidationError({"reason": [_("A conference is postponed only with the chair's recorded reasons.")]})
    else:
        check_children_services(user, episode) if conference else _check_member(user, episode)
    with transaction.atomic():
        if conference and (moving_later or past_due):
            Postponement.objects.create(meeting=meeting, from_when=meeting.scheduled_for, to_when=when, reason=reason,
                                        by=user)  # fmt: skip
        meeting.scheduled_for = when
        meeting.save(update_fields=["scheduled_for", "modified_at"])
        if meeting.kind == MeetingKind.REVIEW:
            _plan_next_conference(episode)
        if conference:
            due = timescales.timescale(DueKind.AGENCY_REPORT).due(_local_day(when))
            meeting.invitees.filter(report_requested=True, report_received_at__isnull=True).update(report_due_on=due)
            for inv in meeting.invitees.filter(report_requested=True, report_received_at__isnull=True,
                                               invited_at__isnull=False):  # fmt: skip
                timescales.start(episode, DueKind.AGENCY_REPORT, _local_day(when), key=str(inv.public_id), due_on=due)
    return meeting


def _check_member(user: User, episode: Episode) -> None:
    if not is_member(user, episode):
        raise PermissionDenied(_("Only agencies taking part in this child's plan may do this."))


def send_invitations(meeting: Meeting, *, user: User) -> int:
    """Invite everyone on the list and ask each agency for its report by its deadline."""
    episode = meeting.episode
    check_children_services(user, episode)
    if meeting.scheduled_for is None:
        raise ValidationError({"when": [_("Set the date and time before sending invitations.")]})
    unknown = meeting.invitees.filter(mandatory=True, removed_at__isnull=True, kind=InviteeKind.AGENCY,
                                      organisation__isnull=True)  # fmt: skip
    if unknown.exists():
        raise ValidationError(
            {"invitees": [_("The child's GP is not known to Cylch: add the practice, or record why there is none.")]}
        )
    pending = list(
        meeting.invitees.filter(removed_at__isnull=True, invited_at__isnull=True).select_related("organisation", "user")
    )
    now = timezone.now()
    when = timezone.localtime(meeting.scheduled_for)
    url = reverse("protection:meeting", args=[meeting.public_id])
    with transaction.atomic():
        for inv in pending:
            context = {"meeting": MeetingKind(meeting.kind).label, "when": at_moment(when),
                       "due": on_day(inv.report_due_on) if inv.report_due_on else ""}  # fmt: skip
            body = (_("You are invited to this meeting: %(meeting)s, on %(when)s. Please send your agency's written report "
                      "through Cylch by %(due)s.") if inv.report_requested and inv.report_due_on
                    else _("You are invited to this meeting: %(meeting)s, on %(when)s."))  # fmt: skip
            for recipient in _people_at(inv):
                notify_user(recipient=recipient, kind="protection_invitation", subject=_("Invitation: %(meeting)s"),
                            body=body, url=url, dedupe_key=f"invite:{inv.public_id}:{recipient.pk}", context=context)  # fmt: skip
            if inv.email:
                notify_address(to=inv.email, subject=_("Invitation: %(meeting)s"), body=body,
                               dedupe_key=f"invite:{inv.public_id}:email", context=context)  # fmt: skip
            inv.invited_at = now
            inv.save(update_fields=["invited_at"])
            if inv.report_requested and inv.report_due_on:
                timescales.start(episode, DueKind.AGENCY_REPORT, _local_day(meeting.scheduled_for),
                                 key=str(inv.public_id), due_on=inv.report_due_on)  # fmt: skip
        active = meeting.invitees.filter(removed_at__isnull=True)
        kinds = sorted({i.organisation.kind for i in active.filter(kind=InviteeKind.AGENCY).select_related("organisation")
                        if i.organisation} | {k for k in active.exclude(kind=InviteeKind.AGENCY).values_list("kind", flat=True)})  # fmt: skip
        if MeetingKind(meeting.kind).is_conference:
            _spine(episode, code="process.conference.invitations_sent", when=now, user=user,
                   key=f"{meeting.public_id}:invitations:{len(pending)}:{now:%Y%m%d%H%M%S}",
                   details={"conference_type": {"initial": "initial", "review": "review", "transfer": "transfer"}[meeting.kind],
                            "invitee_kinds": [k for k in kinds if k in _INVITEE_KINDS],
                            "gp_invited": OrganisationKind.GP_PRACTICE in kinds,
                            "reason_and_s47_outcome_included": True})  # fmt: skip
    return len(pending)


_INVITEE_KINDS = {
    "la_childrens_services", "gp_practice", "midwifery", "health_visiting", "school_nursing", "emergency_department",
    "hospital", "camhs", "adult_mental_health", "substance_misuse", "school", "police", "housing", "third_sector",
    "probation", "parent", "child", "advocate",
}  # fmt: skip


def _people_at(invitee: Invitee) -> list[User]:
    """The named practitioner, or the organisation's safeguarding leads (children's services:
    its managers)."""
    if invitee.user_id:
        return [invitee.user] if invitee.user.is_active else []
    if invitee.organisation is None:
        return []
    staff = User.objects.filter(organisation=invitee.organisation, is_active=True)
    if invitee.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES:
        return list(staff.filter(role__in=[Role.TEAM_MANAGER]).order_by("pk"))
    return list(staff.filter(is_safeguarding_lead=True).order_by("pk"))


# --- agency reports --------------------------------------------------------------------------


def submit_report(invitee: Invitee, *, user: User, text: str) -> Invitee:
    """An agency's written report for the conference. Only that agency may send it."""
    if user.organisation_id is None or user.organisation_id != invitee.organisation_id:
        raise PermissionDenied(_("Only the invited agency may submit its report."))
    if not text.strip():
        raise ValidationError({"text": [_("Write the report.")]})
    if invitee.meeting.is_held:
        raise ValidationError({"text": [_("The conference has been held.")]})
    meeting, episode = invitee.meeting, invitee.meeting.episode
    now = timezone.now()
    with transaction.atomic():
        invitee.report_text, invitee.report_received_at = text, now
        invitee.save(update_fields=["report_text", "report_received_at"])
        timescales.meet(episode, DueKind.AGENCY_REPORT, timezone.localdate(), key=str(invitee.public_id))
        days_before = None
        if meeting.scheduled_for:
            from cylch.core.calendar import working_days_between

            days_before = max(0, working_days_between(timezone.localdate(), _local_day(meeting.scheduled_for)))
        details = {"conference_type": meeting.kind, "shared_with_parents_before_conference": False}
        if days_before is not None:
            details["working_days_before_conference"] = days_before
        record_event_for_agency(episode, invitee, user, now, details)
    return invitee


def record_event_for_agency(episode, invitee, user, now, details) -> None:
    from cylch.events.services import record_event

    record_event(organisation=invitee.organisation, code="process.conference.report_submitted", occurred_at=now,
                 person=episode.child, details=details, recorded_by=user,
                 recorder_name=user.get_full_name() or user.username, recorder_role=user.job_title,
                 recorder_contact=user.email, external_id=f"protection:{invitee.public_id}:report")  # fmt: skip


def share_with_parents(meeting: Meeting, *, user: User, at: datetime | None = None) -> int:
    """Record that the reports received were shared with the parents, and when (KLOE 5)."""
    check_children_services(user, meeting.episode)
    at = at or timezone.now()
    return meeting.invitees.filter(report_received_at__isnull=False, report_shared_with_parents_at__isnull=True).update(
        report_shared_with_parents_at=at
    )


# --- the conference --------------------------------------------------------------------------


@dataclass
class ConferenceInput:
    held_at: datetime
    format: str
    language: str
    attended: dict[int, bool]  # invitee pk -> attended
    decision: str
    categories: list[str]
    reasons: str
    record: str
    progress: str = ""
    risk_of_future_harm: str = ""
    eligible_needs: str = ""
    contingency: str = ""
    challenges: list[ChallengeInput] = field(default_factory=list)


ALLOWED = {
    MeetingKind.INITIAL: {Decision.REGISTER, Decision.NOT_REGISTER},
    MeetingKind.TRANSFER: {Decision.REGISTER, Decision.NOT_REGISTER},
    MeetingKind.REVIEW: {Decision.REMAIN, Decision.DEREGISTER},
}


def _conference_errors(meeting: Meeting, data: ConferenceInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if meeting.is_held:
        errors["meeting"] = [_("This conference is already recorded.")]
    if data.decision not in ALLOWED[meeting.kind]:
        errors["decision"] = [_("Choose the conference's decision for this child.")]
    keeps = data.decision in (Decision.REGISTER, Decision.REMAIN)
    if keeps and not data.categories:
        errors["categories"] = [_("Choose at least one category of registration for this child.")]
    if any(c not in {"physical", "emotional", "sexual", "financial", "neglect"} for c in data.categories):
        errors["categories"] = [_("Choose categories from the list.")]
    if not data.reasons.strip():
        errors["reasons"] = [_("Record the reasons for the decision.")]
    if meeting.kind == MeetingKind.REVIEW:
        if not data.progress.strip():
            errors["progress"] = [_("Record the progress made since the last conference.")]
        if not data.risk_of_future_harm.strip():
            errors["risk_of_future_harm"] = [_("Record the risk of future harm.")]
    if data.decision == Decision.DEREGISTER:
        if not data.eligible_needs.strip():
            errors["eligible_needs"] = [
                _("Removal from the register needs the child's eligible care and support needs.")
            ]
        if not data.contingency.strip():
            errors["contingency"] = [_("Removal from the register needs a contingency plan.")]
    if data.held_at > timezone.now():
        errors["held_at"] = [_("This is in the future: record the conference once it has been held.")]
    if not data.record.strip():
        errors["record"] = [_("Write the conference record.")]
    return errors


def record_conference(meeting: Meeting, *, user: User, data: ConferenceInput) -> Meeting:
    """The chair records the conference and its decision for this child."""
    from cylch.protection import register

    check_chair(user, meeting)
    errors = _conference_errors(meeting, data)
    if errors:
        raise ValidationError(errors)
    episode = meeting.episode
    day = _local_day(data.held_at)
    with transaction.atomic():
        _hold(meeting, user=user, held_at=data.held_at, fmt=data.format, language=data.language,
              attended=data.attended, challenges=data.challenges)  # fmt: skip
        meeting.decision, meeting.categories, meeting.reasons = data.decision, sorted(data.categories), data.reasons
        meeting.record, meeting.progress, meeting.risk_of_future_harm = (
            data.record,
            data.progress,
            data.risk_of_future_harm,
        )
        meeting.save()
        key = _key(meeting)
        timescales.start(episode, DueKind.DECISIONS_SUMMARY, day, key=key)
        timescales.start(episode, DueKind.FULL_RECORD, day, key=key)
        attended = _attendance_details(meeting)
        if meeting.kind == MeetingKind.INITIAL:
            timescales.meet(episode, DueKind.ICPC, day)
            meeting.event = _spine(episode, code="process.icpc.held", when=data.held_at, user=user, key=f"{key}:held",
                                   details={"outcome": data.decision, "format": _fmt(data.format), **attended})  # fmt: skip
            if data.decision == Decision.REGISTER:
                register.register_child(
                    episode, conference=meeting, user=user, categories=data.categories, reasons=data.reasons
                )
                _after_registration(episode, meeting, user=user, day=day)
            else:
                _close_after(episode, meeting, reason="initial conference: not registered", day=day)
        elif meeting.kind == MeetingKind.TRANSFER:
            timescales.meet(episode, DueKind.TRANSFER, day)
            meeting.event = _spine(episode, code="process.transfer.conference_held", when=data.held_at, user=user,
                                   key=f"{key}:held", details={"outcome": "remain_registered" if data.decision == Decision.REGISTER
                                                              else "not_registered", "format": _fmt(data.format)})  # fmt: skip
            register.transfer(episode, conference=meeting, user=user, categories=data.categories, reasons=data.reasons,
                              keep=data.decision == Decision.REGISTER)  # fmt: skip
            if data.decision == Decision.REGISTER:
                # The receiving authority's own core group and review replace the sending one's.
                episode.meetings.filter(held_at__isnull=True).exclude(pk=meeting.pk).delete()
                _after_registration(episode, meeting, user=user, day=day)
            else:
                _close_after(episode, meeting, reason="transfer conference: not registered", day=day)
        else:
            timescales.meet(episode, DueKind.RCPC_FIRST, day)
            timescales.meet(episode, DueKind.RCPC_NEXT, day)
            deregister = data.decision == Decision.DEREGISTER
            meeting.event = _spine(episode, code="process.rcpc.held", when=data.held_at, user=user, key=f"{key}:held",
                                   details={"outcome": data.decision, "format": _fmt(data.format),
                                            **({"categories": sorted(data.categories)} if data.categories else {}),
                                            "eligible_needs_recorded": bool(data.eligible_needs.strip()),
                                            "contingency_plan_recorded": bool(data.contingency.strip()),
                                            **{k: v for k, v in attended.items() if k != "gp_report_received"}})  # fmt: skip
            if deregister:
                register.deregister(episode, user=user, reason="review_conference_decision", meeting=meeting,
                                    eligible_needs=data.eligible_needs, contingency=data.contingency,
                                    explanation=data.reasons, on=day)  # fmt: skip
                _close_after(episode, meeting, reason="removed from the register by a review conference", day=day)
            else:
                register.recategorise(episode, categories=data.categories, user=user, on=day)
                timescales.start(episode, DueKind.RCPC_NEXT, day)
                new_conference(episode, MeetingKind.REVIEW, user=user,
                               due_on=episode.deadlines.get(kind=DueKind.RCPC_NEXT, met_on__isnull=True,
                                                            cancelled_on__isnull=True).due_on)  # fmt: skip
                _plan_next_conference(episode)
        meeting.save(update_fields=["event"])
    return meeting


def _fmt(value: str) -> str:
    return {"in_person": "face_to_face", "virtual": "virtual", "hybrid": "hybrid"}.get(value, "face_to_face")


def _hold(meeting: Meeting, *, user, held_at, fmt, language, attended: dict[int, bool], challenges) -> None:
    meeting.held_at, meeting.format, meeting.language, meeting.chair = held_at, fmt, language, user
    for inv in meeting.invitees.filter(removed_at__isnull=True):
        inv.attended = attended.get(inv.pk, False)
        inv.save(update_fields=["attended"])
    for c in challenges:
        Challenge.objects.create(meeting=meeting, kind=c.kind, organisation=c.organisation, raised_by=c.raised_by,
                                 text=c.text, response=c.response, recorded_by=user)  # fmt: skip
    # Agency reports no longer due: the conference happened.
    for inv in meeting.invitees.filter(report_requested=True, report_received_at__isnull=True):
        timescales.cancel(meeting.episode, [DueKind.AGENCY_REPORT], "conference held without the report",
                          on=_local_day(held_at), key=str(inv.public_id))  # fmt: skip


def _attendance_details(meeting: Meeting) -> dict:
    active = list(meeting.invitees.filter(removed_at__isnull=True).select_related("organisation"))
    kinds = {i.organisation.kind for i in active if i.attended and i.organisation}
    child = next((i for i in active if i.kind == InviteeKind.CHILD), None)
    return {
        "parents_attended": any(i.attended for i in active if i.kind == InviteeKind.PARENT),
        "police_attended": OrganisationKind.POLICE in kinds,
        "gp_report_received": any(
            i.report_received_at
            for i in active
            if i.organisation and i.organisation.kind == OrganisationKind.GP_PRACTICE
        ),
        "child_participation": "attended" if child and child.attended else "not_involved",
    }


def _after_registration(episode: Episode, conference: Meeting, *, user: User, day: date) -> None:
    """Registered: the outline plan, the core group within 10 working days, the first review
    conference within 3 months, and the visiting standard."""
    episode.stage = Stage.REGISTERED
    episode.save(update_fields=["stage", "modified_at"])
    timescales.start(episode, DueKind.CORE_GROUP_FIRST, day)
    review_kind = DueKind.RCPC_FIRST
    timescales.start(episode, review_kind, day)
    timescales.start(episode, DueKind.VISIT_ALONE, day)
    timescales.start(episode, DueKind.VISIT_HOME, day)
    safety = episode.plans.filter(kind=PlanKind.SAFETY).first()
    plan, _created = Plan.objects.get_or_create(
        episode=episode, kind=PlanKind.CSPP, ended_on__isnull=True,
        defaults={"status": PlanStatus.OUTLINE, "created_by": user,
                  "worries": safety.worries if safety else "", "child_can_do": safety.child_can_do if safety else "",
                  "contingency": safety.contingency if safety else ""},
    )  # fmt: skip
    if safety and safety.status != PlanStatus.ENDED:
        safety.status, safety.ended_on = PlanStatus.ENDED, day
        safety.save(update_fields=["status", "ended_on", "modified_at"])
    core_due = episode.deadlines.get(
        kind=DueKind.CORE_GROUP_FIRST, met_on__isnull=True, cancelled_on__isnull=True
    ).due_on
    rcpc_due = episode.deadlines.get(kind=review_kind, met_on__isnull=True, cancelled_on__isnull=True).due_on
    Meeting.objects.create(
        episode=episode, kind=MeetingKind.CORE_GROUP, scheduled_for=_due_moment(core_due), created_by=user
    )
    if not episode.meetings.filter(kind=MeetingKind.REVIEW, held_at__isnull=True).exists():
        new_conference(episode, MeetingKind.REVIEW, user=user, due_on=rcpc_due)
    plan.next_conference_on = rcpc_due
    plan.save(update_fields=["next_conference_on", "modified_at"])


def _plan_next_conference(episode: Episode) -> None:
    nxt = episode.meetings.filter(kind=MeetingKind.REVIEW, held_at__isnull=True).order_by("pk").last()
    if nxt and nxt.scheduled_for:
        episode.plans.filter(kind=PlanKind.CSPP, ended_on__isnull=True).update(
            next_conference_on=_local_day(nxt.scheduled_for)
        )


def _close_after(episode: Episode, meeting: Meeting, *, reason: str, day: date) -> None:
    from cylch.protection.services import close_episode

    episode.plans.filter(ended_on__isnull=True).update(status=PlanStatus.ENDED, ended_on=day)
    episode.meetings.filter(held_at__isnull=True).exclude(pk=meeting.pk).delete()
    close_episode(episode, reason=reason, on=day)


# --- circulation -----------------------------------------------------------------------------


def circulate(meeting: Meeting, document: str, *, user: User, channels: dict[int, str] | None = None,
              on: date | None = None) -> Circulation:  # fmt: skip
    """Send a document to every invitee, whether they attended or not (RR 1.4), recording how
    each copy went. Practitioners get it in Cylch (and by email); others by the channel
    chosen for them, email where an address is known and post otherwise."""
    episode = meeting.episode
    check_children_services(user, episode)
    if not meeting.is_held:
        raise ValidationError({"document": [_("The meeting has not been held yet.")]})
    if meeting.circulations.filter(document=document).exists():
        raise ValidationError({"document": [_("This document has already been circulated.")]})
    channels = channels or {}
    on = on or timezone.localdate()
    url = reverse("protection:meeting", args=[meeting.public_id])
    label = Document(document).label
    with transaction.atomic():
        circ = Circulation.objects.create(meeting=meeting, document=document, sent_at=timezone.now(), by=user)
        invitees = list(meeting.invitees.filter(removed_at__isnull=True).select_related("organisation", "user"))
        for inv in invitees:
            # Lazy values: an email to someone outside Cylch is written in Welsh and English, each
            # part in its own language.
            context = {"document": label, "meeting": MeetingKind(meeting.kind).label,
                       "held": on_day(timezone.localtime(meeting.held_at).date(), weekday=False),
                       "text": lazy(document_text, str)(meeting, document)}  # fmt: skip
            subject = _("%(document)s: %(meeting)s of %(held)s")
            people = _people_at(inv)
            outbox = None
            for recipient in people:
                notify_user(recipient=recipient, kind="protection_circulation", subject=subject,
                            body=_("%(document)s (%(meeting)s, %(held)s) is ready for you in Cylch."),
                            url=url, dedupe_key=f"circ:{circ.pk}:{inv.public_id}:{recipient.pk}", context=context)  # fmt: skip
            channel = channels.get(inv.pk) or (
                Delivery.Channel.EMAIL if (inv.email or people) else Delivery.Channel.POST
            )
            if channel == Delivery.Channel.EMAIL and inv.email:
                outbox = notify_address(to=inv.email, subject=subject,
                                        body=_("%(document)s (%(meeting)s, %(held)s):\n\n%(text)s\n\n"
                                               "If anything in it is wrong, tell the conference chair within 10 working days."),
                                        dedupe_key=f"circ:{circ.pk}:{inv.public_id}:email", context=context)  # fmt: skip
            Delivery.objects.create(circulation=circ, invitee=inv, channel=channel, outbox=outbox,
                                    sent_on=None if outbox else on)  # fmt: skip
        kind = DueKind.DECISIONS_SUMMARY if document == Document.DECISIONS else DueKind.FULL_RECORD
        timescales.meet(episode, kind, on, key=_key(meeting))
        if MeetingKind(meeting.kind).is_conference:
            code = ("process.conference.decisions_circulated" if document == Document.DECISIONS
                    else "process.conference.record_circulated")  # fmt: skip
            _spine(episode, code=code, when=_as_moment(on), user=user, key=f"{meeting.public_id}:{document}",
                   details={"all_invitees_sent": True, "recipients_count": len(invitees), "delivery_recorded": True})  # fmt: skip
            if document == Document.DECISIONS:
                plan = episode.plans.filter(kind=PlanKind.CSPP).order_by("-pk").first()
                if plan and plan.status == PlanStatus.OUTLINE:
                    _spine(episode, code="process.cspp.outline_agreed", when=_as_moment(on), user=user,
                           key=f"{plan.public_id}:outline",
                           details={"contingency_plan_included": bool(plan.contingency.strip()),
                                    "child_safety_steps_included": bool(plan.child_can_do.strip())})  # fmt: skip
    return circ


def document_text(meeting: Meeting, document: str) -> str:
    """The document as plain text, for someone reached by email outside Cylch: the decisions
    and outline plan, or the full record."""
    from cylch.protection.models import category_labels

    if document == Document.RECORD:
        return (
            meeting.record_translated
            if meeting.record_translated and meeting.language != (get_language() or "en")[:2]
            else meeting.record
        )
    lines = [f"{gettext('Decision')}: {meeting.get_decision_display()}"]
    if meeting.categories:
        lines.append(f"{gettext('Categories of registration')}: {', '.join(category_labels(meeting.categories))}")
    if meeting.reasons:
        lines.append(f"{gettext('Reasons')}: {meeting.reasons}")
    plan = meeting.episode.plans.filter(kind=PlanKind.CSPP).order_by("-pk").first()
    if plan is not None:
        for label, text in ((gettext("What we are worried about"), plan.worries), (gettext("What needs to change"), plan.outcomes),
                            (gettext("Contingency plan"), plan.contingency)):  # fmt: skip
            if text:
                lines.append(f"{label}: {text}")
        if plan.next_conference_on:
            lines.append(f"{gettext('Next conference')}: {plan.next_conference_on:%d/%m/%Y}")
    return "\n".join(lines)


# --- core groups -----------------------------------------------------------------------------


@dataclass
class CoreGroupInput:
    held_at: datetime
    format: str
    attended: dict[int, bool]
    chaired_by: Organisation
    minuted_by: Organisation
    progress: str  # good / some / none / worsening
    notes: str
    updates: dict[int, tuple[str, str]] = field(default_factory=dict)  # action pk -> (status, note)
    mid_point_review: bool = False
    child_participated: bool = False


def record_core_group(meeting: Meeting, *, user: User, data: CoreGroupInput) -> Meeting:
    """Any agency may chair and minute (RR KLOE 2). Each action's progress is reviewed; the
    next core group falls due 6 weeks later."""
    episode = meeting.episode
    _check_member(user, episode)
    errors: dict[str, list[str]] = {}
    if meeting.kind != MeetingKind.CORE_GROUP or meeting.is_held:
        errors["meeting"] = [_("This core group is already recorded.")]
    if data.progress not in {"good", "some", "none", "worsening"}:
        errors["progress"] = [_("Say how the plan is going.")]
    if data.held_at > timezone.now():
        errors["held_at"] = [_("This is in the future: record the meeting once it has been held.")]
    plan = episode.plans.filter(kind=PlanKind.CSPP, ended_on__isnull=True).first()
    actions = {a.pk: a for a in plan.actions.all()} if plan else {}
    for pk, (status, note) in data.updates.items():
        if pk not in actions or status not in ActionStatus.values:
            errors.setdefault("updates", []).append(_("An update names an action that is not in this plan."))
        elif status != actions[pk].status and not note.strip():
            errors.setdefault("updates", []).append(
                gettext("Say why “%(action)s” is now “%(status)s”.")
                % {"action": actions[pk].text[:60], "status": ActionStatus(status).label}
            )
    if errors:
        raise ValidationError(errors)
    day = _local_day(data.held_at)
    with transaction.atomic():
        _hold(meeting, user=user, held_at=data.held_at, fmt=data.format, language=meeting.language,
              attended=data.attended, challenges=[])  # fmt: skip
        meeting.record = data.notes
        meeting.progress = data.progress
        meeting.save()
        for pk, (status, note) in data.updates.items():
            action = actions[pk]
            if status != action.status or note.strip():
                ActionUpdate.objects.create(action=action, status=status, note=note or str(ActionStatus(status).label),
                                            meeting=meeting, by=user)  # fmt: skip
                action.status = status
                action.save(update_fields=["status"])
        first = (
            not episode.meetings.filter(kind=MeetingKind.CORE_GROUP, held_at__isnull=False)
            .exclude(pk=meeting.pk)
            .exists()
        )
        timescales.meet(episode, DueKind.CORE_GROUP_FIRST, day)
        timescales.meet(episode, DueKind.CORE_GROUP_NEXT, day)
        timescales.start(episode, DueKind.CORE_GROUP_NEXT, day)
        present = sorted({i.organisation.kind for i in meeting.invitees.filter(attended=True).select_related("organisation")
                          if i.organisation and i.organisation.kind in _INVITEE_KINDS})  # fmt: skip
        meeting.event = _spine(episode, code="process.core_group.held", when=data.held_at, user=user,
                               key=f"{meeting.public_id}:held",
                               details={"agencies_present": present, "plan_progress": data.progress,
                                        "child_participated": data.child_participated,
                                        **({"chaired_by": data.chaired_by.kind} if data.chaired_by.kind in _INVITEE_KINDS else {}),
                                        **({"minuted_by": data.minuted_by.kind} if data.minuted_by.kind in _INVITEE_KINDS else {})})  # fmt: skip
        meeting.information_shared = f"Chaired by {data.chaired_by.name_en}; minuted by {data.minuted_by.name_en}."
        meeting.save(update_fields=["event", "information_shared"])
        if first and plan:
            plan.status = PlanStatus.DETAILED
            plan.save(update_fields=["status", "modified_at"])
            _spine(episode, code="process.cspp.detailed_agreed", when=data.held_at, user=user,
                   key=f"{plan.public_id}:detailed",
                   details={"actions_count": len(actions), "separate_from_minutes": True, "focus_on_change_and_safety": True})  # fmt: skip
        if data.mid_point_review:
            _spine(episode, code="process.cspp.mid_point_review", when=data.held_at, user=user,
                   key=f"{meeting.public_id}:mid_point", details={"plan_progress": data.progress,
                                                                  "escalated_to_conference": data.progress == "worsening"})  # fmt: skip
        nxt = episode.deadlines.get(kind=DueKind.CORE_GROUP_NEXT, met_on__isnull=True, cancelled_on__isnull=True)
        Meeting.objects.create(episode=episode, kind=MeetingKind.CORE_GROUP, scheduled_for=_due_moment(nxt.due_on),
                               created_by=user)  # fmt: skip
    return meeting


def ensure_core_group_invitees(meeting: Meeting) -> None:
    """A core group's members come from the plan's owners; built when first opened, so that
    actions added after the conference are counted."""
    if meeting.kind == MeetingKind.CORE_GROUP and not meeting.is_held and not meeting.invitees.exists():
        build_invitees(meeting)


def may_chair(user: User, meeting: Meeting) -> bool:
    try:
        check_chair(user, meeting)
    except PermissionDenied:
        return False
    return True


def may_run(user: User, episode: Episode) -> bool:
    try:
        check_children_services(user, episode)
    except PermissionDenied:
        return False
    return user.role in LA_ROLES


# --- corrections and translation ----------------------------------------------------------------

CORRECTION_WORKING_DAYS = 10


def correction_deadline(meeting: Meeting, document: str) -> date | None:
    """The last day to ask for a correction: 10 working days after the document went out."""
    circ = meeting.circulations.filter(document=document).first()
    if circ is None:
        return None
    return add_working_days(timezone.localtime(circ.sent_at).date(), CORRECTION_WORKING_DAYS)


def request_correction(meeting: Meeting, *, user: User, document: str, text: str) -> Correction:
    """An invitee asks the chair to correct a circulated document, within 10 working days of
    receiving it."""
    _check_member(user, meeting.episode)
    if not text.strip():
        raise ValidationError({"text": [_("Say what is wrong and what it should say.")]})
    last = correction_deadline(meeting, document)
    if last is None:
        raise ValidationError({"text": [_("This document has not been sent out yet.")]})
    if timezone.localdate() > last:
        raise ValidationError(
            {"text": [gettext("Corrections could be asked for until %(date)s. Contact the conference chair directly.")
                      % {"date": last.strftime("%d/%m/%Y")}]}
        )  # fmt: skip
    with transaction.atomic():
        correction = Correction.objects.create(meeting=meeting, document=document, organisation=user.organisation,
                                               requested_by=user, text=text.strip(), requested_at=timezone.now())  # fmt: skip
        if meeting.chair_id:
            notify_user(recipient=meeting.chair, kind="protection_correction", subject=_("A correction is asked for"),
                        body=_("A correction is asked for: %(document)s (%(meeting)s)."),
                        url=reverse("protection:meeting", args=[meeting.public_id]),
                        dedupe_key=f"correction:{correction.pk}",
                        context={"meeting": MeetingKind(meeting.kind).label, "document": Document(document).label})  # fmt: skip
    return correction


def answer_correction(correction: Correction, *, user: User, accepted: bool, answer: str) -> Correction:
    check_chair(user, correction.meeting)
    if correction.answered_at:
        raise ValidationError({"answer": [_("This correction has been answered.")]})
    if not answer.strip():
        raise ValidationError({"answer": [_("Say what you decided and why.")]})
    correction.accepted, correction.answer = accepted, answer.strip()
    correction.answered_by, correction.answered_at = user, timezone.now()
    correction.save()
    notify_user(recipient=correction.requested_by, kind="protection_correction_answered",
                subject=_("Your correction has been answered"), body=_("The chair has answered your correction."),
                url=reverse("protection:meeting", args=[correction.meeting.public_id]),
                dedupe_key=f"correction:{correction.pk}:answer")  # fmt: skip
    return correction


def request_translation(meeting: Meeting, *, user: User) -> Meeting:
    """The record is written in the conference's language; anyone invited may ask for it in the
    other. Children's services are told."""
    _check_member(user, meeting.episode)
    if not meeting.is_held or not meeting.record:
        raise ValidationError({"record": [_("There is no record to translate yet.")]})
    if meeting.translation_requested_at is None:
        meeting.translation_requested_at = timezone.now()
        meeting.save(update_fields=["translation_requested_at"])
        for person in _people_at(Invitee(organisation=meeting.episode.organisation)):
            notify_user(recipient=person, kind="protection_translation", subject=_("A translation is asked for"),
                        body=_("A translation of the record is asked for: %(meeting)s."),
                        url=reverse("protection:meeting", args=[meeting.public_id]),
                        dedupe_key=f"translation:{meeting.public_id}:{person.pk}",
                        context={"meeting": MeetingKind(meeting.kind).label})  # fmt: skip
    return meeting


def save_translation(meeting: Meeting, *, user: User, text: str) -> Meeting:
    check_children_services(user, meeting.episode)
    if not text.strip():
        raise ValidationError({"translation": [_("Write the translation.")]})
    meeting.record_translated = text.strip()
    meeting.save(update_fields=["record_translated"])
    return meeting

"""Protection pages. Thin: parse, call a service or selector, render.

Who sees what: anyone who may open the child's record sees the register status and the next
statutory dates (schools and health need them, RR 1.9); the meeting records, reports and the
plan open to the agencies taking part in the process (``meetings.is_member``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.access.audit import audit_from_request
from cylch.access.roles import OrganisationKind
from cylch.chronology import voice
from cylch.core.forms import apply_errors as _apply
from cylch.core.forms import form_errors
from cylch.governance.approvals import held_outcomes
from cylch.governance.models import ApprovalKind
from cylch.governance.selectors import last_returned_for, pending_for
from cylch.identity.selectors import age_on
from cylch.identity.views import open_person
from cylch.protection import forms as f
from cylch.protection import meetings, plans, register, selectors, services
from cylch.protection.models import (
    Correction,
    Decision,
    Document,
    Episode,
    Invitee,
    InviteeKind,
    Meeting,
    MeetingKind,
    Plan,
    PlanAction,
    PlanKind,
)


def _submitted(request, form, act, *, done: str) -> bool:
    """For a valid POST, run ``act(cleaned_data)`` (a service call) and say ``done``; the
    service's errors go on the form. True when the step was taken."""
    if request.method != "POST" or not form.is_valid():
        return False
    try:
        act(form.cleaned_data)
    except ValidationError as exc:
        _apply(form, exc)
        return False
    messages.success(request, done)
    return True


def _episode(request, episode_id) -> tuple[Episode, object]:
    """The episode and the child's access, or 404: the child must be openable and the viewer an
    agency taking part."""
    episode = get_object_or_404(
        Episode.objects.select_related("child", "organisation", "local_authority"), public_id=episode_id
    )
    access = open_person(request, episode.child.public_id)
    if not meetings.is_member(request.user, episode):
        raise Http404
    return episode, access


def _meeting(request, meeting_id) -> tuple[Meeting, object]:
    meeting = get_object_or_404(
        Meeting.objects.select_related("episode__child", "episode__organisation"), public_id=meeting_id
    )
    _episode(request, meeting.episode.public_id)
    return meeting, open_person(request, meeting.episode.child.public_id)


def _audit(request, purpose: str, obj: str, obj_id, action: str = "read", **detail) -> None:
    audit_from_request(request, action=action, object_type=obj, object_id=obj_id, purpose=purpose, detail=detail)


# --- the child's protection page ---------------------------------------------------------


def child_page(request, public_id):
    access = open_person(request, public_id)
    child = access.person
    if child.public_id != public_id:
        return redirect("protection:child", public_id=child.public_id)
    if not access.may_see_protection:
        raise Http404
    status = selectors.status_of(child)
    episode = status.episode
    member = bool(episode and meetings.is_member(request.user, episode))
    may_run = bool(episode and meetings.may_run(request.user, episode))
    may_start = (
        (episode is None or not episode.is_open)
        and request.user.organisation is not None
        and request.user.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES
        and request.user.role in services.LA_ROLES
    )
    may_receive = bool(  # a child on another Welsh authority's register
        status.on_register and episode and episode.is_open and not episode.transfer_to_id
        and request.user.organisation is not None
        and request.user.organisation.kind == OrganisationKind.LA_CHILDRENS_SERVICES
        and request.user.role in services.LA_ROLES
        and request.user.organisation.local_authority_id != episode.local_authority_id
    )  # fmt: skip
    _audit(request, "protection status viewed", "person", child.public_id, on_register=status.on_register)
    return render(request, "protection/child.html", {
        "access": access, "person": child, "status": status, "episode": episode, "member": member,
        "may_run": may_run, "may_start": may_start, "today": timezone.localdate(),
        "may_receive": may_receive and services.lives_in(child, request.user.organisation.local_authority_id),
        "not_living_here": may_receive and services.NOT_LIVING_HERE,
        "may_end": may_run and status.on_register and request.user.role in ("team-manager", "conference-chair"),
    })  # fmt: skip


@require_POST
def start(request, public_id):
    access = open_person(request, public_id)
    try:
        episode = services.open_episode(child=access.person, user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("protection:child", public_id=access.person.public_id)
    return redirect("protection:strategy", episode_id=episode.public_id)


def transfer_in(request, public_id):
    """A child on another Welsh authority's register has moved here (the receiving team)."""
    access = open_person(request, public_id)
    org = request.user.organisation
    lives_here = services.lives_in(access.person, org.local_authority_id if org else None)
    if request.method == "POST" and not lives_here:
        raise PermissionDenied(services.NOT_LIVING_HERE)
    form = f.TransferInForm(request.POST or None, initial={"told_on": timezone.localdate().strftime("%d/%m/%Y")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            episode = services.transfer_in(child=access.person, user=request.user, told_on=d["told_on"],
                                           from_local_authority=d["from_local_authority"])  # fmt: skip
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Recorded. The transfer conference is due within 15 working days."))
            return redirect("protection:meeting", meeting_id=episode.meetings.get(kind=MeetingKind.TRANSFER,
                                                                                  held_at__isnull=True).public_id)  # fmt: skip
    return render(request, "protection/transfer_in.html", {
        "person": access.person, "form": form, "form_errors": form_errors(form),
        "lives_here": lives_here, "not_living_here": services.NOT_LIVING_HERE,
    })  # fmt: skip


@require_POST
def start_from_report(request, reference):
    from cylch.reports.models import Report

    report = get_object_or_404(Report, reference=reference)
    try:
        episodes = services.open_from_report(report, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reports:triage", reference=reference)
    return redirect("protection:strategy", episode_id=episodes[0].public_id)


def due_page(request):
    org = request.user.organisation
    if org is None or org.kind != OrganisationKind.LA_CHILDRENS_SERVICES or request.user.role not in services.LA_ROLES:
        raise PermissionDenied
    rows = selectors.due_list(org)
    _audit(request, "due and overdue list viewed", "organisation", org.code, rows=len(rows))
    return render(request, "protection/due.html", {"rows": rows, "organisation": org})


# --- strategy, enquiry, assessment --------------------------------------------------------


def strategy_page(request, episode_id):
    episode, access = _episode(request, episode_id)
    meeting = episode.meetings.filter(kind=MeetingKind.STRATEGY, held_at__isnull=True).order_by("pk").first()
    held = list(
        episode.meetings.filter(kind=MeetingKind.STRATEGY, held_at__isnull=False).prefetch_related(
            "invitees__organisation", "challenges"
        )
    )
    if meeting is None or not meetings.may_run(request.user, episode):
        return render(
            request, "protection/strategy_held.html", {"episode": episode, "person": access.person, "held": held}
        )
    prompts = services.strategy_prompts(episode)
    form = f.StrategyForm(request.POST or None, prompts=prompts)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        data = services.StrategyInput(
            held_at=form.held_at(), format=d["format"], information_shared=d["information_shared"],
            decision=d["decision"], reasons=d["reasons"], immediate_action=d["immediate_action"],
            participants=[services.Participant(p.organisation, d[f"name_{i}"], d[f"took_{i}"] == "yes", d[f"why_{i}"])
                          for i, p in enumerate(prompts)],
            challenges=[services.ChallengeInput("challenge", d["challenge_by"], d["challenge_text"])]
            if d["challenge_text"].strip() else [],
        )  # fmt: skip
        try:
            services.record_strategy(meeting, user=request.user, data=data)
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Strategy discussion recorded."))
            return redirect("protection:child", public_id=episode.child.public_id)
    return render(request, "protection/strategy.html", {
        "episode": episode, "person": access.person, "form": form, "form_errors": form_errors(form), "held": held,
    })  # fmt: skip


def enquiry_page(request, episode_id):
    episode, access = _episode(request, episode_id)
    enquiry = episode.enquiries.order_by("-pk").first()
    if enquiry is None:
        raise Http404
    form = f.EnquiryForm(request.POST or None)
    if request.method == "POST":
        if not meetings.may_run(request.user, episode):
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            seen = {"yes": True, "no": False}.get(d["seen_alone"])
            try:
                enquiry = services.conclude_enquiry(enquiry, user=request.user, outcome=d["outcome"], findings=d["findings"],
                                                    concluded_on=d["concluded_on"], child_seen_alone=seen)  # fmt: skip
            except ValidationError as exc:
                _apply(form, exc)
            else:
                if enquiry.concluded_on is None:
                    messages.warning(request, _("The outcome is waiting for a manager's approval. It has not taken "
                                                "effect: the enquiry stays open until a manager approves it."))  # fmt: skip
                    return redirect("protection:enquiry", episode_id=episode.public_id)
                messages.success(request, _("Section 47 enquiry concluded."))
                return redirect("protection:child", public_id=episode.child.public_id)
    open_enquiry = enquiry.concluded_on is None
    return render(request, "protection/enquiry.html", {
        "episode": episode, "person": access.person, "enquiry": enquiry, "form": form,
        "form_errors": form_errors(form), "may_run": meetings.may_run(request.user, episode),
        "awaiting_approval": pending_for(enquiry) if open_enquiry else None,
        "returned": last_returned_for(enquiry) if open_enquiry else None,
        "held_outcomes": held_outcomes(ApprovalKind.S47_NOT_SUBSTANTIATED, enquiry) if open_enquiry else [],
    })  # fmt: skip


def assessment_page(request, episode_id):
    episode, access = _episode(request, episode_id)
    assessments = list(
        episode.assessments.prefetch_related("contributions__organisation", "contributions__author").order_by("pk")
    )
    current = next((a for a in reversed(assessments) if a.completed_on is None), None)
    may_run = meetings.may_run(request.user, episode)
    contribution = f.ContributionForm(request.POST if request.POST.get("form") == "contribution" else None)
    analysis = f.AnalysisForm(request.POST if request.POST.get("form") == "analysis" else None)
    change = f.ChangeForm(request.POST if request.POST.get("form") == "change" else None)
    if request.method == "POST":
        try:
            if contribution.is_bound and contribution.is_valid() and current:
                services.add_contribution(current, user=request.user, text=contribution.cleaned_data["text"])
                messages.success(request, _("Your contribution is added to the assessment."))
                return redirect("protection:assessment", episode_id=episode.public_id)
            if analysis.is_bound and analysis.is_valid() and current:
                services.complete_assessment(current, user=request.user, analysis=analysis.cleaned_data["analysis"])
                messages.success(request, _("Consolidated assessment completed."))
                return redirect("protection:assessment", episode_id=episode.public_id)
            if change.is_bound and change.is_valid():
                if not may_run:
                    raise PermissionDenied
                services.significant_change(episode, user=request.user, because=change.cleaned_data["because"])
                messages.success(request, _("Recorded: the assessment must now be reviewed."))
                return redirect("protection:assessment", episode_id=episode.public_id)
        except ValidationError as exc:
            _apply(contribution if contribution.is_bound else analysis, exc)
    forms_ = [x for x in (contribution, analysis, change) if x.is_bound]
    return render(request, "protection/assessment.html", {
        "episode": episode, "person": access.person, "assessments": assessments, "current": current,
        "contribution": contribution, "analysis": analysis, "change": change, "may_run": may_run,
        "form_errors": form_errors(forms_[0]) if forms_ else [],
        "review_needed": next((a for a in assessments if a.review_needed_since), None),
    })  # fmt: skip


def visit_new(request, episode_id):
    episode, access = _episode(request, episode_id)
    if not meetings.may_run(request.user, episode):
        raise PermissionDenied
    form = f.VisitForm(request.POST or None, initial={"visited_on": timezone.localdate().strftime("%d/%m/%Y")})

    def act(d):
        services.record_visit(episode, user=request.user, visited_on=d["visited_on"], seen=d["seen"] == "yes",
                              seen_alone=d["seen_alone"] == "yes", at_home=d["at_home"] == "yes", note=d["note"])  # fmt: skip

    if _submitted(request, form, act, done=_("Visit recorded.")):
        return redirect("protection:child", public_id=episode.child.public_id)
    return render(request, "protection/visit_form.html", {
        "episode": episode, "person": access.person, "form": form, "form_errors": form_errors(form),
    })  # fmt: skip


def end_registration(request, episode_id):
    episode, access = _episode(request, episode_id)
    form = f.EndRegistrationForm(request.POST or None)

    def act(d):
        register.end_outside_conference(episode, user=request.user, reason=d["reason"], on=d["on"],
                                        eligible_needs=d["eligible_needs"], contingency=d["contingency"],
                                        explanation=d["explanation"])  # fmt: skip

    if _submitted(request, form, act, done=_("The registration has ended.")):
        return redirect("protection:child", public_id=episode.child.public_id)
    review, review_by = register.next_review_conference(episode)
    return render(request, "protection/end_registration.html", {
        "episode": episode, "person": access.person, "form": form, "form_errors": form_errors(form),
        "review": review, "review_by": review_by,
    })  # fmt: skip


# --- meetings ----------------------------------------------------------------------------


def meeting_page(request, meeting_id):
    meeting, access = _meeting(request, meeting_id)
    meetings.ensure_core_group_invitees(meeting)
    episode = meeting.episode
    may_run = meetings.may_run(request.user, episode)
    posted = request.POST.get("form")
    schedule = f.ScheduleForm(request.POST if posted == "schedule" else None)
    add = f.AddInviteeForm(request.POST if posted == "add" else None)
    correction = f.CorrectionForm(request.POST if posted == "correction" else None)
    translation = f.TranslationForm(request.POST if posted == "translation" else None)
    if request.method == "POST":
        action = request.POST.get("form")
        try:
            with transaction.atomic():
                if action == "schedule" and schedule.is_valid():
                    d = schedule.cleaned_data
                    meetings.schedule(meeting, user=request.user, when=f.moment(d["on"], d["at"]), reason=d["reason"])
                    messages.success(request, _("Date saved."))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "add" and add.is_valid():
                    d = add.cleaned_data
                    meetings.add_invitee(meeting, user=request.user, organisation=d["organisation"], name=d["name"],
                                         email=d["email"])  # fmt: skip
                    messages.success(request, _("Added to the invitation list."))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "remove":
                    invitee = get_object_or_404(Invitee, public_id=request.POST.get("invitee"), meeting=meeting)
                    meetings.remove_invitee(invitee, user=request.user, reason=request.POST.get("reason", ""))
                    messages.success(request, _("Taken off the invitation list."))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "invite":
                    sent = meetings.send_invitations(meeting, user=request.user)
                    messages.success(request, _("Invitations sent: %(count)s.") % {"count": sent})
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "correction" and correction.is_valid():
                    d = correction.cleaned_data
                    meetings.request_correction(meeting, user=request.user, document=d["document"], text=d["text"])
                    messages.success(request, _("Your correction has gone to the conference chair."))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "answer":
                    answer = f.AnswerForm(request.POST)
                    correction_id = request.POST.get("correction", "")
                    if not correction_id.isdigit():  # a hand-made form: as a correction that does not exist
                        raise Http404
                    item = get_object_or_404(Correction, pk=int(correction_id), meeting=meeting)
                    if answer.is_valid():
                        meetings.answer_correction(item, user=request.user, accepted=answer.cleaned_data["accepted"] == "yes",
                                                   answer=answer.cleaned_data["answer"])  # fmt: skip
                        messages.success(request, _("Answer saved and sent."))
                    else:
                        messages.error(request, " ".join(e for errs in answer.errors.values() for e in errs))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "translate":
                    meetings.request_translation(meeting, user=request.user)
                    messages.success(request, _("A translation has been asked for."))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "translation" and translation.is_valid():
                    meetings.save_translation(meeting, user=request.user, text=translation.cleaned_data["translation"])
                    messages.success(request, _("Translation saved."))
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
                if action == "share":
                    shared = meetings.share_with_parents(meeting, user=request.user)
                    messages.success(request, _("Reports shared with the parents: %(count)s.") % {"count": shared})
                    return redirect("protection:meeting", meeting_id=meeting.public_id)
        except ValidationError as exc:
            target = {"schedule": schedule, "add": add, "correction": correction, "translation": translation}.get(
                action
            )
            if target is not None:
                _apply(target, exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("protection:meeting", meeting_id=meeting.public_id)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return redirect("protection:meeting", meeting_id=meeting.public_id)
    invitees = list(meeting.invitees.select_related("organisation", "user").order_by("-mandatory", "kind", "pk"))
    mine = [i for i in invitees if i.active and i.organisation_id and i.organisation_id == request.user.organisation_id]
    deadline = None
    if meeting.kind in (MeetingKind.INITIAL, MeetingKind.TRANSFER, MeetingKind.REVIEW, MeetingKind.CORE_GROUP):
        deadline = episode.deadlines.filter(met_on__isnull=True, cancelled_on__isnull=True, kind__in={
            MeetingKind.INITIAL: ["icpc"], MeetingKind.TRANSFER: ["transfer_conference"],
            MeetingKind.REVIEW: ["rcpc_first", "rcpc_next"], MeetingKind.CORE_GROUP: ["core_group_first", "core_group_next"],
        }[meeting.kind]).first()  # fmt: skip
    set_late = bool(
        deadline and meeting.scheduled_for and timezone.localtime(meeting.scheduled_for).date() > deadline.due_on
    )
    story = voice.voice_of(access) if meeting.kind != MeetingKind.STRATEGY else None
    _audit(request, "protection meeting viewed", "protection_meeting", meeting.public_id, kind=meeting.kind)
    forms_ = [x for x in (schedule, add, correction, translation) if x.is_bound]
    windows = {d: meetings.correction_deadline(meeting, d) for d in Document.values}
    return render(request, "protection/meeting.html", {
        "meeting": meeting, "episode": episode, "person": access.person, "access": access, "invitees": invitees,
        "mine": mine, "may_run": may_run, "may_chair": meetings.may_chair(request.user, meeting),
        "may_record": (meetings.may_chair(request.user, meeting) if meeting.kind_enum.is_conference
                       else meetings.is_member(request.user, episode)),
        "schedule": schedule, "add": add, "form_errors": form_errors(forms_[0]) if forms_ else [],
        "deadline": deadline, "set_late": set_late, "voice": story, "age": age_on(access.person.date_of_birth, timezone.localdate()),
        "circulations": {c.document: c for c in meeting.circulations.prefetch_related("deliveries__invitee", "deliveries__outbox")},
        "documents": Document, "challenges": list(meeting.challenges.select_related("organisation")),
        "postponements": list(meeting.postponements.select_related("by")),
        "correction": correction, "translation": translation, "answer_form": f.AnswerForm(),
        "corrections": list(meeting.corrections.select_related("organisation", "requested_by", "answered_by")),
        "correction_open": any(d and d >= timezone.localdate() for d in windows.values()),
        "correction_until": max((d for d in windows.values() if d), default=None),
        "member": meetings.is_member(request.user, episode),
    })  # fmt: skip


def meeting_record(request, meeting_id):
    meeting, access = _meeting(request, meeting_id)
    episode = meeting.episode
    if meeting.is_held:
        return redirect("protection:meeting", meeting_id=meeting.public_id)
    invitees = list(meeting.invitees.filter(removed_at__isnull=True).select_related("organisation"))
    conference = meeting.kind_enum.is_conference
    if conference:
        if not meetings.may_chair(request.user, meeting):
            raise PermissionDenied
        form = f.ConferenceForm(request.POST or None, decisions=meetings.ALLOWED[meeting.kind], invitees=invitees,
                                initial={"language": meeting.language})  # fmt: skip
    else:
        if not meetings.is_member(request.user, episode):
            raise PermissionDenied
        plan = episode.plans.filter(kind=PlanKind.CSPP, ended_on__isnull=True).first()
        orgs = {i.organisation for i in invitees if i.organisation}
        form = f.CoreGroupForm(request.POST or None, organisations=orgs, invitees=invitees,
                               actions=list(plan.actions.select_related("owner_organisation")) if plan else [])  # fmt: skip
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        attended = {int(pk): True for pk in d["attended"]}
        challenges = ([services.ChallengeInput("dissent", d["challenge_by"], d["challenge_text"])]
                      if conference and d["challenge_text"].strip() else [])  # fmt: skip
        try:
            if conference:
                meetings.record_conference(meeting, user=request.user, data=meetings.ConferenceInput(
                    held_at=form.held_at(), format=d["format"], language=d["language"], attended=attended,
                    decision=d["decision"], categories=d["categories"], reasons=d["reasons"], record=d["record"],
                    progress=d["progress"], risk_of_future_harm=d["risk_of_future_harm"],
                    eligible_needs=d["eligible_needs"], contingency=d["contingency"], challenges=challenges))  # fmt: skip
            else:
                meetings.record_core_group(meeting, user=request.user, data=meetings.CoreGroupInput(
                    held_at=form.held_at(), format=d["format"], attended=attended, chaired_by=d["chaired_by"],
                    minuted_by=d["minuted_by"], progress=d["progress"], notes=d["notes"], updates=form.updates(),
                    mid_point_review=d["mid_point_review"], child_participated=d["child_participated"]))  # fmt: skip
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Meeting recorded."))
            return redirect("protection:meeting", meeting_id=meeting.public_id)
    return render(request, "protection/meeting_record.html", {
        "meeting": meeting, "episode": episode, "person": access.person, "form": form,
        "form_errors": form_errors(form), "conference": conference, "decision_values": Decision,
    })  # fmt: skip


def meeting_circulate(request, meeting_id):
    meeting, access = _meeting(request, meeting_id)
    if not meetings.may_run(request.user, meeting.episode):
        raise PermissionDenied
    invitees = list(meeting.invitees.filter(removed_at__isnull=True).select_related("organisation", "user"))
    document = request.POST.get("document") or request.GET.get("document") or Document.DECISIONS
    if document not in Document.values:
        raise Http404
    form = f.CirculateForm(request.POST or None, invitees=[i for i in invitees if i.kind != InviteeKind.AGENCY or not i.organisation_id],
                           initial={"document": document})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            meetings.circulate(meeting, form.cleaned_data["document"], user=request.user, channels=form.channels())
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Sent to everyone invited, including those who did not attend."))
            return redirect("protection:meeting", meeting_id=meeting.public_id)
    return render(request, "protection/circulate.html", {
        "meeting": meeting, "person": access.person, "form": form, "form_errors": form_errors(form),
        "document": Document(document), "invitees": invitees,
    })  # fmt: skip


def agency_report(request, invitee_id):
    invitee = get_object_or_404(
        Invitee.objects.select_related("meeting__episode__child", "organisation"), public_id=invitee_id
    )
    meeting, access = _meeting(request, invitee.meeting.public_id)
    if invitee.organisation_id != request.user.organisation_id:
        raise PermissionDenied
    form = f.ReportForm(request.POST or None, initial={"text": invitee.report_text})
    if _submitted(request, form, lambda d: meetings.submit_report(invitee, user=request.user, text=d["text"]),
                  done=_("Your report is with children's services and the conference chair.")):  # fmt: skip
        return redirect("protection:meeting", meeting_id=meeting.public_id)
    return render(request, "protection/agency_report.html", {
        "meeting": meeting, "invitee": invitee, "person": access.person, "form": form, "form_errors": form_errors(form),
    })  # fmt: skip


# --- the plan ----------------------------------------------------------------------------


def plan_page(request, plan_id):
    plan = get_object_or_404(Plan.objects.select_related("episode__child"), public_id=plan_id)
    episode, access = _episode(request, plan.episode.public_id)
    may_run = meetings.may_run(request.user, episode)
    text_form = f.PlanForm(request.POST if request.POST.get("form") == "plan" else None, initial={
        "worries": plan.worries, "outcomes": plan.outcomes, "child_can_do": plan.child_can_do, "contingency": plan.contingency,
    })  # fmt: skip
    action_form = f.ActionForm(request.POST if request.POST.get("form") == "action" else None)
    if request.method == "POST":
        if not may_run:
            raise PermissionDenied
        try:
            if text_form.is_bound and text_form.is_valid():
                d = text_form.cleaned_data
                plans.save_plan(plan, user=request.user, note=d["note"],
                                text=plans.PlanText(d["worries"], d["outcomes"], d["child_can_do"], d["contingency"]))  # fmt: skip
                messages.success(request, _("Plan saved as a new version."))
                return redirect("protection:plan", plan_id=plan.public_id)
            if action_form.is_bound and action_form.is_valid():
                d = action_form.cleaned_data
                plans.add_action(plan, user=request.user, text=d["text"], owner=d["owner"], owner_name=d["owner_name"],
                                 due_on=d["due_on"])  # fmt: skip
                messages.success(request, _("Action added to the plan."))
                return redirect("protection:plan", plan_id=plan.public_id)
        except ValidationError as exc:
            _apply(text_form if text_form.is_bound else action_form, exc)
    _audit(request, "plan viewed", "protection_plan", plan.public_id, version=plan.version)
    bound = [x for x in (text_form, action_form) if x.is_bound]
    return render(request, "protection/plan.html", {
        "plan": plan, "episode": episode, "person": access.person, "may_run": may_run,
        "actions": list(plan.actions.select_related("owner_organisation").prefetch_related("updates__by")),
        "versions": list(plan.versions.select_related("saved_by").order_by("-number")[:10]),
        "text_form": text_form, "action_form": action_form, "form_errors": form_errors(bound[0]) if bound else [],
        "today": timezone.localdate(), "my_org": request.user.organisation_id,
    })  # fmt: skip


def action_update(request, action_id):
    action = get_object_or_404(
        PlanAction.objects.select_related("plan__episode__child", "owner_organisation"), public_id=action_id
    )
    _episode_found, access = _episode(request, action.plan.episode.public_id)
    if not plans.may_update(request.user, action):
        raise PermissionDenied
    form = f.ActionUpdateForm(request.POST or None, initial={"status": action.status})
    if _submitted(request, form, lambda d: plans.update_action(action, user=request.user, status=d["status"], note=d["note"]),
                  done=_("Progress recorded.")):  # fmt: skip
        return redirect("protection:plan", plan_id=action.plan.public_id)
    return render(request, "protection/action_form.html", {
        "action": action, "person": access.person, "form": form, "form_errors": form_errors(form),
        "updates": list(action.updates.select_related("by")),
    })  # fmt: skip

"""PDF downloads of the process's documents. Thin: check who may have it, render, and deliver
through ``cylch.governance.exports`` (audited, optionally in a password-protected archive).

A reader must be able to open the child's record and be part of the process (children's
services of the child's authority, or an agency invited to a meeting or owning an action);
anything else, absent or forbidden, is a 404 like every page about a person.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone, translation

from cylch.governance.exports import deliver, safe_export_view
from cylch.identity.views import open_person
from cylch.protection import documents
from cylch.protection.meetings import is_member
from cylch.protection.models import Decision, Invitee, InviteeKind, Meeting, MeetingKind, Plan

LETTER_DECISIONS = {Decision.REGISTER, Decision.NOT_REGISTER, Decision.REMAIN, Decision.DEREGISTER}


def _open_episode(request, episode):
    """The episode, for a reader who may open the child and takes part in the process; else 404."""
    open_person(request, episode.child.public_id)
    if not is_member(request.user, episode):
        raise Http404
    return episode


def _language(request) -> str:
    wanted = request.GET.get("lang", "")
    if wanted in documents.LANGUAGES:
        return wanted
    current = translation.get_language() or "en"
    return "cy" if current.startswith("cy") else "en"


def _held_conference(meeting_id) -> Meeting:
    meeting = get_object_or_404(
        Meeting.objects.select_related("episode__child", "episode__organisation", "episode__local_authority", "chair"),
        public_id=meeting_id,
    )
    if not (MeetingKind(meeting.kind).is_conference and meeting.is_held):
        raise Http404
    return meeting


def _respond(request, body: bytes, *, name: str, language: str, object_type: str, object_id, purpose: str,
             detail: dict, back_url: str) -> HttpResponse:  # fmt: skip
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return deliver(request, body=body, fmt="pdf", filename=f"cylch-{name}-{language}-{stamp}.pdf",
                   object_type=object_type, object_id=object_id, purpose=purpose,
                   detail={"language": language, **detail}, back_url=back_url)  # fmt: skip


@safe_export_view
def meeting_record_pdf(request, meeting_id):
    meeting = _held_conference(meeting_id)
    _open_episode(request, meeting.episode)
    language = _language(request)
    body = documents.meeting_record_pdf(meeting, user=request.user, language=language)
    return _respond(request, body, name="conference-record", language=language, object_type="protection_meeting",
                    object_id=meeting.public_id, purpose="conference record exported",
                    detail={"child": str(meeting.episode.child.public_id), "kind": meeting.kind},
                    back_url=reverse("protection:meeting", args=[meeting.public_id]))  # fmt: skip


@safe_export_view
def plan_pdf(request, plan_id):
    plan = get_object_or_404(
        Plan.objects.select_related("episode__child", "episode__organisation", "episode__local_authority",
                                    "episode__social_worker"), public_id=plan_id)  # fmt: skip
    _open_episode(request, plan.episode)
    language = _language(request)
    body = documents.plan_pdf(plan, user=request.user, language=language)
    return _respond(request, body, name="plan", language=language, object_type="protection_plan",
                    object_id=plan.public_id, purpose="protection plan exported",
                    detail={"child": str(plan.episode.child.public_id), "version": plan.version},
                    back_url=reverse("protection:plan", args=[plan.public_id]))  # fmt: skip


@safe_export_view
def decision_letter_pdf(request, meeting_id, invitee_id):
    meeting = _held_conference(meeting_id)
    invitee = get_object_or_404(Invitee.objects.select_related("person"), public_id=invitee_id, meeting=meeting)
    if invitee.kind != InviteeKind.PARENT or meeting.decision not in LETTER_DECISIONS:
        raise Http404
    _open_episode(request, meeting.episode)
    language = _language(request)
    body = documents.decision_letter_pdf(meeting, invitee, user=request.user, language=language)
    return _respond(request, body, name="decision-letter", language=language, object_type="protection_meeting",
                    object_id=meeting.public_id, purpose="decision letter to a parent exported",
                    detail={"child": str(meeting.episode.child.public_id), "invitee": str(invitee.public_id)},
                    back_url=reverse("protection:meeting", args=[meeting.public_id]))  # fmt: skip

"""GET /api/v1/persons/{id}/protection: a child's protection status, plan and next statutory
dates, for the systems of organisations that know the child.

Access is the chronology API's: absent and forbidden are the same 404, and a system reads at
the ``system`` role's levels. A system whose organisation has no standing to the child sees
the process only as existence, which here means nothing at all: 404. The plan's words (what
we are worried about, what needs to change, the actions) come back only where the policy
gives the caller the process in full; dates, owners and statuses always do.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from cylch.access.audit import audit_record, client_ip
from cylch.access.policy import Level
from cylch.access.selectors import PersonNotFound, Viewer, access_person
from cylch.core.api_errors import RequestErrorOut
from cylch.protection.selectors import status_of

router = Router(tags=["protection"])
NOT_AVAILABLE = "No person with that id is available to your organisation."


class Message(Schema):
    detail: str


class RegistrationOut(Schema):
    categories: list[str] = Field(description="physical, emotional, sexual, financial, neglect.")
    since: date
    local_authority: str = Field(description="The local authority's code.")
    local_authority_name: str


class RegisterPeriodOut(Schema):
    registered_on: date
    ended_on: date | None
    end_reason: str | None
    categories: list[str]
    local_authority: str


class ContactOut(Schema):
    organisation: str = Field(description="The children's services organisation's code.")
    organisation_name: str
    social_worker: str | None
    role: str | None
    phone: str | None
    email: str | None


class DeadlineOut(Schema):
    kind: str
    label: str
    due_on: date
    overdue: bool


class ActionOut(Schema):
    id: str
    owner_organisation: str = Field(description="The owning organisation's code.")
    owner_organisation_name: str
    due_on: date
    status: str
    text: str | None = Field(None, description="Only where the caller may read the process in full.")


class PlanOut(Schema):
    id: str
    kind: str
    status: str
    version: int
    next_conference_on: date | None
    worries: str | None = Field(None, description="Only where the caller may read the process in full.")
    outcomes: str | None = Field(None, description="Only where the caller may read the process in full.")
    actions: list[ActionOut]


class MeetingOut(Schema):
    id: str
    kind: str
    scheduled_for: datetime | None


class ProtectionOut(Schema):
    person: str
    on_register: bool
    registration: RegistrationOut | None
    history: list[RegisterPeriodOut]
    stage: str | None = Field(description="The current (or last) episode's stage; empty if never in the process.")
    contact: ContactOut | None
    next_dates: list[DeadlineOut] = Field(description="Open statutory dates, soonest first.")
    plan: PlanOut | None
    upcoming_meetings: list[MeetingOut]


def _plan(plan, *, full: bool) -> dict:
    actions = plan.actions.select_related("owner_organisation").order_by("due_on", "pk")
    return {
        "id": str(plan.public_id),
        "kind": plan.kind,
        "status": plan.status,
        "version": plan.version,
        "next_conference_on": plan.next_conference_on,
        "worries": plan.worries if full else None,
        "outcomes": plan.outcomes if full else None,
        "actions": [
            {
                "id": str(a.public_id),
                "owner_organisation": a.owner_organisation.code,
                "owner_organisation_name": a.owner_organisation.name_en,
                "due_on": a.due_on,
                "status": a.status,
                "text": a.text if full else None,
            }
            for a in actions
        ],
    }


def _contact(episode) -> dict:
    worker, org = episode.social_worker, episode.organisation
    return {
        "organisation": org.code,
        "organisation_name": org.name_en,
        "social_worker": (worker.get_full_name() or worker.username) if worker else None,
        "role": (worker.job_title or str(worker.get_role_display())) if worker else (org.contact_role_en or None),
        "phone": (worker.phone if worker and worker.phone else org.safeguarding_phone) or None,
        "email": (worker.email if worker and worker.email else org.safeguarding_email) or None,
    }


@router.get(
    "/{person_id}/protection",
    response={200: ProtectionOut, 401: Message, 404: Message, 422: RequestErrorOut},
    summary="A child's protection status, plan and next statutory dates (access-checked, audited)",
)
def get_protection(request, person_id: UUID):
    try:
        access = access_person(Viewer.for_system(request.organisation), person_id)
    except PersonNotFound:
        raise HttpError(404, NOT_AVAILABLE) from None
    status = status_of(access.person)
    episode = status.episode
    level = access.level_for(sensitivity="process", organisation_id=episode.organisation_id if episode else None)
    if level == Level.EXISTENCE:
        raise HttpError(404, NOT_AVAILABLE)
    full = level == Level.CONTENT
    today = timezone.localdate()
    reg = status.registration
    body = {
        "person": str(access.person.public_id),
        "on_register": status.on_register,
        "registration": {
            "categories": reg.categories,
            "since": reg.registered_on,
            "local_authority": reg.local_authority.code,
            "local_authority_name": reg.local_authority.name_en,
        }
        if reg
        else None,
        "history": [
            {
                "registered_on": r.registered_on,
                "ended_on": r.ended_on,
                "end_reason": r.end_reason or None,
                "categories": r.categories,
                "local_authority": r.local_authority.code,
            }
            for r in status.history
        ],
        "stage": episode.stage if episode else None,
        "contact": _contact(episode) if episode else None,
        "next_dates": [
            {"kind": d.kind, "label": str(d.get_kind_display()), "due_on": d.due_on, "overdue": d.due_on < today}
            for d in status.deadlines
        ],
        "plan": _plan(status.plan, full=full) if status.plan else None,
        "upcoming_meetings": [
            {"id": str(m.public_id), "kind": m.kind, "scheduled_for": m.scheduled_for} for m in status.next_meetings
        ],
    }
    audit_record(
        action="read",
        actor_label=f"{request.organisation.code} system ({request.api_token.name})",
        organisation_code=request.organisation.code,
        object_type="person",
        object_id=access.person.public_id,
        purpose="protection status read via API",
        ip_address=client_ip(request),
        detail={"on_register": status.on_register, "level": level.value, "dates": len(status.deadlines)},
    )
    return body

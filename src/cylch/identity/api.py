"""GET /api/v1/persons/{id}: one person as the calling organisation may see them."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ninja import Router, Schema
from ninja.errors import HttpError

from cylch.access.audit import audit_record, client_ip
from cylch.access.selectors import PersonNotFound, Viewer, access_person, visible_events
from cylch.core.api_errors import RequestErrorOut

router = Router(tags=["persons"])


class Message(Schema):
    detail: str


class EventOut(Schema):
    id: str
    code: str | None
    occurred_at: datetime
    organisation: str
    level: str
    withheld: bool
    summary: str | None = None
    details: dict | None = None
    recorder_name: str | None = None
    recorder_contact: str | None = None


class PersonOut(Schema):
    id: str
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    nhs_number: str | None
    is_unborn: bool
    relationship: str
    events: list[EventOut]


@router.get(
    "/{person_id}",
    response={200: PersonOut, 401: Message, 404: Message, 422: RequestErrorOut},
    summary="Read a person record (access-checked and audited)",
)
def get_person(request, person_id: UUID):
    viewer = Viewer.for_system(request.organisation)
    try:
        access = access_person(viewer, person_id)
    except PersonNotFound:
        raise HttpError(404, "No person with that id is available to your organisation.") from None
    person = access.person
    events = []
    for view in visible_events(access):
        e = view.event
        row = {
            "id": str(e.public_id),
            "code": None if view.withheld else e.code,
            "occurred_at": e.occurred_at,
            "organisation": e.organisation.code,
            "level": view.level.value,
            "withheld": view.withheld,
        }
        if view.shows_content:
            row.update(
                summary=e.summary, details=e.details, recorder_name=e.recorder_name, recorder_contact=e.recorder_contact
            )
        events.append(row)
    demographics = access.relationship != "none"
    audit_record(
        action="read",
        actor_label=f"{request.organisation.code} system ({request.api_token.name})",
        organisation_code=request.organisation.code,
        object_type="person",
        object_id=person.public_id,
        purpose="person read via API",
        ip_address=client_ip(request),
        detail={"relationship": access.relationship.value},
    )
    return {
        "id": str(person.public_id),
        "given_name": person.given_name if demographics else None,
        "family_name": person.family_name if demographics else None,
        "date_of_birth": person.date_of_birth if demographics else None,
        "nhs_number": (person.nhs_number or None) if demographics else None,
        "is_unborn": person.is_unborn,
        "relationship": access.relationship.value,
        "events": events,
    }

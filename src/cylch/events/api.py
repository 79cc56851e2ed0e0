"""POST /api/v1/events: a batch of events from one organisation's system."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from cylch.core.api_errors import RequestErrorOut
from cylch.core.retry import on_deadlock
from cylch.events.services import BatchRejected, record_event_batch
from cylch.rules.register import register_notices

router = Router(tags=["events"])
MAX_BATCH = 1000
# A field the API does not know is refused, naming it: a misspelt "sensitivty" would otherwise
# leave the event at its code's own class without a word.
STRICT = ConfigDict(extra="forbid")


class SubjectIn(Schema):
    model_config = STRICT

    local_id: str = Field(description="Your system's own id for the person.")
    given_name: str | None = None
    family_name: str | None = None
    other_names: str | None = None
    date_of_birth: str | None = Field(None, description="YYYY-MM-DD")
    sex: str | None = Field(None, description="female, male, other or unknown")
    address_line: str | None = None
    town: str | None = None
    postcode: str | None = None
    nhs_number: str | None = None
    upn: str | None = Field(None, description="Unique pupil number")
    expected_date_of_delivery: str | None = Field(None, description="For an unborn baby, YYYY-MM-DD")


class RecorderIn(Schema):
    model_config = STRICT

    name: str | None = None
    role: str | None = None
    contact: str | None = None


class EventIn(Schema):
    model_config = STRICT

    external_id: str = Field(description="Your system's id for this event; resending it is safe.")
    code: str = Field(description="A code from the concern taxonomy, e.g. health.appointment.was_not_brought")
    occurred_at: str = Field(description="When it happened, ISO 8601 with time zone")
    subject: SubjectIn
    summary: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    sensitivity: str | None = Field(None, description="Leave empty for the code's class, or 'special' to raise it")
    recorder: RecorderIn | None = None


class BatchIn(Schema):
    model_config = STRICT

    events: list[EventIn] = Field(max_length=MAX_BATCH)


class EventResult(Schema):
    item: int
    external_id: str
    id: str
    person_id: str
    status: str = Field(description="created, or unchanged for a resend")


class RegisterNoticeOut(Schema):
    person_id: str
    on_register: bool = Field(description="On a child protection register in Wales.")
    looked_after: bool
    social_worker: str = Field(description="The allocated social worker, or empty when none is allocated.")
    organisation_en: str = Field(description="The social worker's organisation, or the front door to contact.")
    organisation_cy: str
    phone: str
    email: str


class BatchOut(Schema):
    created: int
    unchanged: int
    new_persons: int
    events: list[EventResult]
    register_notices: list[RegisterNoticeOut] = Field(
        description="Each child in the batch who is on the child protection register or looked after, and who "
        "to contact: show it to the practitioner who recorded (the register's purpose). That person has been told."
    )


class ItemError(Schema):
    item: int
    field: str
    message: str


class Message(Schema):
    detail: str


class BatchErrorOut(Schema):
    detail: str
    errors: list[ItemError]


@router.post(
    "",
    response={200: BatchOut, 400: Message, 401: Message, 422: BatchErrorOut | RequestErrorOut},
    summary="Send a batch of events (all or nothing, idempotent)",
)
def post_events(request, batch: BatchIn):
    items = [e.model_dump(exclude_none=True) for e in batch.events]
    for item in items:
        item["subject"] = {k: v for k, v in item["subject"].items() if v not in (None, "")}
    try:
        result = on_deadlock(lambda: record_event_batch(organisation=request.organisation, items=items))
    except BatchRejected as exc:
        return Status(
            422, {"detail": "Nothing was stored: fix these and send the whole batch again.", "errors": exc.errors}
        )
    by_external = {e.external_id: ("created", e) for e in result.created}
    by_external.update({e.external_id: ("unchanged", e) for e in result.unchanged})
    rows, people = [], {}
    for i, item in enumerate(items):
        status, event = by_external[item["external_id"]]
        people[event.person_id] = event.person
        rows.append(
            {
                "item": i,
                "external_id": item["external_id"],
                "id": str(event.public_id),
                "person_id": str(event.person.public_id),
                "status": status,
            }
        )
    return Status(
        200,
        {
            "created": len(result.created),
            "unchanged": len(result.unchanged),
            "new_persons": result.new_persons,
            "events": rows,
            "register_notices": [
                {
                    "person_id": str(people[pk].public_id),
                    "on_register": n.on_register,
                    "looked_after": n.looked_after,
                    "social_worker": n.worker_name,
                    "organisation_en": n.organisation_name_en,
                    "organisation_cy": n.organisation_name_cy,
                    "phone": n.phone,
                    "email": n.email,
                }
                for pk, n in register_notices(list(people.values())).items()
            ],
        },
    )

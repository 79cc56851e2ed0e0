"""GET /api/v1/persons/{id}/chronology and /family: what the calling organisation may see.

A system reads at the ``system`` role's levels (see ``docs/access.md``); withheld entries
come back as withheld, with who to contact, never with their code or content.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from cylch.access.audit import audit_record, client_ip
from cylch.access.selectors import PersonNotFound, Viewer, access_person
from cylch.chronology.family import family_of
from cylch.chronology.selectors import Filters, chronology, member_levels
from cylch.core.api_errors import RequestErrorOut
from cylch.identity.selectors import age_on

router = Router(tags=["chronology"])
MAX_LIMIT = 500


class Message(Schema):
    detail: str


class EntryOut(Schema):
    id: str
    occurred_at: datetime
    person: str | None = Field(description="Person id; empty for an entry about the household as a whole.")
    relationship_to_child: str | None
    organisation: str
    level: str = Field(description="C content, S summary, E withheld (existence only).")
    withheld: bool
    code: str | None = None
    category: str | None = None
    significant: bool = False
    summary: str | None = None
    details: dict | None = None
    recorder_name: str | None = None
    recorder_contact: str | None = None
    contact_role: str
    contact: str


class ChronologyOut(Schema):
    person: str
    whole_family: bool
    count: int = Field(description="Entries after filters, across all pages.")
    withheld: int
    offset: int
    limit: int
    next_offset: int | None
    items: list[EntryOut]


class ChronologyQuery(Schema):
    whole_family: bool = False
    person: UUID | None = None
    organisation: str = ""
    category: str = ""
    significant: bool = False
    since: date | None = None
    until: date | None = None
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=MAX_LIMIT)


class MemberOut(Schema):
    id: str
    relationship_to_child: str
    lives_with_child: bool
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    age: int | None
    is_unborn: bool


class FamilyOut(Schema):
    person: str
    members: list[MemberOut]


def _access(request, person_id, *, family=None):
    try:
        return access_person(Viewer.for_system(request.organisation), person_id, family=family)
    except PersonNotFound:
        raise HttpError(404, "No person with that id is available to your organisation.") from None


def _audit(request, access, purpose: str, detail: dict) -> None:
    audit_record(
        action="read",
        actor_label=f"{request.organisation.code} system ({request.api_token.name})",
        organisation_code=request.organisation.code,
        object_type="person",
        object_id=access.person.public_id,
        purpose=purpose,
        ip_address=client_ip(request),
        detail=detail,
    )


@router.get(
    "/{person_id}/chronology",
    response={200: ChronologyOut, 401: Message, 404: Message, 422: RequestErrorOut},
    summary="A person's chronology, or their whole family's (access-checked, paginated, audited)",
)
def get_chronology(request, person_id: UUID, q: Query[ChronologyQuery]):
    access = _access(request, person_id, family=family_of)
    filters = Filters(
        person=q.person,
        organisation=q.organisation,
        category=q.category,
        significant_only=q.significant,
        since=q.since,
        until=q.until,
    )
    chron = chronology(access, whole_family=q.whole_family, filters=filters)
    page = chron.entries[q.offset : q.offset + q.limit]
    chron.hydrate(page)
    items = []
    for e in page:
        row = {
            "id": str(e.event.public_id),
            "occurred_at": e.occurred_at,
            "person": str(e.member.person.public_id) if e.member else None,
            "relationship_to_child": e.member.role if e.member else None,
            "organisation": e.organisation.code,
            "level": e.level.value,
            "withheld": e.withheld,
            "contact_role": e.contact_role,
            "contact": e.contact,
        }
        if not e.withheld:
            row.update(code=e.event.code, category=e.category, significant=e.significant)
        if e.shows_content:
            row.update(
                summary=e.event.summary,
                details=e.event.details,
                recorder_name=e.event.recorder_name,
                recorder_contact=e.event.recorder_contact,
            )
        items.append(row)
    end = q.offset + len(page)
    _audit(
        request,
        access,
        "chronology read via API",
        {"whole_family": q.whole_family, "offset": q.offset, "returned": len(page), "withheld": chron.withheld},
    )
    return {
        "person": str(access.person.public_id),
        "whole_family": q.whole_family,
        "count": len(chron.entries),
        "withheld": chron.withheld,
        "offset": q.offset,
        "limit": q.limit,
        "next_offset": end if end < len(chron.entries) else None,
        "items": items,
    }


@router.get(
    "/{person_id}/family",
    response={200: FamilyOut, 401: Message, 404: Message, 422: RequestErrorOut},
    summary="Who is in a child's family and how they stand to the child (access-checked, audited)",
)
def get_family(request, person_id: UUID):
    access = _access(request, person_id, family=family_of)
    family = access.family
    accesses = member_levels(access, family, family.members)
    today = timezone.localdate()
    members = []
    for m in family.members:
        shown = accesses[m.person.pk].may_see_demographics or accesses[m.person.pk].relationship != "none"
        members.append(
            {
                "id": str(m.person.public_id),
                "relationship_to_child": m.role,
                "lives_with_child": m.lives_with_child,
                "given_name": m.person.given_name if shown else None,
                "family_name": m.person.family_name if shown else None,
                "date_of_birth": m.person.date_of_birth if shown else None,
                "age": age_on(m.person.date_of_birth, today) if shown else None,
                "is_unborn": m.person.is_unborn,
            }
        )
    _audit(request, access, "family read via API", {"members": len(members)})
    return {"person": str(access.person.public_id), "members": members}

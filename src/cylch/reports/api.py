"""POST /api/v1/reports and GET /api/v1/reports/{reference} for agency systems."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from cylch.access.audit import audit_record, client_ip
from cylch.access.models import LocalAuthority
from cylch.core.api_errors import RequestErrorOut, refuse_not_text
from cylch.reports.models import Channel, Report
from cylch.reports.services import SubjectIn, report_submit

router = Router(tags=["reports"])


class ChildIn(Schema):
    given_name: str = ""
    family_name: str = ""
    date_of_birth: str = Field("", description="YYYY-MM-DD")
    nhs_number: str = ""
    address_line: str = ""
    town: str = ""
    postcode: str = ""


class AdultIn(Schema):
    given_name: str = ""
    family_name: str = ""
    relationship_to_child: str = ""


class ReportIn(Schema):
    external_id: str = Field(description="Your system's id for this report; resending it returns the same report.")
    children: list[ChildIn] = Field(min_length=1, max_length=10)
    adults: list[AdultIn] = Field(default_factory=list, max_length=10)
    concern_codes: list[str] = Field(min_length=1, description="Taxonomy codes, e.g. social_care.neglect.concern")
    what_happened: str
    when_happened: str = ""
    child_words: str = ""
    actions_taken: str = ""
    immediate_danger: bool = False
    local_authority: str | None = Field(None, description="Local authority code when the address is not given")
    language: str = Field("en", description="en or cy: the language of messages back to you")
    maker_name: str = ""
    maker_role: str = ""
    maker_email: str = ""
    maker_phone: str = ""


class ReportOut(Schema):
    reference: str
    status: str
    received_at: datetime
    urgent: bool
    feedback_due_on: date
    outcome: str | None = None
    rationale: str | None = None
    decided_at: datetime | None = None


class Problem(Schema):
    field: str
    message: str


class ReportErrorOut(Schema):
    detail: str
    errors: list[Problem]


class Message(Schema):
    detail: str


def _out(report: Report) -> dict:
    return {
        "reference": report.reference, "status": report.status, "received_at": report.received_at,
        "urgent": report.urgent, "feedback_due_on": report.feedback_due_on, "outcome": report.outcome or None,
        "rationale": report.rationale or None, "decided_at": report.decided_at,
    }  # fmt: skip


@router.post(
    "",
    response={200: ReportOut, 201: ReportOut, 400: Message, 401: Message, 422: ReportErrorOut},
    summary="Make a report (idempotent on external_id)",
)
def post_report(request, body: ReportIn):
    refuse_not_text(body.model_dump(), location="body")
    org = request.organisation
    existing = Report.objects.filter(maker_organisation=org, external_id=body.external_id).first()
    if existing is not None:
        return Status(200, _out(existing))
    la = None
    if body.local_authority:
        la = LocalAuthority.objects.filter(code=body.local_authority).first()
        if la is None:
            return Status(
                422,
                {
                    "detail": "Nothing was stored.",
                    "errors": [
                        {
                            "field": "local_authority",
                            "message": f"Unknown local authority code “{body.local_authority}”.",
                        }
                    ],
                },
            )
    try:
        report = report_submit(
            channel=Channel.API, language=body.language if body.language in {"en", "cy"} else "en",
            children=[SubjectIn(**c.model_dump()) for c in body.children],
            adults=[SubjectIn(role="adult", **a.model_dump()) for a in body.adults],
            concern_codes=body.concern_codes, what_happened=body.what_happened, when_happened=body.when_happened,
            child_words=body.child_words, actions_taken=body.actions_taken, immediate_danger=body.immediate_danger,
            local_authority=la, maker_organisation=org, maker_name=body.maker_name or f"{org.name_en} system",
            maker_role=body.maker_role, maker_email=body.maker_email or org.safeguarding_email, maker_phone=body.maker_phone,
            external_id=body.external_id, ip_address=client_ip(request),
        )  # fmt: skip
    except ValidationError as exc:
        errors = [{"field": k, "message": str(m)} for k, msgs in exc.message_dict.items() for m in msgs]
        return Status(422, {"detail": "Nothing was stored.", "errors": errors})
    return Status(200 if getattr(report, "already_stored", False) else 201, _out(report))


@router.get(
    "/{reference}",
    response={200: ReportOut, 401: Message, 404: Message, 422: RequestErrorOut},
    summary="The status of a report you made",
)
def get_report(request, reference: str):
    refuse_not_text({"reference": reference}, location="path")
    report = Report.objects.filter(reference=reference.upper(), maker_organisation=request.organisation).first()
    if report is None:
        raise HttpError(404, "No report with that reference was made by your organisation.")
    audit_record(action="read", actor_label=f"{request.organisation.code} system", organisation_code=request.organisation.code,
                 object_type="report", object_id=report.reference, purpose="report status via API", ip_address=client_ip(request))  # fmt: skip
    return Status(200, _out(report))

"""POST /api/v1/fhir/Appointment and /api/v1/fhir/Bundle (application/fhir+json)."""

from __future__ import annotations

import json

from django.http import JsonResponse
from ninja import Router

from cylch.events.fhir_intake import Issue, intake_appointment, intake_bundle, operation_outcome

router = Router(tags=["fhir"])
FHIR_JSON = "application/fhir+json"
OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["severity", "code", "diagnostics"],
                "properties": {
                    "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "The FHIR path of the problem.",
                    },
                },
            },
        },
    },
}


def _outcome(description: str) -> dict:
    return {"description": description, "content": {FHIR_JSON: {"schema": OUTCOME}}}


# The handlers answer FHIR themselves (an OperationOutcome as application/fhir+json), so the
# responses are declared here rather than through ninja's ``response=``.
OPENAPI = {
    "requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "required": True},
    "responses": {
        "200": _outcome("Nothing new recorded: already recorded, or not a missed appointment (the issues say which)."),
        "201": _outcome("Recorded."),
        "400": _outcome("The body is not JSON, or not one resource."),
        "401": {
            "description": "No valid bearer token.",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
                }
            },
        },
        "422": _outcome("Nothing recorded: each issue names a problem by its FHIR path."),
    },
}


def _respond(result) -> JsonResponse:
    status = 200 if result.ok else 422
    if result.ok and result.created:
        status = 201
    return JsonResponse(operation_outcome(result.issues), status=status, content_type=FHIR_JSON)


def _body(request):
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, JsonResponse(
            operation_outcome([Issue("", f"The body is not JSON: {exc}", code="structure")]),
            status=400,
            content_type=FHIR_JSON,
        )
    if not isinstance(data, dict):
        return None, JsonResponse(
            operation_outcome([Issue("", "The body must be one FHIR resource.", code="structure")]),
            status=400,
            content_type=FHIR_JSON,
        )
    return data, None


@router.post(
    "/Appointment", summary="A missed appointment (status noshow) as a FHIR R4 Appointment", openapi_extra=OPENAPI
)
def post_appointment(request):
    data, error = _body(request)
    return error or _respond(intake_appointment(organisation=request.organisation, data=data))


@router.post("/Bundle", summary="A FHIR R4 Bundle of Appointments and Patients (all or nothing)", openapi_extra=OPENAPI)
def post_bundle(request):
    data, error = _body(request)
    return error or _respond(intake_bundle(organisation=request.organisation, data=data))

"""POST /api/v1/fhir/Appointment and /api/v1/fhir/Bundle (application/fhir+json)."""

from __future__ import annotations

import json

from django.http import JsonResponse
from ninja import Router

from cylch.events.fhir_intake import Issue, intake_appointment, intake_bundle, operation_outcome

router = Router(tags=["fhir"])
FHIR_JSON = "application/fhir+json"
MAX_DEPTH = 64  # a Bundle of Appointments with contained Patients nests about 10 deep
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
# responses are declared here rather than through ninja's ``response=``. The status codes are
# ints, as ninja's own: a "200" beside ninja's 200 would be one key twice in the JSON.
OPENAPI = {
    "requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "required": True},
    "responses": {
        200: _outcome("Nothing new recorded: already recorded, or not a missed appointment (the issues say which)."),
        201: _outcome("Recorded."),
        400: _outcome("The body is not JSON, or not one resource."),
        401: {
            "description": "No valid bearer token.",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
                }
            },
        },
        422: _outcome("Nothing recorded: each issue names a problem by its FHIR path."),
    },
}


def _respond(result) -> JsonResponse:
    status = 200 if result.ok else 422
    if result.ok and result.created:
        status = 201
    return JsonResponse(operation_outcome(result.issues), status=status, content_type=FHIR_JSON)


def _depth(value) -> int:
    """How deeply lists and objects nest (without recursion, however deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((inner, depth + 1) for inner in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse(message: str) -> JsonResponse:
    return JsonResponse(operation_outcome([Issue("", message, code="structure")]), status=400, content_type=FHIR_JSON)


def _body(request):
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, _refuse(f"The body is not JSON: {exc}")
    except RecursionError:  # the parser gives up on lists and objects nested about 1000 deep
        return None, _refuse(f"The body nests lists and objects more than {MAX_DEPTH} deep: it is not a FHIR resource.")
    if not isinstance(data, dict):
        return None, _refuse("The body must be one FHIR resource.")
    if _depth(data) > MAX_DEPTH:  # the FHIR models and the checks read resources recursively
        return None, _refuse(f"The body nests lists and objects more than {MAX_DEPTH} deep: it is not a FHIR resource.")
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

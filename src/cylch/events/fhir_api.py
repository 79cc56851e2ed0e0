"""POST /api/v1/fhir/Appointment and /api/v1/fhir/Bundle (application/fhir+json)."""

from __future__ import annotations

import json

from django.http import JsonResponse
from ninja import Router

from cylch.events.fhir_intake import Issue, intake_appointment, intake_bundle, operation_outcome

router = Router(tags=["fhir"])
FHIR_JSON = "application/fhir+json"


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


@router.post("/Appointment", summary="A missed appointment (status noshow) as a FHIR R4 Appointment", openapi_extra={
    "requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "required": True}})  # fmt: skip
def post_appointment(request):
    data, error = _body(request)
    return error or _respond(intake_appointment(organisation=request.organisation, data=data))


@router.post("/Bundle", summary="A FHIR R4 Bundle of Appointments and Patients (all or nothing)", openapi_extra={
    "requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "required": True}})  # fmt: skip
def post_bundle(request):
    data, error = _body(request)
    return error or _respond(intake_bundle(organisation=request.organisation, data=data))

"""FHIR R4 intake of missed appointments: an Appointment with status ``noshow``.

Resources are validated with the ``fhir.resources`` models (its R4B package: R4B is R4 with
corrections, and Appointment, Patient and Bundle are unchanged between them). A child's missed
appointment becomes ``health.appointment.was_not_brought``, an adult's
``health.appointment.did_not_attend`` (age on the day). Patients are named by NHS number and
demographics, in a contained Patient, a Patient entry of the same Bundle, or the participant's
identifier. A Bundle is all or nothing; errors come back as an ``OperationOutcome`` whose
``expression`` is the FHIR path of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from cylch.access.models import Organisation
from cylch.core.text import NOT_TEXT, NOT_TEXT_MESSAGE
from cylch.events.models import Source
from cylch.events.services import BatchRejected, record_event_batch
from cylch.identity.models import Person
from cylch.identity.selectors import age_on
from cylch.rules.register import register_notices

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
WNB, DNA = "health.appointment.was_not_brought", "health.appointment.did_not_attend"


@dataclass
class Issue:
    expression: str
    diagnostics: str
    severity: str = "error"
    code: str = "invalid"


@dataclass
class FhirResult:
    items: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    created: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": i.severity,
                "code": i.code,
                "diagnostics": i.diagnostics,
                **({"expression": [i.expression]} if i.expression else {}),
            }
            for i in issues
        ],
    }


def _pydantic_issues(exc: ValidationError, prefix: str) -> list[Issue]:
    out = []
    for err in exc.errors():
        path = prefix
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        out.append(Issue(path, err["msg"]))
    return out


def _is_resource_type(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    try:
        return get_fhir_model_class(name).has_resource_base()
    except (ValueError, KeyError):
        return False


def _pre_model_issues(value: Any, path: str) -> list[Issue]:
    """Every ``resourceType`` that names no FHIR resource, and every string that is not text, by its path.

    fhir.resources raises TypeError or KeyError, not a validation error, for a contained or
    Bundle resource whose ``resourceType`` is not a resource's name, so these are found first.
    A FHIR string may hold a NUL, which PostgreSQL can neither store nor compare (``core.text``).
    """
    issues = []
    if isinstance(value, str) and NOT_TEXT.search(value):
        issues.append(Issue(path, NOT_TEXT_MESSAGE))
    elif isinstance(value, dict):
        if "resourceType" in value and not _is_resource_type(value["resourceType"]):
            shown = f"“{value['resourceType']}”" if isinstance(value["resourceType"], str) else "This"
            issues.append(Issue(f"{path}.resourceType", f"{shown} is not the name of a FHIR resource."))
        for key, inner in value.items():
            issues.extend(_pre_model_issues(inner, f"{path}.{key}"))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            issues.extend(_pre_model_issues(inner, f"{path}[{i}]"))
    return issues


def _patient_fields(patient: Patient) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for ident in patient.identifier or []:
        if ident.system == NHS_SYSTEM and ident.value:
            fields["nhs_number"] = ident.value
    if patient.name:
        name = patient.name[0]
        fields["family_name"] = name.family or ""
        fields["given_name"] = " ".join(g for g in name.given or [] if g)  # FHIR allows a null among them
    if patient.birthDate:
        fields["date_of_birth"] = str(patient.birthDate)
    if patient.gender:
        fields["sex"] = patient.gender if patient.gender in {"female", "male", "other"} else "unknown"
    if patient.address:
        address = patient.address[0]
        fields["postcode"] = address.postalCode or ""
        fields["address_line"] = ", ".join(line for line in address.line or [] if line)
        fields["town"] = address.city or ""
    return {k: v for k, v in fields.items() if v}


def _local_id(patient: Patient, reference: str) -> str | None:
    """The sender's own id for the patient: an identifier of theirs, else a Bundle Patient's id.

    A contained resource's id ("#p") or a urn:uuid only means something inside one message and
    senders reuse them, so they never name a record: two children would become one.
    """
    for ident in patient.identifier or []:
        if ident.value and ident.system != NHS_SYSTEM:
            return ident.value
    if reference.startswith("Patient/") and patient.id:
        return patient.id
    return None


def _known_birth_date(nhs_number: str) -> str | None:
    """The date of birth Cylch already holds for an NHS number (an actor given by identifier only)."""
    born = (
        Person.objects.current().filter(nhs_number=nhs_number).exclude(date_of_birth=None)
        .values_list("date_of_birth", flat=True).first()
    )  # fmt: skip
    return born.isoformat() if born else None


def _appointment_item(appt: Appointment, path: str, patients: dict[str, Patient], result: FhirResult) -> None:
    if appt.status != "noshow":
        result.issues.append(
            Issue(
                f"{path}.status",
                f"Status “{appt.status}”: not a missed appointment, nothing recorded.",
                "information",
                "informational",
            )
        )
        return
    external_id = appt.id or next((i.value for i in appt.identifier or [] if i.value), None)
    if not external_id:
        result.issues.append(
            Issue(f"{path}.identifier", "An Appointment needs an id or identifier, so that sending it again is safe.")
        )
        return
    if appt.start is None:
        result.issues.append(Issue(f"{path}.start", "A missed appointment needs its start time."))
        return
    patient, ref_path, local_id = None, "", None
    for i, participant in enumerate(appt.participant or []):
        actor = participant.actor
        if actor is None:
            continue
        reference = actor.reference or ""
        if reference.startswith("#"):
            patient = next(
                (
                    c
                    for c in appt.contained or []
                    if getattr(c, "id", None) == reference[1:] and c.get_resource_type() == "Patient"
                ),
                None,
            )
        elif reference.startswith("Patient/") or reference.startswith("urn:uuid:"):
            patient = patients.get(reference) or patients.get(reference.split("/")[-1])
        elif actor.identifier is not None and actor.identifier.system == NHS_SYSTEM:
            patient = Patient.model_validate(
                {"resourceType": "Patient", "identifier": [{"system": NHS_SYSTEM, "value": actor.identifier.value}]}
            )
        if patient is not None:
            ref_path = f"{path}.participant[{i}].actor"
            local_id = _local_id(patient, reference)
            break
    if patient is None:
        result.issues.append(
            Issue(
                f"{path}.participant",
                "No patient: reference a contained Patient, a Patient in the Bundle, or give the NHS number as the actor's identifier.",
            )
        )
        return
    if patient.birthDate is not None and len(str(patient.birthDate)) != 10:
        result.issues.append(
            Issue(f"{ref_path}.birthDate", f"birthDate “{patient.birthDate}” is not a full date (YYYY-MM-DD).")
        )
        return
    subject = _patient_fields(patient)
    if not subject.get("nhs_number") and not local_id:
        result.issues.append(Issue(ref_path, "The patient needs an NHS number or an identifier of your own."))
        return
    subject["local_id"] = local_id or f"nhs-{subject['nhs_number']}"
    if "date_of_birth" not in subject and subject.get("nhs_number"):
        known = _known_birth_date(subject["nhs_number"])
        if known:
            subject["date_of_birth"] = known
    day = appt.start.date()
    born = subject.get("date_of_birth")
    age = age_on(date.fromisoformat(born), day) if born else None
    code = WNB if age is not None and age < 18 else DNA
    if age is None:
        result.issues.append(
            Issue(
                ref_path,
                "The patient has no birthDate, so Cylch cannot tell a child's missed appointment (was not brought) from an adult's.",
            )
        )
        return
    kind = appt.appointmentType.text if appt.appointmentType and appt.appointmentType.text else None
    if kind is None and appt.appointmentType and appt.appointmentType.coding:
        kind = appt.appointmentType.coding[0].display or appt.appointmentType.coding[0].code
    details = {"appointment_type": kind} if kind else {}
    result.items.append({
        "external_id": f"fhir:Appointment/{external_id}", "code": code, "occurred_at": appt.start.isoformat(), "subject": subject,
        "summary": appt.description or "", "details": details,
    })  # fmt: skip
    result.paths.append(path)


def _store(organisation: Organisation, result: FhirResult) -> FhirResult:
    if not result.ok or not result.items:
        return result
    try:
        batch = record_event_batch(organisation=organisation, items=result.items, source=Source.FHIR)
    except BatchRejected as exc:
        for e in exc.errors:
            field = e["field"].replace("subject.", "patient.")
            result.issues.append(Issue(f"{result.paths[e['item']]} ({field})", e["message"]))
        return result
    result.created, result.unchanged = len(batch.created), len(batch.unchanged)
    result.issues.append(
        Issue(
            "",
            f"{result.created} missed appointment(s) recorded, {result.unchanged} already recorded.",
            "information",
            "informational",
        )
    )
    # The register's purpose: whoever records about a child on it is told who the social worker is.
    events = [*batch.created, *batch.unchanged]
    path_of = {item["external_id"]: path for item, path in zip(result.items, result.paths, strict=True)}
    notices = register_notices(list({e.person_id: e.person for e in events}.values()))
    told = set()
    for event in events:
        if event.person_id in notices and event.person_id not in told:
            told.add(event.person_id)
            sentence = notices[event.person_id].sentence(event.person.display_name, "en")
            result.issues.append(Issue(path_of[event.external_id], sentence, "information", "informational"))
    return result


def intake_appointment(*, organisation: Organisation, data: dict[str, Any]) -> FhirResult:
    result = FhirResult()
    if data.get("resourceType") != "Appointment":
        result.issues.append(Issue("resourceType", "Send an Appointment resource."))
        return result
    result.issues.extend(_pre_model_issues(data, "Appointment"))
    if result.issues:
        return result
    try:
        appt = Appointment.model_validate(data)
    except ValidationError as exc:
        result.issues.extend(_pydantic_issues(exc, "Appointment"))
        return result
    _appointment_item(appt, "Appointment", {}, result)
    return _store(organisation, result)


def intake_bundle(*, organisation: Organisation, data: dict[str, Any]) -> FhirResult:
    result = FhirResult()
    if data.get("resourceType") != "Bundle":
        result.issues.append(Issue("resourceType", "Send a Bundle resource."))
        return result
    result.issues.extend(_pre_model_issues(data, "Bundle"))
    if result.issues:
        return result
    try:
        bundle = Bundle.model_validate(data)
    except ValidationError as exc:
        result.issues.extend(_pydantic_issues(exc, "Bundle"))
        return result
    patients: dict[str, Patient] = {}
    for entry in bundle.entry or []:
        resource = entry.resource
        if resource is not None and resource.get_resource_type() == "Patient":
            if entry.fullUrl:
                patients[entry.fullUrl] = resource
            if resource.id:
                patients[resource.id] = resource
                patients[f"Patient/{resource.id}"] = resource
    for i, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if resource is not None and resource.get_resource_type() == "Appointment":
            _appointment_item(resource, f"Bundle.entry[{i}].resource", patients, result)
    return _store(organisation, result)

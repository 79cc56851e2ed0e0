"""People's rights (issue 11, item 3): the subject access export and rectification
(docs/governance.md, "People's rights").

**Subject access.** ``subject_access_export(person, user=...)`` gathers everything Cylch holds
about the person (``rights_document``) and hands it over through ``governance.exports`` (one
audit entry with the file's digest; optionally a password-protected archive): a readable PDF
with the structured document inside it as ``subject-access.json``, and the files attached to
reports, or a CSV with one row per field for the redaction review. Cylch has no
data-protection officer role, so the request is answered by a **team manager of the local
authority's children's services** involved with the person: the authority is the controller
that answers requests about a child's safeguarding record, its team managers already see
everything but other organisations' special-category entries, and it is a named, audited
person, not the system administrator (who by design cannot open person records at all).

**Rectification.** ``rectification_record`` corrects an entry because the person asked (UK
GDPR article 16): the organisation that recorded it writes a correction that supersedes it
(``events.services.event_correct``), and a ``Rectification`` says who asked, when and why.
The original stays: everyone who may see the entry sees it marked "Corrected", and
``versions_of`` shows every version with who asked for each correction and why.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.access.policy import Level, Relationship
from cylch.access.roles import CASEWORK_ROLES, OrganisationKind, Role
from cylch.access.selectors import PersonAccess, PersonNotFound, Viewer, access_person
from cylch.events.models import Event
from cylch.events.services import event_correct
from cylch.governance import rights_document
from cylch.governance.exports import ExportFile, csv_bytes, export_file
from cylch.governance.models import Rectification, RequesterRelationship
from cylch.governance.rights_labels import field_label, kind_label, readable

FORMATS = ("pdf", "csv")
MIN_REASON = 10
JSON_NAME = "subject-access.json"
PDF_CSS = Path(__file__).with_name("rights_pdf.css")
CSV_HEADER = ["section", "kind", "id", "date", "title", "third_party", "third_party_reasons", "names",
              "practitioners", "field", "value"]  # fmt: skip


class EntryNotFound(Exception):
    """No such entry about this person, or the viewer may not see it (the same answer)."""


# --- who may do what -------------------------------------------------------------------------------


def may_answer_requests(user: User) -> bool:
    """A team manager of a local authority's children's services."""
    org = user.organisation
    return user.role == Role.TEAM_MANAGER and org is not None and org.kind == OrganisationKind.LA_CHILDRENS_SERVICES


def person_for_rights(user: User, public_id) -> PersonAccess:
    """The person, for someone who answers requests about them: their authority must be involved
    with the person (the same answer, ``PersonNotFound``, otherwise)."""
    access = access_person(Viewer.for_user(user), public_id)
    if not may_answer_requests(user) or access.relationship == Relationship.NONE:
        raise PersonNotFound(public_id)
    return access


def may_rectify(user: User, event: Event) -> bool:
    """The organisation that recorded an entry about a person corrects it (it is its record)."""
    return (
        user.role in CASEWORK_ROLES
        and user.organisation_id is not None
        and user.organisation_id == event.organisation_id
        and event.person_id is not None
    )


# --- subject access --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    """A subject access file ready for ``deliver`` or ``export_file``."""

    body: bytes
    fmt: str
    filename: str
    rows: int
    detail: dict[str, Any]


def _filename(document: rights_document.Document, fmt: str) -> str:
    # No name in it: file names travel in emails and the audit entry.
    return f"cylch-subject-access-{document.person_id[:8]}-{document.made_at:%Y%m%d}.{fmt}"


def _text(value: Any) -> str:
    """A field's value for reading: text as it is, anything structured as indented JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, indent=1)


def _pdf(document: rights_document.Document, attachments: list) -> bytes:
    from weasyprint import CSS, HTML
    from weasyprint import Attachment as Embedded

    data = json.dumps(document.as_dict(), ensure_ascii=False, indent=2)
    # The reader's document: labels and dates in their language (the JSON keeps keys and ISO dates).
    sections = [(k, title, [(i, kind_label(i.kind), readable(i.date),
                             [(field_label(n), _text(readable(v))) for n, v in i.fields.items()]) for i in items])
                for k, title, items in document.sections()]  # fmt: skip
    html = render_to_string(
        "governance/rights/subject_access_pdf.html",
        {"doc": document, "sections": sections, "reasons": rights_document.REASONS, "json_name": JSON_NAME},
    )
    embedded = [Embedded(string=data, name=JSON_NAME, description="The same, as structured data (JSON)")]
    embedded += [
        Embedded(file_obj=io.BytesIO(path.read_bytes()), name=f"documents/{name}") for name, path in attachments
    ]
    return HTML(string=html).write_pdf(attachments=embedded, stylesheets=[CSS(filename=str(PDF_CSS))])


def _attachments(document: rights_document.Document) -> list:
    """(name in the PDF, path) of the report files the document lists that are still on disk."""
    from cylch.reports.attachments import upload_dir
    from cylch.reports.models import Attachment

    pks = [int(i.id.split(":", 1)[1]) for i in document.items if i.kind == "attachment"]
    folder = upload_dir()
    out = []
    for a in Attachment.objects.filter(pk__in=pks).order_by("pk"):
        path = folder / a.stored_name
        if path.is_file():
            out.append((f"{a.pk}-{a.original_name}", path))
    return out


def _csv(document: rights_document.Document) -> bytes:
    rows = []
    for item in document.items:
        for name, value in item.fields.items():
            text = value if isinstance(value, str | int | float | bool) else json.dumps(value, ensure_ascii=False)
            rows.append([item.section, item.kind, item.id, item.date, item.title, "yes" if item.third_party else "no",
                         " ".join(item.reasons), "; ".join(item.names), "; ".join(item.practitioners), name, text])  # fmt: skip
    return csv_bytes([CSV_HEADER, *rows])


def subject_access_file(access: PersonAccess, *, user: User, fmt: str = "pdf") -> Made:
    """Build the document and render it (nothing is recorded yet: the export records it)."""
    if fmt not in FORMATS:
        raise ValidationError({"format": [str(_("Choose PDF or CSV."))]})
    language = (translation.get_language() or user.language or "en")[:2]
    made_by = f"{user.get_full_name() or user.username}, {user.get_role_display()}, {user.organisation.name(language)}"
    document = rights_document.build(access, made_by=made_by, language=language)
    body = _pdf(document, _attachments(document)) if fmt == "pdf" else _csv(document)
    counts: dict[str, int] = {}
    for item in document.items:
        counts[item.section] = counts.get(item.section, 0) + 1
    third = sum(i.third_party for i in document.items)
    detail = {
        "items": len(document.items),
        "third_party_items": third,
        "sections": counts,
        "person": document.person_id,
    }
    return Made(body, fmt, _filename(document, fmt), len(document.items), detail)


def subject_access_export(
    person, *, user: User, fmt: str = "pdf", protect: bool = False, ip_address: str = ""
) -> ExportFile:
    """Everything held about ``person`` as one file, audited by ``governance.exports``
    (``object_type`` "person", purpose "subject access export")."""
    access = person_for_rights(user, person.public_id)
    made = subject_access_file(access, user=user, fmt=fmt)
    return export_file(actor=user, fmt=fmt, filename=made.filename, object_type="person", object_id=person.public_id,
                       purpose="subject access export", body=made.body, row_count=made.rows, detail=made.detail,
                       protect=protect, ip_address=ip_address)  # fmt: skip


# --- rectification -----------------------------------------------------------------------------


def entry_for(access: PersonAccess, event_id) -> Event:
    """An entry about the person (or about someone merged into them), or ``EntryNotFound``."""
    from cylch.identity.models import Person

    ids, frontier = {access.person.pk}, [access.person.pk]
    while frontier:
        frontier = list(Person.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True))
        ids.update(frontier)
    try:
        return Event.objects.select_related("organisation").get(public_id=event_id, person_id__in=ids)
    except (Event.DoesNotExist, ValidationError, ValueError) as exc:
        raise EntryNotFound(event_id) from exc


def latest_version(event: Event) -> Event:
    while True:
        later = Event.objects.filter(supersedes=event).first()
        if later is None:
            return event
        event = later


def rectification_record(
    *,
    event: Event,
    user: User,
    summary: str,
    reason: str,
    requested_by_name: str,
    requester_relationship: str,
    requested_on: date,
    occurred_at: datetime | None = None,
) -> Rectification:
    """Correct an entry because the person asked: a superseding entry with the corrected text
    (and date, if that was wrong), the request beside it, and an audit entry, in one transaction."""
    if not may_rectify(user, event):
        raise PermissionDenied(_("Only the organisation that recorded an entry can correct it."))
    errors: dict[str, list[str]] = {}
    summary, reason, requested_by_name = summary.strip(), reason.strip(), requested_by_name.strip()
    if len(reason) < MIN_REASON:
        errors["reason"] = [str(_("Say what was wrong (10 characters or more)."))]
    if not requested_by_name:
        errors["requested_by_name"] = [str(_("Give the name of the person who asked."))]
    if requester_relationship not in RequesterRelationship.values:
        errors["requester_relationship"] = [str(_("Choose who asked."))]
    if requested_on is None or requested_on > timezone.localdate():
        errors["requested_on"] = [str(_("Give the date the request was received: today or earlier."))]
    if summary == event.summary and (occurred_at is None or occurred_at == event.occurred_at):
        errors["summary"] = [str(_("Change what the entry says, or its date: the correction must differ."))]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        correction = event_correct(original=event, recorded_by=user, summary=summary, occurred_at=occurred_at).event
        rectification = Rectification.objects.create(
            person=event.person, original=event, correction=correction, requested_by_name=requested_by_name[:200],
            requester_relationship=requester_relationship, requested_on=requested_on, reason=reason,
            recorded_by=user, recorded_at=timezone.now(), created_by=user,
        )  # fmt: skip
        audit_record(action="write", actor=user, object_type="rectification", object_id=rectification.public_id,
                     purpose="rectification recorded at the person's request",
                     detail={"person": str(event.person.public_id), "original": str(event.public_id),
                             "correction": str(correction.public_id), "requester": requester_relationship})  # fmt: skip
    return rectification


@dataclass(frozen=True)
class Version:
    """One version of an entry as the viewer may see it, newest first."""

    event: Event
    level: Level
    current: bool
    rectification: Rectification | None  # the request this version answered, if it was one

    @property
    def withheld(self) -> bool:
        return self.level == Level.EXISTENCE

    @property
    def shows_content(self) -> bool:
        return self.level == Level.CONTENT

    @property
    def organisation_name(self) -> str:
        return self.event.organisation.name((translation.get_language() or "en")[:2])


def versions_of(access: PersonAccess, event: Event) -> list[Version]:
    """Every version of the entry, the current one first, each at the level the policy allows
    the viewer; a correction made at the person's request carries who asked and why."""
    head = latest_version(event)
    chain, node = [head], head
    while node.supersedes_id:
        node = Event.objects.select_related("organisation").get(pk=node.supersedes_id)
        chain.append(node)
    asked = {
        r.correction_id: r for r in Rectification.objects.filter(correction__in=chain).select_related("recorded_by")
    }
    out = []
    for e in chain:
        level = access.level_for(sensitivity=e.sensitivity, organisation_id=e.organisation_id)
        out.append(Version(e, level, e.pk == head.pk, asked.get(e.pk)))
    return out

"""Files attached to a report: checked, stored outside the web root, and scanned.

Only photographs and documents practitioners actually send are accepted (PDF, JPEG, PNG, Word
.docx), up to ``MAX_BYTES``; the type is read from the file's first bytes, not trusted from its
name. Files live under ``CYLCH_UPLOAD_DIR`` (default ``var/uploads``), never under a static or
media URL, with random names. ``CYLCH_VIRUS_SCAN_COMMAND`` (for example ``clamdscan
--no-summary``) is run on each file when set: exit 0 clean, 1 infected (the file is deleted and
the upload refused); without it files are marked ``not_scanned``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.reports.models import Attachment, Report

MAX_BYTES = 10 * 1024 * 1024
SIGNATURES = [
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
]


def upload_dir() -> Path:
    path = Path(os.environ.get("CYLCH_UPLOAD_DIR", settings.VAR_DIR / "uploads"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _sniff(head: bytes, name: str) -> tuple[str, str]:
    for magic, content_type, extension in SIGNATURES:
        if head.startswith(magic):
            if extension == ".docx" and not name.lower().endswith(".docx"):
                break  # a zip that does not say it is a Word document
            return content_type, extension
    raise ValidationError({"attachment": [str(_("Attach a PDF, a photo (JPEG or PNG) or a Word document (.docx)."))]})


def _scan(path: Path) -> str:
    command = os.environ.get("CYLCH_VIRUS_SCAN_COMMAND", "").strip()
    if not command:
        return "not_scanned"
    result = subprocess.run([*shlex.split(command), str(path)], capture_output=True, timeout=120, check=False)
    if result.returncode == 0:
        return "clean"
    if result.returncode == 1:
        return "infected"
    return "scan_failed"


def attachment_add(*, report: Report, uploaded, actor=None) -> Attachment:
    """Check, store and scan one uploaded file (a Django ``UploadedFile``)."""
    if uploaded.size > MAX_BYTES:
        raise ValidationError({"attachment": [str(_("Each file must be 10 MB or smaller."))]})
    head = uploaded.read(16)
    uploaded.seek(0)
    content_type, extension = _sniff(head, uploaded.name)
    stored = f"{secrets.token_hex(16)}{extension}"
    path = upload_dir() / stored
    digest = hashlib.sha256()
    with path.open("xb") as out:
        for chunk in uploaded.chunks():
            digest.update(chunk)
            out.write(chunk)
    os.chmod(path, 0o600)
    status = _scan(path)
    if status == "infected":
        path.unlink(missing_ok=True)
        raise ValidationError({"attachment": [str(_("The file was refused: the virus scanner found a problem."))]})
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                report=report, original_name=uploaded.name[:200], stored_name=stored, content_type=content_type,
                size=uploaded.size, sha256=digest.hexdigest(), scan_status=status,
            )  # fmt: skip
            audit_record(action="write", actor=actor, object_type="report", object_id=report.reference, purpose="attachment added",
                         detail={"attachment": stored, "sha256": attachment.sha256, "scan": status})  # fmt: skip
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return attachment

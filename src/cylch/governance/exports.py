"""Safe exports: every file that leaves Cylch (chronologies, documents, data returns, statistics,
reviews) goes through here, so that each one is neutralised, audited and, if asked, encrypted.

1. **Cells are text, not formulas.** A spreadsheet runs a cell that starts with ``=``, ``+``,
   ``-`` or ``@`` (and, in some programs, a tab, a carriage return or whitespace before them) as
   a formula: ``=HYPERLINK(...)`` can send the sheet's data away and ``=cmd|' /C calc'!A0`` once
   ran programs through DDE. Following OWASP's CSV Injection guidance
   (https://owasp.org/www-community/attacks/CSV_Injection) and ASVS 5.0 requirement 1.2.10 (also
   CWE-1236), such a cell is written with a leading single quote, which the spreadsheet shows as
   text; text cells are quoted in CSV so a separator inside them never starts a new cell.
   Full-width (``＝＋－＠``) and small (``﹦﹢﹣﹫``) variants are treated the same, because some
   spreadsheet input methods fold them to ASCII. Numbers, dates and booleans stay what they are.
   In XLSX every text cell is stored as a string (``data_type 's'``), never as a formula.
2. **One audit entry per export**: who, which object, the format, the row count, whether it was
   encrypted, and the SHA-256 of the file that left (and of the export inside an archive).
3. **Optional encryption**: an AES-256 ZIP (WinZip AE-2, via pyzipper) with a random password
   shown to the user once, on a page of its own; it is never in a file name, URL, audit entry,
   log line or the database. The archive waits, encrypted, in ``CYLCH_EXPORT_DIR`` (default
   ``var/exports``) for ``HOLD_SECONDS`` until it is downloaded once by the same user.

Views call ``deliver(request, ...)`` and decorate themselves with ``@safe_export_view``; code
without a request (commands) calls ``export_file(...)``. See docs/governance.md, "Safe exports".
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from cylch.access.audit import audit_record, client_ip
from cylch.access.models import AuditEntry, User

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
}
FORMAT_LABELS = {"pdf": "PDF", "xlsx": _("Spreadsheet (Excel)"), "csv": "CSV", "docx": _("Word document")}

# --- 1. cells ------------------------------------------------------------------------------

# ASCII triggers (OWASP, ASVS 1.2.10: = + - @ tab CR, and NUL), their full-width and small-form
# variants, and LF, which some importers drop like leading whitespace.
TRIGGERS = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
# A plain number written as text ("-2", "+1.5", "-0.123456", "1e-5") is a number to a
# spreadsheet, not a formula: it is left alone, so a negative figure stays a figure.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """``value`` as a spreadsheet should show it: text that would run as a formula gets a
    leading single quote; numbers, dates, booleans and empty cells are returned unchanged."""
    if isinstance(value, Promise):
        value = str(value)
    if not isinstance(value, str) or not value:
        return value
    if value[0] not in TRIGGERS and value.lstrip()[:1] not in TRIGGERS:
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_bytes(
    rows: Sequence[Sequence[Any]], *, bom: bool = True, quote_text: bool = True, lineterminator: str = "\r\n"
) -> bytes:
    """Rows as UTF-8 CSV with every cell neutralised.

    ``quote_text`` quotes every text cell (numbers stay bare), as OWASP advises: a cell
    holding the reader's list separator (``;`` in much of Europe) cannot split into a second
    cell that starts a formula. ``bom`` lets Excel read Welsh letters right.
    """
    out = io.StringIO()
    writer = csv.writer(
        out, quoting=csv.QUOTE_NONNUMERIC if quote_text else csv.QUOTE_MINIMAL, lineterminator=lineterminator
    )
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value).replace(tzinfo=None)  # Excel has no time zones
    return neutralise(value)


def xlsx_append(sheet, values: Sequence[Any]) -> None:
    """Append one neutralised row to an openpyxl worksheet, every text cell stored as a string
    and a date-time in local time."""
    safe = [_xlsx_value(v) for v in values]
    sheet.append(safe)
    if not safe:
        return
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # never "f": openpyxl would otherwise store "=…" as a formula


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "", sheet_name: str = "") -> bytes:
    """A one-sheet workbook: a bold, frozen header and the rows, every cell neutralised;
    ``title`` is the workbook's, ``sheet_name`` the tab's (the title's first 31 characters
    if not given)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = (sheet_name or str(title) or "export")[:31]
    xlsx_append(sheet, header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        xlsx_append(sheet, row)
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    book.properties.title = str(title)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- 3. encryption -------------------------------------------------------------------------

# Lower-case letters and digits without the ones read aloud or written down wrongly (i l o 0 1).
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS, GROUP_LENGTH = 5, 4  # 20 random characters: about 99 bits


def generate_password() -> str:
    """A random password of 20 characters from ``secrets``, in groups of four joined by dashes
    (easier to read out on the phone). WinZip AES stretches passwords only lightly (PBKDF2, 1,000
    rounds), so the password itself must carry the strength."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(PASSWORD_GROUPS))


@sensitive_variables("password")
def encrypt(body: bytes, *, inner_name: str, password: str) -> bytes:
    """``body`` as the one file ``inner_name`` in an AES-256 encrypted ZIP."""
    import pyzipper

    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(password.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        archive.writestr(inner_name, body)
    return out.getvalue()


# --- 2. the export and its audit entry -----------------------------------------------------


@dataclass(frozen=True)
class ExportFile:
    """A file ready to leave: the bytes, their name and type, the entry that records it, and the
    password for an encrypted one (held only until it is shown; kept out of ``repr``)."""

    body: bytes
    filename: str
    content_type: str
    audit: AuditEntry
    password: str | None = field(default=None, repr=False)

    @property
    def encrypted(self) -> bool:
        return self.password is not None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@sensitive_variables("password")
def export_file(
    *,
    actor: User | None,
    fmt: str,
    filename: str,
    object_type: str,
    object_id: Any,
    purpose: str,
    body: bytes | None = None,
    header: Sequence[str] | None = None,
    rows: Sequence[Sequence[Any]] | None = None,
    row_count: int | None = None,
    protect: bool = False,
    title: str = "",
    detail: dict[str, Any] | None = None,
    actor_label: str = "",
    ip_address: str = "",
) -> ExportFile:
    """Make one export safe and record it: the single entry point for every export.

    Give either ``body`` (a file already rendered, for example a PDF; its CSV or XLSX cells
    must have gone through ``csv_bytes`` / ``xlsx_append``) or ``header`` and ``rows`` for a
    CSV or XLSX built here. ``row_count`` is what the audit entry counts (the rows, the
    chronology's entries; ``None`` for a document). With ``protect`` the file is put in an
    AES-256 ZIP under a new password, returned on the result and nowhere else.
    """
    if fmt not in CONTENT_TYPES or fmt == "zip":
        raise ValueError(f"unknown export format {fmt!r}")
    if body is None:
        if rows is None:
            raise ValueError("give the export's body, or its rows")
        if fmt == "csv":
            body = csv_bytes([header, *rows] if header else rows)
        elif fmt == "xlsx":
            body = xlsx_bytes(header or [], rows, title=title)
        else:
            raise ValueError(f"rows can be exported as csv or xlsx, not {fmt!r}")
        row_count = len(rows) if row_count is None else row_count
    content_sha256 = _sha256(body)
    password = None
    delivered, name, content_type = body, filename, CONTENT_TYPES[fmt]
    if protect:
        password = generate_password()
        name = f"{Path(filename).stem}.zip"
        delivered, content_type = encrypt(body, inner_name=filename, password=password), CONTENT_TYPES["zip"]
    entry = audit_record(
        action="export",
        actor=actor,
        actor_label=actor_label,
        object_type=object_type,
        object_id=object_id,
        purpose=purpose,
        ip_address=ip_address,
        detail={
            **(detail or {}),
            "format": fmt,
            "rows": row_count,
            "encrypted": protect,
            "file_name": name,
            "bytes": len(delivered),
            "sha256": _sha256(delivered),
            "content_sha256": content_sha256,
        },
    )
    return ExportFile(body=delivered, filename=name, content_type=content_type, audit=entry, password=password)


def file_response(body: bytes, *, filename: str, content_type: str) -> HttpResponse:
    """A download that no cache keeps."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    patch_cache_control(response, no_store=True, private=True)
    return response


# --- 4. the view helper and the password step ----------------------------------------------

PROTECT = "yes"
HOLD_SECONDS = 10 * 60
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


def protection_requested(request) -> bool:
    """Whether the export form's "Protect with a password" box was ticked."""
    return PROTECT in request.GET.getlist("protect") or PROTECT in request.POST.getlist("protect")


@sensitive_variables("made")
def deliver(request, *, fmt: str, filename: str, object_type: str, object_id: Any, purpose: str,
            body: bytes | None = None, header: Sequence[str] | None = None, rows: Sequence[Sequence[Any]] | None = None,
            row_count: int | None = None, title: str = "", detail: dict[str, Any] | None = None,
            back_url: str = "") -> HttpResponse:  # fmt: skip
    """The response to an export request: the file itself, or, when the user asked for a
    password, the page that shows it once with a button to download the encrypted archive
    (handled by ``@safe_export_view`` on the same view). Arguments as for ``export_file``."""
    made = export_file(
        actor=request.user if request.user.is_authenticated else None,
        ip_address=client_ip(request),
        fmt=fmt,
        filename=filename,
        object_type=object_type,
        object_id=object_id,
        purpose=purpose,
        body=body,
        header=header,
        rows=rows,
        row_count=row_count,
        protect=protection_requested(request),
        title=title,
        detail=detail,
    )
    if not made.encrypted:
        return file_response(made.body, filename=made.filename, content_type=made.content_type)
    token = _hold(made, user=request.user)
    response = render(
        request,
        "governance/export_password.html",
        {
            "password": made.password,
            "token": token,
            "filename": made.filename,
            "size": len(made.body),
            "minutes": HOLD_SECONDS // 60,
            "back_url": back_url,
        },
    )
    patch_cache_control(response, no_store=True, private=True)
    return response


def safe_export_view(view):
    """Let an export view hand over the encrypted archive it made: the password page posts the
    archive's token back to the same address, and this serves it (once, to the same user)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and "archive" in request.POST:
            return collect(request, request.POST["archive"])
        return view(request, *args, **kwargs)

    return wrapper


def export_dir() -> Path:
    """Where encrypted archives wait to be downloaded: private, never under a web root."""
    path = Path(os.environ.get("CYLCH_EXPORT_DIR", settings.VAR_DIR / "exports"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _sweep(folder: Path) -> None:
    """Remove archives nobody downloaded in time."""
    cutoff = time.time() - HOLD_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass  # collected or swept by another request meanwhile


def _hold(made: ExportFile, *, user: User) -> str:
    """Keep the encrypted archive (never the password) for its owner; return its token."""
    folder = export_dir()
    _sweep(folder)
    token = secrets.token_urlsafe(32)
    _write_private(folder / f"{token}.zip", made.body)
    meta = {"user": user.pk, "name": made.filename, "at": time.time(), "audit_seq": made.audit.seq}
    _write_private(folder / f"{token}.json", json.dumps(meta).encode())
    return token


def _claim(token: str, *, user) -> tuple[bytes, str] | None:
    """The archive and its name, removed from the store; ``None`` if it is not this user's,
    was already downloaded, or waited too long (the same answer for each)."""
    if not _TOKEN.fullmatch(token or "") or not getattr(user, "is_authenticated", False):
        return None
    folder = export_dir()
    meta_path, archive = folder / f"{token}.json", folder / f"{token}.zip"
    try:
        meta = json.loads(meta_path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if meta.get("user") != user.pk:
        return None
    claimed = folder / f"{token}.claimed"
    try:
        archive.rename(claimed)  # atomic: of two simultaneous downloads only one gets the file
    except FileNotFoundError:
        return None
    try:
        body = claimed.read_bytes()
    finally:
        claimed.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
    if time.time() - meta.get("at", 0) > HOLD_SECONDS:
        return None
    return body, meta["name"]


def collect(request, token: str) -> HttpResponse:
    """Serve a held archive once; otherwise say plainly that it is gone and what to do."""
    held = _claim(token, user=request.user)
    if held is None:
        return render(request, "governance/export_gone.html", {"minutes": HOLD_SECONDS // 60}, status=410)
    body, name = held
    return file_response(body, filename=name, content_type=CONTENT_TYPES["zip"])


# --- the choice on export forms ------------------------------------------------------------


class ProtectForm(forms.Form):
    """The "Protect with a password" checkbox, for any export form."""

    protect = forms.MultipleChoiceField(
        label=_("Password"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(PROTECT, _("Protect with a password"))],
    )


PROTECT_HINT = _(
    "You get a ZIP file that opens only with a password. Cylch shows you the password once: "
    "send it by a different route from the file."
)


class ExportForm(ProtectForm):
    """An export's choices: format (when there are several), language (for documents), password."""

    format = forms.ChoiceField(label=_("Format"), required=False, widget=forms.RadioSelect)
    lang = forms.ChoiceField(
        label=_("Language"),
        required=False,
        widget=forms.RadioSelect,
        choices=[("en", _("English")), ("cy", _("Welsh")), ("both", _("Both, Welsh first"))],
    )

    def __init__(self, *args, formats: Sequence[str] = (), **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("format", formats[0] if formats else "")
        kwargs["initial"].setdefault("lang", "cy" if (get_language() or "en").startswith("cy") else "en")
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = [(f, FORMAT_LABELS[f]) for f in formats]

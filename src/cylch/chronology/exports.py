"""Chronology exports for conferences and reviews: CSV, XLSX and PDF.

An export holds exactly what the viewer may see (withheld entries stay as withheld lines) and
carries a watermark naming who exported it and when. Cells go through
``cylch.governance.exports`` (no formula runs in a spreadsheet); the view delivers the file
through it too (audited, optionally encrypted).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.models import User
from cylch.access.roles import role_words
from cylch.chronology.selectors import Chronology, Entry
from cylch.governance.exports import CONTENT_TYPES, csv_bytes, xlsx_append

FORMATS = {fmt: CONTENT_TYPES[fmt] for fmt in ("pdf", "xlsx", "csv")}


@dataclass(frozen=True)
class Watermark:
    user: User
    at: datetime

    def text(self) -> str:
        who = self.user.get_full_name() or self.user.username
        org = self.user.organisation.name(get_language() or "en")
        when = formats.date_format(timezone.localtime(self.at), "j F Y H:i")
        return _(
            "Exported from Cylch by %(who)s (%(org)s) on %(when)s. Official – sensitive: "
            "do not share beyond the people who need it for this child."
        ) % {"who": who, "org": org, "when": when}


def _level_label(entry: Entry) -> str:
    return {"C": _("In full"), "S": _("Summary only"), "E": _("Withheld")}[entry.level.value]


def header() -> list[str]:
    return [
        _("Date"),
        _("Person"),
        _("Relationship to the child"),
        _("Category"),
        _("What happened"),
        _("Details"),
        _("Recorded by"),
        _("Organisation"),
        _("Contact"),
        _("Shown"),
        _("Significant"),
    ]


def row(entry: Entry) -> list[str]:
    at = timezone.localtime(entry.occurred_at).strftime("%Y-%m-%d %H:%M")
    person = entry.name
    relation = entry.relation
    contact = f"{entry.contact_role}: {entry.contact}" if entry.contact else entry.contact_role
    if entry.withheld:
        return [
            at,
            person,
            relation,
            "",
            _("Withheld"),
            "",
            "",
            entry.organisation_name,
            contact,
            _level_label(entry),
            "",
        ]
    details = entry.event.summary if entry.shows_content else ""
    recorder = ""
    if entry.shows_content:
        recorder = ", ".join(x for x in [entry.event.recorder_name, role_words(entry.event.recorder_role)] if x)
        contact = entry.event.recorder_contact or contact
    return [
        at,
        person,
        relation,
        entry.category_label,
        entry.label,
        details,
        recorder,
        entry.organisation_name,
        contact,
        _level_label(entry),
        _("Yes") if entry.significant else "",
    ]


def to_csv(chron: Chronology, mark: Watermark) -> bytes:
    chron.hydrate(chron.entries)  # an export holds every entry
    return csv_bytes([[mark.text()], [], header(), *(row(entry) for entry in chron.entries)])


def to_xlsx(chron: Chronology, mark: Watermark, title: str) -> bytes:
    chron.hydrate(chron.entries)
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Chronology")[:31]
    xlsx_append(sheet, [mark.text()])
    sheet["A1"].font = Font(bold=True, color="B10E1E")
    xlsx_append(sheet, [title])
    xlsx_append(sheet, header())
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for entry in chron.entries:
        # The date as a date, so the sheet sorts and filters by it.
        xlsx_append(sheet, [entry.occurred_at, *row(entry)[1:]])
    sheet.freeze_panes = "A4"
    for column, width in zip("ABCDEFGHIJK", [17, 22, 22, 18, 40, 50, 28, 30, 34, 14, 11], strict=True):
        sheet.column_dimensions[column].width = width
        for cell in sheet[column][3:]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet["A"][3:]:
        cell.number_format = "yyyy-mm-dd hh:mm"
    # Printed copies carry the watermark on every page too.
    sheet.oddHeader.center.text = mark.text()
    sheet.oddFooter.right.text = "&P / &N"
    sheet.print_title_rows = "3:3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_pdf(chron: Chronology, mark: Watermark, title: str) -> bytes:
    chron.hydrate(chron.entries)
    from weasyprint import HTML

    html = render_to_string(
        "chronology/export_pdf.html",
        {"chron": chron, "groups": chron.groups, "watermark": mark.text(), "title": title, "rows": chron.entries},
    )
    return HTML(string=html).write_pdf()

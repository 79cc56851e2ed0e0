"""The review report as PDF and as a Word document, in English, Welsh or both (Welsh first).

The same ``report.document`` feeds the page, the PDF and the Word file, so the three never say
different things. The PDF reuses the protection documents' page (watermark, page numbers); the
Word file is plain headings, paragraphs and tables so a board can finish its layout in Word.
"""

from __future__ import annotations

import io

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cylch.access.models import User
from cylch.chronology.exports import Watermark
from cylch.protection.documents import languages
from cylch.reviews.models import Review
from cylch.reviews.report import document

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def report_pdf(review: Review, *, user: User, language: str) -> bytes:
    from weasyprint import HTML

    at = timezone.now()
    mark = Watermark(user, at)
    sections, titles = [], []
    for lang in languages(language):
        with translation.override(lang):
            doc = document(review)
            html = render_to_string(
                "reviews/report/document.html", {"doc": doc, "watermark": mark.text(), "lang": lang}
            )
            sections.append({"lang": lang, "html": html})
            titles.append(doc.title)
    who = user.get_full_name() or user.username
    stamp = f"{who} · {timezone.localtime(at):%d/%m/%Y %H:%M}"
    page = render_to_string(
        "protection/documents/base.html",
        {"sections": sections, "title": " / ".join(titles), "lang": sections[0]["lang"], "stamp": stamp},
    )
    return HTML(string=page).write_pdf()


def report_docx(review: Review, *, user: User, language: str) -> bytes:
    from docx import Document as Docx
    from docx.enum.text import WD_BREAK

    out = Docx()
    mark = Watermark(user, timezone.now())
    for i, lang in enumerate(languages(language)):
        with translation.override(lang):
            doc = document(review)
            if i:
                out.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            out.add_paragraph(mark.text())
            out.add_heading(doc.title, level=0)
            out.add_paragraph(doc.board)
            table = out.add_table(rows=0, cols=2)
            table.style = "Table Grid"
            for label, value in doc.dates:
                cells = table.add_row().cells
                cells[0].text, cells[1].text = str(label), value
            for section in doc.sections:
                out.add_heading(section.title, level=1)
                if section.borrowed:
                    out.add_paragraph(
                        _("Not yet written in Welsh: the English version follows.")
                        if lang == "cy"
                        else _("Not yet written in English: the Welsh version follows.")
                    )
                if section.kind == "text" and section.text:
                    for paragraph in section.text.split("\n\n"):
                        out.add_paragraph(paragraph.strip())
                elif section.rows:
                    grid = out.add_table(rows=1, cols=len(section.headers))
                    grid.style = "Table Grid"
                    for cell, header in zip(grid.rows[0].cells, section.headers, strict=True):
                        cell.text = header
                    for row in section.rows:
                        for cell, value in zip(grid.add_row().cells, row, strict=False):
                            cell.text = value
                else:
                    out.add_paragraph(
                        _("Left out: %(reason)s") % {"reason": section.omitted}
                        if section.omitted
                        else _("Not written yet.")
                    )
            out.add_heading(_("Recommendations"), level=1)
            if doc.recommendations:
                grid = out.add_table(rows=1, cols=5)
                grid.style = "Table Grid"
                heads = [_("Recommendation"), _("Agency"), _("Strategic or operational"), _("Level"), _("Due by")]
                for cell, header in zip(grid.rows[0].cells, heads, strict=True):
                    cell.text = header
                for rec in doc.recommendations:
                    cells = grid.add_row().cells
                    cells[0].text = f"{rec.number}. {rec.shown_text}\n{_('Measure')}: {rec.shown_measure}" + (
                        f"\n{_('Not yet written in Welsh.')}" if rec.borrowed else ""
                    )
                    cells[1].text = rec.owner_agency
                    cells[2].text = str(rec.get_kind_display())
                    cells[3].text = f"{rec.get_level_display()}; {rec.get_urgency_display()}"
                    cells[4].text = rec.due_on.strftime("%d/%m/%Y")
            else:
                out.add_paragraph(_("No recommendations recorded yet."))
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()

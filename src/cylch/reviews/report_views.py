"""The review report's pages: the overview, one section at a time, the merged chronology drawn
from the records, the quality checklist, and the exports. Thin: parse, call, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cylch.core.forms import apply_errors, form_errors
from cylch.governance.exports import deliver, safe_export_view
from cylch.reviews import quality, report, report_export
from cylch.reviews.forms import RationaleForm, SectionForm, posted_rows
from cylch.reviews.scoping import board_scope, review_for

SPARE_ROWS = 3


def _nav(request, rev, active: str) -> dict:
    writable = not rev.completed_on and board_scope(request.user) is not None
    return {"rev": rev, "active": active, "check": quality.assess(rev), "writable": writable}


def overview(request, review_id):
    rev = review_for(request.user, review_id)
    doc = report.document(rev)
    return render(request, "reviews/report/overview.html", {**_nav(request, rev, "report"), "doc": doc})


def section(request, review_id, key):
    rev = review_for(request.user, review_id, write=request.method == "POST")
    try:
        spec = report.section_spec(key)
    except ValidationError:
        raise Http404 from None
    language = "cy" if request.LANGUAGE_CODE.startswith("cy") else "en"
    # Which version is edited: the page's language unless asked (the report is bilingual).
    version = request.POST.get("version") or request.GET.get("version") or language
    if version not in report.LANGUAGES:
        raise Http404
    other = next(lang for lang in report.LANGUAGES if lang != version)
    content = report.report_read(rev).section(key)
    form = SectionForm(
        request.POST or None,
        initial={"text": content.get(report.TEXT_KEY[version], ""), "omitted": content.get("omitted", "")},
    )
    rows = content.get(report.ROWS_KEY[version]) or []
    # A table not yet written in this language starts as a copy of the other version's rows, to
    # translate: dates and ages stay as they are, and nothing is saved until the panel saves.
    copied = not rows and bool(content.get(report.ROWS_KEY[other]))
    rows = rows or content.get(report.ROWS_KEY[other]) or []
    errors: list = []
    if request.method == "POST" and form.is_valid():
        rows = posted_rows(request.POST, len(spec.get("columns", [])))
        copied = False
        try:
            report.section_save(rev, user=request.user, key=key, text=form.cleaned_data["text"], rows=rows,
                                omitted=form.cleaned_data["omitted"], language=version)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
            errors = exc.message_dict.get("rows", []) if hasattr(exc, "error_dict") else exc.messages
        else:
            messages.success(request, _("Section saved."))
            return redirect("reviews:report", review_id=rev.public_id)
    columns = [c["label"][language] for c in spec.get("columns", [])]
    cells = [list(r) + [""] * (len(columns) - len(r)) for r in rows] + [[""] * len(columns) for _i in range(SPARE_ROWS)]
    grid = [list(zip(columns, row, strict=False)) for row in cells]
    return render(request, "reviews/report/section.html", {
        **_nav(request, rev, "report"), "spec": spec, "title": spec["label"][language], "guidance": spec["guidance"][language],
        "form": form, "form_errors": form_errors(form), "row_errors": errors, "columns": columns, "grid": grid,
        "version": version, "other": other, "copied": copied, "other_text": content.get(report.TEXT_KEY[other], ""),
        # Written in the other language, the section is not empty: no reason for leaving it out.
        "other_written": other in report.written_in(content),
    })  # fmt: skip


@require_POST
def chronology_generate(request, review_id):
    rev = review_for(request.user, review_id, write=True)
    try:
        n = report.chronology_generate(rev, user=request.user, replace=request.POST.get("replace") == "1")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("The chronology was drafted from the records: %(n)s entries. Check and edit it.") % {"n": n}
        )
    return redirect("reviews:report", review_id=rev.public_id)


def checklist(request, review_id):
    rev = review_for(request.user, review_id, write=request.method == "POST")
    form = RationaleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            quality.rationale_set(
                rev, user=request.user, item=form.cleaned_data["item"], rationale=form.cleaned_data["rationale"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Checklist updated."))
        return redirect("reviews:quality", review_id=rev.public_id)
    return render(request, "reviews/report/quality.html", _nav(request, rev, "quality"))


EXPORTS = {"pdf": report_export.report_pdf, "docx": report_export.report_docx}


@safe_export_view
def export(request, review_id):
    """The report as PDF or Word, in English, Welsh or both; audited, optionally encrypted."""
    rev = review_for(request.user, review_id)
    fmt = request.GET.get("format") or request.POST.get("format") or "pdf"
    language = request.GET.get("lang") or request.POST.get("lang") or "en"
    if fmt not in EXPORTS or language not in ("en", "cy", "both"):
        raise Http404
    body = EXPORTS[fmt](rev, user=request.user, language=language)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return deliver(request, body=body, fmt=fmt, filename=f"cylch-review-report-{language}-{stamp}.{fmt}",
                   object_type="review", object_id=rev.public_id, purpose="Review report",
                   detail={"what": "review.report.exported", "language": language},
                   back_url=reverse("reviews:report", args=[rev.public_id]))  # fmt: skip

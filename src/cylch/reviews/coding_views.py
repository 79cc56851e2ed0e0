"""Coded-review pages: the board's coded reviews, their details and codes, uploading a published
review, and deciding on the assistant's suggestions. Thin: parse, call ``coded``, render."""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from cylch.core.forms import apply_errors, form_errors
from cylch.reviews import coded
from cylch.reviews.coding import suggest as sg
from cylch.reviews.coding.extract import docx_available
from cylch.reviews.coding_forms import AddCodeForm, CodedReviewForm, UploadForm
from cylch.reviews.models import CodeSuggestion


def coded_list(request):
    area = coded.board_for(request.user)
    return render(request, "reviews/coding/list.html", {"area": area, "rows": coded.coded_reviews(area)})


def coded_add(request):
    area = coded.board_for(request.user)
    form = CodedReviewForm(request.POST or None, lang=coded.language())
    if request.method == "POST" and form.is_valid():
        try:
            review = coded.coded_review_create(user=request.user, board_area=area, details=form.details(),
                                               codes=form.codes())  # fmt: skip
        except ValidationError as exc:
            form.apply(exc)
        else:
            messages.success(request, _("Coded review added."))
            return redirect("reviews:coded", coded_id=review.public_id)
    return render(request, "reviews/coding/edit.html", {"form": form, "form_errors": form_errors(form), "review": None})


def coded_edit(request, coded_id):
    review = coded.coded_review_for(request.user, coded_id)
    form = CodedReviewForm(request.POST or None, lang=coded.language(), initial=CodedReviewForm.initial_for(review))
    if request.method == "POST" and form.is_valid():
        try:
            coded.coded_review_update(review, user=request.user, details=form.details(), codes=form.codes())
        except ValidationError as exc:
            form.apply(exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("reviews:coded", coded_id=review.public_id)
    age = [coded.code_label(c) for c in sorted(review.codes.values_list("code", flat=True))
           if coded.code_group(c) in coded.AGE_GROUPS]  # fmt: skip
    return render(request, "reviews/coding/edit.html", {
        "form": form, "form_errors": form_errors(form), "review": review, "age_bands": age,
        "agreement": coded.agreement_report(review),
    })  # fmt: skip


class _InMemoryUpload(FileUploadHandler):
    """Keeps an uploaded review in memory only (never in a temporary file), up to the limit;
    beyond it the rest is read and dropped, and the true size reported, so the form can say
    the file is too large."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer, self.seen = io.BytesIO(), 0

    def receive_data_chunk(self, raw_data, start):
        self.seen += len(raw_data)
        if self.seen <= coded.MAX_UPLOAD_BYTES:
            self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.buffer.seek(0)
        return InMemoryUploadedFile(self.buffer, self.field_name, self.file_name, self.content_type, self.seen,
                                    self.charset, self.content_type_extra)  # fmt: skip


@csrf_exempt  # only so the upload handler can be set first; the page itself checks CSRF below
def coded_upload(request, coded_id):
    request.upload_handlers = [_InMemoryUpload(request)]
    return _upload(request, coded_id)


@csrf_protect
def _upload(request, coded_id):
    review = coded.coded_review_for(request.user, coded_id)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > coded.MAX_UPLOAD_BYTES:
                raise ValidationError({"file": [coded.too_large()]})
            result = coded.review_upload(review, user=request.user, name=upload.name, data=upload.read(),
                                         public_version=form.cleaned_data["public_version"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _suggested(result))
            return redirect("reviews:coded-suggestions", coded_id=review.public_id)
    return render(request, "reviews/coding/upload.html", {
        "form": form, "form_errors": form_errors(form), "review": review, "model": sg.model_status(),
        "limit": filesizeformat(coded.MAX_UPLOAD_BYTES), "docx": docx_available(),
    })  # fmt: skip


def _suggested(result) -> str:
    """How many codes were suggested, and how: said after each run, since the stored suggestions do not say."""
    count = ngettext("%(n)s code suggested.", "%(n)s codes suggested.", len(result)) % {"n": len(result)}
    if result.embedding_used:
        return f"{count} " + _("They come from the code book's words and from sentence embeddings.")
    return f"{count} " + _("They come from the code book's words only: sentence embeddings were not available.")


def _next_waiting(review) -> str | None:
    """The code of the best suggestion still waiting, where the page goes after a decision."""
    nxt = review.suggestions.filter(decision=CodeSuggestion.Decision.PENDING).order_by("-score", "code").first()
    return nxt.code if nxt else None


@require_http_methods(["GET", "POST"])
def coded_suggestions(request, coded_id):
    review = coded.coded_review_for(request.user, coded_id)
    lang = coded.language()
    present = set(review.codes.values_list("code", flat=True))
    book = sg.load_codebook()
    missing_choices = [
        (c, book.label(c, lang))
        for c in sorted(book.ids - present, key=lambda c: (c.split(".")[0], book.label(c, lang)))
    ]
    add_form = AddCodeForm(request.POST if request.POST.get("action") == "add" else None, choices=missing_choices)
    here = reverse("reviews:coded-suggestions", kwargs={"coded_id": review.public_id})
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action in ("accept", "reject"):
                suggestion = review.suggestions.filter(code=request.POST.get("code", "")).first()
                if suggestion is None:
                    raise Http404
                coded.suggestion_decide(suggestion, user=request.user, accept=action == "accept")
                label = coded.code_label(suggestion.code, lang)
                messages.success(
                    request,
                    (_("Accepted: %(code)s") if action == "accept" else _("Rejected: %(code)s")) % {"code": label},
                )
                nxt = _next_waiting(review)
                return redirect(here + (f"#s-{nxt}" if nxt else "#agreement"))
            if action == "again":
                result = coded.suggestions_refresh(review, user=request.user)
                messages.success(
                    request,
                    _suggested(result),
                )
                return redirect(here)
            if action == "add" and add_form.is_valid():
                coded.code_add(review, user=request.user, code=add_form.cleaned_data["code"],
                               evidence=add_form.cleaned_data["evidence"])  # fmt: skip
                messages.success(
                    request, _("Code added: %(code)s") % {"code": coded.code_label(add_form.cleaned_data["code"], lang)}
                )
                return redirect(here + "#add")
        except ValidationError as exc:
            if action == "add":
                apply_errors(add_form, exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect(here + (f"#s-{request.POST.get('code')}" if request.POST.get("code") else ""))
    suggestions = []
    for s in review.suggestions.select_related("decided_by"):
        supports = [
            {"section": coded.SECTION_LABELS.get(e["section"], e["section"]), "pieces": coded.marked(s.code, e["sentence"]),
             "reasons": coded.reasons_in_words(e["reason"])}
            for e in s.evidence
        ]  # fmt: skip
        suggestions.append({"s": s, "label": book.label(s.code, lang) if s.code in book.ids else s.code,
                            "group": book.groups.get(coded.code_group(s.code), {}).get("label", {}).get(lang, ""),
                            "shown": supports[:3], "more": supports[3:], "coded": s.code in present})  # fmt: skip
    report = coded.agreement_report(review)
    return render(request, "reviews/coding/suggestions.html", {
        "review": review, "suggestions": suggestions, "model": sg.model_status(), "report": report,
        "add_form": add_form, "form_errors": form_errors(add_form),
        "missed": [coded.code_label(c, lang) for c in report.missed],
        "rejected": [coded.code_label(c, lang) for c in report.rejected],
        "decided": report.suggested - report.pending, "next_code": _next_waiting(review),
    })  # fmt: skip

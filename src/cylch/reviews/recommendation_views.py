"""The recommendations tracker's pages: a review's recommendations, one recommendation with its
history, and the tracker across a board (or all of Wales for the national board)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.models import BoardArea
from cylch.core.collation import local_name, sorted_by
from cylch.core.forms import apply_errors, form_errors
from cylch.reviews import quality
from cylch.reviews import recommendations as tracker
from cylch.reviews.forms import RecommendationForm, UpdateForm, WordingForm
from cylch.reviews.models import Recommendation
from cylch.reviews.scoping import board_scope, review_for


def _themes() -> list[tuple[str, str]]:
    from cylch.reviews.coding.suggest import load_codebook

    lang = "cy" if (get_language() or "en").startswith("cy") else "en"
    return [(c.id, c.label[lang]) for c in load_codebook().codes if c.group in ("theme", "finding")]


def for_review(request, review_id):
    rev = review_for(request.user, review_id)
    recs = list(rev.recommendations.all())
    language = "cy" if (get_language() or "en").startswith("cy") else "en"
    for rec in recs:
        rec.shown_text, _measure, rec.borrowed = rec.wording(language)
    return render(request, "reviews/recommendations/for_review.html", {
        "rev": rev, "active": "recommendations", "check": quality.assess(rev), "writable": not rev.completed_on,
        "recs": recs, "today": timezone.localdate(), "themes": dict(_themes()),
    })  # fmt: skip


def new(request, review_id):
    rev = review_for(request.user, review_id, write=True)
    form = RecommendationForm(request.POST or None, themes=_themes())
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            tracker.recommendation_add(rev, user=request.user, text=d["text"], success_measure=d["success_measure"],
                                       owner_agency=d["owner_agency"], kind=d["kind"], level=d["level"],
                                       urgency=d["urgency"], due_on=d["due_on"], themes=d["themes"],
                                       text_cy=d["text_cy"], success_measure_cy=d["success_measure_cy"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Recommendation added."))
            return redirect("reviews:recommendations", review_id=rev.public_id)
    return render(request, "reviews/recommendations/new.html", {
        "rev": rev, "active": "recommendations", "check": quality.assess(rev), "form": form, "form_errors": form_errors(form),
    })  # fmt: skip


def _recommendation(user, rec_id, *, write=False) -> Recommendation:
    area = board_scope(user)
    qs = Recommendation.objects.select_related("review__referral__board_area")
    if area is not None:
        qs = qs.filter(review__referral__board_area=area)
    try:
        rec = qs.get(public_id=rec_id)
    except (Recommendation.DoesNotExist, ValueError):
        raise Http404 from None
    if write and area is None:
        raise Http404
    return rec


def detail(request, rec_id):
    rec = _recommendation(request.user, rec_id, write=request.method == "POST")
    writable = board_scope(request.user) is not None
    wording = request.method == "POST" and request.POST.get("form") == "wording"
    form = UpdateForm(None if wording else request.POST or None, initial={"status": rec.status})
    wording_form = (
        WordingForm(request.POST if wording else None,
                    initial={"text_cy": rec.text_cy, "success_measure_cy": rec.success_measure_cy})
        if writable and not rec.review.completed_on
        else None
    )  # fmt: skip
    if wording and wording_form is not None and wording_form.is_valid():
        try:
            tracker.recommendation_wording(rec, user=request.user, **wording_form.cleaned_data)
        except ValidationError as exc:
            apply_errors(wording_form, exc)
        else:
            messages.success(request, _("The Welsh wording is saved."))
            return redirect("reviews:recommendation", rec_id=rec.public_id)
    elif wording and wording_form is None:
        raise Http404
    if request.method == "POST" and not wording and form.is_valid():
        d = form.cleaned_data
        try:
            tracker.recommendation_update(rec, user=request.user, status=d["status"], note=d["note"],
                                          evidence=d["evidence"], annual_review=d["annual_review"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Update recorded."))
            return redirect("reviews:recommendation", rec_id=rec.public_id)
    language = "cy" if (get_language() or "en").startswith("cy") else "en"
    shown, _measure, borrowed = rec.wording(language)
    shown_lang = "en" if borrowed else language
    other_lang = "en" if shown_lang == "cy" else "cy"
    errors = form_errors(wording_form) if wording and wording_form is not None else form_errors(form)
    return render(request, "reviews/recommendations/detail.html", {
        "rec": rec, "form": form, "form_errors": errors, "updates": rec.updates.select_related("by"),
        "today": timezone.localdate(), "review_due": tracker.annual_review_due_on(rec), "themes": dict(_themes()),
        "writable": writable, "wording_form": wording_form, "shown_text": shown, "shown_lang": shown_lang,
        "other_lang": other_lang, "other_text": rec.text if other_lang == "en" else rec.text_cy,
    })  # fmt: skip


FILTERS = {"open": tracker.open_, "overdue": tracker.overdue}


def board_tracker(request):
    """All recommendations of the board's reviews (all of Wales for the national board)."""
    area = board_scope(request.user)
    qs = tracker.tracked(board_area=area)
    wales = tracker.tracked()
    language = get_language() or "en"
    boards = sorted_by(BoardArea.objects.all(), lambda b: local_name(b, language), language) if area is None else []
    board_code = request.GET.get("board", "")
    if area is None and board_code:
        qs = qs.filter(review__referral__board_area__code=board_code)
    theme = request.GET.get("theme", "")
    show = request.GET.get("show", "open")
    listed = (FILTERS[show](qs) if show in FILTERS else qs).select_related("review__referral").order_by("due_on", "pk")
    if theme:
        # JSON containment is not portable to SQLite: filter the (small) list in Python.
        listed = [r for r in listed if theme in (r.themes or [])]
    page = Paginator(listed, 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    return render(request, "reviews/recommendations/tracker.html", {
        "area": area, "boards": boards, "board_code": board_code, "theme": theme, "show": show, "page": page,
        "themes": _themes(), "theme_names": dict(_themes()), "today": today,
        "overdue": tracker.overdue(qs, today).count(), "open": tracker.open_(qs).count(),
        "annual": tracker.annual_review_due(qs, today),
        # Themes and counts are not about any child: every board sees them across Wales.
        "common": tracker.common_themes(wales, today), "by_board": tracker.by_board(wales, today),
    })  # fmt: skip

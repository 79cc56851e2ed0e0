"""Review pages for a board's review sub-group. Thin: parse, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.core.forms import apply_errors as _apply
from cylch.core.forms import form_errors
from cylch.identity.models import Person
from cylch.reviews import selectors, services
from cylch.reviews.forms import DecisionForm, MilestoneForm, ReferralForm
from cylch.reviews.models import Milestone, Referral
from cylch.reviews.quality import assess
from cylch.reviews.recommendations import overdue, tracked
from cylch.reviews.scoping import board_scope, review_for


def _board(request):
    """The board area the signed-in member of a review sub-group works for (to write)."""
    area = board_scope(request.user)
    if area is None:
        raise PermissionDenied
    return area


def board(request):
    """The board's reviews in progress; the national board sees every board's, to read."""
    area = board_scope(request.user)
    referrals = Referral.objects.select_related("board_area")
    if area is not None:
        referrals = referrals.filter(board_area=area)
    return render(request, "reviews/board.html", {
        "area": area, "waiting": referrals.filter(decided_type=""), "reviews": selectors.in_progress(area),
        "signed_off": selectors.signed_off(area), "warnings": services.warnings(board_area=area),
        "overdue_recommendations": overdue(tracked(board_area=area)).count(), "today": timezone.localdate(),
    })  # fmt: skip


def refer(request):
    area = _board(request)
    form = ReferralForm(request.POST or None, initial={"referred_on": timezone.localdate().strftime("%d/%m/%Y")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        # Only a child who lives or lived in the board's area: another board's children are
        # "not found", the same answer as a reference that does not exist.
        child = (
            Person.objects.filter(public_id=d["child"], memberships__household__local_authority__board_area=area)
            .distinct()
            .first()
            if d["child"]
            else None
        )
        if d["child"] and child is None:
            form.add_error("child", _("No record has that reference."))
        else:
            try:
                referral = services.refer(board_area=area, child=child, incident=d["incident"], incident_on=d["incident_on"],
                                          impairment_identified_on=d["impairment_identified_on"], referred_on=d["referred_on"],
                                          user=request.user, summary=d["summary"],
                                          abuse_or_neglect=d["abuse_or_neglect"])  # fmt: skip
            except ValidationError as exc:
                _apply(form, exc)
            else:
                return redirect("reviews:referral", referral_id=referral.public_id)
    return render(request, "reviews/refer.html", {"form": form, "form_errors": form_errors(form)})


def referral(request, referral_id):
    area = _board(request)
    ref = get_object_or_404(Referral, public_id=referral_id, board_area=area)
    types = [(key, services.type_label(key)) for key in services.config()["types"]]
    form = DecisionForm(request.POST or None, types=types, initial={"review_type": ref.proposed_type})
    if request.method == "POST" and not ref.decided_type and form.is_valid():
        d = form.cleaned_data
        try:
            review = services.decide(ref, user=request.user, review_type=d["review_type"], reasons=d["reasons"],
                                     scope_from=d["scope_from"], scope_rationale=d["scope_rationale"])  # fmt: skip
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Decision recorded. The review's timeline is set."))
            return redirect("reviews:review", review_id=review.public_id)
    return render(request, "reviews/referral.html", {
        "ref": ref, "form": form, "form_errors": form_errors(form), "earlier": services.earlier_referrals(ref),
        "proposed": services.type_label(ref.proposed_type),
        "decided": services.type_label(ref.decided_type) if ref.decided_type else "",
    })  # fmt: skip


def review(request, review_id):
    rev = review_for(request.user, review_id, write=request.method == "POST")
    form = MilestoneForm(request.POST or None, initial={"done_on": timezone.localdate().strftime("%d/%m/%Y")})
    if request.method == "POST":
        try:
            step = Milestone.objects.get(review=rev, public_id=request.POST.get("milestone"))
        except (Milestone.DoesNotExist, ValidationError, ValueError):
            raise Http404 from None
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.record_milestone(step, user=request.user, done_on=d["done_on"], delay_reason=d["delay_reason"],
                                          delay_note=d["delay_note"])  # fmt: skip
            except ValidationError as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("Date recorded."))
                return redirect("reviews:review", review_id=rev.public_id)
    steps = [(m, m.label) for m in rev.milestones.select_related("review")]
    return render(request, "reviews/review.html", {
        "rev": rev, "steps": steps, "form": form, "form_errors": form_errors(form), "today": timezone.localdate(),
        "label": services.type_label(rev.type), "active": "timeline", "check": assess(rev),
        "has_report": bool(services.config()["types"][rev.type].get("report")),
        "waiting": set() if rev.completed_on else services.after_sign_off(rev),
        "writable": board_scope(request.user) is not None,
    })  # fmt: skip

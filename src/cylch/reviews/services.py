"""Referral, the proposed type of review, the chair's decision, and the timeline.

Cylch proposes the review type from the records it holds (TA Introduction): **extended** when
the child was on the child protection register or looked after at any time in the 6 months
before the incident (or before the date impairment was identified), otherwise **concise**. The
board chair decides; the proposal, the decision and the reasons are all kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.access.roles import Role
from cylch.events.models import Event
from cylch.protection.timescales import add_months
from cylch.reviews.models import AbuseOrNeglect, DelayReason, Incident, Milestone, Referral, Review
from cylch.rules.engine import LAC_OFF, LAC_ON, REGISTER_OFF, REGISTER_ON

TYPES_FILE = Path(__file__).with_name("types.yaml")
LOOKBACK_MONTHS = 6
BOARD_ROLES = frozenset({Role.REVIEW_PANEL, Role.BOARD_ANALYST})


@lru_cache(maxsize=1)
def config() -> dict:
    return yaml.safe_load(TYPES_FILE.read_text(encoding="utf-8"))


def type_label(key: str) -> str:
    label = config()["types"][key]["label"]
    return label["cy"] if (get_language() or "en").startswith("cy") else label["en"]


def _after(start: date, span: dict) -> date:
    if "weeks" in span:
        return start + timedelta(weeks=span["weeks"])
    return add_months(start, span["months"])


# --- the proposal --------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    type: str
    reasons: list[str]
    window: tuple[date, date]


def _statuses_in_window(child, start: date, end: date) -> set[str]:
    """Which of "register" and "looked_after" held at any moment from ``start`` to ``end``."""
    tz = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=tz)
    until = datetime.combine(end, time.max, tzinfo=tz)
    kinds = {REGISTER_ON: ("register", True), REGISTER_OFF: ("register", False),
             LAC_ON: ("looked_after", True), LAC_OFF: ("looked_after", False)}  # fmt: skip
    state: dict[str, bool] = {}
    found: set[str] = set()
    for code, at in (
        Event.objects.filter(person=child, code__in=kinds, superseded_by__isnull=True, occurred_at__lte=until)
        .order_by("occurred_at", "pk")
        .values_list("code", "occurred_at")
    ):
        kind, on = kinds[code]
        if at < since:
            state[kind] = on  # as it stood when the window opened
        elif on:
            found.add(kind)  # began during the window
        else:
            if state.get(kind):
                found.add(kind)  # held at the window's start, ended inside it
            state[kind] = False
    found |= {k for k, v in state.items() if v}
    return found


def propose(*, child, incident: str, incident_on: date, impairment_identified_on: date | None = None,
            abuse_or_neglect: str = "") -> Proposal:  # fmt: skip
    """Extended or concise, with the reasons in words; a multi-agency professional forum when
    the criteria of a Child Practice Review are not met (abuse or neglect neither known nor
    suspected). Without a linked child Cylch cannot look, and says so: the proposal is concise
    until the chair knows more."""
    anchor = impairment_identified_on if incident == Incident.IMPAIRMENT and impairment_identified_on else incident_on
    start = add_months(anchor, -LOOKBACK_MONTHS)
    if abuse_or_neglect == AbuseOrNeglect.NO:
        return Proposal("mapf", [_(
            "The criteria for a Child Practice Review are not met: abuse or neglect of the child is neither known nor "
            "suspected. A multi-agency professional forum can still draw out the learning."
        )], (start, anchor))  # fmt: skip
    proposal = _propose_review(child, start, anchor)
    if abuse_or_neglect != AbuseOrNeglect.YES:
        proposal.reasons.append(_(
            "Whether abuse or neglect is known or suspected is not recorded yet. A Child Practice Review needs it; "
            "if it is neither, a multi-agency professional forum is the review to hold."
        ))  # fmt: skip
    return proposal


def _propose_review(child, start: date, anchor: date) -> Proposal:
    """The type of Child Practice Review from the records: extended or concise."""
    if child is None:
        return Proposal("cpr_concise", [_("The child is not linked to a record in Cylch, so their history could not be checked.")],
                        (start, anchor))  # fmt: skip
    found = _statuses_in_window(child, start, anchor)
    window = {"start": start.strftime("%d/%m/%Y"), "end": anchor.strftime("%d/%m/%Y")}
    if found:
        reasons = []
        if "register" in found:
            reasons.append(
                _("On the child protection register at some time in the 6 months before (%(start)s to %(end)s).")
                % window
            )
        if "looked_after" in found:
            reasons.append(_("Looked after at some time in the 6 months before (%(start)s to %(end)s).") % window)
        return Proposal("cpr_extended", reasons, (start, anchor))
    return Proposal(
        "cpr_concise",
        [
            _(
                "Neither on the child protection register nor looked after in the 6 months before (%(start)s to %(end)s)."
            )
            % window
        ],
        (start, anchor),
    )


# --- referral and decision -----------------------------------------------------------------


def refer(*, board_area, child, incident: str, incident_on: date, user: User, referred_on: date | None = None,
          impairment_identified_on: date | None = None, summary: str = "", abuse_or_neglect: str = "") -> Referral:  # fmt: skip
    errors: dict[str, list[str]] = {}
    referred_on = referred_on or timezone.localdate()
    if incident not in Incident.values:
        errors["incident"] = [_("Choose what happened to the child.")]
    if incident_on > timezone.localdate():
        errors["incident_on"] = [_("The incident date cannot be in the future.")]
    if referred_on < incident_on:
        errors["referred_on"] = [_("A referral cannot come before the incident.")]
    if incident == Incident.IMPAIRMENT and impairment_identified_on is None:
        errors["impairment_identified_on"] = [_("Give the date the impairment was identified.")]
    if abuse_or_neglect not in ("", *AbuseOrNeglect.values):
        errors["abuse_or_neglect"] = [_("Say whether abuse or neglect is known or suspected.")]
    if errors:
        raise ValidationError(errors)
    proposal = propose(child=child, incident=incident, incident_on=incident_on,
                       impairment_identified_on=impairment_identified_on, abuse_or_neglect=abuse_or_neglect)  # fmt: skip
    return Referral.objects.create(
        board_area=board_area, child=child, incident=incident, incident_on=incident_on, abuse_or_neglect=abuse_or_neglect,
        impairment_identified_on=impairment_identified_on, referred_on=referred_on, referred_by=user, summary=summary,
        proposed_type=proposal.type, proposal_reasons=proposal.reasons, created_by=user,
    )  # fmt: skip


def earlier_referrals(referral: Referral) -> list[Referral]:
    """Other referrals about the same child: repeat referrals are shown to the chair."""
    if referral.child_id is None:
        return []
    return list(Referral.objects.filter(child_id=referral.child_id).exclude(pk=referral.pk).order_by("referred_on"))


def decide(referral: Referral, *, user: User, review_type: str, reasons: str, scope_from: date,
           scope_rationale: str = "", on: date | None = None) -> Review:  # fmt: skip
    """The board chair's decision, and the review's timeline from the configuration."""
    if (
        user.role not in BOARD_ROLES
        or user.organisation is None
        or user.organisation.board_area_id != referral.board_area_id
    ):
        raise PermissionDenied(_("Only the board's review sub-group decides its referrals."))
    scope = config()["scope"]
    anchor = referral.impairment_identified_on or referral.incident_on
    errors: dict[str, list[str]] = {}
    if referral.decided_type:
        errors["review_type"] = [_("This referral has been decided.")]
    if review_type not in config()["types"]:
        errors["review_type"] = [_("Choose a type of review.")]
    if not reasons.strip():
        errors["reasons"] = [_("Record the reasons for the decision.")]
    if scope_from >= anchor:
        errors["scope_from"] = [_("The review's period must start before the incident.")]
    elif scope_from < add_months(anchor, -scope["maximum_months"]):
        errors["scope_from"] = [
            _("A review looks back at most %(months)s months.") % {"months": scope["maximum_months"]}
        ]
    elif scope_from < add_months(anchor, -scope["normal_months"]) and not scope_rationale.strip():
        errors["scope_rationale"] = [_("Looking back more than %(months)s months needs a recorded rationale.")
                                     % {"months": scope["normal_months"]}]  # fmt: skip
    if errors:
        raise ValidationError(errors)
    on = on or timezone.localdate()
    with transaction.atomic():
        referral.decided_type, referral.decided_by, referral.decided_on = review_type, user, on
        referral.decision_reasons = reasons
        referral.save()
        spec = config()["types"][review_type]
        review = Review.objects.create(
            referral=referral, type=review_type, scope_from=scope_from, scope_rationale=scope_rationale,
            completion_due_on=_after(referral.referred_on, spec["completion"]), created_by=user,
        )  # fmt: skip
        Milestone.objects.bulk_create(
            Milestone(
                review=review,
                step=s["key"],
                position=i,
                due_on=_after(referral.referred_on, s["due"]),
                done_on=on if s["key"] == "decision" else None,
            )
            for i, s in enumerate(spec["steps"])
        )
    return review


def after_sign_off(review: Review) -> set[str]:
    """The steps that follow the sign-off in the review type's configuration (publication, the
    repository, and for a Child Practice Review the notice to Welsh Government)."""
    steps = [s["key"] for s in config()["types"][review.type]["steps"]]
    return set(steps[steps.index("sign_off") + 1 :]) if "sign_off" in steps else set()


def _order_errors(milestone: Milestone, done_on: date) -> dict[str, list[str]]:
    """A date before the referral, or a step that follows the sign-off recorded before it: a
    review cannot be published before the board has signed it off."""
    review = milestone.review
    if done_on < review.referral.referred_on:
        return {"done_on": [_("This is before the referral (%(day)s).") % {"day": _day(review.referral.referred_on)}]}
    if milestone.step not in after_sign_off(review):
        return {}
    signed = review.milestones.filter(step="sign_off").values_list("done_on", flat=True).first()
    if signed is None:
        return {"done_on": [_("Record the sign-off first: this step comes after it.")]}
    if done_on < signed:
        return {"done_on": [_("This step comes after the sign-off on %(day)s.") % {"day": _day(signed)}]}
    return {}


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def record_milestone(
    milestone: Milestone, *, user: User, done_on: date, delay_reason: str = "", delay_note: str = ""
) -> Milestone:
    """A key date reached. Late needs a reason (parallel investigations, reviewer availability...)."""
    if user.role not in BOARD_ROLES:
        raise PermissionDenied(_("Only the review sub-group records the review's dates."))
    errors = {}
    if done_on > timezone.localdate():
        errors["done_on"] = [_("This is in the future.")]
    if done_on > milestone.due_on and delay_reason not in DelayReason.values:
        errors["delay_reason"] = [_("It is later than expected: give the reason for the delay.")]
    if errors:
        raise ValidationError(errors)
    review = milestone.review
    errors.update(_order_errors(milestone, done_on))
    if errors:
        raise ValidationError(errors)
    if milestone.step == "sign_off" and config()["types"][review.type].get("report"):
        from cylch.reviews.quality import check_sign_off

        check_sign_off(review)
    with transaction.atomic():
        milestone.done_on, milestone.delay_reason, milestone.delay_note = done_on, delay_reason, delay_note
        milestone.save()
        if milestone.step == "sign_off":
            Review.objects.filter(pk=milestone.review_id).update(completed_on=done_on)
        audit_record(action="write", actor=user, object_type="review", object_id=review.public_id,
                     detail={"what": "review.milestone", "step": milestone.step, "done_on": done_on.isoformat(), "delay_reason": delay_reason})  # fmt: skip
    return milestone


# --- warnings ------------------------------------------------------------------------------

WARN_DAYS = 14


@dataclass(frozen=True)
class TimelineWarning:
    review: Review
    milestone: Milestone | None
    kind: str  # "due_soon" | "overdue" | "completion_overdue"
    due_on: date


def warnings(*, today: date | None = None, board_area=None) -> list[TimelineWarning]:
    """Every milestone due within 14 days or past due and not done, and every review past its
    completion date: the board-level view of reviews in progress. Publication and the steps
    after the sign-off are warned of once the review is signed off."""
    today = today or timezone.localdate()
    every = Review.objects.select_related("referral")
    if board_area is not None:
        every = every.filter(referral__board_area=board_area)
    reviews = every.filter(completed_on__isnull=True)
    out: list[TimelineWarning] = []
    # A step after the sign-off waits for it (whose own warning says so) until the review is
    # signed off; then publication and the notice still fall due and are warned of.
    for m in (
        Milestone.objects.filter(review__in=every, done_on__isnull=True)
        .filter(Q(due_on__lte=today + timedelta(days=WARN_DAYS)))
        .select_related("review__referral")
        .order_by("due_on", "pk")
    ):
        if (m.review.completed_on is None) == (m.step in after_sign_off(m.review)):
            continue
        out.append(TimelineWarning(m.review, m, "overdue" if m.due_on < today else "due_soon", m.due_on))
    for r in reviews.filter(completion_due_on__lt=today):
        out.append(TimelineWarning(r, None, "completion_overdue", r.completion_due_on))
    return out

"""The minimum-standards checklist (``quality.yaml``; TA section 3 and appendix 7) applied to a
review: each item met, missing, or missing with a stated rationale, a score, and what to fix.

Sign-off waits until nothing is missing without a reason: the TA's recommendation is that an
absence be explained in the report, not that every review look alike (appendix 7.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.reviews.models import Review, ReviewReport
from cylch.reviews.report import is_filled, report_of, report_read, rows_of

CHECKLIST_FILE = Path(__file__).with_name("quality.yaml")
NORMAL_SCOPE_MONTHS = 12

MET, MISSING, EXPLAINED, NOT_DUE = "met", "missing", "explained", "not_due"


@lru_cache(maxsize=1)
def checklist() -> dict:
    return yaml.safe_load(CHECKLIST_FILE.read_text(encoding="utf-8"))


# --- named checks: what "met" means where one filled-in section is not enough ------------------


def _rows(report: ReviewReport, key: str) -> list[list[str]]:
    return rows_of(report.section(key))


def _panel(review: Review, report: ReviewReport) -> bool:
    rows = _rows(report, "panel")
    roles = " ".join(r[0].lower() for r in rows)
    agencies = {r[2].strip().lower() for r in rows if r[2].strip()}
    return (
        bool(rows)
        and ("chair" in roles or "cadeirydd" in roles)
        and len(agencies) >= 2
        and all(r[3].strip() for r in rows)
    )


def _agency_contributions(review: Review, report: ReviewReport) -> bool:
    rows = _rows(report, "agency_involvement")
    return bool(rows) and all(r[0].strip() and r[2].strip() for r in rows)


def _timeline_rationale(review: Review, report: ReviewReport) -> bool:
    from cylch.protection.timescales import add_months

    long = review.scope_from < add_months(review.referral.incident_on, -NORMAL_SCOPE_MONTHS)
    return not long or bool(review.scope_rationale.strip())


def _step_done(review: Review, step: str) -> bool | None:
    """Done, not done, or None when the review type has no such step."""
    for milestone in review.milestones.all():
        if milestone.step == step:
            return milestone.done_on is not None
    return None


def _learning_event(review: Review, report: ReviewReport) -> bool:
    return bool(_step_done(review, "learning_event")) and is_filled(report.section("learning_event"))


def _interim_reflection(review: Review, report: ReviewReport) -> bool | None:
    return _step_done(review, "interim_reflection")  # None: not a step of this type of review


def _recommendations(review: Review, report: ReviewReport) -> bool:
    recs = list(review.recommendations.all())
    return bool(recs) and all(r.text.strip() and r.success_measure.strip() and r.owner_agency.strip() and r.due_on
                              and r.kind and r.level and r.urgency for r in recs)  # fmt: skip


def _signed(review: Review, report: ReviewReport) -> bool:
    rows = _rows(report, "reviewer_statements")
    yes = {"yes", "y", "ie", "do", "oes"}
    roles = " ".join(r[1].lower() for r in rows)
    return (
        bool(rows)
        and ("chair" in roles or "cadeirydd" in roles)
        and all(r[0].strip() and r[3].strip() for r in rows)
        and all(
            r[2].strip().lower() in yes for r in rows if "chair" not in r[1].lower() and "cadeirydd" not in r[1].lower()
        )
    )


def _incident_date(review: Review, report: ReviewReport) -> bool:
    return review.referral.incident_on is not None


def _publication_date(review: Review, report: ReviewReport) -> bool:
    done = _step_done(review, "publication")
    return bool(done if done is not None else _step_done(review, "repository"))


NAMED: dict[str, Callable[[Review, ReviewReport], bool | None]] = {
    "panel": _panel,
    "agency_contributions": _agency_contributions,
    "timeline_rationale": _timeline_rationale,
    "learning_event": _learning_event,
    "interim_reflection": _interim_reflection,
    "recommendations": _recommendations,
    "signed": _signed,
    "incident_date": _incident_date,
    "publication_date": _publication_date,
}


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    source: str
    status: str
    rationale: str = ""


@dataclass(frozen=True)
class Result:
    items: list[Item]

    @property
    def applicable(self) -> list[Item]:
        return [i for i in self.items if i.status != NOT_DUE]

    @property
    def met(self) -> int:
        return sum(1 for i in self.items if i.status == MET)

    @property
    def explained(self) -> int:
        return sum(1 for i in self.items if i.status == EXPLAINED)

    @property
    def to_fix(self) -> list[Item]:
        return [i for i in self.items if i.status == MISSING]

    @property
    def score(self) -> int:
        """Per cent of the applicable items met outright (an explained absence is not a pass)."""
        applicable = len(self.applicable)
        return round(100 * self.met / applicable) if applicable else 100


def _met(spec: dict, review: Review, report: ReviewReport) -> bool | None:
    check = spec["check"]
    if "section" in check:
        return all(is_filled(report.section(k)) for k in check["section"])
    if "any_section" in check:
        return any(is_filled(report.section(k)) for k in check["any_section"])
    return NAMED[check["named"]](review, report)


def assess(review: Review) -> Result:
    report = report_read(review)
    language = "cy" if (get_language() or "en").startswith("cy") else "en"
    items = []
    for spec in checklist()["items"]:
        met = _met(spec, review, report)
        if met is None:
            continue  # the check does not apply to this type of review
        rationale = report.rationales.get(spec["id"], "")
        after = spec.get("after")
        if met:
            status = MET
        elif after and not _step_done(review, after):
            status = NOT_DUE
        elif rationale:
            status = EXPLAINED
        else:
            status = MISSING
        items.append(Item(spec["id"], spec["label"][language], spec["source"][language], status, rationale))
    return Result(items)


@transaction.atomic
def rationale_set(review: Review, *, user: User, item: str, rationale: str) -> None:
    """Record (or clear, with an empty text) why an item is missing from the report."""
    if item not in {i["id"] for i in checklist()["items"]}:
        raise ValidationError({"item": [_("There is no checklist item called %(item)s.") % {"item": item}]})
    if review.completed_on:
        raise ValidationError(_("The review is signed off: its report can no longer be changed."))
    report = ReviewReport.objects.select_for_update().get(pk=report_of(review).pk)
    rationales = dict(report.rationales)
    if rationale.strip():
        rationales[item] = rationale.strip()
    else:
        rationales.pop(item, None)
    report.rationales = rationales
    report.save(update_fields=["rationales", "modified_at"])
    audit_record(action="write", actor=user, object_type="review", object_id=review.public_id,
                 detail={"what": "review.quality.rationale", "item": item, "cleared": not rationale.strip()})  # fmt: skip


def check_sign_off(review: Review) -> None:
    """Refuse sign-off while an item is missing without a stated reason."""
    missing = assess(review).to_fix
    if missing:
        raise ValidationError(
            {
                "done_on": [
                    _("The report cannot be signed off yet. Missing without a reason: %(items)s.")
                    % {"items": "; ".join(i.label for i in missing)}
                ]
            }
        )

"""What governance needs to know about each decision it can hold, and how an approved one is
applied: by calling the owning app's own service with the arguments it was first given, so
an approved decision takes effect exactly as an unheld one would.

The owning apps are imported inside the functions: they import governance to hold a
decision, and governance calls back into them only when one is approved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cylch.governance.models import ApprovalKind, ApprovalRequest


@dataclass(frozen=True)
class Kind:
    """One decision that may need approval. ``field`` is the request's foreign key to the
    record; ``reasons`` the payload key holding the practitioner's own reasons."""

    key: str
    field: str
    reasons: str
    outcome_labels: Callable[[], dict[str, Any]]
    apply: Callable[[ApprovalRequest], None]
    children: Callable[[Any], list]
    local_authority: Callable[[Any], Any]
    url: Callable[[Any], str]
    about: Callable[[Any, str], str]
    conditions: dict[str, Callable[[Any], bool]] = field(default_factory=dict)
    open_label: Any = ""

    def outcome_label(self, value: str) -> str:
        return str(self.outcome_labels().get(value, value))


# --- the front door: no further action on a repeat report ------------------------------------


def _report_outcomes() -> dict[str, Any]:
    from cylch.reports.models import Outcome

    return dict(Outcome.choices)


def _report_apply(request: ApprovalRequest) -> None:
    from cylch.reports.services import report_decide

    p = request.payload
    report_decide(report=request.report, user=request.requested_by, outcome=p["outcome"], rationale=p["rationale"],
                  support_offered=p.get("support_offered", ""), approval=request)  # fmt: skip


def _report_children(report) -> list:
    return [s.person for s in report.subjects.filter(role="child").select_related("person").order_by("pk")]


def _repeat_report(report) -> bool:
    """A report after earlier ones about the child, siblings or household judged below
    threshold in the last 12 months: the triage page's repeat warning (TA 2.1)."""
    from cylch.reports.selectors import triage_history

    return bool(triage_history(report).repeat_warning)


def _report_about(report, language: str) -> str:
    names = ", ".join(s.person.display_name for s in report.subjects.all() if s.role == "child")
    return f"{report.reference} ({names})" if names else report.reference


# --- protection: a section 47 enquiry not substantiated --------------------------------------


def _enquiry_outcomes() -> dict[str, Any]:
    from cylch.protection.models import Enquiry

    return dict(Enquiry.Outcome.choices)


def _enquiry_apply(request: ApprovalRequest) -> None:
    from cylch.protection.services import conclude_enquiry

    p = request.payload
    conclude_enquiry(request.enquiry, user=request.requested_by, outcome=p["outcome"], findings=p["findings"],
                     concluded_on=date.fromisoformat(p["concluded_on"]), child_seen_alone=p.get("child_seen_alone"),
                     approval=request)  # fmt: skip


# --- rules: an alert closed with no action ---------------------------------------------------


def _alert_outcomes() -> dict[str, Any]:
    from cylch.rules.models import AlertOutcome

    return dict(AlertOutcome.choices)


def _alert_apply(request: ApprovalRequest) -> None:
    """Record "no action" and close the alert: nothing further will be done about it, which is
    the closure the manager approved."""
    from cylch.rules.services import alert_close, alert_record_outcome

    p = request.payload
    alert = alert_record_outcome(alert=request.alert, user=request.requested_by, outcome=p["outcome"],
                                 note=p.get("note", ""), approval=request)  # fmt: skip
    alert_close(alert=alert, user=request.requested_by)


def _alert_about(alert, language: str) -> str:
    from cylch.rules.selectors import rule_of

    rule = rule_of(alert)
    title = rule.text("title", language) if rule else alert.rule_id
    names = ", ".join(c.display_name for c in alert.children.all())
    return f"{title} ({names})" if names else title


KINDS: dict[str, Kind] = {
    ApprovalKind.REPORT_NO_FURTHER_ACTION: Kind(
        key=ApprovalKind.REPORT_NO_FURTHER_ACTION,
        field="report",
        reasons="rationale",
        outcome_labels=_report_outcomes,
        apply=_report_apply,
        children=_report_children,
        local_authority=lambda report: report.local_authority,
        url=lambda report: reverse("reports:triage", args=[report.reference]),
        about=_report_about,
        conditions={"repeat_report": _repeat_report},
        open_label=_("Open the report"),
    ),
    ApprovalKind.S47_NOT_SUBSTANTIATED: Kind(
        key=ApprovalKind.S47_NOT_SUBSTANTIATED,
        field="enquiry",
        reasons="findings",
        outcome_labels=_enquiry_outcomes,
        apply=_enquiry_apply,
        children=lambda enquiry: [enquiry.episode.child],
        local_authority=lambda enquiry: enquiry.episode.local_authority,
        url=lambda enquiry: reverse("protection:enquiry", args=[enquiry.episode.public_id]),
        about=lambda enquiry, language: enquiry.episode.child.display_name,
        open_label=_("Open the enquiry"),
    ),
    ApprovalKind.ALERT_NO_ACTION: Kind(
        key=ApprovalKind.ALERT_NO_ACTION,
        field="alert",
        reasons="note",
        outcome_labels=_alert_outcomes,
        apply=_alert_apply,
        children=lambda alert: list(alert.children.order_by("pk")),
        local_authority=lambda alert: alert.local_authority,
        url=lambda alert: reverse("rules:alert", args=[alert.public_id]),
        about=_alert_about,
        open_label=_("Open the alert"),
    ),
}


def kind_of(request_or_key) -> Kind:
    key = request_or_key if isinstance(request_or_key, str) else request_or_key.kind
    return KINDS[key]

"""A second pair of eyes: a decision held back until a manager approves it.

An ``ApprovalRequest`` holds one proposed decision (the arguments the owning app's service
would have been called with) against the record it is about. Nothing in the owning app
changes until a manager approves; approving calls the owning service with those arguments,
so the decision takes effect exactly as if it had not been held, and only then.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel


class ApprovalKind(models.TextChoices):
    REPORT_NO_FURTHER_ACTION = "report_no_further_action", _("No further action on a repeat report")
    S47_NOT_SUBSTANTIATED = "section_47_not_substantiated", _("Section 47 enquiry: not substantiated")
    ALERT_NO_ACTION = "alert_no_action", _("Alert closed with no action")


class ApprovalState(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ApprovalRequest(BaseModel):
    kind = models.CharField(max_length=40, choices=ApprovalKind.choices)
    # The record the decision is about: exactly one, by the kind (a constraint says so).
    report = models.ForeignKey(
        "reports.Report", null=True, blank=True, on_delete=models.PROTECT, related_name="approval_requests"
    )
    enquiry = models.ForeignKey(
        "protection.Enquiry", null=True, blank=True, on_delete=models.PROTECT, related_name="approval_requests"
    )
    alert = models.ForeignKey(
        "rules.Alert", null=True, blank=True, on_delete=models.PROTECT, related_name="approval_requests"
    )
    organisation = models.ForeignKey(
        "access.Organisation",
        on_delete=models.PROTECT,
        related_name="approval_requests",
        help_text="The team whose managers approve: the requester's, or the local authority's front door "
        "when the requester's organisation has no other team manager.",
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals_asked")
    requested_at = models.DateTimeField()
    outcome = models.CharField(max_length=40, help_text="The proposed outcome, as the owning app names it.")
    payload = models.JSONField(help_text="The arguments the owning service is called with when approved.")
    state = models.CharField(max_length=10, choices=ApprovalState.choices, default=ApprovalState.PENDING)
    due_at = models.DateTimeField(help_text="After this the team's managers are told it is overdue, once.")
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="approvals_decided"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reasons = models.TextField(blank=True, help_text="Required to return a decision; a note when approving.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(report__isnull=False, enquiry__isnull=True, alert__isnull=True)
                    | Q(report__isnull=True, enquiry__isnull=False, alert__isnull=True)
                    | Q(report__isnull=True, enquiry__isnull=True, alert__isnull=False)
                ),
                name="approval_holds_one_record",
            ),
            models.UniqueConstraint(
                fields=["report"], condition=Q(state="pending"), name="approval_one_pending_report"
            ),
            models.UniqueConstraint(
                fields=["enquiry"], condition=Q(state="pending"), name="approval_one_pending_enquiry"
            ),
            models.UniqueConstraint(fields=["alert"], condition=Q(state="pending"), name="approval_one_pending_alert"),
        ]
        indexes = [
            models.Index(fields=["organisation", "state"]),
            models.Index(fields=["state", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.state})"

    @property
    def target(self):
        """The record held back."""
        return self.report or self.enquiry or self.alert

    @property
    def is_pending(self) -> bool:
        return self.state == ApprovalState.PENDING

    @property
    def outcome_label(self) -> str:
        """The proposed outcome in the reader's language, as the owning app labels it."""
        from cylch.governance.kinds import KINDS

        return KINDS[self.kind].outcome_label(self.outcome)

"""Alerts raised by rules, who they went to, what happened, and lead-coordinator proposals.

An alert is keyed on (rule, scope): while one is open, new evidence joins it instead of
raising another. Every change is an ``AlertStep``, so the history is never rewritten.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Severity(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", pgettext_lazy("alert severity", "High")
    MEDIUM = "medium", pgettext_lazy("alert severity", "Medium")
    LOW = "low", pgettext_lazy("alert severity", "Low")


SEVERITY_ORDER = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


class AlertStatus(models.TextChoices):
    RAISED = "raised", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTIONED = "actioned", _("Action recorded")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED, AlertStatus.ACTIONED)


class AlertOutcome(models.TextChoices):
    REPORT_MADE = "report_made", _("Report made to children's services")
    MULTI_AGENCY_MEETING = "multi_agency_meeting", _("Multi-agency meeting arranged")
    EARLY_HELP = "early_help", _("Early help or support offered to the family")
    PLAN_CHANGED = "plan_changed", _("Plan or visits changed")
    ALREADY_IN_HAND = "already_in_hand", _("Already known and in hand")
    NO_ACTION = "no_action", _("Looked at: no action needed")


class Alert(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule_id = models.CharField(max_length=60)
    pack = models.CharField(max_length=80, help_text="The pack and version the rule came from, e.g. wales@2026.1.")
    scope_key = models.CharField(
        max_length=200, help_text="Whose records the rule read, with the rule id the dedupe key."
    )
    household = models.ForeignKey(
        "identity.Household", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    children = models.ManyToManyField("identity.Person", related_name="alerts")
    local_authority = models.ForeignKey(
        "access.LocalAuthority", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=15, choices=AlertStatus.choices, default=AlertStatus.RAISED)
    counts = models.JSONField(default=list, blank=True, help_text="What each condition found when it last fired.")
    raised_at = models.DateTimeField()
    evidence_updated_at = models.DateTimeField()
    acknowledge_by = models.DateTimeField()
    owner_organisation = models.ForeignKey(
        "access.Organisation", on_delete=models.PROTECT, related_name="owned_alerts",
        help_text="Whoever must acknowledge it: the lead coordinator's, social worker's or front door's organisation.",
    )  # fmt: skip
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_alerts"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actioned_at = models.DateTimeField(null=True, blank=True)
    actioned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=30, choices=AlertOutcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule_id", "scope_key"],
                condition=Q(status__in=["raised", "acknowledged", "actioned"]),
                name="alert_one_open_per_rule_scope",
            )
        ]
        indexes = [
            models.Index(fields=["rule_id", "scope_key"]),
            models.Index(fields=["status", "acknowledge_by"]),
            models.Index(fields=["owner_organisation", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.scope_key} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class AlertEvidence(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="evidence")
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="alert_evidence")
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "event"], name="alert_evidence_unique")]

    def __str__(self) -> str:
        return f"{self.alert_id}: event {self.event_id}"


class AlertRecipient(models.Model):
    """Someone the alert went to, and why (their part: lead coordinator, GP, school...)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="recipients")
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    part = models.CharField(max_length=30)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "organisation", "user", "part"], name="alert_recipient_unique")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} to {self.organisation_id}/{self.user_id} as {self.part}"


class AlertStep(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="steps")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=30)
    note = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", _("Waiting for a manager")
    CONFIRMED = "confirmed", _("Confirmed")
    DECLINED = "declined", _("Not confirmed")
    WITHDRAWN = "withdrawn", _("Withdrawn: the child moved to another local authority")


class LeadCoordinatorProposal(models.Model):
    """Cylch's suggestion of who should coordinate for a child, for a manager to confirm."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="lead_proposals")
    organisation = models.ForeignKey("access.Organisation", on_delete=models.PROTECT, related_name="+")
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    local_authority = models.ForeignKey(
        "access.LocalAuthority", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=40, help_text="Which step of the documented rule chose them.")
    organisations_involved = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=Q(status="proposed"), name="one_open_lead_proposal_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"lead coordinator for {self.person_id}: {self.organisation_id} ({self.status})"

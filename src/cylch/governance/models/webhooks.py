"""Outbound webhooks: an organisation's system told of changes about the children it knows.

A ``Subscription`` is one receiving address of one organisation, for some of a fixed list of
kinds. A ``Delivery`` is one message to it, written in the same transaction as the change it
reports (so it commits or rolls back with it) and sent later by ``cylch worker``: the delivery
table is the webhooks' outbox. Every try is a ``DeliveryAttempt``. What is sent, and how it is
signed, is ``cylch.governance.webhooks`` (docs/governance.md, "Webhooks").
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cylch.core.models import BaseModel

__all__ = ["Delivery", "DeliveryAttempt", "DeliveryState", "Subscription", "WebhookKind"]


class WebhookKind(models.TextChoices):
    REGISTRATION = "registration", _("Child placed on the child protection register")
    DEREGISTRATION = "deregistration", _("Child removed from the child protection register")
    CONFERENCE_ARRANGED = "conference_arranged", _("Child protection conference arranged (invitations sent)")
    CONFERENCE_HELD = "conference_held", _("Child protection conference held")
    PLAN_AGREED = "plan_agreed", _("Care and support protection plan agreed")
    ALERT_RAISED = "alert_raised", _("Alert about a child sent to your organisation")


class Subscription(BaseModel):
    organisation = models.ForeignKey(
        "access.Organisation", on_delete=models.PROTECT, related_name="webhook_subscriptions"
    )
    name = models.CharField(max_length=120, help_text="The receiving system, e.g. 'School information system'.")
    url = models.CharField(
        max_length=500,
        help_text="Where deliveries are posted. HTTPS to a public address, except on a demo or test hub.",
    )
    kinds = models.JSONField(default=list, help_text="The WebhookKind values it receives; at least one.")
    secret_box = models.TextField(
        help_text="The signing secret, encrypted with AES-256-GCM under a key derived from SECRET_KEY "
        "(the hub must be able to sign, so it cannot keep only a hash)."
    )
    secret_hint = models.CharField(max_length=8, help_text="The secret's last four characters, to tell secrets apart.")
    active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when a delivery is given up and the organisation is told (once); cleared by the "
        "next delivery that arrives.",
    )

    class Meta:
        indexes = [models.Index(fields=["organisation", "active"])]

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.name} ({'active' if self.active else 'off'})"

    @property
    def kind_labels(self) -> list[str]:
        return [str(WebhookKind(k).label) for k in self.kinds if k in WebhookKind.values]


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Waiting to send")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Gave up")
    CANCELLED = "cancelled", _("Not sent: subscription switched off")


class Delivery(models.Model):
    """One message to one subscription. Its ``public_id`` is the ``Cylch-Delivery`` header, the
    same on every try, so a receiver can drop a duplicate."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="deliveries")
    kind = models.CharField(max_length=30, help_text="A WebhookKind, or 'ping' for a test.")
    reference = models.CharField(
        max_length=100,
        help_text="What it reports: the event's public id; the alert's and the child's; a ping's own id.",
    )
    level = models.CharField(
        max_length=1, blank=True, help_text="What the subscriber was shown of an event: C, S or E (withheld)."
    )
    body = models.TextField(
        blank=True, help_text="The exact JSON sent on every try; emptied once delivered or given up."
    )
    payload_digest = models.CharField(max_length=64, help_text="SHA-256 of the body, kept after it is emptied.")
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "kind", "reference"], name="webhook_delivery_once_per_subscription"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["subscription", "created_at"]),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} to {self.subscription_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One try: when, what the receiver answered (or why there was no answer), how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number")]
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} try {self.number}: {self.status_code or self.error}"

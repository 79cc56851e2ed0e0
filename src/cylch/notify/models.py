"""In-app notifications and the transactional outbox for email (and later webhooks).

A notification and its outbox message are written in the same transaction as the change
that causes them, so neither is lost if the process dies; ``cylch notify deliver`` sends
what is due and retries with back-off.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=60)
    subject = models.CharField(max_length=200, help_text="In the recipient's language.")
    body = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    texts = models.JSONField(
        default=dict, blank=True,
        help_text="{language: [subject, body]} in each language of the hub, for the page in the reader's language.",
    )  # fmt: skip

    class Meta:
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient_id}: {self.subject}"

    def read_in(self, language: str) -> tuple[str, str]:
        """(subject, body) in ``language``, or as made when it was made before both were kept."""
        subject, body = self.texts.get(language[:2]) or (self.subject, self.body)
        return subject, body


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to send")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Gave up")


class OutboxMessage(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=20, default="email")
    dedupe_key = models.CharField(
        max_length=200, unique=True, help_text="One message per key, however often it is queued."
    )
    to = models.CharField(max_length=300)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to} ({self.status})"

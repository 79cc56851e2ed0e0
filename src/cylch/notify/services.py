"""Queue notifications in the recipient's language; deliver email from the outbox.

``notify_user`` is called inside the transaction that causes the notification, so the
in-app notice and the email commit (or roll back) together with the change.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation

from cylch.notify.models import Notification, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def notify_user(
    *, recipient, kind: str, subject, body, url: str = "", dedupe_key: str = "", context: dict | None = None
) -> Notification:
    """Tell one user something, in their language, in the app and by email.

    ``subject`` and ``body`` are lazy translatable strings (``gettext_lazy``) with
    ``%(name)s`` placeholders filled from ``context`` once the language is chosen.
    """
    context = context or {}
    with translation.override(recipient.language or "en"):
        subject_text = str(subject) % context
        body_text = str(body) % context
    notification = Notification.objects.create(
        recipient=recipient, kind=kind, subject=subject_text[:200], body=body_text, url=url
    )
    if recipient.email:
        full_url = f"{settings_base_url()}{url}" if url else ""
        OutboxMessage.objects.get_or_create(
            dedupe_key=dedupe_key or f"notification:{notification.public_id}",
            defaults={
                "to": recipient.email,
                "subject": subject_text[:200],
                "body": body_text + (f"\n\n{full_url}" if full_url else ""),
                "next_attempt_at": timezone.now(),
            },
        )
    return notification


def notify_address(
    *, to: str, subject, body, url: str = "", dedupe_key: str, context: dict | None = None, language: str | None = None
) -> OutboxMessage:
    """Email an address that is not a Cylch user: in ``language`` when the person chose one (a
    member of the public who reported in Welsh), otherwise Welsh first, then English (a team mailbox)."""
    context = context or {}
    parts = {}
    for lang in (language,) if language else ("cy", "en"):
        with translation.override(lang):
            parts[lang] = (str(subject) % context, str(body) % context)
    full_url = f"{settings_base_url()}{url}" if url else ""
    subject_text = " / ".join(p[0] for p in parts.values())
    body_text = "\n\n---\n\n".join(p[1] for p in parts.values())
    message, _created = OutboxMessage.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "to": to,
            "subject": subject_text[:200],
            "body": body_text + (f"\n\n{full_url}" if full_url else ""),
            "next_attempt_at": timezone.now(),
        },
    )
    return message


def settings_base_url() -> str:
    return getattr(settings, "CYLCH_BASE_URL", "").rstrip("/")


LEASE = timedelta(minutes=5)


def _claim(limit: int) -> list[OutboxMessage]:
    """Take due messages for this worker: a short transaction moves their next attempt past a
    lease, so another worker skips them and a crashed worker's messages come back later."""
    now = timezone.now()
    with transaction.atomic():
        batch = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:limit]
        )
        for msg in batch:
            msg.attempts += 1
            msg.next_attempt_at = now + LEASE
        OutboxMessage.objects.bulk_update(batch, ["attempts", "next_attempt_at"])
    return batch


def deliver_due(*, limit: int = 100) -> tuple[int, int]:
    """Send due emails. Returns (sent, failed this round). Safe to run from several workers.

    No transaction is held while talking to the mail server. Delivery is at least once: a
    worker killed between sending and recording sends that message again after the lease;
    the stable Message-ID lets mail systems drop the duplicate.
    """
    sent = failed = 0
    for msg in _claim(limit):
        try:
            EmailMessage(
                msg.subject,
                msg.body,
                settings.DEFAULT_FROM_EMAIL,
                [msg.to],
                headers={"Message-ID": f"<{msg.public_id}@cylch>"},
            ).send()
        except Exception as exc:  # any transport failure is retried later
            msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if msg.attempts >= MAX_ATTEMPTS:
                msg.status = OutboxStatus.FAILED
            else:
                msg.next_attempt_at = timezone.now() + timedelta(minutes=2**msg.attempts)
            failed += 1
            log.warning("outbox %s: attempt %s failed: %s", msg.public_id, msg.attempts, exc)
        else:
            msg.status = OutboxStatus.SENT
            msg.sent_at = timezone.now()
            msg.last_error = ""
            sent += 1
        msg.save(update_fields=["status", "sent_at", "next_attempt_at", "last_error"])
    return sent, failed

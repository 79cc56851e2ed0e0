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
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.models import User
from cylch.access.roles import Role
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
        with transaction.atomic():  # marked failed and the administrators told: both or neither
            msg.save(update_fields=["status", "sent_at", "next_attempt_at", "last_error"])
            if msg.status == OutboxStatus.FAILED:
                outbox_given_up_tell_admins(message=msg)
    return sent, failed


GIVEN_UP_KIND = "outbox_given_up"
GROUP_FOR = timedelta(days=1)  # given-up messages join an administrator's notice this recent


def outbox_given_up_tell_admins(*, message: OutboxMessage) -> int:
    """Tell the hub's administrators (active users with the administrator role, and superusers)
    that ``message`` was given up, in the app and by email. Returns how many were told.

    Called once per message, in the transaction that marks it failed; it is logged as an error
    too, for the hosting's log monitoring. The in-app notice does not depend on the mail server.
    A message given up within a day of an administrator's last notice of this kind (still unread)
    is added to that notice rather than starting another with another email, so a long mail
    outage gives each administrator one notice and one email a day, not one per message.
    """
    now = timezone.now()
    log.error("outbox %s given up after %s attempts: %s", message.public_id, message.attempts, message.last_error)
    line = (
        f"- {timezone.localtime(message.created_at):%d/%m/%Y %H:%M} {message.to}: {message.subject} "
        f"({message.last_error[:200]})"
    )
    admins = User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True).order_by("pk")
    told = 0
    for admin in admins:
        unread = (
            Notification.objects.select_for_update()
            .filter(recipient=admin, kind=GIVEN_UP_KIND, read_at__isnull=True, created_at__gte=now - GROUP_FOR)
            .order_by("-created_at", "-pk")
            .first()
        )
        if unread is not None:
            unread.body = f"{unread.body}\n{line}"
            unread.save(update_fields=["body"])
        else:
            notify_user(
                recipient=admin,
                kind=GIVEN_UP_KIND,
                dedupe_key=f"outbox-given-up:{message.public_id}:{admin.pk}",
                subject=_("Emails from Cylch could not be delivered"),
                body=_(
                    "Cylch stopped trying to deliver the emails below after %(attempts)s attempts over about four "
                    "hours: the people they were for have not been told by email. Check the mail server and the "
                    "addresses (/healthz/worker shows the outbox), and make sure each person hears another way. "
                    "Emails given up in the next day are added here.\n\n%(messages)s"
                ),
                context={"attempts": MAX_ATTEMPTS, "messages": line},
            )
        told += 1
    if not told:
        log.error("outbox %s given up and the hub has no active administrator to tell", message.public_id)
    return told

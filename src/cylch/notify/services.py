"""Queue notifications in the recipient's language; deliver email from the outbox.

``notify_user`` is called inside the transaction that causes the notification, so the
in-app notice and the email commit (or roll back) together with the change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.models import User
from cylch.access.roles import Role
from cylch.core.gather import gathering_into
from cylch.notify.models import Notification, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class in_language:
    """A context value worked out in whichever language the text is being written in: for what
    ``gettext_lazy`` cannot hold, such as a rule's title from its pack or an organisation's name."""

    def __init__(self, fn):
        self.fn = fn

    def __str__(self) -> str:
        return str(self.fn((translation.get_language() or "en")[:2]))


def on_day(day: date, *, weekday: bool = True) -> in_language:
    """A date in words in the reader's language, "Tuesday 8 December 2026" ("dydd Mawrth 8 Rhagfyr
    2026"): 08/12/2026 reads as August to some, and a deadline's weekday catches a misread date.
    Welsh sentences place it mid-sentence, so "dydd" is not capitalised."""
    return in_language(lambda language: _in_words(day, "l j F Y" if weekday else "j F Y", language))


def at_moment(moment: datetime) -> in_language:
    """A time in words, as :func:`on_day` with the local time: "Tuesday 8 December 2026, 14:00"."""
    return in_language(lambda language: _in_words(timezone.localtime(moment), "l j F Y, H:i", language))


def _in_words(value, pattern: str, language: str) -> str:
    with translation.override(language):
        text = formats.date_format(value, pattern)
    return "dydd " + text[5:] if language == "cy" and text.startswith("Dydd ") else text


def notify_user(
    *, recipient, kind: str, subject, body, url: str = "", dedupe_key: str = "", context: dict | None = None
) -> Notification:
    """Tell one user something, in their language, in the app and by email.

    ``subject`` and ``body`` are lazy translatable strings (``gettext_lazy``) with
    ``%(name)s`` placeholders filled from ``context`` once the language is chosen. The email is
    in the recipient's language; the notice keeps every language of the hub, so the notices page
    reads in the reader's language even after they change it. A context value that depends on the
    language is passed lazily (``gettext_lazy``, a model's lazy label, or ``in_language``).
    Inside :func:`gathering` the notice and its email are written when the block ends.
    """
    context = context or {}
    texts = {}
    for code, _name in settings.LANGUAGES:  # the page shows the one its reader reads in
        with translation.override(code):
            texts[code] = [(str(subject) % context)[:200], str(body) % context]
    subject_text, body_text = texts.get((recipient.language or "en")[:2], texts["en"])
    notification = Notification(
        recipient=recipient, kind=kind, subject=subject_text, body=body_text, url=url, texts=texts
    )
    emails = []
    if recipient.email:
        full_url = f"{settings_base_url()}{url}" if url else ""
        emails.append(
            OutboxMessage(
                dedupe_key=dedupe_key or f"notification:{notification.public_id}",
                to=recipient.email,
                subject=subject_text[:200],
                body=body_text + (f"\n\n{full_url}" if full_url else ""),
                next_attempt_at=timezone.now(),
            )
        )
    gathered = _gathered.get()
    if gathered is not None:
        gathered.notices.append(notification)
        gathered.emails.extend(emails)
    else:
        notification.save()
        _queue_emails(emails)
    return notification


def _queue_emails(messages: list[OutboxMessage]) -> None:
    """One statement (INSERT ... ON CONFLICT DO NOTHING on the dedupe key) rather than
    get_or_create's read, savepoint, insert and release: a message whose key is queued already
    (by an earlier call, or earlier in the list) is left as it was."""
    if messages:
        OutboxMessage.objects.bulk_create(messages, ignore_conflicts=True)


def notify_address(
    *, to: str, subject, body, url: str = "", dedupe_key: str, context: dict | None = None, language: str | None = None
) -> OutboxMessage:
    """Email an address that is not a Cylch user: in ``language`` when the person chose one (a
    member of the public who reported in Welsh), otherwise Welsh first, then English (a team mailbox).

    Inside :func:`gathering` the message is queued when the block ends, and what is returned
    is the message as built (not one already queued under its key)."""
    context = context or {}
    parts = {}
    for lang in (language,) if language else ("cy", "en"):
        with translation.override(lang):
            parts[lang] = (str(subject) % context, str(body) % context)
    full_url = f"{settings_base_url()}{url}" if url else ""
    subject_text = " / ".join(p[0] for p in parts.values())
    body_text = "\n\n---\n\n".join(p[1] for p in parts.values())
    fields = {
        "to": to,
        "subject": subject_text[:200],
        "body": body_text + (f"\n\n{full_url}" if full_url else ""),
        "next_attempt_at": timezone.now(),
    }
    gathered = _gathered.get()
    if gathered is not None:
        message = OutboxMessage(dedupe_key=dedupe_key, **fields)
        gathered.emails.append(message)
        return message
    message, _created = OutboxMessage.objects.get_or_create(dedupe_key=dedupe_key, defaults=fields)
    return message


@dataclass
class _Gathered:
    notices: list[Notification] = field(default_factory=list)
    emails: list[OutboxMessage] = field(default_factory=list)


_gathered: ContextVar[_Gathered | None] = ContextVar("cylch_notify_gathered", default=None)


@contextmanager
def gathering() -> Iterator[None]:
    """Within this block ``notify_user`` and ``notify_address`` queue what they would write; as
    it ends, the notices go in with one insert and the emails with another (a batch's alerts,
    proposals and register notices together, rather than two statements each). Nothing is
    written if the block raises. A nested block joins the outer one. Inside it, nothing may
    read the notices or emails it has queued."""
    with gathering_into(_gathered, _Gathered) as gathered:
        yield
    if gathered is None:
        return
    if gathered.notices:
        Notification.objects.bulk_create(gathered.notices)
    _queue_emails(gathered.emails)


def settings_base_url() -> str:
    return getattr(settings, "CYLCH_BASE_URL", "").rstrip("/")


LEASE = timedelta(minutes=5)  # settings.CYLCH_OUTBOX_LEASE_SECONDS overrides it


def _lease() -> timedelta:
    """How long a claimed message is left to its worker. Longer than one send can take (connecting
    and each SMTP command may each wait EMAIL_TIMEOUT), so a live worker is never overtaken."""
    seconds = getattr(settings, "CYLCH_OUTBOX_LEASE_SECONDS", None)
    return LEASE if seconds is None else timedelta(seconds=seconds)


def _claim_next(*, due_by: datetime | None = None) -> OutboxMessage | None:
    """Take the next message due by ``due_by`` (default now) for this worker: a short transaction
    moves its next attempt past the lease, so another worker skips it and a crashed worker's
    message comes back later. One at a time, so a worker that dies holds back only the message it
    was sending, not a batch."""
    now = timezone.now()
    with transaction.atomic():
        msg = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=due_by or now)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if msg is None:
            return None
        msg.attempts += 1
        msg.next_attempt_at = now + _lease()
        msg.save(update_fields=["attempts", "next_attempt_at"])
    return msg


def deliver_due(*, limit: int = 100) -> tuple[int, int]:
    """Send due emails. Returns (sent, failed this round). Safe to run from several workers.

    No transaction is held while talking to the mail server. A message is recorded as sent as
    soon as the server accepts it (its reply to DATA), before saying goodbye, so only a worker
    killed between that acceptance and the record sends it again, after the lease, with the same
    Message-ID for mail systems to drop the duplicate (docs/faults.md).
    """
    sent = failed = 0
    started = timezone.now()  # a round sends what was due when it began; what it queues waits a round
    for _i in range(limit):
        msg = _claim_next(due_by=started)
        if msg is None:
            break
        connection = get_connection()
        try:
            connection.open()  # opened here, so sending does not also close it (QUIT) before the record
            EmailMessage(
                msg.subject,
                msg.body,
                settings.DEFAULT_FROM_EMAIL,
                [msg.to],
                headers={"Message-ID": f"<{msg.public_id}@cylch>"},
                connection=connection,
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
        _close_quietly(connection)
    return sent, failed


def _close_quietly(connection) -> None:
    """Say goodbye to the mail server. A message it accepted stays sent if the goodbye fails (a
    server that never answers QUIT): sending it again would only make a duplicate."""
    try:
        connection.close()
    except Exception as exc:  # after acceptance nothing here changes what was delivered
        log.warning("outbox: closing the mail connection failed: %s", exc)


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

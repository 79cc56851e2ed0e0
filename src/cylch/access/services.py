"""Writes for access: sign-in throttling, break-glass, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import ApiToken, BreakGlass, LoginAttempt, Organisation, User


def sign_in_throttled(*, username: str, ip_address: str | None) -> bool:
    """True when too many recent failures for this username or this address."""
    since = timezone.now() - timedelta(seconds=settings.CYLCH_LOGIN_WINDOW_SECONDS)
    recent = LoginAttempt.objects.filter(at__gte=since, succeeded=False)
    if recent.filter(username=username.lower()).count() >= settings.CYLCH_LOGIN_MAX_FAILURES_PER_USER:
        return True
    return bool(ip_address) and recent.filter(ip_address=ip_address).count() >= settings.CYLCH_LOGIN_MAX_FAILURES_PER_IP


def sign_in_attempt_record(*, username: str, ip_address: str | None, succeeded: bool, user: User | None = None) -> None:
    LoginAttempt.objects.create(username=username.lower(), ip_address=ip_address or None, succeeded=succeeded)
    if succeeded:
        # A successful sign-in clears the user's failure count.
        LoginAttempt.objects.filter(username=username.lower(), succeeded=False).delete()
    audit_record(
        action="sign_in" if succeeded else "sign_in_failed",
        actor=user,
        actor_label="" if user else username[:150],
        ip_address=ip_address or "",
        object_type="user",
        object_id=user.pk if user else "",
    )


def break_glass_open(*, user: User, person, reason: str, ip_address: str = "") -> BreakGlass:
    """Give a practitioner outside the child's circle time-limited access, and say so.

    The organisation's safeguarding leads are notified at once, in their own language.
    """
    from cylch.notify.services import at_moment, in_language, notify_address, notify_user

    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationError({"reason": [_("Say why you need to see this record now (at least 10 characters).")]})
    now = timezone.now()
    with transaction.atomic():
        grant = BreakGlass.objects.create(
            user=user,
            person=person,
            reason=reason,
            started_at=now,
            expires_at=now + timedelta(seconds=settings.CYLCH_BREAK_GLASS_SECONDS),
        )
        audit_record(
            action="break_glass",
            actor=user,
            ip_address=ip_address,
            object_type="person",
            object_id=person.public_id,
            purpose=reason[:200],
            detail={"grant": str(grant.public_id)},
        )
        leads = User.objects.filter(organisation=user.organisation, is_safeguarding_lead=True, is_active=True).exclude(
            pk=user.pk
        )
        url = reverse("identity:person", args=[person.public_id])
        subject = _("Break-glass access by %(who)s")
        body = _(
            "%(who)s (%(role)s) used break-glass access to a child's record at %(when)s.\n"
            "Reason given: %(reason)s\nPlease check that this access was needed."
        )
        context = {
            "who": user.get_full_name() or user.username,
            "role": in_language(lambda _language: user.get_role_display()),
            "when": at_moment(now),
            "reason": reason,
        }
        told = 0
        for lead in leads:
            notify_user(
                recipient=lead,
                kind="break_glass",
                subject=subject,
                body=body,
                url=url,
                dedupe_key=f"break_glass:{grant.public_id}:{lead.pk}",
                context=context,
            )
            told += 1
        org = user.organisation
        if not told and org is not None and org.safeguarding_email:
            # Nobody else to tell in the app (the user may be the only lead): email the
            # organisation's safeguarding mailbox, in Welsh and English.
            notify_address(
                to=org.safeguarding_email,
                subject=subject,
                body=body,
                url=url,
                dedupe_key=f"break_glass:{grant.public_id}:mailbox",
                context=context,
            )
    return grant


TOKEN_PREFIX = "cylch"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(*, organisation: Organisation, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """Create a token for an organisation's system. The plain token is returned once, never stored."""
    if not name.strip():
        raise ValidationError({"name": ["Name the system the token is for."]})
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organisation=organisation, name=name.strip(), prefix=prefix, secret_hash=_hash(secret)
    )
    audit_record(
        action="admin",
        actor=actor,
        organisation_code=organisation.code,
        object_type="api_token",
        object_id=token.public_id,
        purpose="API token created",
        detail={"name": name},
    )
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def api_token_authenticate(raw: str) -> ApiToken | None:
    try:
        scheme, prefix, secret = raw.split("_", 2)
    except ValueError:
        return None
    if scheme != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("organisation").filter(prefix=prefix, revoked_at__isnull=True).first()
    if token is None or not secrets.compare_digest(token.secret_hash, _hash(secret)):
        return None
    if token.last_used_at is None or timezone.now() - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token

"""Outbound webhooks (issue 11, item 5): an organisation's system told of changes about the
children it knows, signed, retried, logged, and never showing more than the access policy does.

How it fits together (docs/governance.md, "Webhooks"):

1. **Queue**, inside the transaction of the change. A new spine event whose code maps to a kind
   (:data:`KIND_CODES`), or an alert sent to an organisation, calls :func:`queue_for_event` or
   :func:`queue_for_alert` (hooked in ``governance/models/webhooks.py``). For each active
   subscription of that kind, the organisation is asked what it may see of the child exactly as
   the API asks (``access_person`` for its system): no relationship, nothing is queued; otherwise
   the payload holds what its level allows and the ``Delivery`` row is written there and then.
   A rolled-back change takes its deliveries with it; nothing is sent from the transaction.
2. **Send**, from ``cylch worker`` (:func:`deliver_due`): each due delivery is claimed under a
   lease, posted with a timeout and no redirects, signed afresh (HMAC-SHA256 over timestamp and
   body), and every try is logged. A failure waits 1, 2, 4 ... minutes (at most 4 hours, with
   jitter) up to :data:`MAX_ATTEMPTS` tries; then the delivery is given up and the
   organisation's administrators and safeguarding leads are told, once, until one gets through.
3. **Manage**: a system administrator or a safeguarding lead of the organisation creates
   (the secret is shown once), switches off and tests its subscriptions (``webhook_views``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from Cryptodome.Cipher import AES
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.access.policy import Level, Relationship
from cylch.access.roles import Role
from cylch.access.selectors import PersonNotFound, Viewer, access_person
from cylch.core import taxonomy
from cylch.governance.models import Delivery, DeliveryAttempt, DeliveryState, Subscription, WebhookKind
from cylch.notify.services import notify_address, notify_user

log = logging.getLogger(__name__)

# The spine codes behind each kind. Alerts are not spine events: ALERT_RAISED is queued when an
# alert is sent to the organisation (an AlertRecipient is written).
KIND_CODES: dict[str, frozenset[str]] = {
    WebhookKind.REGISTRATION: frozenset({"process.register.registered"}),
    WebhookKind.DEREGISTRATION: frozenset({"process.register.deregistered"}),
    WebhookKind.CONFERENCE_ARRANGED: frozenset({"process.conference.invitations_sent"}),
    WebhookKind.CONFERENCE_HELD: frozenset(
        {"process.icpc.held", "process.rcpc.held", "process.transfer.conference_held"}
    ),
    WebhookKind.PLAN_AGREED: frozenset({"process.cspp.outline_agreed", "process.cspp.detailed_agreed"}),
}
CODE_KIND = {code: kind for kind, codes in KIND_CODES.items() for code in codes}
PING = "ping"
# An entry the organisation may only know exists goes out as this type, so neither the payload,
# the header nor the organisation's own delivery log names what kind of entry it was.
WITHHELD = "withheld"

SIGNATURE_HEADER = "Cylch-Signature"
DELIVERY_HEADER = "Cylch-Delivery"
TYPE_HEADER = "Cylch-Event"
TOLERANCE_SECONDS = 300  # what the docs advise receivers: refuse a timestamp older than this

MAX_ATTEMPTS = 10
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=4)
JITTER = 0.25
TIMEOUT_SECONDS = 10
LEASE = timedelta(minutes=5)  # longer than a try can take, so a crashed worker's claim comes back
_random = secrets.SystemRandom()


# --- who manages an organisation's webhooks -------------------------------------------------------


def may_manage(user) -> bool:
    """An organisation's system administrator, or one of its safeguarding leads."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.organisation_id
        and (user.role == Role.ADMIN or user.is_safeguarding_lead)
    )


def check_manage(user) -> None:
    if not may_manage(user):
        raise PermissionDenied(
            _("Only your organisation's system administrator or a safeguarding lead manages webhooks.")
        )


def managers_of(organisation: Organisation) -> QuerySet:
    """Who is told about the organisation's webhooks: the same people who may manage them."""
    return (
        User.objects.filter(organisation=organisation, is_active=True)
        .filter(Q(role=Role.ADMIN) | Q(is_safeguarding_lead=True))
        .order_by("pk")
    )


# --- where deliveries may go ----------------------------------------------------------------------


def url_problem(url: str, *, resolve: bool = False) -> str | None:
    """Why deliveries may not be posted to ``url``, or None.

    Everywhere: http or https, a host, no user name or password in it. On a production hub:
    https only, and not to this server, a link-local or other non-public address (the cloud
    metadata address among them), unless the network is listed in
    ``CYLCH_WEBHOOK_PRIVATE_NETWORKS``. ``resolve`` looks the name up too (at send time), so a
    public name pointing inside is refused. A demo hub allows http; a test or development hub
    allows anything, loopback included.
    """
    bad = _("Enter a full web address starting https://, for example https://hooks.example.org/cylch")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return str(bad)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return str(bad)
    if parts.username or parts.password:
        return str(_("Leave the user name and password out of the address: Cylch signs each delivery instead."))
    local = bool(getattr(settings, "TESTING", False) or settings.DEBUG)
    if parts.scheme != "https" and not (local or getattr(settings, "DEMO_MODE", False)):
        return str(_("The address must start with https://: deliveries carry information about children."))
    if local:
        return None
    inside = _("The address must be a public one, not this server or a private network.")
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return str(inside)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = []
        if resolve:
            try:
                infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
            except OSError:
                return str(_("The address's host name could not be found."))
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    allowed = [ipaddress.ip_network(n) for n in getattr(settings, "CYLCH_WEBHOOK_PRIVATE_NETWORKS", [])]
    for address in addresses:
        if address.is_global or (address.is_private and not address.is_loopback and any(address in n for n in allowed)):
            continue
        return str(inside)
    return None


# --- the secret: made here, shown once, kept encrypted so the hub can sign ------------------------


class SecretUnavailable(Exception):
    """The stored secret does not open with SECRET_KEY or any of SECRET_KEY_FALLBACKS."""


def new_secret() -> str:
    """32 random bytes, URL-safe, with a prefix that says what it is (like Stripe's ``whsec_``)."""
    return "whsec_" + secrets.token_urlsafe(32)


def _box_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"cylch.governance.webhooks secret box v1", hashlib.sha256).digest()


def seal(secret: str, *, bound_to: Any) -> str:
    """AES-256-GCM under a key derived from SECRET_KEY, bound to the subscription's public id
    (a box copied onto another subscription does not open)."""
    nonce = secrets.token_bytes(12)
    cipher = AES.new(_box_key(settings.SECRET_KEY), AES.MODE_GCM, nonce=nonce)
    cipher.update(str(bound_to).encode())
    ciphertext, tag = cipher.encrypt_and_digest(secret.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + tag + ciphertext).decode()


def unseal(box: str, *, bound_to: Any) -> str:
    try:
        raw = base64.urlsafe_b64decode(box.removeprefix("v1.").encode())
    except ValueError as exc:
        raise SecretUnavailable from exc
    nonce, tag, ciphertext = raw[:12], raw[12:28], raw[28:]
    for key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        cipher = AES.new(_box_key(key), AES.MODE_GCM, nonce=nonce)
        cipher.update(str(bound_to).encode())
        try:
            return cipher.decrypt_and_verify(ciphertext, tag).decode()
        except ValueError:
            continue
    raise SecretUnavailable


# --- signatures -----------------------------------------------------------------------------------


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``: the ``Cylch-Signature`` header."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: str, body: bytes, header: str, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """What a receiver does (docs/governance.md has the same in a few lines): the signature must
    match the exact bytes received, and the timestamp be within ``tolerance`` seconds."""
    fields: dict[str, list[str]] = defaultdict(list)
    for item in header.split(","):
        key, _sep, value = item.strip().partition("=")
        fields[key].append(value)
    try:
        timestamp = int(fields["t"][0])
    except (IndexError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in fields["v1"])


# --- what is sent ---------------------------------------------------------------------------------


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _child(person, organisation: Organisation) -> dict[str, Any]:
    """The child by Cylch's public id and the identifiers the organisation's own records hold
    (its local id, and the NHS number or pupil number as it sent them): nothing it did not have."""
    from cylch.identity.models import AgencyRecord

    records = (
        AgencyRecord.objects.filter(organisation=organisation, links__person=person, links__active=True)
        .distinct()
        .order_by("local_id")
    )
    mine = []
    for record in records:
        row = {"local_id": record.local_id}
        row.update({k: getattr(record, k) for k in ("nhs_number", "upn") if getattr(record, k)})
        mine.append(row)
    return {"id": str(person.public_id), "your_records": mine}


def _contact(organisation: Organisation) -> dict[str, Any]:
    return {
        "role": {"en": organisation.contact_role_en or "Safeguarding lead", "cy": organisation.contact_role_cy or "Arweinydd diogelu"},
        "reach": organisation.safeguarding_email or organisation.safeguarding_phone,
    }  # fmt: skip


def event_block(event, level: Level) -> dict[str, Any]:
    """An event at the subscriber's level, as the API shows it: existence (who recorded it and
    when, whom to ask), summary (also what kind of entry), content (also what it says)."""
    block: dict[str, Any] = {
        "id": str(event.public_id),
        "occurred_at": event.occurred_at.isoformat(),
        "organisation": event.organisation.code,
        "level": level.value,
        "withheld": level == Level.EXISTENCE,
        "contact": _contact(event.organisation),
    }
    if level != Level.EXISTENCE:
        code = taxonomy.get(event.code)
        block["code"] = event.code
        block["label"] = (
            {"en": code.label("en"), "cy": code.label("cy")} if code else {"en": event.code, "cy": event.code}
        )
        block["supersedes"] = str(event.supersedes.public_id) if event.supersedes_id else None
    if level == Level.CONTENT:
        block.update(summary=event.summary, details=event.details, recorder_name=event.recorder_name,
                     recorder_contact=event.recorder_contact)  # fmt: skip
    return block


def _subscribed(kind: str, organisation: Organisation | None = None) -> dict[Organisation, list[Subscription]]:
    qs = Subscription.objects.filter(active=True).select_related("organisation").order_by("pk")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    out: dict[Organisation, list[Subscription]] = defaultdict(list)
    for sub in qs:  # few rows; kinds is a JSON list, and SQLite has no JSON containment lookup
        if kind in sub.kinds:
            out[sub.organisation].append(sub)
    return out


def _access(organisation: Organisation, person):
    """The organisation's system's access to the person, as the API computes it; None when it
    has no relationship to them (then it is told nothing)."""
    try:
        access = access_person(Viewer.for_system(organisation), person.public_id)
    except PersonNotFound:
        return None
    return None if access.relationship == Relationship.NONE else access


def _queue(
    sub: Subscription, *, kind: str, reference: str, level: str, content: dict[str, Any], now: datetime
) -> Delivery | None:
    """Write one delivery (its body fixed now: every try sends the same bytes). Once per
    subscription, kind and reference: a second call for the same thing queues nothing."""
    if Delivery.objects.filter(subscription=sub, kind=kind, reference=reference).exists():
        return None
    delivery = Delivery(subscription=sub, kind=kind, reference=reference, level=level, next_attempt_at=now)
    payload = {"id": str(delivery.public_id), "type": kind, "created": now.isoformat(),
               "organisation": sub.organisation.code, "subscription": str(sub.public_id), **content}  # fmt: skip
    body = encode(payload)
    delivery.body = body.decode()
    delivery.payload_digest = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:  # queued a moment ago by a concurrent transaction
        return None
    return delivery


def queue_for_event(event, *, now: datetime | None = None) -> int:
    """Queue deliveries for a newly recorded event. Runs in the recording transaction."""
    kind = CODE_KIND.get(event.code)
    if kind is None or event.person_id is None:
        return 0
    subscribed = _subscribed(kind)
    if not subscribed:
        return 0
    now = now or timezone.now()
    queued = 0
    for organisation, subs in subscribed.items():
        access = _access(organisation, event.person)
        if access is None:
            continue
        level = access.level_for(sensitivity=event.sensitivity, organisation_id=event.organisation_id)
        content = {"child": _child(access.person, organisation), "event": event_block(event, level)}
        sent_as = WITHHELD if level == Level.EXISTENCE else kind
        for sub in subs:
            queued += _queue(sub, kind=sent_as, reference=str(event.public_id), level=level.value, content=content,
                             now=now) is not None  # fmt: skip
    return queued


def queue_for_alert(alert, organisation: Organisation, *, now: datetime | None = None) -> int:
    """Queue an ``alert_raised`` delivery per child of the alert the organisation has a
    relationship with, once the alert is sent to it (its system may then read the alert through
    the API: the same title, severity and dates; never the evidence)."""
    subs = _subscribed(WebhookKind.ALERT_RAISED, organisation).get(organisation, [])
    if not subs:
        return 0
    from cylch.rules.selectors import rule_of

    now = now or timezone.now()
    rule = rule_of(alert)
    block = {
        "id": str(alert.public_id),
        "rule": alert.rule_id,
        "title": {"en": rule.title["en"], "cy": rule.title["cy"]}
        if rule
        else {"en": alert.rule_id, "cy": alert.rule_id},
        "severity": alert.severity,
        "raised_at": alert.raised_at.isoformat(),
        "acknowledge_by": alert.acknowledge_by.isoformat(),
    }
    queued = 0
    for child in alert.children.order_by("pk"):
        access = _access(organisation, child)
        if access is None:
            continue
        content = {"child": _child(access.person, organisation), "alert": block}
        for sub in subs:
            queued += _queue(sub, kind=WebhookKind.ALERT_RAISED, reference=f"{alert.public_id}:{child.public_id}",
                             level="", content=content, now=now) is not None  # fmt: skip
    return queued


def on_event_recorded(event) -> None:
    """The spine's hook: queue for an event of a kind someone may want. A fault here is logged
    and rolled back to its own savepoint, never allowed to stop the record being made: a missed
    message is recoverable through the API, a registration that failed to record is not."""
    if event.code not in CODE_KIND or event.person_id is None:
        return
    try:
        with transaction.atomic():
            queue_for_event(event)
    except Exception:  # any fault, so the child's record is still made; logged for the operator
        log.exception("webhooks: could not queue deliveries for event %s", event.public_id)


def on_alert_sent(alert, organisation: Organisation) -> None:
    """The alerts' hook (an ``AlertRecipient`` written): as :func:`on_event_recorded`."""
    try:
        with transaction.atomic():
            queue_for_alert(alert, organisation)
    except Exception:  # as above: the alert must still be raised and sent
        log.exception("webhooks: could not queue deliveries for alert %s", alert.public_id)


def on_alerts_sent(sent) -> None:
    """``on_alert_sent`` for each (alert, organisation) of a batch, in order, with the
    subscriptions read once: an organisation with none is passed over without a savepoint or a
    query (the rules write a batch's recipients in one insert, which sends no ``post_save``)."""
    sent = list(sent)
    if not sent:
        return
    subscribed = _subscribed(WebhookKind.ALERT_RAISED)
    for alert, organisation in sent:
        if subscribed.get(organisation):
            on_alert_sent(alert, organisation)


# --- sending --------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: 1, 2, 4 ... minutes up to 4 hours, each
    stretched or shrunk by up to a quarter at random, so a receiver coming back is not met by
    every delivery at the same second."""
    step = min(FIRST_WAIT * 2 ** (attempts - 1), LONGEST_WAIT)
    return step * _random.uniform(1 - JITTER, 1 + JITTER)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST once; (status, error). Redirects are not followed (the body would go elsewhere);
    TLS certificates are checked; each network step waits at most ``TIMEOUT_SECONDS``."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(4096)  # not kept: a receiver's answer is not Cylch's to store
        ok = 200 <= response.status < 300
        return response.status, "" if ok else f"HTTP {response.status} {response.reason}"[:500]
    except (OSError, http.client.HTTPException) as exc:  # refused, timed out, TLS, reset
        return None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        conn.close()


def headers_for(delivery: Delivery, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Cylch-Webhooks/1",
        DELIVERY_HEADER: str(delivery.public_id),
        TYPE_HEADER: delivery.kind,
        SIGNATURE_HEADER: signature(secret, body, timestamp),
    }


@dataclass
class Round:
    delivered: int = 0
    retrying: int = 0
    given_up: int = 0

    def __str__(self) -> str:
        return f"delivered {self.delivered}, retrying {self.retrying}, given up {self.given_up}"


def _claim(now: datetime, limit: int, only: Delivery | None = None) -> list[Delivery]:
    """Take due deliveries: a short transaction counts the try and moves the next one past a
    lease, so another worker skips them and a crashed worker's come back later."""
    with transaction.atomic():
        qs = Delivery.objects.select_for_update(skip_locked=True).filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=now
        )
        if only is not None:
            qs = qs.filter(pk=only.pk)
        batch = list(qs.order_by("next_attempt_at", "id")[:limit])
        for delivery in batch:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
        Delivery.objects.bulk_update(batch, ["attempts", "next_attempt_at"])
    subs = Subscription.objects.select_related("organisation").in_bulk({d.subscription_id for d in batch})
    for delivery in batch:
        delivery.subscription = subs[delivery.subscription_id]
    return batch


def deliver_due(*, now: datetime | None = None, limit: int = 50) -> Round:
    """Send what is due (the ``webhooks`` job of ``cylch worker``). No transaction is held while
    talking to a receiver. At least once: a worker killed after sending sends again after the
    lease, with the same ``Cylch-Delivery`` id."""
    now = now or timezone.now()
    result = Round()
    for delivery in _claim(now, limit):
        _attempt(delivery, now, result)
    return result


def deliver_now(delivery: Delivery) -> Delivery:
    """Try one queued delivery at once (a test ping), after its transaction has committed."""
    result = Round()
    for claimed in _claim(timezone.now(), 1, only=delivery):
        _attempt(claimed, timezone.now(), result)
    delivery.refresh_from_db()
    return delivery


def _attempt(delivery: Delivery, now: datetime, result: Round) -> None:
    sub = delivery.subscription
    body = delivery.body.encode()
    started = time.monotonic()
    status, error = None, ""
    with translation.override("en"):  # kept in English, shown in the reader's language (webhook.html)
        problem = url_problem(sub.url, resolve=True) if sub.active else None
    if not sub.active:
        error = "subscription switched off"
    elif problem:
        error = problem
    else:
        try:
            secret = unseal(sub.secret_box, bound_to=sub.public_id)
        except SecretUnavailable:
            error = (
                "the signing secret cannot be read: was SECRET_KEY changed without keeping the old one as a fallback?"
            )
        else:
            status, error = _post(sub.url, body, headers_for(delivery, secret, body, int(time.time())))
    took = int((time.monotonic() - started) * 1000)
    _record(delivery, now=now, status=status, error=error, took=took, result=result)


def _record(delivery: Delivery, *, now: datetime, status: int | None, error: str, took: int, result: Round) -> None:
    sub = delivery.subscription
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        DeliveryAttempt.objects.create(delivery=locked, number=locked.attempts, at=now, status_code=status,
                                       error=error, duration_ms=took)  # fmt: skip
        locked.last_status_code, locked.last_error = status, error
        if locked.state != DeliveryState.PENDING:
            pass  # switched off while this try was under way: the cancellation stands
        elif not sub.active:
            locked.state, locked.body = DeliveryState.CANCELLED, ""
        elif not error:
            locked.state, locked.delivered_at, locked.body = DeliveryState.DELIVERED, now, ""
            Subscription.objects.filter(pk=sub.pk, failing_since__isnull=False).update(failing_since=None)
            result.delivered += 1
            _audit_outcome(locked, "webhook delivered")
        elif locked.attempts >= MAX_ATTEMPTS:
            locked.state, locked.body = DeliveryState.FAILED, ""
            result.given_up += 1
            _audit_outcome(locked, "webhook given up")
            _tell_failing(sub, locked, now)
        else:
            locked.next_attempt_at = now + backoff(locked.attempts)
            result.retrying += 1
            log.warning("webhook %s: try %s failed: %s", locked.public_id, locked.attempts, error)
        locked.save(
            update_fields=["state", "delivered_at", "body", "last_status_code", "last_error", "next_attempt_at"]
        )


def _audit_outcome(delivery: Delivery, purpose: str) -> None:
    """Information leaving the hub is audited like an export: what, to whom, its digest."""
    sub = delivery.subscription
    audit_record(
        action="export", actor_label="cylch webhooks", organisation_code=sub.organisation.code,
        object_type="webhook_delivery", object_id=delivery.public_id, purpose=purpose,
        detail={"subscription": str(sub.public_id), "kind": delivery.kind, "reference": delivery.reference,
                "level": delivery.level, "sha256": delivery.payload_digest, "attempts": delivery.attempts,
                "status": delivery.last_status_code},
    )  # fmt: skip


def _tell_failing(sub: Subscription, delivery: Delivery, now: datetime) -> bool:
    """Tell the organisation's administrators and safeguarding leads that deliveries are being
    given up: once, until a delivery gets through again."""
    locked = Subscription.objects.select_for_update().get(pk=sub.pk)
    if locked.failing_since is not None:
        return False
    locked.failing_since = now
    locked.save(update_fields=["failing_since"])
    url = reverse("governance:webhook", args=[sub.public_id])
    context = {"name": sub.name, "tries": delivery.attempts}
    subject = _("Webhook deliveries failing: %(name)s")
    body = _(
        "Cylch could not deliver a message to your system “%(name)s” after %(tries)s tries over several hours, "
        "and has stopped trying that message. Later messages are still tried. Check that the system is up and "
        "answers with a 2xx status, then send a test from the subscription's page. You will not be told again "
        "until a delivery gets through."
    )
    managers = list(managers_of(sub.organisation))
    for manager in managers:
        notify_user(recipient=manager, kind="webhook_failing", url=url, subject=subject, body=body, context=context,
                    dedupe_key=f"webhook:{sub.public_id}:failing:{delivery.public_id}:{manager.pk}")  # fmt: skip
    if not managers and sub.organisation.safeguarding_email:
        notify_address(to=sub.organisation.safeguarding_email, subject=subject, body=body, url=url, context=context,
                       dedupe_key=f"webhook:{sub.public_id}:failing:{delivery.public_id}:org")  # fmt: skip
    audit_record(action="write", actor_label="cylch webhooks", organisation_code=sub.organisation.code,
                 object_type="webhook_subscription", object_id=sub.public_id, purpose="webhook failing: organisation told",
                 detail={"delivery": str(delivery.public_id), "told": len(managers)})  # fmt: skip
    return True


# --- managing subscriptions (services) ------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    subscription: Subscription
    secret: str = field(repr=False)  # shown once, on the page that follows; kept only sealed


def subscription_create(*, user: User, name: str, url: str, kinds: list[str]) -> Created:
    """A new subscription for the user's organisation, with a new secret."""
    check_manage(user)
    errors: dict[str, list[str]] = {}
    name, url = (name or "").strip(), (url or "").strip()
    if not name:
        errors["name"] = [str(_("Enter a name for the receiving system"))]
    problem = url_problem(url) if url else str(_("Enter the address Cylch should send to"))
    if problem:
        errors["url"] = [problem]
    kinds = list(dict.fromkeys(kinds or []))
    if not kinds or set(kinds) - set(WebhookKind.values):
        errors["kinds"] = [str(_("Choose at least one kind of message"))]
    if errors:
        raise ValidationError(errors)
    secret = new_secret()
    with transaction.atomic():
        sub = Subscription(organisation=user.organisation, name=name[:120], url=url, kinds=kinds,
                           secret_hint=secret[-4:], created_by=user)  # fmt: skip
        sub.secret_box = seal(secret, bound_to=sub.public_id)
        sub.save()
        audit_record(action="admin", actor=user, organisation_code=user.organisation.code,
                     object_type="webhook_subscription", object_id=sub.public_id, purpose="webhook subscription created",
                     detail={"name": sub.name, "url": url, "kinds": kinds})  # fmt: skip
    return Created(sub, secret)


def _check_own(user: User, sub: Subscription) -> None:
    check_manage(user)
    if sub.organisation_id != user.organisation_id:
        raise PermissionDenied(_("That subscription is another organisation's."))


def subscription_deactivate(*, subscription: Subscription, user: User) -> Subscription:
    """Switch a subscription off for good; what was waiting to be sent is not sent. Repeating it
    changes nothing."""
    _check_own(user, subscription)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not sub.active:
            return sub
        sub.active, sub.deactivated_at, sub.deactivated_by = False, timezone.now(), user
        sub.save(update_fields=["active", "deactivated_at", "deactivated_by", "modified_at"])
        cancelled = sub.deliveries.filter(state=DeliveryState.PENDING).update(state=DeliveryState.CANCELLED, body="")
        audit_record(action="admin", actor=user, organisation_code=user.organisation.code,
                     object_type="webhook_subscription", object_id=sub.public_id,
                     purpose="webhook subscription switched off", detail={"cancelled": cancelled})  # fmt: skip
    return sub


def webhook_ping(*, subscription: Subscription, user: User) -> Delivery:
    """Queue a test message (no information about anyone); the caller sends it with
    :func:`deliver_now` once this has committed."""
    _check_own(user, subscription)
    if not subscription.active:
        raise ValidationError({"subscription": [str(_("This subscription is switched off."))]})
    with transaction.atomic():
        content = {"message": "A test from Cylch. Check the signature with your secret, then answer with a 2xx status."}
        delivery = _queue(
            subscription, kind=PING, reference=str(uuid.uuid4()), level="", content=content, now=timezone.now()
        )
        audit_record(action="admin", actor=user, organisation_code=user.organisation.code,
                     object_type="webhook_subscription", object_id=subscription.public_id, purpose="webhook test sent",
                     detail={"delivery": str(delivery.public_id)})  # fmt: skip
    return delivery


# --- reads ----------------------------------------------------------------------------------------


def subscriptions_of(user: User) -> list[Subscription]:
    check_manage(user)
    return list(Subscription.objects.filter(organisation_id=user.organisation_id).order_by("-active", "name", "pk"))


def subscription_for(user: User, public_id) -> Subscription | None:
    """The user's organisation's subscription, or None (another's answers the same as none)."""
    check_manage(user)
    return (
        Subscription.objects.filter(organisation_id=user.organisation_id, public_id=public_id)
        .select_related("organisation", "created_by", "deactivated_by")
        .first()
    )


def delivery_log(subscription: Subscription, *, limit: int = 100) -> list[Delivery]:
    """The latest deliveries with their tries: two queries."""
    return list(
        subscription.deliveries.order_by("-created_at", "-id").prefetch_related(
            Prefetch("tries", queryset=DeliveryAttempt.objects.order_by("number"))
        )[:limit]
    )


def type_label(kind: str) -> str:
    if kind == PING:
        return str(_("Test message"))
    if kind == WITHHELD:
        return str(_("Entry withheld from you (only that it exists)"))
    return str(WebhookKind(kind).label) if kind in WebhookKind.values else kind

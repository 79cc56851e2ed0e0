"""The hash-chained audit log: append, and verify.

Every read of a person's record, every search and every write appends one entry. Appends are
serialised on the ``AuditHead`` row, so the chain has no forks and ``seq`` has no gaps; an
entry written inside a business transaction commits or rolls back with it.

Two locks, always taken in this order (docs/bench.md, "The audit head and the recording lock"):

1. the **recording lock** (``hold_recording``): a transaction that records, or that locks an
   alert, report or conflict row, takes it first and keeps it to its commit, so recording
   transactions follow one another and the rules of one see the entries of the one before;
2. those rows;
3. the **head** (``AuditHead``), last: when the transaction's entries are appended. An append
   inside a larger transaction takes the recording lock first (that transaction may go on to
   lock rows); an append that is its own transaction (a read's entry) takes the head alone and
   lets it go at once.

So a transaction holding the head either holds the recording lock too (nobody else can then
hold the rows it may still lock) or is a lone append that waits for nothing: no cycle. A read's
entry waits only for other appends, never for an event batch's rules (it used to wait for the
whole batch: the head was the recording lock too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from cylch.access.models import AuditEntry, AuditHead, User
from cylch.core.gather import gathering_into

GENESIS = "0" * 64
# PostgreSQL advisory lock key of the recording lock ("cylch" in ASCII).
RECORDING_LOCK = 0x6379_6C63_68


def _digest(entry: AuditEntry) -> str:
    payload = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "organisation_code": entry.organisation_code,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "purpose": entry.purpose,
        "ip_address": entry.ip_address,
        "detail": entry.detail,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _chain(prev_hash: str, seq: int, payload_digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{seq}:{payload_digest}".encode()).hexdigest()


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    actor_label: str = "",
    organisation_code: str = "",
    object_type: str = "",
    object_id: Any = "",
    purpose: str = "",
    ip_address: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain and return it.

    Inside :func:`gathering` the entry is only queued, and is appended, with its sequence number
    and hashes, when the block ends."""
    if actor is not None:
        actor_label = actor_label or f"{actor.username} ({actor.role})"
        if not organisation_code and actor.organisation_id:
            organisation_code = actor.organisation.code
    entry = AuditEntry(
        actor=actor,
        actor_label=actor_label or "system",
        organisation_code=organisation_code,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        purpose=purpose[:200],
        ip_address=ip_address or "",
        detail=json.loads(json.dumps(detail or {}, default=str)),
    )
    gathered = _gathered.get()
    if gathered is not None:
        gathered.entries.append(entry)
    else:
        _append([entry])
    return entry


def _append(entries: list[AuditEntry]) -> None:
    """Chain ``entries`` onto the head, in order, under its lock: one insert for them all. Each
    entry gets this moment, under the lock, so moments rise with the chain.

    Inside a larger transaction the recording lock is taken first: that transaction keeps the
    head to its commit and may go on to lock rows, so it must already be the one recording."""
    if not entries:
        return
    if transaction.get_connection().in_atomic_block:
        hold_recording()
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        seq, last_hash = head.last_seq, head.last_hash
        now = timezone.now()
        for entry in entries:
            seq += 1
            entry.seq, entry.prev_hash = seq, last_hash
            entry.at = now
            entry.payload_digest = _digest(entry)
            entry.entry_hash = last_hash = _chain(entry.prev_hash, entry.seq, entry.payload_digest)
        AuditEntry.objects.bulk_create(entries)
        head.last_seq, head.last_hash = seq, last_hash
        head.save(update_fields=["last_seq", "last_hash"])


@dataclass
class _Gathered:
    entries: list[AuditEntry] = field(default_factory=list)


_gathered: ContextVar[_Gathered | None] = ContextVar("cylch_audit_gathered", default=None)


@contextmanager
def gathering() -> Iterator[None]:
    """Within this block ``audit_record`` queues its entries; they are appended together, in the
    order they were recorded, as the block ends (one lock, one insert and one head update for
    a batch's entries rather than each). Nothing is appended if the block raises: its
    transaction is rolled back anyway. A nested block joins the outer one.

    The head is taken only for that append, at the end: a batch's rules run without it, so
    reads' entries are not kept waiting meanwhile."""
    with gathering_into(_gathered, _Gathered) as gathered:
        yield
    if gathered is not None:
        _append(gathered.entries)


def hold_recording() -> None:
    """Take the recording lock now, for the rest of the transaction (see the module's docstring).

    Every transaction that records entries or locks an alert, report or conflict row takes it
    before any such row: two batches whose events complete a rule only between them then run
    one after the other, each seeing the other's entries, and no transaction can hold such a
    row while another holds the lock and waits for the row (docs/bench.md, "The deadlock").
    Call inside a transaction. On SQLite a writing transaction already holds the whole
    database (``transaction_mode`` IMMEDIATE), so there is nothing more to take.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RECORDING_LOCK])


def _is_emptied(entry: AuditEntry) -> bool:
    return not (entry.actor_label or entry.object_id or entry.purpose or entry.ip_address or entry.detail)


def audit_from_request(request, **kwargs: Any) -> AuditEntry:
    """Append an entry for the signed-in user of ``request`` (who, from where)."""
    user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
    return audit_record(actor=user, ip_address=client_ip(request), **kwargs)


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def audit_verify(batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in order. Names the first entry that was altered, removed or reordered."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    last_id = None
    qs = AuditEntry.objects.order_by("seq")
    while True:
        page = list(qs.filter(seq__gt=last_id)[:batch_size] if last_id else qs[:batch_size])
        if not page:
            break
        for entry in page:
            if entry.seq != expected_seq:
                return VerifyResult(
                    False, checked, expected_seq, f"entry #{expected_seq} is missing (next is #{entry.seq})"
                )
            if entry.prev_hash != prev_hash:
                return VerifyResult(
                    False, checked, entry.seq, f"entry #{entry.seq} does not follow entry #{entry.seq - 1}"
                )
            if entry.redacted_at is None and _digest(entry) != entry.payload_digest:
                return VerifyResult(False, checked, entry.seq, f"entry #{entry.seq} was altered")
            if entry.redacted_at is not None and not _is_emptied(entry):
                # A redaction erases content; one that keeps content is a way to hide an edit.
                return VerifyResult(
                    False, checked, entry.seq, f"entry #{entry.seq} is marked redacted but keeps content"
                )
            if _chain(entry.prev_hash, entry.seq, entry.payload_digest) != entry.entry_hash:
                return VerifyResult(False, checked, entry.seq, f"entry #{entry.seq} has a broken hash")
            prev_hash = entry.entry_hash
            expected_seq += 1
            checked += 1
            last_id = entry.seq
    head = AuditHead.objects.filter(id=1).first()
    if head and (head.last_seq != checked or head.last_hash != prev_hash):
        return VerifyResult(
            False,
            checked,
            checked + 1,
            f"the chain ends at #{checked} but the head records #{head.last_seq}: entries were removed",
        )
    return VerifyResult(True, checked)

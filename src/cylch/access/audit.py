"""The hash-chained audit log: append, and verify.

Every read of a person's record, every search and every write appends one entry. Appends are
serialised on the ``AuditHead`` row, so the chain has no forks and ``seq`` has no gaps; an
entry written inside a business transaction commits or rolls back with it.
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
        entry.at = timezone.now() if gathered.held else None  # else when the chain is taken
        gathered.entries.append(entry)
    else:
        _append([entry])
    return entry


def _append(entries: list[AuditEntry]) -> None:
    """Chain ``entries`` onto the head, in order, under its lock: one insert for them all. An
    entry without its moment yet is given this one, under the lock."""
    if not entries:
        return
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        seq, last_hash = head.last_seq, head.last_hash
        for entry in entries:
            seq += 1
            entry.seq, entry.prev_hash = seq, last_hash
            entry.at = entry.at or timezone.now()
            entry.payload_digest = _digest(entry)
            entry.entry_hash = last_hash = _chain(entry.prev_hash, entry.seq, entry.payload_digest)
        AuditEntry.objects.bulk_create(entries)
        head.last_seq, head.last_hash = seq, last_hash
        head.save(update_fields=["last_seq", "last_hash"])


@dataclass
class _Gathered:
    entries: list[AuditEntry] = field(default_factory=list)
    held: bool = False  # this transaction holds the chain (hold_chain was called in the block)

    def hold(self) -> None:
        """The chain is ours now: what is queued without a moment gets this one."""
        now = timezone.now()
        for entry in self.entries:
            entry.at = entry.at or now
        self.held = True


_gathered: ContextVar[_Gathered | None] = ContextVar("cylch_audit_gathered", default=None)


@contextmanager
def gathering() -> Iterator[None]:
    """Within this block ``audit_record`` queues its entries; they are appended together, in the
    order they were recorded, as the block ends (one lock, one insert and one head update for
    a batch's entries rather than each). Nothing is appended if the block raises: its
    transaction is rolled back anyway. A nested block joins the outer one.

    The chain's lock is not taken early for this: an entry recorded before the transaction
    holds the chain gets its moment when it does (``hold_chain``, or the append), so the
    entries' moments still rise with their place in the chain, whoever else is appending."""
    with gathering_into(_gathered, _Gathered) as gathered:
        yield
    if gathered is not None:
        _append(gathered.entries)


def hold_chain() -> None:
    """Take the chain's lock now, for the rest of the transaction.

    A transaction holds ``AuditHead`` from its first entry to its commit. One that locks other
    rows (an alert) and audits afterwards must take the head first: otherwise it can hold the
    row while another transaction holds the head and waits for that row, a deadlock
    (docs/bench.md, "The deadlock"). Call inside a transaction, before the row lock.
    """
    AuditHead.objects.select_for_update().get_or_create(id=1)
    gathered = _gathered.get()
    if gathered is not None and not gathered.held:
        gathered.hold()


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

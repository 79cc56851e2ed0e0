"""The hash-chained audit log: what is logged, that an intact chain verifies, and that every
kind of tampering is caught and the first bad entry named (``cylch audit verify``)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from cylch.access.audit import _chain, _digest, audit_record, audit_verify
from cylch.access.models import AuditEntry, AuditHead
from cylch.access.services import api_token_create


def test_reads_searches_and_writes_through_the_web_and_api_are_logged(prydderch, client, demo_hub):
    """Gwen signs in, searches, opens Alys's record and breaks the glass on Efa's; a system sends
    an event. Each step appends an entry saying who, what, and about whom; the chain verifies."""
    gwen = prydderch.staff.social_worker
    start = AuditHead.objects.get(id=1).last_seq
    client.force_login(gwen)

    assert client.get(reverse("identity:search"), {"name": "Alys Prydderch"}).status_code == 200
    assert client.get(reverse("identity:person", args=[prydderch.alys.public_id])).status_code == 200
    reason = "Efa disclosed at school that she is staying with Twm's family tonight"
    client.post(reverse("identity:break-glass", args=[prydderch.efa.public_id]), {"reason": reason})
    _token, plain = api_token_create(organisation=prydderch.orgs.gp, name="GP system")
    response = client.post(
        "/api/v1/events",
        data=json.dumps(
            {
                "events": [
                    {
                        "external_id": "GP-EV-1",
                        "code": "health.appointment.was_not_brought",
                        "occurred_at": "2026-10-12T09:00:00Z",
                        "subject": {"local_id": "GP-1004", "nhs_number": "9434765870"},
                    }
                ]
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plain}",
    )
    assert response.status_code == 200, response.content

    new = list(AuditEntry.objects.filter(seq__gt=start).order_by("seq"))
    by_action = {}
    for entry in new:
        by_action.setdefault(entry.action, []).append(entry)
    search = by_action["search"][0]
    assert search.actor == gwen and search.organisation_code == "ceredigion-childrens-services"
    assert search.detail["name"] == "Alys Prydderch" and search.detail["results"] >= 1
    assert search.ip_address == "127.0.0.1"
    read = by_action["read"][0]
    assert read.actor == gwen and read.object_type == "person" and read.object_id == str(prydderch.alys.public_id)
    assert read.detail["relationship"] == "involved"
    glass = by_action["break_glass"][0]
    assert glass.object_id == str(prydderch.efa.public_id) and glass.purpose == reason
    batch = [e for e in by_action["write"] if e.object_type == "event_batch"]
    assert len(batch) == 1 and batch[0].actor is None
    assert batch[0].actor_label == "meddygfa-r-bont system"
    from cylch.events.models import Event

    created = Event.objects.get(public_id=batch[0].detail["created"][0])  # the audit names the events it stored
    assert created.organisation.code == "meddygfa-r-bont" and len(batch[0].detail["created"]) == 1
    assert [e.seq for e in new] == list(range(start + 1, start + 1 + len(new)))

    result = audit_verify()
    assert result.ok and result.checked == AuditEntry.objects.count() and result.first_bad_seq is None


@pytest.fixture
def chain(db):
    """Six entries, as the services write them."""
    entries = [
        audit_record(
            action="read",
            actor_label="gwen.social (social-worker)",
            organisation_code="ceredigion",
            object_type="person",
            object_id=f"p{i}",
            purpose="person record viewed",
            ip_address="10.0.0.1",
            detail={"n": i, "welsh": "Siân"},
        )
        for i in range(1, 7)
    ]
    assert audit_verify().ok
    return entries


def verify_names(seq: int, words: str) -> None:
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == seq, result
    assert words in result.problem, result.problem
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify")
    assert f"entry #{seq}" in str(exc.value)


def test_an_intact_chain_verifies_and_the_command_says_so(chain, capsys):
    """``cylch audit verify`` exits cleanly and reports how many entries it checked."""
    call_command("audit", "verify")
    assert f"audit chain intact: {AuditEntry.objects.count()} entries verified" in capsys.readouterr().out


def test_an_altered_entry_is_named(chain):
    """Changing what an entry says (its purpose) is caught at that entry."""
    AuditEntry.objects.filter(seq=chain[2].seq).update(purpose="nothing to see here")
    verify_names(chain[2].seq, "altered")


def test_an_altered_entry_with_recomputed_hashes_breaks_the_next_link(chain):
    """Even if the tamperer recomputes the altered entry's own digest and hash, the next entry no
    longer follows it."""
    entry = AuditEntry.objects.get(seq=chain[2].seq)
    entry.detail = {"n": 99}
    entry.payload_digest = _digest(entry)
    entry.entry_hash = _chain(entry.prev_hash, entry.seq, entry.payload_digest)
    AuditEntry.objects.filter(pk=entry.pk).update(
        detail=entry.detail, payload_digest=entry.payload_digest, entry_hash=entry.entry_hash
    )
    verify_names(chain[3].seq, "does not follow")


def test_a_deleted_middle_entry_is_named(chain):
    """Removing an entry from the middle is caught as that entry missing."""
    AuditEntry.objects.filter(seq=chain[2].seq).delete()
    verify_names(chain[2].seq, "missing")


def test_a_deleted_last_entry_is_named(chain):
    """Removing the newest entry is caught through the head, which remembers the last entry."""
    AuditEntry.objects.filter(seq=chain[-1].seq).delete()
    verify_names(chain[-1].seq, "removed")


def test_reordered_entries_are_named(chain):
    """Swapping two entries' places in the sequence is caught at the first of them."""
    a, b = chain[2].seq, chain[3].seq
    AuditEntry.objects.filter(seq=a).update(seq=-1)
    AuditEntry.objects.filter(seq=b).update(seq=a)
    AuditEntry.objects.filter(seq=-1).update(seq=b)
    verify_names(a, "does not follow")


def test_a_long_chain_is_walked_in_batches_and_a_late_break_is_found(chain):
    """Verification walks the whole chain in batches: a long chain verifies, and a break far
    along (past the first batch) is still found and named."""
    for i in range(30):
        audit_record(action="search", actor_label="system", detail={"i": i})
    assert audit_verify(batch_size=7).ok
    target = AuditEntry.objects.order_by("seq")[25]
    AuditEntry.objects.filter(pk=target.pk).update(object_id="someone-else")
    result = audit_verify(batch_size=7)
    assert not result.ok and result.first_bad_seq == target.seq and result.checked == target.seq - 1


def test_an_entry_in_a_failed_transaction_leaves_no_gap(chain):
    """An entry written inside a transaction that rolls back disappears with it, and the chain
    still verifies (the head rolls back too)."""
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="write", actor_label="system", purpose="will roll back")
        raise RuntimeError("business write failed")
    assert audit_verify().ok
    assert audit_record(action="write", actor_label="system").seq == chain[-1].seq + 1


def test_a_redaction_that_erases_content_still_verifies(chain):
    """Retention may erase an entry's content: with the content emptied, the chain still verifies."""
    from django.utils import timezone

    AuditEntry.objects.filter(seq=chain[3].seq).update(
        redacted_at=timezone.now(), actor_label="", object_id="", purpose="", ip_address="", detail={}
    )
    assert audit_verify().ok


def test_a_redaction_mark_cannot_hide_an_edit(chain):
    """Marking an entry redacted while keeping (changed) content is caught, not excused."""
    from django.utils import timezone

    AuditEntry.objects.filter(seq=chain[3].seq).update(redacted_at=timezone.now(), purpose="rewritten")
    verify_names(chain[3].seq, "keeps content")


# --- entries gathered and appended together (a batch's) ---------------------------------------


def test_gathered_entries_are_appended_together_in_order_and_verify(chain):
    """Inside ``gathering`` entries are held back (nothing in the table yet), then appended as
    the block ends, in the order recorded, with no gap after the entries before them; one
    statement puts them all in, and the chain verifies."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from cylch.access.audit import gathering, hold_recording

    before = AuditEntry.objects.count()
    with transaction.atomic():
        hold_recording()
        with CaptureQueriesContext(connection) as queries, gathering():
            for i in range(5):
                audit_record(action="write", actor_label="Cylch rules", purpose="alert raised", detail={"i": i})
            assert AuditEntry.objects.count() == before  # held back until the block ends
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1, inserts
    added = list(AuditEntry.objects.filter(seq__gt=chain[-1].seq).order_by("seq"))
    assert [e.detail["i"] for e in added] == [0, 1, 2, 3, 4]
    assert [e.seq for e in added] == list(range(chain[-1].seq + 1, chain[-1].seq + 6))
    assert [e.at for e in added] == sorted(e.at for e in added)
    assert audit_verify().ok


def test_a_gathering_that_fails_appends_nothing(chain):
    """A block that raises appends none of its entries; the next entry follows the last one."""
    from django.db import transaction

    from cylch.access.audit import gathering

    with pytest.raises(RuntimeError), transaction.atomic(), gathering():
        audit_record(action="write", actor_label="system", purpose="will not be kept")
        raise RuntimeError("the batch was rejected")
    assert audit_verify().ok
    assert audit_record(action="write", actor_label="system").seq == chain[-1].seq + 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_senders_gathering_at_once_make_one_chain():
    """Two threads, each appending gathered batches of entries and single entries at once, as
    two systems' batches do: the lock on the head orders them, so the chain has every entry
    once, no gap and no fork, and verifies."""
    import threading

    from django.db import connections, transaction

    from cylch.access.audit import gathering, hold_recording

    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def sender(name: str) -> None:
        try:
            start.wait(30)
            for batch in range(10):
                with transaction.atomic():
                    hold_recording()
                    with gathering():
                        for i in range(5):
                            audit_record(action="write", actor_label=name, detail={"batch": batch, "i": i})
                audit_record(action="write", actor_label=name, detail={"batch": batch, "single": True})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender, args=(name,)) for name in ("GP system", "school system")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    result = audit_verify()
    assert result.ok, result
    for name in ("GP system", "school system"):
        assert AuditEntry.objects.filter(actor_label=name).count() == 60


# --- the recording lock and the head (access/audit.py's module docstring) --------------------


def _holding(started, release, *, gathered: bool, errors: list) -> None:
    """A recording transaction, as an event batch is: the recording lock taken (by its rules, or
    by an entry appended inside it), then kept until ``release`` is set."""
    from django.db import connections, transaction

    from cylch.access.audit import gathering, hold_recording

    try:
        with transaction.atomic():
            if gathered:
                hold_recording()
                with gathering():
                    audit_record(action="write", actor_label="batch", purpose="alert raised")
                    started.set()
                    release.wait(20)
            else:
                audit_record(action="write", actor_label="batch", purpose="event recorded")
                started.set()
                release.wait(20)
    except BaseException as exc:  # reported by the test
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_reads_entry_does_not_wait_for_a_batch_still_recording():
    """A batch's rules run under the recording lock, not the chain's head: a read's entry made
    meanwhile is appended at once (it used to wait for the whole batch to commit), and the
    batch's entries follow it in the chain when it ends."""
    import threading
    import time

    started, release, errors = threading.Event(), threading.Event(), []
    batch = threading.Thread(target=_holding, args=(started, release), kwargs={"gathered": True, "errors": errors})
    batch.start()
    try:
        assert started.wait(20)
        began = time.monotonic()
        read = audit_record(action="read", actor_label="reader", purpose="chronology viewed")
        waited = time.monotonic() - began
    finally:
        release.set()
        batch.join(30)
    assert not errors, errors
    assert waited < 5, f"the read's entry waited {waited:.1f} s for the batch"
    batch_entry = AuditEntry.objects.get(actor_label="batch")
    assert read.seq < batch_entry.seq
    assert read.at <= batch_entry.at  # moments rise with the chain
    assert audit_verify().ok


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_entry_appended_inside_a_transaction_holds_the_recording_lock_to_its_commit():
    """A transaction that has appended an entry keeps the head to its commit, so it must be the
    one recording: another's ``hold_recording`` waits for it (here, gives up after 0.5 s).
    Otherwise it could hold the head while the batch holding the lock waited for the head."""
    import threading

    from django.db import OperationalError, connection, transaction

    from cylch.access.audit import hold_recording

    started, release, errors = threading.Event(), threading.Event(), []
    other = threading.Thread(target=_holding, args=(started, release), kwargs={"gathered": False, "errors": errors})
    other.start()
    try:
        assert started.wait(20)
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '500ms'")
            hold_recording()
    finally:
        release.set()
        other.join(30)
    assert not errors, errors
    with transaction.atomic():
        hold_recording()  # free again once it committed
    assert audit_verify().ok

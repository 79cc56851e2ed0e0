"""The retention schedule for operational records: files and batches received, messages sent to
organisations' systems, and notices and emails to practitioners. Each goes a short time after it
was made, with one audit entry per record and no content; an email not yet sent and a message
still being tried are never removed; a legal hold on a child keeps those that name her."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.events.csv_intake import import_csv
from cylch.events.models import ImportRun
from cylch.events.services import record_event
from cylch.governance import retention, webhooks
from cylch.governance.models import Delivery, DeliveryAttempt, DeliveryState, Removal, RunStatus, WebhookKind
from cylch.governance.retention_records import CLASSES, RemovalContext, add_years
from cylch.notify import services as notify
from cylch.notify.models import Notification, OutboxMessage, OutboxStatus
from tests import factories
from tests.test_retention import RECEIPT_KEYS, canonical_sha256, due_ids
from tests.test_webhooks import receiver  # noqa: F401  (a fixture: a real HTTP receiver on 127.0.0.1)

pytestmark = pytest.mark.django_db

OPERATIONAL = ["import_runs", "webhook_deliveries", "notifications", "emails"]
REGISTERED = "process.register.registered"
HEADER = "external_id,code,occurred_at,local_id,given_name,family_name,details.service\n"
DAY = timedelta(days=1)


@dataclass
class Ops:
    p: factories.Prydderch
    stored: ImportRun  # the GP's file about Alys (on the register) and Twm
    rejected: ImportRun  # a file refused, its errors quoting a value from it; it names no one known
    delivered: Delivery  # Alys's registration, delivered to the school's system
    pending: Delivery  # a test message the school's system has not been sent yet
    notice: Notification  # to the GP, about Alys (its address is her record)
    sent: OutboxMessage  # its email, sent
    unsent: OutboxMessage  # an email queued later, not yet sent


def build_ops(p, receiver) -> Ops:  # noqa: F811
    admin = factories.demo_practitioner(username="ysgol.admin", role=Role.ADMIN, organisation=p.orgs.school)
    made = webhooks.subscription_create(user=admin, name="School information system", url=receiver.url,
                                        kinds=[WebhookKind.REGISTRATION])  # fmt: skip
    registered = record_event(organisation=p.orgs.childrens_services, code=REGISTERED, person=p.alys,
                              occurred_at=timezone.now() - timedelta(days=10), recorded_by=p.staff.social_worker,
                              details=factories.minimal_details(REGISTERED)).event  # fmt: skip
    webhooks.deliver_due()
    delivered = Delivery.objects.get(reference=str(registered.public_id))
    assert delivered.state == DeliveryState.DELIVERED and delivered.tries.count() == 1
    rows = (
        "GP-EV-1,health.appointment.was_not_brought,2026-10-01 09:30,GP-1003,Alys,Prydderch,gp\n"
        "GP-EV-2,health.appointment.was_not_brought,2026-10-02 09:30,GP-1004,Twm,Prydderch,gp\n"
    )
    stored = import_csv(organisation=p.orgs.gp, data=(HEADER + rows).encode(), filename="gp-alys.csv",
                        actor=p.staff.gp)  # fmt: skip
    assert stored.status == "stored" and stored.register_people == [str(p.alys.public_id)]
    bad = "GP-EV-9,health.appointment.was_not_brought,not a date,GP-1009,Efa,Prydderch,gp\n"
    rejected = import_csv(organisation=p.orgs.gp, data=(HEADER + bad).encode(), filename="gp-efa.csv")
    assert rejected.status == "rejected" and rejected.errors
    notice = notify.notify_user(recipient=p.staff.gp, kind="register_entry", url=f"/people/{p.alys.public_id}/",
                                subject="Alys Prydderch: a new entry", body="Alys was not brought to the clinic again.",
                                dedupe_key="retention-test:alys")  # fmt: skip
    notify.deliver_due(limit=1000)
    sent = OutboxMessage.objects.get(dedupe_key="retention-test:alys")
    assert sent.status == OutboxStatus.SENT
    unsent = notify.notify_address(to="team@example.org", subject="Later", body="Queued, not yet sent.",
                                   dedupe_key="retention-test:later")  # fmt: skip
    pending = webhooks.webhook_ping(subscription=made.subscription, user=admin)
    return Ops(p, stored, rejected, delivered, pending, notice, sent, unsent)


@pytest.fixture
def ops(prydderch, receiver) -> Ops:  # noqa: F811
    return build_ops(prydderch, receiver)


def on(years: int):
    """The anniversary, ``years`` on, of today (when everything here was made)."""
    return add_years(timezone.localdate(), years)


def receipts() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type="retention").order_by("seq"))


# --- the schedule ---------------------------------------------------------------------------------


def test_operational_records_are_deleted_a_short_time_after_they_were_made_by_cylchs_own_choice():
    """Files and webhook messages 2 years from when they were made, notices and emails 1 year:
    periods no law sets, so each is marked as Cylch's assumption and says why."""
    plan = retention.schedule()
    periods = {key: [(r.id, r.trigger, r.years) for r in plan.classes[key].rules] for key in OPERATIONAL}
    assert periods == {"import_runs": [("two_years", "recorded", 2)],
                       "webhook_deliveries": [("two_years", "recorded", 2)],
                       "notifications": [("one_year", "recorded", 1)], "emails": [("one_year", "recorded", 1)]}  # fmt: skip
    for key in OPERATIONAL:
        assert plan.classes[key].enabled and plan.classes[key].action == "delete" == CLASSES[key].action
        assert all(r.assumption and "Cylch default" in r.source for r in plan.classes[key].rules)


def test_an_operational_class_takes_no_rule_about_a_childs_age(tmp_path):
    """They are kept from when they were made, never from a child's birth."""
    text = retention.DEFAULT_FILE.read_text()
    start = text.index("  emails:")
    block = text[start : text.index("  audit_log:")]
    (tmp_path / "retention.yaml").write_text(text.replace(block, block.replace("from: recorded", "from: birth")))
    with pytest.raises(retention.ScheduleError, match=r"classes\.emails\.rules\.0\.from: “birth” is not a trigger"):
        retention.load(tmp_path / "retention.yaml")


# --- due dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_class", "record", "years"),
    [("import_runs", "stored", 2), ("import_runs", "rejected", 2), ("webhook_deliveries", "delivered", 2),
     ("notifications", "notice", 1), ("emails", "sent", 1)],
)  # fmt: skip
def test_each_is_kept_until_the_day_before_its_anniversary_and_due_on_it(ops, record_class, record, years):
    record_id = str(getattr(ops, record).public_id)
    before = retention.due_list(today=on(years) - DAY, classes=[record_class])
    assert record_id not in due_ids(before, record_class)
    item = next(d for d in retention.due_list(today=on(years), classes=[record_class]).of(record_class)
                if d.record_id == record_id)  # fmt: skip
    assert (item.due_on, item.trigger_date, item.rule.years) == (on(years), timezone.localdate(), years)


def test_an_email_not_yet_sent_and_a_message_still_being_tried_are_never_due(ops):
    """Years on, they are still open: a notice due, not a record retired."""
    listing = retention.due_list(today=on(50), classes=OPERATIONAL)
    listed = {d.record_id for d in listing.items}
    assert str(ops.unsent.public_id) not in listed and str(ops.pending.public_id) not in listed
    assert listing.open["emails"] == 1 and listing.open["webhook_deliveries"] == 1
    # Even a record listed as due is checked again under its lock: one waiting to go stays.
    emails = CLASSES["emails"]
    candidate = next(c for c in emails.candidates(set()) if c.key == str(ops.sent.public_id))
    OutboxMessage.objects.filter(pk=ops.sent.pk).update(status=OutboxStatus.PENDING)
    assert emails.remove(candidate, RemovalContext()) is None and OutboxMessage.objects.filter(pk=ops.sent.pk).exists()


# --- runs -----------------------------------------------------------------------------------------


def test_a_run_deletes_them_with_one_audit_entry_each_naming_class_rule_and_id_and_no_content(ops):
    """Two years on: every file, delivered message, notice and sent email made today is gone with
    one audit entry each (class, record, rule, rows by table, digest); the email not yet sent and
    the message still being tried stay; the chain verifies; a second run removes nothing."""
    listing = retention.due_list(today=on(2), classes=OPERATIONAL)
    due = {(d.record_class, d.record_id) for d in listing.items if d.status == retention.DUE}
    mine = {("import_runs", ops.stored), ("import_runs", ops.rejected), ("webhook_deliveries", ops.delivered),
            ("notifications", ops.notice), ("emails", ops.sent)}  # fmt: skip
    assert {(k, str(r.public_id)) for k, r in mine} <= due
    shas = {str(ops.notice.public_id): canonical_sha256([ops.notice]),
            str(ops.delivered.public_id): canonical_sha256([ops.delivered, *DeliveryAttempt.objects.filter(delivery=ops.delivered)]),
            str(ops.stored.public_id): canonical_sha256([ops.stored])}  # fmt: skip

    run = retention.retention_run(today=on(2), classes=OPERATIONAL)
    assert run.status == RunStatus.COMPLETED, run.error
    assert {(r.record_class, r.record_id) for r in Removal.objects.filter(run=run)} == due
    assert not ImportRun.objects.exists() and not Notification.objects.exists()
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [ops.unsent.pk]
    assert list(Delivery.objects.values_list("pk", flat=True)) == [ops.pending.pk]
    assert not DeliveryAttempt.objects.filter(delivery_id=ops.delivered.pk).exists()

    by_record = {e.object_id: e for e in receipts()}
    for removal in Removal.objects.filter(run=run):
        entry = by_record[removal.record_id]
        assert entry.seq == removal.audit_seq and set(entry.detail) <= RECEIPT_KEYS
        assert (entry.detail["class"], entry.detail["rule"], entry.detail["action"]) == (
            removal.record_class, removal.rule, "deleted")  # fmt: skip
    for record_id, sha in shas.items():
        assert by_record[record_id].detail["sha256"] == sha
    assert by_record[str(ops.delivered.public_id)].detail["counts"] == {
        "governance.delivery": 1, "governance.deliveryattempt": 1}  # fmt: skip
    text = json.dumps([(e.purpose, e.actor_label, e.detail) for e in receipts()], ensure_ascii=False).lower()
    for word in ("alys", "prydderch", "gp-alys.csv", "gp-efa.csv", "not a date", "efa", "a new entry", "clinic",
                 str(ops.p.alys.public_id)):  # fmt: skip
        # whole words: a short name such as "efa" is also three hex digits of some digest or id
        assert not re.search(rf"(?<![0-9a-z]){re.escape(word)}(?![0-9a-z])", text), word
    assert audit_verify().ok and retention.redactions_verify().ok

    again = retention.retention_run(today=on(2), classes=OPERATIONAL)
    assert again.status == RunStatus.COMPLETED and sum(again.removed.values()) == 0


def test_a_legal_hold_on_a_child_keeps_every_message_and_file_that_names_her(ops):
    """Alys's records are held: the file that names her among the children on the register, the
    message about her registration, the notice and the email pointing at her record are kept;
    the refused file, which names no one known, goes. Released, they go at the next run."""
    hold = retention.hold_place(person=ops.p.alys, reason="Civil claim about her care, 2028", reference="CL-2028-3")
    listing = retention.due_list(today=on(2), classes=OPERATIONAL)
    held = {d.record_id for d in listing.items if d.status == retention.HELD}
    assert {str(ops.stored.public_id), str(ops.delivered.public_id), str(ops.notice.public_id),
            str(ops.sent.public_id)} <= held  # fmt: skip
    assert str(ops.rejected.public_id) in due_ids(listing, "import_runs")
    run = retention.retention_run(today=on(2), classes=OPERATIONAL)
    assert run.status == RunStatus.COMPLETED and run.kept["emails"] >= 1 and run.kept["import_runs"] == 1
    assert not ImportRun.objects.filter(pk=ops.rejected.pk).exists()
    for kept in (ops.stored, ops.delivered, ops.notice, ops.sent):
        assert type(kept).objects.filter(pk=kept.pk).exists(), kept

    retention.hold_release(hold=hold, reason="The claim was settled in 2028.")
    retention.retention_run(today=on(2), classes=OPERATIONAL)
    assert not ImportRun.objects.exists() and not Notification.objects.filter(pk=ops.notice.pk).exists()
    assert not Delivery.objects.filter(pk=ops.delivered.pk).exists()


def test_a_hold_on_one_email_keeps_it(ops):
    retention.hold_place(record_class="emails", record_id=str(ops.sent.public_id),
                         reason="The complaint says this email never arrived")  # fmt: skip
    run = retention.retention_run(today=on(1), classes=["emails"])
    assert run.status == RunStatus.COMPLETED and run.kept["emails"] == 1
    assert OutboxMessage.objects.filter(pk=ops.sent.pk).exists()


def test_a_circulated_conference_record_emailed_goes_and_the_delivery_keeps_its_channel(prydderch, settings):
    """The decisions of Alys's conference, emailed in full to her mother, are deleted a year on;
    the protection record's delivery keeps that it went by email to that invitee, not the email."""
    from cylch.protection import meetings
    from cylch.protection.models import Delivery as Circulated
    from cylch.protection.models import Document, InviteeKind
    from tests.test_protection_documents import build_registered

    settings.CYLCH_CHILD_INVITE_AGE = 18
    chair = factories.demo_practitioner(username="menna.chair", role=Role.CONFERENCE_CHAIR,
                                        organisation=prydderch.orgs.childrens_services)  # fmt: skip
    _p, _episode, icpc, _plan = build_registered(prydderch, chair)
    icpc.invitees.filter(kind=InviteeKind.PARENT).update(email="ceri@example.org")  # as tests/test_protection.py does
    circ = meetings.circulate(icpc, Document.DECISIONS, user=prydderch.staff.social_worker)
    notify.deliver_due(limit=1000)
    email = OutboxMessage.objects.get(to="ceri@example.org", dedupe_key__startswith=f"circ:{circ.pk}")
    copy = Circulated.objects.get(outbox=email)
    assert email.status == OutboxStatus.SENT and "Alys is often hungry." in email.body

    run = retention.retention_run(today=on(1), classes=["emails"])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not OutboxMessage.objects.filter(pk=email.pk).exists()
    copy.refresh_from_db()
    assert (copy.outbox_id, copy.channel, copy.invitee_id) == (None, Circulated.Channel.EMAIL, copy.invitee_id)
    entry = AuditEntry.objects.get(object_type="retention", object_id=str(email.public_id))
    assert entry.detail["counts"] == {"notify.outboxmessage": 1, "protection.delivery": 1}
    assert audit_verify().ok


def test_the_command_lists_them_with_their_rules(ops, capsys):
    call_command("retention", "list", "--class", "emails", "--class", "import_runs", "--on", f"{on(2):%Y-%m-%d}")
    out = capsys.readouterr().out
    assert str(ops.sent.public_id) in out and "one_year: 1 year from when it was made" in out
    assert str(ops.stored.public_id) in out and "two_years: 2 years from when it was made" in out
    due = OutboxMessage.objects.filter(status=OutboxStatus.SENT).count()
    assert f"emails: {due} due, 0 kept past their date, 0 not yet due, 1 still open" in out

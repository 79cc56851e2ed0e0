"""Operational records: the files and batches organisations sent (import runs), the messages sent
to their systems (webhook deliveries), and the notices and emails sent to practitioners. Each is
deleted a short time after it was made. None is a record of a child, but each can name one (a
register child's id, an event's or alert's id, a subject line, a whole conference record by
email), so a legal hold on a person keeps those that name them.

A message still waiting to go (an email not yet sent, a delivery still being tried) is open and
never due: removing it would be a notice lost, not a record retired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    Candidate,
    RecordClass,
    RemovalContext,
    Removed,
    chunks,
    count_rows,
    digest,
    erase,
    local_day,
    serialised,
    valid_uuid,
)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)

# The records an operational message can name by public id, and the people each is about: a
# notice's address or an email's key names an alert, a process, an invitee or a person.
NAMED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identity.Person", ("pk",)),
    ("events.Event", ("person_id",)),
    ("rules.Alert", ("children",)),
    ("reports.Report", ("subjects__person_id",)),
    ("protection.Episode", ("child_id",)),
    ("protection.Meeting", ("episode__child_id",)),
    ("protection.Invitee", ("meeting__episode__child_id", "person_id")),
    ("reviews.Referral", ("child_id",)),
    ("identity.Allocation", ("person_id",)),
    ("rules.LeadCoordinatorProposal", ("person_id",)),
    ("access.BreakGlass", ("person_id",)),
)


def uuids_in(*texts: str | None) -> set[str]:
    """Every public id written in ``texts`` (an address, a key, a reference), lower case."""
    return {m.group(0).lower() for text in texts if text for m in UUID.finditer(text)}


def people_named(public_ids: Iterable[str]) -> dict[str, frozenset[int]]:
    """For each public id, the people the record it names is about (a person is about
    themselves). One query per kind of record per ``CHUNK`` ids; ids naming nothing are left out."""
    wanted = sorted(set(public_ids))
    found: dict[str, set[int]] = {}
    for ids in chunks(wanted):
        for label, paths in NAMED:
            model = apps.get_model(label)
            for row in model.objects.filter(public_id__in=ids).values_list("public_id", *paths):
                people = found.setdefault(str(row[0]).lower(), set())
                people.update(p for p in row[1:] if p is not None)
    return {key: frozenset(people) for key, people in found.items()}


class OperationalClass(RecordClass):
    """A table of operational records, each deleted ``years`` after it was made. Subclasses say
    which model, which rows are still open, what names people, and what else goes with a row."""

    action = "delete"
    triggers = frozenset({"recorded"})
    model_label = ""
    made_field = "created_at"

    @property
    def model(self):
        return apps.get_model(self.model_label)

    def fields(self) -> tuple[str, ...]:
        """Extra columns ``open_row`` and ``names`` read, after pk, public id and the date made."""
        return ()

    def open_row(self, row: tuple) -> bool:
        return False

    def names(self, row: tuple) -> set[str]:
        """The public ids the row names (people, or records about people), from its extra columns."""
        return set()

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        rows = self.model.objects.order_by("pk").values_list("pk", "public_id", self.made_field, *self.fields())
        for batch in chunks(rows.iterator(chunk_size=2000), 2000):
            named = [self.names(row[3:]) for row in batch]
            about = people_named({r for records in named for r in records})
            for row, records in zip(batch, named, strict=True):
                made = local_day(row[2])
                persons = frozenset(p for r in records for p in about.get(r, ()))
                yield Candidate(key=str(row[1]), pk=row[0], on=made, recorded=made, persons=persons, age_persons=(),
                                open=self.open_row(row[3:]))  # fmt: skip

    def exists(self, record_id: str) -> bool:
        return valid_uuid(record_id) and self.model.objects.filter(public_id=record_id).exists()

    def still_open(self, obj) -> bool:
        """Checked again under the row's lock, in the removing transaction."""
        return False

    def related(self, obj, rows: list[dict[str, Any]]) -> None:
        """Serialise (into ``rows``) and remove or detach what goes with ``obj``, before it is deleted."""

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        obj = self.model.objects.select_for_update().filter(pk=candidate.pk).first()
        if obj is None or self.still_open(obj):
            return None
        rows = serialised([obj])
        self.related(obj, rows)
        obj.delete()
        return Removed(count_rows(rows), digest(rows))


class ImportRunsClass(OperationalClass):
    """One file, batch or bundle an organisation sent: its name, who sent it, the first problems
    found (which can quote the file) and the ids of its children on the register. The entries
    it brought are their own records."""

    key = "import_runs"
    label = _("Files and batches received")
    model_label = "events.ImportRun"
    made_field = "started_at"

    def fields(self) -> tuple[str, ...]:
        return ("register_people",)

    def names(self, row: tuple) -> set[str]:
        (register,) = row
        return {str(p).lower() for p in (register or []) if isinstance(p, str) and valid_uuid(p)}


class WebhookDeliveriesClass(OperationalClass):
    """One message to an organisation's system, with its tries. Its reference names the event (and
    so its child) or the alert and the child. One still being tried is never due."""

    key = "webhook_deliveries"
    label = _("Messages sent to organisations' systems (webhooks)")
    model_label = "governance.Delivery"

    def fields(self) -> tuple[str, ...]:
        return ("state", "reference")

    def open_row(self, row: tuple) -> bool:
        from cylch.governance.models import DeliveryState

        return row[0] == DeliveryState.PENDING

    def names(self, row: tuple) -> set[str]:
        return uuids_in(row[1])

    def still_open(self, obj) -> bool:
        from cylch.governance.models import DeliveryState

        return obj.state == DeliveryState.PENDING

    def related(self, obj, rows: list[dict[str, Any]]) -> None:
        from cylch.governance.models import DeliveryAttempt

        rows.extend(serialised(DeliveryAttempt.objects.filter(delivery=obj)))  # deleted with it (CASCADE)


class NotificationsClass(OperationalClass):
    """A notice in a practitioner's list in the app, read or not: its subject and text can name a
    child or describe a concern; its address names the record it is about."""

    key = "notifications"
    label = _("Notices to practitioners in the app")
    model_label = "notify.Notification"

    def fields(self) -> tuple[str, ...]:
        return ("url",)

    def names(self, row: tuple) -> set[str]:
        return uuids_in(row[0])


class EmailsClass(OperationalClass):
    """An email queued in the outbox and sent (or given up): its subject and text can name a child
    or carry a whole conference record; its key and link name the record it is about. One not yet
    sent is a notice still due and is never removed. A circulated document's delivery keeps its
    channel and invitee, and loses its link to the email."""

    key = "emails"
    label = _("Emails to practitioners and others")
    model_label = "notify.OutboxMessage"

    def fields(self) -> tuple[str, ...]:
        return ("status", "dedupe_key", "body")

    def open_row(self, row: tuple) -> bool:
        from cylch.notify.models import OutboxStatus

        return row[0] == OutboxStatus.PENDING

    def names(self, row: tuple) -> set[str]:
        return uuids_in(row[1], row[2])

    def still_open(self, obj) -> bool:
        from cylch.notify.models import OutboxStatus

        return obj.status == OutboxStatus.PENDING

    def related(self, obj, rows: list[dict[str, Any]]) -> None:
        from cylch.protection.models import Delivery

        erase(Delivery.objects.filter(outbox=obj), {"outbox": None}, rows)

"""``core.bulk.insert_rows``: new rows inserted as ``bulk_create`` would store them (by ``COPY``
on PostgreSQL), each given its id, and nothing inserted when one row breaks a constraint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from cylch.access.models import ApiToken, LoginAttempt
from cylch.core.bulk import insert_rows
from cylch.events.models import Event, ImportRun, ImportStatus, Source
from tests import factories

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
AWKWARD = [
    "",
    "Tab\there, a new line\nand a backslash \\ at the end \\",
    "Dyfynodau 'sengl' a \"dwbl\", 100% o'r rhesi; ŵ ŷ â",
    "\\N is not a null",
    "a carriage return\r\n and a form feed \f",
]


def _events(fam, tag: str) -> list[Event]:
    return [
        Event(
            code="health.appointment.was_not_brought",
            person=fam.alys,
            household=fam.home,
            organisation=fam.orgs.gp,
            recorder_name=f"Dr {text[:20]}",
            occurred_at=AT - timedelta(days=i, microseconds=i),
            recorded_at=AT,
            sensitivity="standard",
            summary=text,
            details={"clinic": text, "list": [1, None, True, 2.5], "nested": {"ŵ": text}},
            external_id=f"{tag}-{i}",
            fingerprint="f" * 64,
            source=Source.API,  # an enum member, stored by its value
        )
        for i, text in enumerate(AWKWARD)
    ]


def _stored(model, pks) -> list[dict]:
    rows = sorted(model.objects.filter(pk__in=pks), key=lambda r: r.pk)
    return [model_to_dict(r, exclude=["id", "public_id", "external_id"]) for r in rows]


def test_rows_are_stored_as_bulk_create_stores_them():
    fam = factories.prydderch_household()
    copied, created = _events(fam, "copy"), _events(fam, "orm")
    assert insert_rows(Event, copied) == copied
    Event.objects.bulk_create(created)
    assert all(e.pk for e in copied) and len({e.pk for e in copied}) == len(copied)
    assert _stored(Event, [e.pk for e in copied]) == _stored(Event, [e.pk for e in created])
    row = Event.objects.get(pk=copied[1].pk)
    assert row.summary == AWKWARD[1] and row.details["nested"]["ŵ"] == AWKWARD[1]
    assert row.source == "api" and row.public_id == copied[1].public_id
    assert Event.objects.get(pk=copied[3].pk).summary == "\\N is not a null"


def test_inserted_rows_are_saved_rows():
    """A later ``save()`` updates the row it inserted; it does not insert another."""
    fam = factories.prydderch_household()
    [event] = insert_rows(Event, _events(fam, "saved")[:1])
    before = Event.objects.count()
    event.summary = "Changed"
    event.save(update_fields=["summary"])
    assert Event.objects.count() == before
    assert Event.objects.get(pk=event.pk).summary == "Changed"


def test_auto_now_add_and_related_objects_are_filled_in_as_bulk_create_does():
    org = factories.organisation(code="gp-insert", kind="gp_practice")
    before = datetime.now(UTC)
    [attempt] = insert_rows(LoginAttempt, [LoginAttempt(username="gwen", ip_address="127.0.0.1")])
    assert LoginAttempt.objects.get(pk=attempt.pk).at >= before - timedelta(seconds=1)
    token = ApiToken(name="GP system", prefix="cyl_ins", secret_hash="0" * 64)
    token.organisation = org  # assigned as an object: its id is what is stored
    insert_rows(ApiToken, [token])
    assert ApiToken.objects.get(pk=token.pk).organisation_id == org.pk


def test_a_time_without_a_zone_is_read_as_bulk_create_reads_it():
    org = factories.organisation(code="gp-naive", kind="gp_practice")

    def run():
        return ImportRun(
            organisation=org, source="csv", started_at=datetime(2026, 7, 1, 12, 0), status=ImportStatus.STORED
        )

    with pytest.warns(RuntimeWarning):
        [copied] = insert_rows(ImportRun, [run()])
    with pytest.warns(RuntimeWarning):
        [created] = ImportRun.objects.bulk_create([run()])
    assert ImportRun.objects.get(pk=copied.pk).started_at == ImportRun.objects.get(pk=created.pk).started_at


def test_a_row_that_breaks_a_constraint_stores_none_of_them():
    fam = factories.prydderch_household()
    insert_rows(Event, _events(fam, "taken")[:1])
    before = Event.objects.count()
    again = _events(fam, "taken")  # the first reuses the organisation's external id
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Event, again)
    assert Event.objects.count() == before
    assert insert_rows(Event, _events(fam, "other"))  # the transaction goes on


def test_refuses_rows_already_saved_and_writes_nothing_for_none():
    fam = factories.prydderch_household()
    [event] = insert_rows(Event, _events(fam, "once")[:1])
    with pytest.raises(ValueError, match="already has a primary key"):
        insert_rows(Event, [event])
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows(Event, []) == []
    assert len(queries) == 0


@pytest.mark.postgresql
def test_postgresql_takes_the_ids_in_one_query_and_copies_the_rows():
    fam = factories.prydderch_household()
    with CaptureQueriesContext(connection) as queries:
        insert_rows(Event, _events(fam, "copied"))
    assert len(queries) == 1 and "nextval" in queries[0]["sql"]  # COPY is not a query Django logs
    assert not any("INSERT" in q["sql"] for q in queries)

"""`cylch link rekey` (identity/services.py, ``agency_record_keys_remake``): the linkage keys
stored on agency records are made again from their fields after the way they are made changes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from cylch.access.models import AuditEntry
from cylch.access.roles import OrganisationKind
from cylch.identity.models import AgencyRecord, match_keys
from cylch.identity.services import agency_record_keys_remake, agency_record_upsert
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def records():
    school = factories.organisation(code="SCH-RK", kind=OrganisationKind.SCHOOL)
    sent = [
        (
            "r1",
            {"given_name": "Dai", "family_name": "Prydderch", "postcode": "sy23 3zz", "address_line": "4 Maes y Felin"},
        ),
        (
            "r2",
            {"given_name": "Siân", "family_name": "Owen", "postcode": "SA15 2BB", "address_line": "9, Ffordd Newydd"},
        ),
        ("r3", {"given_name": "Alys", "family_name": "Prydderch"}),
    ]
    return [agency_record_upsert(organisation=school, local_id=lid, data=data).record for lid, data in sent]


def _rekey() -> str:
    out = StringIO()
    call_command("link", "rekey", "--no-progress", stdout=out)
    return out.getvalue()


def test_a_key_made_the_old_way_is_remade_and_a_second_run_changes_nothing(records):
    """A record whose stored keys an older names.py made (here: another given-name form and a
    postcode with its space) gets today's keys; nothing else about it changes, and running the
    command again changes no row."""
    dai = records[0]
    AgencyRecord.objects.filter(pk=dai.pk).update(given_canon="dai", postcode_key="SY23 3ZZ")
    before = AgencyRecord.objects.get(pk=dai.pk)
    others = {r.pk: (r.given_canon, r.postcode_key, r.address_key, r.surname_key) for r in records[1:]}

    assert "linkage keys remade on 1" in _rekey()

    after = AgencyRecord.objects.get(pk=dai.pk)
    expected = match_keys(after)
    assert (after.given_canon, after.postcode_key) == (expected["given_canon"], expected["postcode_key"])
    assert (after.given_canon, after.postcode_key) == ("dafydd", "SY233ZZ")
    # The agency's own fields and when it last wrote are untouched: households read modified_at.
    assert (after.given_name, after.postcode, after.modified_at) == (
        before.given_name,
        before.postcode,
        before.modified_at,
    )
    for record in AgencyRecord.objects.filter(pk__in=others):
        assert (record.given_canon, record.postcode_key, record.address_key, record.surname_key) == others[record.pk]
    assert "linkage keys remade on 0" in _rekey()
    audits = AuditEntry.objects.filter(purpose="linkage keys remade").order_by("pk")
    assert [a.detail["changed"] for a in audits] == [1, 0]


def test_batches_cover_every_record(records):
    """With a batch smaller than the table every stale record is still found, and progress
    counts every record read."""
    AgencyRecord.objects.update(address_key="stale", surname_key="stale")
    seen = []
    assert agency_record_keys_remake(batch=2, progress=seen.append) == 3
    assert sum(seen) == 3
    for record in AgencyRecord.objects.all():
        assert record.address_key == match_keys(record)["address_key"]
        assert record.surname_key == match_keys(record)["surname_key"]
    assert agency_record_keys_remake(batch=2) == 0

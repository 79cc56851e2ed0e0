"""The person index as a retention class: a person's entry goes, with every index row that exists
only because of them, on the date the rules of their last record give, never while a legal hold
covers them or anything else Cylch keeps refers to them, with a receipt that holds no content, a
chain that still verifies, and nothing half removed when a batch fails."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry
from cylch.events.services import record_event
from cylch.governance import retention
from cylch.governance.models import LegalHold, Removal, RunStatus
from cylch.governance.retention_records import CLASSES, add_years
from cylch.governance.retention_records.person_index import group_of
from cylch.identity.linking import person_merge, review_raise
from cylch.identity.models import (
    AgencyRecord,
    Allocation,
    FamilyConflict,
    Household,
    HouseholdMembership,
    MatchReview,
    Person,
    PersonLink,
    Relationship,
)
from cylch.identity.services import (
    agency_record_upsert,
    allocation_create,
    household_add_member,
    household_create,
    relationship_add,
)
from tests import factories
from tests.test_retention import DAY, canonical_sha256, due_ids

pytestmark = pytest.mark.django_db

BORN = date(2010, 3, 15)  # Gwenllian Rhydderch, 16 when her entry is made (December 2026)
TWENTY_FIFTH = date(2035, 3, 15)
KEY = "person_index"
PERSON_INDEX = CLASSES[KEY]


@dataclass
class Entry:
    person: Person
    record: AgencyRecord


def entry(p, local_id: str, given: str, family: str, born: date) -> Entry:
    """A person as an agency sends them: a new entry with its agency record and link."""
    result = agency_record_upsert(
        organisation=p.orgs.school, local_id=local_id,
        data={"given_name": given, "family_name": family, "date_of_birth": born.isoformat()},
    )  # fmt: skip
    return Entry(result.person, result.record)


def index_rows(person: Person) -> list:
    """Every index row of a person (read before a run, for the digest)."""
    records = AgencyRecord.objects.filter(links__person=person)
    return [
        *Person.objects.filter(pk=person.pk),
        *records,
        *PersonLink.objects.filter(person=person),
        *HouseholdMembership.objects.filter(person=person),
        *Relationship.objects.filter(person=person),
        *Relationship.objects.filter(relative=person),
        *Allocation.objects.filter(person=person),
        *FamilyConflict.objects.filter(person=person),
        *MatchReview.objects.filter(record_a__in=records) | MatchReview.objects.filter(record_b__in=records),
    ]


@pytest.fixture
def gwen(prydderch) -> Entry:
    """A child with an entry in every table of the index and nothing else about her in Cylch."""
    p = prydderch
    gwen = entry(p, "GR-1", "Gwenllian", "Rhydderch", BORN)
    cousin = entry(p, "GR-2", "Morfudd", "Rhydderch", date(2020, 6, 1))  # due in 2045
    other = entry(p, "GR-3", "Gwenllan", "Rhyderch", date(2011, 3, 15))  # a possible duplicate: a review task
    home = household_create(address_line="3 Heol y Felin", town="Aberaeron", postcode="SA46 0AA")
    household_add_member(household=home, person=gwen.person)
    relationship_add(person=cousin.person, kind="other", relative=gwen.person)
    allocation_create(person=gwen.person, organisation=p.orgs.school, kind="named_practitioner")
    FamilyConflict.objects.create(person=gwen.person, kind="too_many_parents", detail={"parents": 3})
    review_raise(record_a=gwen.record.pk, record_b=other.record.pk, weight=4.0, probability=0.7,
                 model_version="test", reason="uncertain")  # fmt: skip
    return gwen


def receipt_of(person_public_id) -> AuditEntry:
    return AuditEntry.objects.get(object_type="retention", object_id=str(person_public_id), detail__class=KEY)


def test_a_child_goes_on_her_25th_birthday_with_every_index_row_and_a_receipt_without_content(gwen, prydderch):
    """The day before her 25th birthday she is kept; on it the run removes her entry, her agency
    record, link, membership, relationship, allocation, family conflict, the review task on her
    record and the household no one else lived in, with one receipt whose digest is of those rows
    and that holds no name, date or address; her cousin and the other record stay; the chain verifies."""
    person = gwen.person
    assert str(person.public_id) not in due_ids(retention.due_list(today=TWENTY_FIFTH - DAY, classes=[KEY]), KEY)
    listing = retention.due_list(today=TWENTY_FIFTH, classes=[KEY])
    [item] = [d for d in listing.of(KEY) if d.record_id == str(person.public_id)]
    assert item.rule.id == "children" and item.due_on == TWENTY_FIFTH
    home = Household.objects.get(memberships__person=person)
    rows = [*index_rows(person), home]
    expected = canonical_sha256(rows)

    early = retention.retention_run(today=TWENTY_FIFTH - DAY, classes=[KEY])
    assert early.status == RunStatus.COMPLETED and Person.objects.filter(pk=person.pk).exists()
    run = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not AgencyRecord.objects.filter(pk=gwen.record.pk).exists()
    assert not PersonLink.objects.filter(agency_record_id=gwen.record.pk).exists()
    assert not Household.objects.filter(pk=home.pk).exists()
    assert not MatchReview.objects.filter(record_a_id=gwen.record.pk).exists()
    assert not MatchReview.objects.filter(record_b_id=gwen.record.pk).exists()
    assert not Relationship.objects.filter(relative_id=person.pk).exists()
    assert not Allocation.objects.filter(person_id=person.pk).exists()
    assert not FamilyConflict.objects.filter(person_id=person.pk).exists()
    assert Person.objects.filter(family_name="Rhydderch", given_name="Morfudd").exists()  # her cousin stays
    assert AgencyRecord.objects.filter(local_id="GR-3").exists()  # and the other record

    receipt = receipt_of(person.public_id)
    assert receipt.detail["sha256"] == expected
    assert receipt.detail["counts"] == {
        "identity.agencyrecord": 1, "identity.allocation": 1, "identity.familyconflict": 1, "identity.household": 1,
        "identity.householdmembership": 1, "identity.matchreview": 1, "identity.person": 1, "identity.personlink": 1,
        "identity.relationship": 1,
    }  # fmt: skip
    text = json.dumps(receipt.detail)
    assert not any(word in text for word in ("Gwenllian", "Rhydderch", "Felin", "SA46", "2010"))
    removal = Removal.objects.get(record_class=KEY, record_id=str(person.public_id))
    assert removal.sha256 == expected and removal.audit_seq == receipt.seq
    assert audit_verify().ok
    call_command("audit", "verify")  # raises CommandError if the chain or an erasure does not check
    again = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert again.removed.get(KEY, 0) == 0


def test_someone_an_entry_still_refers_to_is_kept_and_the_list_says_by_what(gwen, prydderch, capsys):
    """An entry on her chronology refers to her: the list keeps her, naming the entry's table and
    id, and a run of the person index alone keeps her. A run with the soft concerns removes the
    entry first (its own rule, the same birthday) and then her, in the same run: the list is
    cautious, the run checks again when her turn comes."""
    person = gwen.person
    event = factories.event(organisation=prydderch.orgs.gp, code="health.appointment.was_not_brought",
                            occurred_at=timezone.now(), person=person, recorded_by=prydderch.staff.gp)  # fmt: skip
    listing = retention.due_list(today=TWENTY_FIFTH, classes=[KEY])
    [item] = [d for d in listing.items if d.record_id == str(person.public_id)]
    assert item.status == retention.NEEDED and item.reason == f"events.Event {event.public_id}"
    assert PERSON_INDEX.need(group_of(person.pk)) == ("events.Event", str(event.public_id))  # read one by one too
    call_command("retention", "list", "--class", KEY, "--on", TWENTY_FIFTH.isoformat())
    out = capsys.readouterr().out
    assert str(person.public_id) in out and f"needed by events.Event {event.public_id}" in out
    run = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert run.kept[KEY] >= 1 and Person.objects.filter(pk=person.pk).exists()

    everything = retention.retention_run(today=TWENTY_FIFTH, classes=["soft_concerns", KEY])
    assert everything.status == RunStatus.COMPLETED, everything.error
    assert not Person.objects.filter(pk=person.pk).exists() and audit_verify().ok


def test_a_relative_whose_records_are_kept_keeps_the_person(gwen, prydderch):
    """Her young cousin has an entry on the spine that is still kept: the list keeps Gwenllian,
    "needed by relative <the cousin>", so a kept record never loses who the family are."""
    cousin = Person.objects.get(given_name="Morfudd", family_name="Rhydderch")
    factories.event(organisation=prydderch.orgs.gp, code="health.appointment.was_not_brought",
                    occurred_at=timezone.now(), person=cousin, recorded_by=prydderch.staff.gp)  # fmt: skip
    listing = retention.due_list(today=TWENTY_FIFTH, classes=[KEY])
    [item] = [d for d in listing.items if d.record_id == str(gwen.person.public_id)]
    assert item.status == retention.NEEDED and item.reason == f"relative {cousin.public_id}"
    assert PERSON_INDEX.need(group_of(gwen.person.pk)) == ("relative", str(cousin.public_id))


def test_an_adult_goes_8_years_after_the_last_record_about_them(prydderch):
    """An adult's entry made today is due 8 years on, not before."""
    adult = entry(prydderch, "AD-1", "Iolo", "Bevan", date(1970, 1, 1)).person
    made = timezone.localdate()
    assert str(adult.public_id) not in due_ids(retention.due_list(today=add_years(made, 8) - DAY, classes=[KEY]), KEY)
    [item] = [d for d in retention.due_list(today=add_years(made, 8), classes=[KEY]).of(KEY)
              if d.record_id == str(adult.public_id)]  # fmt: skip
    assert item.rule.id == "adult"


def test_a_legal_hold_keeps_the_person_and_goes_with_them_once_released(gwen):
    """A hold on her keeps her entry past her birthday; released, her entry goes at the next run
    and the released hold (which names her) with it."""
    person = gwen.person
    hold = retention.hold_place(person=person, reason="Claim about the family's care", reference="CL-1",
                                actor_label="test")  # fmt: skip
    assert str(person.public_id) in due_ids(retention.due_list(today=TWENTY_FIFTH, classes=[KEY]), KEY, retention.HELD)
    run = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert run.kept[KEY] >= 1 and Person.objects.filter(pk=person.pk).exists()
    retention.hold_release(hold=hold, reason="The claim was settled.", actor_label="test")
    run = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert not Person.objects.filter(pk=person.pk).exists() and not LegalHold.objects.filter(pk=hold.pk).exists()
    assert receipt_of(person.public_id).detail["counts"]["governance.legalhold"] == 1


def test_a_merged_pointer_goes_with_the_person_it_points_to(gwen, prydderch):
    """A duplicate merged into her is not a record of its own: it goes with her, with its link."""
    duplicate = entry(prydderch, "GR-9", "Gwen", "Jones", date(2010, 5, 3)).person  # too unlike to link
    assert duplicate.pk != gwen.person.pk
    person_merge(source=duplicate, target=gwen.person, actor=None, reason="the same child")
    listing = retention.due_list(today=TWENTY_FIFTH, classes=[KEY])
    assert str(duplicate.public_id) not in {d.record_id for d in listing.items}
    assert str(gwen.person.public_id) in due_ids(listing, KEY)
    run = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not Person.objects.filter(pk__in=[duplicate.pk, gwen.person.pk]).exists()
    assert not AgencyRecord.objects.filter(local_id="GR-9").exists()
    detail = receipt_of(gwen.person.public_id).detail
    assert detail["counts"]["identity.person"] == 2 and detail["merged"] == 1


def test_a_household_someone_else_still_belongs_to_is_kept(gwen, prydderch):
    """Her younger brother still lives at the house: her membership goes, the household stays."""
    brother = entry(prydderch, "GR-4", "Macsen", "Rhydderch", date(2020, 1, 1)).person
    home = Household.objects.get(memberships__person=gwen.person)
    household_add_member(household=home, person=brother)
    retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert not Person.objects.filter(pk=gwen.person.pk).exists()
    assert Household.objects.filter(pk=home.pk).exists()
    assert list(HouseholdMembership.objects.filter(household=home).values_list("person_id", flat=True)) == [brother.pk]
    assert receipt_of(gwen.person.public_id).detail["counts"].get("identity.household") is None


def _guard(person_pk: int) -> tuple[str, str]:
    """A database trigger that refuses to delete one person: (create, drop) SQL for the engine."""
    if connection.vendor == "postgresql":
        return (
            "CREATE FUNCTION person_index_guard() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'kept by the records office'; END; $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER person_index_guard BEFORE DELETE ON identity_person FOR EACH ROW "
            f"WHEN (OLD.id = {int(person_pk)}) EXECUTE FUNCTION person_index_guard();",
            "DROP TRIGGER person_index_guard ON identity_person; DROP FUNCTION person_index_guard();",
        )
    return (
        f"CREATE TRIGGER person_index_guard BEFORE DELETE ON identity_person WHEN OLD.id = {int(person_pk)} "
        "BEGIN SELECT RAISE(ABORT, 'kept by the records office'); END;",
        "DROP TRIGGER person_index_guard;",
    )


def test_a_batch_that_fails_part_way_leaves_no_one_half_removed(gwen, prydderch):
    """Two children are due in one batch; the database refuses to delete the second after the
    first has gone. The whole batch rolls back: the first is still there with every index row,
    no removal or receipt is recorded, the run says why, and the chain verifies. Lifted, a run
    removes both."""
    second = entry(prydderch, "GR-5", "Heledd", "Rhydderch", BORN).person
    before = canonical_sha256(index_rows(gwen.person))
    create, drop = _guard(second.pk)
    with connection.cursor() as cursor:
        cursor.execute(create)
    run = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert run.status == RunStatus.FAILED and run.error.startswith(f"{KEY}: ") and "records office" in run.error
    assert canonical_sha256(index_rows(gwen.person)) == before
    assert Household.objects.filter(memberships__person=gwen.person).exists()
    assert not Removal.objects.filter(record_class=KEY).exists()
    assert not AuditEntry.objects.filter(object_type="retention", detail__class=KEY).exists()
    assert audit_verify().ok
    with connection.cursor() as cursor:
        cursor.execute(drop)
    again = retention.retention_run(today=TWENTY_FIFTH, classes=[KEY])
    assert again.status == RunStatus.COMPLETED, again.error
    assert not Person.objects.filter(pk__in=[gwen.person.pk, second.pk]).exists() and audit_verify().ok


def test_a_household_an_entry_refers_to_outlives_its_last_member_and_goes_after_the_entry(prydderch):
    """A police notice at a man's flat refers to the household: when his entry goes, the
    household stays ("needed by events.Event"), and goes by the households class once the
    notice has gone (both 8 years on: no child lives there)."""
    iolo = entry(prydderch, "AD-2", "Iolo", "Bevan", date(1970, 1, 1)).person
    flat = household_create(address_line="Fflat 2, 7 Stryd y Felin", town="Aberaeron")
    household_add_member(household=flat, person=iolo)
    notice = record_event(organisation=prydderch.orgs.police, code="police.ppn.domestic_abuse",
                          occurred_at=timezone.now(), household=flat, details={"risk_level": "standard"}).event  # fmt: skip
    later = add_years(timezone.localdate(), 8)
    run = retention.retention_run(today=later, classes=[KEY])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not Person.objects.filter(pk=iolo.pk).exists() and Household.objects.filter(pk=flat.pk).exists()
    listing = retention.due_list(today=later, classes=["households"])
    [item] = [d for d in listing.items if d.record_id == str(flat.public_id)]
    assert item.status == retention.NEEDED and item.reason == f"events.Event {notice.public_id}"
    run = retention.retention_run(today=later, classes=["soft_concerns", "households"])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not Household.objects.filter(pk=flat.pk).exists()
    receipt = AuditEntry.objects.get(object_type="retention", object_id=str(flat.public_id))
    assert receipt.detail["class"] == "households" and receipt.detail["counts"] == {"identity.household": 1}
    assert "Felin" not in json.dumps(receipt.detail) and audit_verify().ok


def test_a_household_no_one_ever_joined_goes_8_years_after_it_was_recorded(prydderch):
    """An address recorded for no one is due 8 years on, not a day before."""
    empty = household_create(address_line="1 Stryd y Bont", town="Llanbed")
    made = timezone.localdate()
    assert str(empty.public_id) not in due_ids(retention.due_list(today=add_years(made, 8) - DAY,
                                                                  classes=["households"]), "households")  # fmt: skip
    assert str(empty.public_id) in due_ids(retention.due_list(today=add_years(made, 8), classes=["households"]),
                                           "households")  # fmt: skip


def test_a_home_held_twice_and_merged_goes_half_by_half_without_stopping_the_run(prydderch):
    """One flat held twice and merged: when its only resident's entry goes, the kept household
    stays while the merged one still points to it ("needed by" that household) and the run
    completes; the merged one goes by the households class, then the kept one."""
    from cylch.identity.households.merge import household_merge

    iolo = entry(prydderch, "AD-3", "Iolo", "Bevan", date(1970, 1, 1)).person
    kept = household_create(address_line="Fflat 3, 7 Stryd y Felin", town="Aberaeron", postcode="SA46 0AB")
    legacy = household_create(address_line="Flat 3 7 Stryd y Felin", town="Aberaeron", postcode="SA46 0AB")
    household_add_member(household=kept, person=iolo)
    household_merge(keep=kept, merged=legacy, actor=None, reason="One flat, two spellings")
    later = add_years(timezone.localdate(), 8)
    run = retention.retention_run(today=later, classes=[KEY])
    assert run.status == RunStatus.COMPLETED, run.error
    assert not Person.objects.filter(pk=iolo.pk).exists() and Household.objects.filter(pk=kept.pk).exists()
    listing = retention.due_list(today=later, classes=["households"])
    [item] = [d for d in listing.items if d.record_id == str(kept.public_id)]
    assert item.status == retention.NEEDED and item.reason == f"identity.Household {legacy.public_id}"
    for _round in range(3):  # the merge's own chronology entry may keep them a while: run what is due
        run = retention.retention_run(today=add_years(later, 10), classes=["households", "soft_concerns"])
        assert run.status == RunStatus.COMPLETED, run.error
    assert not Household.objects.filter(pk__in=[kept.pk, legacy.pk]).exists()

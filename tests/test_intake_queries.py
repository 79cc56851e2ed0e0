"""What a batch's rules and placing cost, as queries: the register notices, the people placed in
their first home, the lead-coordinator proposals and the rules' reads of the world around a
batch do not cost more queries for more children (docs/intake.md, "How a batch is stored";
docs/rules.md). Each also leaves what the path one at a time leaves. Against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry
from cylch.events.models import Event
from cylch.events.services import record_event
from cylch.identity.households import place
from cylch.identity.models import AllocationKind, HouseholdMembership
from cylch.identity.services import agency_record_upsert, allocation_create
from cylch.notify.models import Notification
from cylch.notify.services import gathering as notify_gathering
from cylch.rules import routing
from cylch.rules.coordinator import lead_coordinator_checks
from cylch.rules.models import LeadCoordinatorProposal
from cylch.rules.register import tell_social_worker, tell_social_workers
from cylch.rules.services import evaluate_events
from tests import factories

pytestmark = pytest.mark.django_db

REGISTERED = "process.register.registered"
CONCERN = "education.behaviour.change"
PPN = "police.ppn.domestic_abuse"
SURNAMES = ["Hughes", "Jones", "Price", "Rees", "Evans", "Lloyd", "Owen", "Parry"]


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def _nhs_numbers():
    for n in range(1000):
        try:
            yield factories.nhs_number(f"944{n:06d}")
        except ValueError:
            continue


NUMBERS = _nhs_numbers()  # each child made in these tests a number of its own
BORN = iter(range(1000))


def new_children(fam, n: int, *, tag: str, address: bool = False):
    """``n`` children known to the GP, each a new person (none lives anywhere yet, unless sent at
    the Prydderch home's address and placed)."""
    extra = {"address_line": "4 Maes y Felin", "postcode": "SY23 3ZZ"} if address else {}
    children = []
    for i in range(n):
        k = next(BORN)
        children.append(
            agency_record_upsert(
                organisation=fam.orgs.gp, local_id=f"GP-{tag}-{i}", audit=False,
                data={"given_name": f"Plentyn{tag}", "family_name": SURNAMES[i],
                      "date_of_birth": f"{2010 + k % 6}-{1 + k % 12:02d}-{1 + k % 28:02d}",
                      "nhs_number": next(NUMBERS), **extra},
            ).person
        )  # fmt: skip
    return children


@pytest.fixture
def fam(prydderch, settings):
    settings.CYLCH_ONLINE_LINKAGE = False  # new people stay new, whatever the model makes of them
    return prydderch


def stored(**fields) -> Event:
    """An entry as stored, without the recording service's rules running for it."""
    return Event.objects.create(recorded_at=timezone.now(), **fields)


def rolled_back(fn):
    """Run ``fn`` in a transaction that is rolled back; return what it returned and its queries."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            out = fn()
        transaction.set_rollback(True)
    return out, len(captured.captured_queries)


# --- the register notice ----------------------------------------------------------------------


def registered_children(fam, n: int, tag: str):
    """Alys and ``n`` more children on the register, living with her (with no social worker, so
    their notices go to Ceredigion's front door); an entry from the school about each, and one police entry at the
    Prydderch home."""
    children = [fam.alys, *new_children(fam, n, tag=tag, address=True)]
    place([c.pk for c in children])
    for child in children[1:] if Event.objects.filter(person=fam.alys, code=REGISTERED).exists() else children:
        record_event(organisation=fam.orgs.childrens_services, code=REGISTERED, occurred_at=ago(10), person=child,
                     recorded_by=fam.staff.social_worker, details=factories.minimal_details(REGISTERED))  # fmt: skip
    entries = [
        stored(organisation=fam.orgs.school, code=CONCERN, occurred_at=ago(1), person=child,
                             details={}, summary="entry", external_id=f"E-{tag}-{child.pk}")
        for child in children
    ]  # fmt: skip
    entries.append(
        stored(organisation=fam.orgs.police, code=PPN, occurred_at=ago(1), household=fam.home,
                             details={"risk_level": "standard"}, summary="at the home", external_id=f"P-{tag}")
    )  # fmt: skip
    return children, entries


def told(entries, fn) -> tuple[list, int]:
    """The notices ``fn`` sends as a batch sends them (routing remembered, with the entries'
    people's allocations read at once; notices written together), and its queries; rolled back."""

    def run():
        with routing.remembering({e.person_id for e in entries if e.person_id}), notify_gathering():
            fn()
        return sorted(Notification.objects.values_list("kind", "recipient_id", "subject", "body", "url"))

    return rolled_back(run)


@pytest.fixture
def alys_allocated(fam):
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    return fam


def test_a_batchs_register_notices_are_those_of_its_entries_one_by_one(alys_allocated):
    """Entries about Alys (her social worker told), three children on the register with no
    social worker (the front door told) and the Prydderch home (Alys's worker again, for the
    household): together, the same notices as each entry on its own."""
    fam = alys_allocated
    _children, entries = registered_children(fam, 3, "A")
    singly, _q = told(entries, lambda: [tell_social_worker(e) for e in entries])
    together, _q = told(entries, lambda: tell_social_workers(entries))
    assert singly and together == singly
    assert sum(r == fam.staff.social_worker.pk for _k, r, *_ in together) == 2  # Alys's entry and her home's
    assert len({r for _k, r, *_ in together}) > 1  # and the front door's team


def test_the_register_notices_of_a_batch_cost_no_more_queries_for_more_children(alys_allocated):
    """Two children on the register with entries in a batch, or seven: the same queries for the
    notices (their statuses, social workers, processes and homes are read together)."""
    fam = alys_allocated
    _c, few_entries = registered_children(fam, 1, "F")
    few_notes, few = told(few_entries, lambda: tell_social_workers(few_entries))
    _c, many_entries = registered_children(fam, 6, "M")
    many_notes, many = told(many_entries, lambda: tell_social_workers(many_entries))
    assert len(many_notes) > len(few_notes)
    assert many == few, (few, many)


def test_register_notices_for_many_name_each_childs_worker_or_front_door(alys_allocated):
    """The answer to a batch names the children on the register: Alys with her social worker,
    one whose allocation names a team but nobody (that team), three with none (their home's front
    door, Ceredigion's children's services), and a child on nothing (no notice). A child alone
    (``register_notice``, the same reading for one) gets the same notice."""
    from cylch.rules.register import register_notice, register_notices

    fam = alys_allocated
    children, _entries = registered_children(fam, 4, "N")
    allocation_create(person=children[1], organisation=fam.orgs.childrens_services, practitioner=None,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    nobody = new_children(fam, 1, tag="N0", address=True)
    together = register_notices([*children, *nobody])
    assert set(together) == {c.pk for c in children}
    worker = fam.staff.social_worker
    alys = together[fam.alys.pk]
    assert (alys.on_register, alys.worker_id, alys.worker_name) == (True, worker.pk, worker.get_full_name())
    door = fam.orgs.childrens_services
    for child in children[1:]:
        notice = together[child.pk]
        assert (notice.on_register, notice.looked_after) == (True, False)
        assert (notice.worker_id, notice.worker_name) == (None, "")
        assert (notice.organisation_name_en, notice.organisation_name_cy) == (door.name_en, door.name_cy)
        assert (notice.phone, notice.email) == (door.safeguarding_phone, door.safeguarding_email)
    assert {c.pk: register_notice(c) for c in children} == together
    assert register_notice(nobody[0]) is None


def test_register_notices_cost_no_more_queries_for_more_children(alys_allocated):
    """Two children on the register or seven: the same queries (statuses, social workers,
    processes and homes read together, not a handful a child)."""
    from cylch.rules.register import register_notices

    fam = alys_allocated
    few, _e = registered_children(fam, 1, "QF")
    many, _e = registered_children(fam, 6, "QM")
    counts = []
    for children in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert len(register_notices(children)) == len(children)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1], counts


# --- a record new to the hub -------------------------------------------------------------------


def _upsert(fam, local_id: str, given_name: str = "Gwenllian", **options):
    return agency_record_upsert(
        organisation=fam.orgs.gp, local_id=local_id, audit=False, **options,
        data={"given_name": given_name, "family_name": "Hughes", "date_of_birth": "2016-03-04"},
    )  # fmt: skip


def test_a_record_the_batch_read_as_new_is_not_looked_for_again(fam):
    """A batch reads its held records, locked, before it stores any (``agency_records_upsert``):
    for one it did not find, the record is inserted without being looked for again, and a record
    just inserted has no link to look up. With no identifier to match and linkage off, storing
    it reads nothing at all; sent alone, it reads only the record it might already be."""

    def reads(**options):
        with transaction.atomic():
            with CaptureQueriesContext(connection) as captured:
                result = _upsert(fam, "GP-NEW-1", **options)
            transaction.set_rollback(True)
        return result, [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]

    alone, alone_reads = reads()
    known, known_reads = reads(known_new=True)
    assert known_reads == []
    assert len(alone_reads) == 1 and 'FROM "identity_agencyrecord"' in alone_reads[0]
    for result in (alone, known):
        assert result.record_created and result.person_created and result.link_method == "new_person"
        assert result.record.local_id == "GP-NEW-1" and result.person.given_name == "Gwenllian"


def test_a_record_said_to_be_new_but_held_meanwhile_is_updated_in_place(fam):
    """Stored by a concurrent request between the batch's read and this insert: the insert fails
    in its savepoint and the record held is updated and keeps its person, as before."""
    first = _upsert(fam, "GP-RACE-1")
    again = _upsert(fam, "GP-RACE-1", given_name="Gwen", known_new=True)
    assert not again.record_created and not again.person_created
    assert (again.record.pk, again.person.pk) == (first.record.pk, first.person.pk)
    first.record.refresh_from_db()
    assert first.record.given_name == "Gwen"


# --- placing people who live nowhere -------------------------------------------------------------


def test_placing_more_people_at_an_address_held_costs_no_more_queries(fam):
    """Two new children sent at the Prydderch home's address, or six: placed with the family in
    the same number of queries, one membership from today and one "member added" audit entry
    each, as ``household_add_member`` writes, then the placing's own; the chain verifies."""
    few = [p.pk for p in new_children(fam, 2, tag="PF", address=True)]
    many = [p.pk for p in new_children(fam, 6, tag="PM", address=True)]

    def placing(people):
        def run():
            since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            homes = place(people)
            added = AuditEntry.objects.filter(seq__gt=since, purpose="household member added")
            memberships = HouseholdMembership.objects.filter(person_id__in=people, to_date__isnull=True)
            return (
                homes,
                sorted(added.values_list("object_id", flat=True)),
                {(m.household_id, m.from_date) for m in memberships},
                audit_verify().ok,
            )

        return rolled_back(run)

    (homes, added, memberships, chain), few_queries = placing(few)
    assert homes == dict.fromkeys(few, fam.home.pk)
    assert added == [str(fam.home.public_id)] * 2 and memberships == {(fam.home.pk, timezone.localdate())} and chain
    (homes, added, _m, chain), many_queries = placing(many)
    assert homes == dict.fromkeys(many, fam.home.pk) and len(added) == 6 and chain
    assert many_queries == few_queries, (few_queries, many_queries)


# --- the lead-coordinator check ----------------------------------------------------------------


def test_proposing_for_more_pupils_costs_no_more_queries(fam):
    """Children known to the GP and the health visitor and on a school's roll, with no entry from
    the school: each is proposed to the school (its record says so), and the front door's
    managers asked; for two children or seven, the same queries."""

    def pupils(n: int, tag: str):
        children = new_children(fam, n, tag=tag, address=True)
        place([c.pk for c in children])
        for i, child in enumerate(children):
            agency_record_upsert(organisation=fam.orgs.school, local_id=f"PUPIL-{tag}-{i}", audit=False,
                                 data={"given_name": child.given_name, "family_name": child.family_name,
                                       "date_of_birth": child.date_of_birth.isoformat(),
                                       "nhs_number": child.nhs_number})  # fmt: skip
            for org in (fam.orgs.gp, fam.orgs.health_visiting):
                stored(organisation=org, code="health.appointment.was_not_brought",
                                     occurred_at=ago(3), person=child, details={"service": "gp"})  # fmt: skip
        return children

    def proposed(children):
        def run():
            with routing.remembering(), notify_gathering():
                made = lead_coordinator_checks(children)
            return {p.reason for p in made.values()}, len(made), Notification.objects.count()

        return rolled_back(run)

    few_children, many_children = pupils(2, "LF"), pupils(7, "LM")
    assert LeadCoordinatorProposal.objects.count() == 0
    (reasons, made, _n), few = proposed(few_children)
    assert reasons == {"pupil_school"} and made == 2
    (reasons, made, _n), many = proposed(many_children)
    assert reasons == {"pupil_school"} and made == 7
    assert many == few, (few, many)


# --- the rules' reads -------------------------------------------------------------------------


def test_the_rules_read_the_ages_of_a_homes_entries_subjects_together(fam):
    """Entries at the Prydderch home about people who do not live there (so scoping never reached
    them), then a police entry at the home: the rules read those people's ages together, not
    one query each."""
    for person in new_children(fam, 4, tag="R"):
        stored(organisation=fam.orgs.police, code=PPN, occurred_at=ago(2), person=person,
                             household=fam.home, details={"risk_level": "standard"})  # fmt: skip
    entry = stored(organisation=fam.orgs.police, code=PPN, occurred_at=ago(1), household=fam.home,
                                 details={"risk_level": "standard"})  # fmt: skip
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            stats = evaluate_events([entry])
        transaction.set_rollback(True)
    assert stats.scopes
    one_each = [q["sql"] for q in captured.captured_queries if 'WHERE "identity_person"."id" = ' in q["sql"]]
    assert not one_each, one_each

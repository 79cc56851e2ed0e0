"""The set-based batch path (``events/batch.py``): the same outcome as sending the items one by
one, the rules once per scope for the whole batch, and a query count that does not grow with
the number of events. Against the real database, through the real recording service."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cylch.access.audit import audit_verify
from cylch.access.models import AuditEntry
from cylch.access.roles import Role
from cylch.events.bench import _query_kind
from cylch.events.models import Event
from cylch.events.services import BatchRejected, record_event, record_event_batch
from cylch.governance import webhooks
from cylch.governance.models import Delivery, WebhookKind
from cylch.identity.models import AgencyRecord, AllocationKind
from cylch.identity.services import agency_record_upsert, allocation_create
from cylch.notify.models import Notification, OutboxMessage
from cylch.rules import services as rule_services
from cylch.rules.models import Alert, AlertRecipient, LeadCoordinatorProposal, ProposalStatus
from cylch.rules.services import evaluate_events
from tests import factories

pytestmark = pytest.mark.django_db

WNB = "health.appointment.was_not_brought"
PPN = "police.ppn.domestic_abuse"


def ago(days: float = 0, **kw):
    return timezone.now() - timedelta(days=days, **kw)


def wnb(ext: str, local_id: str, days: float, service: str = "gp") -> dict:
    return {
        "external_id": ext,
        "code": WNB,
        "occurred_at": ago(days).isoformat(),
        "subject": {"local_id": local_id},
        "details": {"service": service},
        "summary": f"Not brought ({ext})",
    }


def family_items(n: int) -> list[dict]:
    """``n`` missed appointments spread over the two Prydderch children, from the GP."""
    return [wnb(f"GP-WNB-{i}", ("GP-1003", "GP-1004")[i % 2], 5 + 7 * i) for i in range(n)]


def alerts() -> set:
    """Every alert as what it is about and its evidence (by the sender's ids), not by row."""
    return {
        (
            a.rule_id,
            a.scope_key,
            a.status,
            frozenset(a.evidence.values_list("event__external_id", flat=True)),
            frozenset(a.children.values_list("pk", flat=True)),
        )
        for a in Alert.objects.all()
    }


class Rollback(Exception):
    pass


def outcome_of(send) -> tuple[set, set]:
    """Run ``send`` in a transaction that is rolled back; return the alerts and notifications it left."""
    seen: tuple[set, set] = (set(), set())
    try:
        with transaction.atomic():
            send()
            notes = set(Notification.objects.values_list("kind", "recipient_id"))
            seen = (alerts(), notes)
            raise Rollback
    except Rollback:
        pass
    return seen


def one_by_one(org, items) -> None:
    """Each item as the intake stored it before batches were set-based: its record upserted,
    then ``record_event`` for it alone, the rules running from its ``event_recorded``."""
    for item in items:
        subject = dict(item["subject"])
        rec = agency_record_upsert(organisation=org, local_id=subject.pop("local_id"), data=subject, audit=False)
        record_event(
            organisation=org, code=item["code"], occurred_at=datetime.fromisoformat(item["occurred_at"]),
            person=rec.person, agency_record=rec.record, summary=item.get("summary", ""), details=item["details"],
            external_id=item["external_id"], source="api", audit=False,
        )  # fmt: skip


# --- the same as one at a time -----------------------------------------------------------------


def test_a_batch_raises_the_same_alerts_and_notices_as_its_items_sent_one_by_one(prydderch):
    """Twelve missed appointments for Alys and Twm, once as single-event batches and once as one
    batch: the same alerts, about the same children, with the same evidence, and the same people
    told, whichever way they came."""
    fam = prydderch
    items = family_items(12)
    singly = outcome_of(lambda: one_by_one(fam.orgs.gp, items))
    batched = outcome_of(lambda: record_event_batch(organisation=fam.orgs.gp, items=items))
    assert singly[0], "the family's missed appointments raise alerts"
    assert batched == singly


def test_a_household_rule_sees_a_batch_as_it_sees_single_events(prydderch):
    """Police notifications about the household and missed appointments together: the household
    and child scopes come out the same from a batch as from single events."""
    fam = prydderch
    standard = {"risk_level": "standard"}
    items = [
        {"external_id": f"DPP-{i}", "code": PPN, "occurred_at": ago(days).isoformat(),
         "subject": {"local_id": local_id}, "details": standard}
        for i, (local_id, days) in enumerate([("DPP-CERI", 200), ("DPP-CERI", 2), ("DPP-DAF", 30)])
    ]  # fmt: skip
    subjects = {"DPP-CERI": "ceri", "DPP-DAF": "dafydd"}
    for item in items:
        person = getattr(fam, subjects[item["subject"]["local_id"]])
        item["subject"]["nhs_number"] = person.nhs_number
    singly = outcome_of(lambda: one_by_one(fam.orgs.police, items))
    batched = outcome_of(lambda: record_event_batch(organisation=fam.orgs.police, items=items))
    assert batched == singly


def test_each_scope_is_evaluated_once_for_the_whole_batch(prydderch, monkeypatch):
    """Two events about Twm or twenty: the rules evaluate the same scopes, once each, after the
    events are stored (the engine is counted, not replaced)."""
    calls: list[str] = []
    real = rule_services.evaluate

    def counted(rule, events, children, now):
        calls.append(rule.id)
        return real(rule, events, children, now)

    monkeypatch.setattr(rule_services, "evaluate", counted)
    fam = prydderch
    few = [wnb(f"GP-A-{i}", "GP-1004", 3 + i) for i in range(2)]
    many = [wnb(f"GP-B-{i}", "GP-1004", 3 + i) for i in range(20)]
    record_event_batch(organisation=fam.orgs.gp, items=few)
    for_few = sorted(calls)
    calls.clear()
    record_event_batch(organisation=fam.orgs.gp, items=many)
    assert sorted(calls) == for_few
    events = list(Event.objects.filter(external_id__startswith="GP-B-"))
    stats = evaluate_events(events)
    assert stats.events == 20 and stats.scopes == len(for_few)


# --- queries ----------------------------------------------------------------------------------


def queries_for(org, items) -> int:
    """How many queries storing ``items`` takes (rolled back after)."""
    count = 0
    try:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as captured:
                record_event_batch(organisation=org, items=items)
            count = len(captured.captured_queries)
            raise Rollback
    except Rollback:
        pass
    return count


def test_the_queries_of_a_batch_do_not_grow_with_its_events(prydderch):
    """Twelve events about the family's four people, or sixty: the same handful of queries, the
    rules included (sixty cost at most a few more, never a few per event). A resend of fifty
    is a few queries."""
    fam = prydderch
    people = ["GP-1001", "GP-1002", "GP-1003", "GP-1004"]
    codes = [("health.adult_mental_health.concern", "GP-1001"), ("health.substance_misuse.concern", "GP-1002")]

    def items(n: int, tag: str) -> list[dict]:
        out = []
        for i in range(n):
            if i % 4 < 2:
                out.append(wnb(f"GP-{tag}-{i}", people[2 + i % 2], 3 + i))
            else:
                code, local_id = codes[i % 2]
                out.append({"external_id": f"GP-{tag}-{i}", "code": code, "occurred_at": ago(3 + i).isoformat(),
                            "subject": {"local_id": local_id}, "details": factories.minimal_details(code)})  # fmt: skip
        return out

    record_event_batch(organisation=fam.orgs.gp, items=items(12, "P"))  # the alerts are raised
    small, large = queries_for(fam.orgs.gp, items(12, "S")), queries_for(fam.orgs.gp, items(60, "L"))
    assert large - small <= 5, (small, large)
    resend = items(50, "R")
    record_event_batch(organisation=fam.orgs.gp, items=resend)
    with CaptureQueriesContext(connection) as again:
        result = record_event_batch(organisation=fam.orgs.gp, items=resend)
    # 11 on PostgreSQL: the batch's own audit entry takes the recording lock before the head.
    assert len(result.unchanged) == 50 and len(again.captured_queries) <= 11


def test_a_resent_record_is_not_written_again(prydderch):
    """The agency record of a resend with the same details is left as it was (no write)."""
    fam = prydderch
    record = AgencyRecord.objects.get(organisation=fam.orgs.gp, local_id="GP-1004")
    before = record.modified_at
    record_event_batch(organisation=fam.orgs.gp, items=[wnb("GP-R-1", "GP-1004", 3)])
    record.refresh_from_db()
    assert record.modified_at == before
    item = wnb("GP-R-2", "GP-1004", 3)
    item["subject"]["postcode"] = "sy23 1aa"
    record_event_batch(organisation=fam.orgs.gp, items=[item])
    record.refresh_from_db()
    assert record.postcode == "SY23 1AA" and record.modified_at > before


# --- what each new event sets off -------------------------------------------------------------


def test_each_new_event_in_a_batch_reaches_the_social_worker_once(prydderch):
    """Three entries from the school about Alys, on the register: three notices to her social
    worker, one per entry; none for the registration itself; none again on a resend."""
    fam = prydderch
    allocation_create(person=fam.alys, organisation=fam.orgs.childrens_services, practitioner=fam.staff.social_worker,
                      kind=AllocationKind.ALLOCATED_SOCIAL_WORKER)  # fmt: skip
    record_event(organisation=fam.orgs.childrens_services, code="process.register.registered", occurred_at=ago(10),
                 person=fam.alys, recorded_by=fam.staff.social_worker,
                 details=factories.minimal_details("process.register.registered"))  # fmt: skip
    items = [
        {"external_id": f"SCH-{i}", "code": "education.behaviour.change", "occurred_at": ago(1 + i).isoformat(),
         "subject": {"local_id": "PUPIL-2041-017"}, "details": {}}
        for i in range(3)
    ]  # fmt: skip
    record_event_batch(organisation=fam.orgs.school, items=items)
    told = Notification.objects.filter(kind="register_entry", recipient=fam.staff.social_worker)
    assert told.count() == 3
    record_event_batch(organisation=fam.orgs.school, items=items)
    assert told.count() == 3


def test_a_second_organisation_in_a_batch_proposes_a_lead_coordinator_once(prydderch):
    """The GP's entries about Twm, then a batch of four from the health visitor: one proposal."""
    fam = prydderch
    record_event_batch(organisation=fam.orgs.gp, items=[wnb("GP-LC-1", "GP-1004", 40)])
    assert not LeadCoordinatorProposal.objects.filter(person=fam.twm).exists()
    items = [wnb(f"HV-LC-{i}", "HV-77-TWM", 3 + i, service="health_visiting") for i in range(4)]
    record_event_batch(organisation=fam.orgs.health_visiting, items=items)
    [proposal] = LeadCoordinatorProposal.objects.filter(person=fam.twm)
    assert proposal.status == ProposalStatus.PROPOSED
    assert sorted(proposal.organisations_involved) == sorted([fam.orgs.gp.pk, fam.orgs.health_visiting.pk])


def test_a_batch_queues_one_webhook_delivery_per_new_event(prydderch):
    """Two registrations in one batch from children's services, a subscription to registrations
    at Alys's school: one delivery for each, and none for a resend."""
    fam = prydderch
    admin = factories.demo_practitioner(username="ysgol.admin", role=Role.ADMIN, organisation=fam.orgs.school)
    webhooks.subscription_create(user=admin, name="MIS", url="https://mis.example/", kinds=[WebhookKind.REGISTRATION])
    record = {"local_id": "CS-ALYS", "nhs_number": fam.alys.nhs_number}
    items = [
        {"external_id": f"CS-REG-{i}", "code": "process.register.registered", "occurred_at": ago(5 - i).isoformat(),
         "subject": record, "details": {"categories": ["neglect"]}}
        for i in range(2)
    ]  # fmt: skip
    record_event_batch(organisation=fam.orgs.childrens_services, items=items)
    assert Delivery.objects.filter(kind=WebhookKind.REGISTRATION).count() == 2
    record_event_batch(organisation=fam.orgs.childrens_services, items=items)
    assert Delivery.objects.filter(kind=WebhookKind.REGISTRATION).count() == 2


def test_one_audit_entry_per_batch_names_the_new_events(prydderch):
    fam = prydderch
    before = AuditEntry.objects.filter(object_type="event_batch").count()
    result = record_event_batch(organisation=fam.orgs.gp, items=family_items(3))
    entry = AuditEntry.objects.filter(object_type="event_batch").latest("seq")
    assert AuditEntry.objects.filter(object_type="event_batch").count() == before + 1
    assert entry.detail["created"] == [str(e.public_id) for e in result.created]


# --- problems ---------------------------------------------------------------------------------


def test_problems_of_different_stages_are_listed_by_item(prydderch):
    """Item 0 reuses an id for other content (found once its subject is known), item 1 has an
    unknown code (found on reading): both named, in item order, and nothing stored."""
    fam = prydderch
    record_event_batch(organisation=fam.orgs.gp, items=[wnb("GP-S-1", "GP-1004", 3)])
    clash = wnb("GP-S-1", "GP-1004", 3)
    clash["summary"] = "Something else"
    bad = wnb("GP-S-2", "GP-1003", 4)
    bad["code"] = "not.a.code"
    count = Event.objects.count()
    with pytest.raises(BatchRejected) as refused:
        record_event_batch(organisation=fam.orgs.gp, items=[clash, bad, wnb("GP-S-3", "GP-1003", 5)])
    assert [(e["item"], e["field"]) for e in refused.value.errors] == [(0, "external_id"), (1, "code")]
    assert Event.objects.count() == count


def test_an_age_is_checked_as_the_items_record_left_the_person(prydderch):
    """A child's code about someone whose birth date nobody has sent passes; the same person's
    birth date arriving in a later item of the batch does not make the earlier item wrong, as
    it would not have one by one. A later item about them is checked with it."""
    fam = prydderch
    adult_code = "health.adult_mental_health.concern"
    nhs = factories.nhs_number("943476567")
    first = {"external_id": "HV-AGE-1", "code": WNB, "occurred_at": ago(3).isoformat(),
             "subject": {"local_id": "HV-NEW", "given_name": "Nel", "nhs_number": nhs},
             "details": {"service": "health_visiting"}}  # fmt: skip
    second = {"external_id": "HV-AGE-2", "code": WNB, "occurred_at": ago(2).isoformat(),
              "subject": {"local_id": "HV-NEW-2", "nhs_number": nhs, "date_of_birth": "1990-01-01"},
              "details": {"service": "health_visiting"}}  # fmt: skip
    with pytest.raises(BatchRejected) as refused:
        record_event_batch(organisation=fam.orgs.health_visiting, items=[first, second])
    assert [(e["item"], e["field"]) for e in refused.value.errors] == [(1, "code")]
    second["code"], second["details"] = adult_code, factories.minimal_details(adult_code)
    result = record_event_batch(organisation=fam.orgs.health_visiting, items=[first, second])
    assert len(result.created) == 2 and result.created[0].person_id == result.created[1].person_id


# --- linkage of a batch's new records -------------------------------------------------------------


def test_a_batchs_new_records_are_linked_as_if_sent_one_by_one(prydderch):
    """The police send four records new to the hub in one batch: a spelling of a child the school
    knows (linked by the model), someone unknown, the same someone again under another reference
    (linked to the person the batch has just made, so scored afresh), and a near match of another
    school record (same name and birthday, another address). Scored together, the links and
    review tasks come out as they do one by one."""
    from cylch.identity.models import MatchReview, PersonLink

    fam = prydderch
    base = {"family_name": "Hopkins", "date_of_birth": "2016-05-09", "sex": "male", "postcode": "SA48 7AB",
            "address_line": "12 Heol y Bryn"}  # fmt: skip
    agency_record_upsert(organisation=fam.orgs.school, local_id="S1", data={**base, "given_name": "Dafydd"})
    agency_record_upsert(organisation=fam.orgs.school, local_id="S2", data={**base, "given_name": "Osian"})
    megan = {"given_name": "Megan", "family_name": "Watkins", "sex": "female", "date_of_birth": "2012-01-02",
             "postcode": "LL55 1AA", "address_line": "3 Stryd Fawr"}  # fmt: skip
    subjects = [
        ("P-DAVID", {**base, "given_name": "David"}),
        ("P-MEGAN", megan),
        ("P-MEGAN-2", megan),
        ("P-OSIAN", {**base, "given_name": "Osian", "postcode": "LL55 1AA", "address_line": "3 Stryd Fawr"}),
    ]
    items = [
        {"external_id": f"DPP-L-{i}", "code": "police.ppn.vulnerability", "occurred_at": ago(1).isoformat(),
         "subject": {"local_id": local_id, **data}, "details": {}}
        for i, (local_id, data) in enumerate(subjects)
    ]  # fmt: skip

    def links():
        rows = PersonLink.objects.filter(active=True, agency_record__local_id__in=["S1", "S2", *dict(subjects)])
        by_record = {link.agency_record.local_id: (link.person_id, link.method) for link in rows}
        people = {pk: i for i, pk in enumerate(dict.fromkeys(p for p, _m in by_record.values()))}
        reviews = {
            frozenset((r.record_a.local_id, r.record_b.local_id))
            for r in MatchReview.objects.select_related("record_a", "record_b")
        }
        return {k: (people[p], m) for k, (p, m) in sorted(by_record.items())}, reviews

    seen = {}

    def send(how):
        def run():
            if how == "batch":
                record_event_batch(organisation=fam.orgs.police, items=items)
            else:
                for item in items:
                    record_event_batch(organisation=fam.orgs.police, items=[item])
            seen[how] = links()

        return run

    outcome_of(send("one by one"))
    outcome_of(send("batch"))
    grouped, _reviews = seen["batch"]
    assert grouped["P-DAVID"][0] == grouped["S1"][0] and grouped["P-DAVID"][1] == "probabilistic"
    assert grouped["P-MEGAN-2"][0] == grouped["P-MEGAN"][0] and grouped["P-MEGAN-2"][1] == "probabilistic"
    assert seen["batch"] == seen["one by one"]  # Osian too, whichever side of the thresholds he falls


def test_a_batchs_new_records_are_scored_in_one_comparison(prydderch, monkeypatch):
    """Three new children, each sharing a postcode with a different record the school holds and
    with nobody in the batch: one scoring call for the batch rather than one each, and the same
    links (each a new person) as one by one. The scoring is counted, not replaced."""
    from cylch.identity.linkage import online
    from cylch.identity.models import PersonLink

    fam = prydderch
    calls = []
    real = online.score_many

    def counted(model, pairs):
        calls.append(len(pairs))
        return real(model, pairs)

    monkeypatch.setattr(online, "score_many", counted)
    people = [("Cai", "Bowen", "2015-03-01", "SY23 1AA"), ("Elin", "Parry", "2017-07-12", "SY23 2BB"),
              ("Iolo", "Pugh", "2019-11-30", "SY23 3CC")]  # fmt: skip
    # Each a candidate (the same postcode and given name: a blocking rule) but someone else.
    for i, (given, _family, _born, postcode) in enumerate(people):
        agency_record_upsert(organisation=fam.orgs.school, local_id=f"X{i}", data={
            "given_name": given, "family_name": f"Else{i}", "date_of_birth": f"200{i}-01-01", "postcode": postcode})  # fmt: skip
    items = [
        {"external_id": f"DPP-N-{i}", "code": "police.ppn.vulnerability", "occurred_at": ago(1).isoformat(),
         "subject": {"local_id": f"P-N-{i}", "given_name": given, "family_name": family, "date_of_birth": born,
                     "postcode": postcode}, "details": {}}
        for i, (given, family, born, postcode) in enumerate(people)
    ]  # fmt: skip

    def methods():
        rows = PersonLink.objects.filter(active=True, agency_record__local_id__startswith="P-N-")
        return sorted((link.agency_record.local_id, link.method) for link in rows)

    seen = {}
    calls.clear()
    outcome_of(lambda: (one_by_one(fam.orgs.police, items), seen.setdefault("single", methods())))
    single_calls, calls[:] = list(calls), []
    outcome_of(
        lambda: (record_event_batch(organisation=fam.orgs.police, items=items), seen.setdefault("batch", methods()))
    )
    assert single_calls == [1, 1, 1] and calls == [3]
    assert seen["batch"] == seen["single"] == [(f"P-N-{i}", "new_person") for i in range(3)]


def test_a_record_the_batch_corrects_into_a_candidate_is_scored_with_the_new_one(prydderch, monkeypatch):
    """The police hold Nia Rowlands with a birth date that was wrong. Their batch corrects it, then
    sends someone new to the hub with her name and the corrected birth date from another address.
    When the batch's new records were scored, the held record was not a candidate (another birth
    year, another postcode); after the correction it is, so the new record is scored again with it
    and comes out as one by one: with Nia's person or in review beside her record, not unseen."""
    from cylch.identity.linkage import online
    from cylch.identity.models import MatchReview, PersonLink

    fam = prydderch
    nia = {"given_name": "Nia", "family_name": "Rowlands", "sex": "female", "postcode": "CF10 1AA",
           "address_line": "1 Heol y Frenhines"}  # fmt: skip
    held = agency_record_upsert(
        organisation=fam.orgs.police, local_id="P-NIA", data={**nia, "date_of_birth": "2013-04-05"}
    )
    for i in range(2):  # someone else new too, so the batch scores its new records together
        agency_record_upsert(organisation=fam.orgs.school, local_id=f"Y{i}", data={
            "given_name": "Tomos", "family_name": f"Else{i}", "date_of_birth": f"201{i}-02-03", "postcode": "SY23 4DD"})  # fmt: skip
    subjects = [
        ("P-NIA", {**nia, "date_of_birth": "2014-08-09"}),
        ("P-NEW", {**nia, "date_of_birth": "2014-08-09", "postcode": "SA48 7AB", "address_line": "12 Heol y Bryn"}),
        (
            "P-TOMOS",
            {"given_name": "Tomos", "family_name": "Pugh", "date_of_birth": "2011-02-03", "postcode": "SY23 4DD"},
        ),
    ]
    items = [
        {"external_id": f"DPP-C-{i}", "code": "police.ppn.vulnerability", "occurred_at": ago(1).isoformat(),
         "subject": {"local_id": local_id, **data}, "details": {}}
        for i, (local_id, data) in enumerate(subjects)
    ]  # fmt: skip
    assert held.record.pk not in {r.pk for r in online.candidates(dict(items[1]["subject"]))}

    def outcome():
        new = PersonLink.objects.get(active=True, agency_record__local_id="P-NEW")
        reviewed = MatchReview.objects.filter(record_a=new.agency_record, record_b=held.record).exists()
        return new.person_id == held.person.pk, new.method, reviewed

    seen = {}
    outcome_of(lambda: (one_by_one(fam.orgs.police, items), seen.setdefault("single", outcome())))
    prescored = []
    real = online.prescore
    monkeypatch.setattr(online, "prescore", lambda many, **kw: prescored.extend(real(many, **kw)) or prescored)
    outcome_of(
        lambda: (record_event_batch(organisation=fam.orgs.police, items=items), seen.setdefault("batch", outcome()))
    )
    assert len(prescored) == 2  # the new record and Tomos were scored together beforehand
    assert seen["batch"] == seen["single"]
    joined, _method, reviewed = seen["batch"]
    assert joined or reviewed


# --- two senders at once ---------------------------------------------------------------------


def _waiting_on_a_lock(timeout: float = 60.0) -> bool:
    """Whether another session of this database is waiting for a lock, polled up to ``timeout``."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cur.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.postgresql  # SQLite lets one writer in at a time, from the start of its transaction: no race
@pytest.mark.django_db(transaction=True)
def test_two_batches_that_complete_a_rule_between_them_raise_it():
    """The GP's batch and the health visitor's each hold one missed appointment for Twm (two in
    six months raise an alert), through different agency records, so no record's lock orders
    them. The GP's is held open after its rules ran; the health visitor's must wait for it to
    commit before its rules read Twm's entries, else each sees only its own and the alert is
    never raised (docs/rules.md, "Two senders at once")."""
    fam = factories.prydderch_household()
    errors: list[BaseException] = []
    first_ran, release = threading.Event(), threading.Event()

    def gp() -> None:
        try:
            with transaction.atomic():
                record_event_batch(organisation=fam.orgs.gp, items=[wnb("GP-A", "GP-1004", 10)])
                first_ran.set()
                release.wait(120)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            first_ran.set()
            connections.close_all()

    def health_visitor() -> None:
        try:
            record_event_batch(organisation=fam.orgs.health_visiting, items=[wnb("HV-B", "HV-77-TWM", 20)])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=gp)
    first.start()
    assert first_ran.wait(120)
    second = threading.Thread(target=health_visitor)
    second.start()
    waited = _waiting_on_a_lock()
    release.set()
    first.join(120)
    second.join(120)

    assert not errors, errors
    assert waited, "the second batch never waited for the first"
    raised = Alert.objects.filter(rule_id="was-not-brought-repeated", children=fam.twm)
    assert raised.count() == 1
    assert set(raised.get().evidence.values_list("event__external_id", flat=True)) == {"GP-A", "HV-B"}


# --- what a batch's alerts write, together ------------------------------------------------------


def _written(since_seq: int) -> dict:
    """What raising alerts wrote besides the alerts, as what it is about rather than by row: each
    alert's id (in urls, dedupe keys, audit entries) and each due time stand for the same thing
    whichever run wrote them."""
    names = {str(a.public_id): f"{a.rule_id}|{a.scope_key}" for a in Alert.objects.all()}
    names.update((str(p.public_id), f"proposal|{p.person_id}") for p in LeadCoordinatorProposal.objects.all())
    ids = re.compile("|".join(map(re.escape, names)) or "^$")

    def same(text: str) -> str:
        return re.sub(r"\d\d/\d\d/\d{4} \d\d:\d\d", "<due>", ids.sub(lambda m: names[m.group(0)], str(text)))

    return {
        "recipients": sorted(
            (f"{r.alert.rule_id}|{r.alert.scope_key}", r.organisation_id, r.user_id, r.part, r.notified_at is None)
            for r in AlertRecipient.objects.select_related("alert")
        ),
        "notifications": sorted(
            (n.kind, n.recipient_id, same(n.subject), same(n.body), same(n.url)) for n in Notification.objects.all()
        ),
        "emails": sorted(
            (m.to, same(m.subject), same(m.body), same(m.dedupe_key)) for m in OutboxMessage.objects.all()
        ),
        "audit": sorted(
            (
                e.action,
                e.actor_label,
                e.object_type,
                same(e.object_id),
                e.purpose,
                same(json.dumps(e.detail, sort_keys=True)),
            )
            for e in AuditEntry.objects.filter(seq__gt=since_seq).exclude(object_type="event_batch")
        ),
        "deliveries": sorted((d.kind, d.subscription_id, same(d.reference)) for d in Delivery.objects.all()),
        "proposals": sorted(
            (p.person_id, p.organisation_id, p.practitioner_id, p.reason, tuple(sorted(p.organisations_involved)))
            for p in LeadCoordinatorProposal.objects.all()
        ),
        "chain": audit_verify().ok,
    }


def written_by(send) -> dict:
    """Run ``send`` in a transaction that is rolled back; return what its alerts wrote."""
    seen: dict = {}
    since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    try:
        with transaction.atomic():
            send()
            seen = _written(since)
            raise Rollback
    except Rollback:
        pass
    return seen


def test_a_batchs_alerts_write_the_same_recipients_notices_emails_and_audit_as_one_by_one(prydderch):
    """Missed appointments for Alys and Twm from the GP and the health visitor, with a webhook
    subscription at the GP and an organisation known only by its mailbox: sent one event at a
    time or as one batch, the alerts go to the same recipients (the same ones marked as told),
    the same notices and emails go out, the same webhook deliveries are queued, the same
    proposals are made, and the same audit entries are chained (and the chain verifies). Each
    scope reaches its rule's threshold with its batch's last event for it: one by one, an alert
    is raised at the threshold and later events are added to it, while a batch raises it with
    all its evidence at once, so the audit entry's evidence count would differ by design."""
    fam = prydderch
    admin = factories.demo_practitioner(username="gp.admin", role=Role.ADMIN, organisation=fam.orgs.gp)
    webhooks.subscription_create(
        user=admin, name="GP system", url="https://gp.example/", kinds=[WebhookKind.ALERT_RAISED]
    )
    fam.staff.gp.is_active = False  # the GP's named worker gone: the practice's mailbox is told instead
    fam.staff.gp.save(update_fields=["is_active"])
    gp = family_items(4)
    hv = [wnb("HV-0", "HV-77-TWM", 4, service="health_visiting")]

    def singly():
        one_by_one(fam.orgs.gp, gp)
        one_by_one(fam.orgs.health_visiting, hv)

    def batched():
        record_event_batch(organisation=fam.orgs.gp, items=gp)
        record_event_batch(organisation=fam.orgs.health_visiting, items=hv)

    one, together = written_by(singly), written_by(batched)
    assert one["recipients"] and one["notifications"] and one["audit"] and one["deliveries"], one
    assert together == one


def _nhs_numbers():
    """Valid NHS numbers, one after another (one first nine digits in eleven has none)."""
    for n in range(1000):
        try:
            yield factories.nhs_number(f"943{n:06d}")
        except ValueError:
            continue


def test_the_queries_of_a_batchs_alerts_do_not_grow_with_how_many_it_raises(prydderch):
    """Two missed appointments each for two children, or for eight: four alerts more, and not
    one query more for them in the rules' own work: their rows, recipients, notices, emails
    and audit entries go in one insert per kind, and what routing and the lead-coordinator check
    read is read once for the batch, as are the webhook subscriptions (``on_alerts_sent``)."""
    fam = prydderch
    numbers = _nhs_numbers()
    for i in range(8):
        agency_record_upsert(
            organisation=fam.orgs.gp, local_id=f"GP-KID-{i}", audit=False,
            data={"given_name": f"Plentyn{i}", "family_name": ["Hughes", "Jones", "Price", "Rees", "Evans",
                  "Lloyd", "Owen", "Parry"][i], "date_of_birth": f"2018-0{i + 1}-1{i}",
                  "nhs_number": next(numbers)},
        )  # fmt: skip

    def items(n: int, tag: str) -> list[dict]:
        return [wnb(f"GP-{tag}-{i}-{k}", f"GP-KID-{i}", 5 + 20 * k) for i in range(n) for k in range(2)]

    def counted(n: int, tag: str) -> tuple[int, dict[str, int], int]:
        kinds: dict[str, int] = {}
        with transaction.atomic():
            alerts_before = Alert.objects.count()
            with CaptureQueriesContext(connection) as captured:
                record_event_batch(organisation=fam.orgs.gp, items=items(n, tag))
            raised = Alert.objects.count() - alerts_before
            transaction.set_rollback(True)
        for q in captured.captured_queries:
            kinds[_query_kind(q["sql"])] = kinds.get(_query_kind(q["sql"]), 0) + 1
        return raised, kinds, len(captured.captured_queries)

    few_raised, few, few_total = counted(2, "F")
    many_raised, many, many_total = counted(8, "M")
    assert (few_raised, many_raised) == (2, 8)
    grew = {k: many.get(k, 0) - few.get(k, 0) for k in set(few) | set(many)}
    assert not {k: v for k, v in grew.items() if v}, grew
    assert many_total == few_total

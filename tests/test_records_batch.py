"""A batch's records linked together (``identity/records_batch.py``) come out exactly as the same
records sent one at a time: the same people, links, methods, review tasks and demographics.

Random batches from a small pool of Welsh and English spellings, birthdays with days and
months swapped, shared addresses, NHS and pupil numbers, so that the model links, sends to
review and keeps apart; records held by three agencies beforehand, some held without a link;
the batch resending held records with corrections and naming new records more than once.
Against the real database and the shipped linkage model."""

from __future__ import annotations

import random

import pytest
from django.db import transaction

from cylch.identity import records_batch
from cylch.identity.models import AgencyRecord, MatchReview, Person, PersonLink
from cylch.identity.records_batch import agency_records_upsert
from cylch.identity.services import agency_record_upsert
from tests import factories

pytestmark = pytest.mark.django_db

GIVEN = ["Dafydd", "David", "Dai", "Siân", "Sian", "Jane", "Rhys", "Rees", "Gwen", "Gwenllian", "Megan"]
FAMILY = ["Hopkins", "Hopkin", "Jones", "Pugh", "Prydderch"]
BORN = ["2015-03-01", "2015-01-03", "2016-05-09", "2012-01-02", "2015-03-11"]
HOMES = [("12 Heol y Bryn", "SA48 7AB"), ("12 Heol-y-Bryn", "SA48 7AB"), ("3 Stryd Fawr", "LL55 1AA"), ("", "")]
NHS = [factories.nhs_number(f"94347657{i}") for i in (0, 1, 3, 4)]
UPN = [factories.upn(f"8012345{i:05d}") for i in range(3)]
# Numbers nobody holds before the batch: the first record sending one makes someone the next finds.
NHS_NEW = [factories.nhs_number(f"94347658{i}") for i in (0, 1)]
UPN_NEW = [factories.upn(f"8012346{i:05d}") for i in range(2)]


def subject(rng: random.Random, new: bool = False) -> dict:
    address, postcode = rng.choice(HOMES)
    data = {"given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY), "date_of_birth": rng.choice(BORN),
            "sex": rng.choice(["male", "female"]), "address_line": address, "postcode": postcode}  # fmt: skip
    if rng.random() < 0.25:
        data["nhs_number"] = rng.choice(NHS_NEW if new else NHS)
    if rng.random() < 0.15:
        data["upn"] = rng.choice(UPN_NEW if new else UPN)
    return {k: v for k, v in data.items() if v}


def varied(rng: random.Random, data: dict) -> dict:
    """Someone already sent, as another agency or a later letter spells them."""
    out = dict(data)
    field = rng.choice(["given_name", "family_name", "date_of_birth", "address_line", "nhs_number"])
    out[field] = {"given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
                  "date_of_birth": rng.choice(BORN), "address_line": rng.choice(HOMES)[0],
                  "nhs_number": rng.choice(NHS)}[field]  # fmt: skip
    return {k: v for k, v in out.items() if v}


def hold(fam, rng: random.Random) -> list[dict]:
    """Records three agencies hold before the batch; returns their subjects."""
    held = []
    for org, prefix, n in ((fam.orgs.school, "S", 10), (fam.orgs.gp, "G", 8), (fam.orgs.police, "P", 6)):
        for i in range(n):
            data = varied(rng, rng.choice(held)) if held and rng.random() < 0.5 else subject(rng)
            agency_record_upsert(organisation=org, local_id=f"{prefix}{i}", data=data)
            held.append(data)
    # Held without a link (as a loader may leave them): linked when sent again.
    AgencyRecord.objects.create(organisation=fam.orgs.police, local_id="P-UNLINKED", **subject(rng))
    return held


def batch(rng: random.Random, held: list[dict]) -> list[tuple[str, dict]]:
    out, sent = [], {}
    for _ in range(30):
        roll = rng.random()
        if roll < 0.25:
            local_id = rng.choice([f"P{i}" for i in range(6)] + ["P-UNLINKED"])
            data = varied(rng, subject(rng)) if rng.random() < 0.3 else subject(rng)
        else:
            local_id = f"N{rng.randrange(14)}"  # some named twice
            data = sent.get(local_id) or (varied(rng, rng.choice(held)) if roll < 0.6 else subject(rng, new=True))
        sent[local_id] = data
        out.append((local_id, data))
    return out


def outcome() -> tuple:
    """Every active link, review task and person, with people numbered by their first record."""
    links = {
        (link.agency_record.organisation.code, link.agency_record.local_id): (link.person_id, link.method)
        for link in PersonLink.objects.filter(active=True).select_related("agency_record__organisation")
    }
    number: dict[int, int] = {}
    for key in sorted(links):
        number.setdefault(links[key][0], len(number))
    people = {
        number[p.pk]: (p.given_name, p.family_name, p.date_of_birth, p.nhs_number, p.upn, p.search_name, p.sex)
        for p in Person.objects.filter(pk__in=number)
    }
    reviews = {
        frozenset({r.record_a.local_id, r.record_b.local_id})
        for r in MatchReview.objects.select_related("record_a", "record_b")
    }
    return {k: (number[p], m) for k, (p, m) in links.items()}, people, reviews, Person.objects.count()


class Rollback(Exception):
    pass


def rolled_back(send) -> tuple:
    try:
        with transaction.atomic():
            send()
            seen = outcome()
            raise Rollback
    except Rollback:
        return seen


def compare(fam, seed: int, alone: list) -> tuple:
    """One seed: the held records, then the batch both ways, all rolled back. Returns what the
    batch did, and how many of its new records went through the one-record path."""
    rng = random.Random(seed)
    seen = {}

    def run():
        held = hold(fam, rng)
        subjects = batch(rng, held)

        def one_by_one():
            for local_id, data in subjects:
                agency_record_upsert(organisation=fam.orgs.police, local_id=local_id, data=data, audit=False)

        def together():
            alone.clear()
            results = list(agency_records_upsert(organisation=fam.orgs.police, subjects=subjects))
            assert not [r for r in results if isinstance(r, Exception)]
            seen["alone"] = len(alone)

        seen["single"], seen["batch"] = rolled_back(one_by_one), rolled_back(together)
        seen["new"] = len({local_id for local_id, _data in subjects if local_id.startswith("N")})

    rolled_back(run)
    return seen


def test_random_batches_are_linked_as_if_sent_one_by_one(prydderch, monkeypatch):
    alone: list = []
    real = records_batch.agency_record_upsert
    monkeypatch.setattr(records_batch, "agency_record_upsert", lambda **kw: alone.append(kw) or real(**kw))
    methods, reviews, decided_alone, decided_together = set(), 0, 0, 0
    for seed in range(8):
        seen = compare(prydderch, seed, alone)
        assert seen["batch"] == seen["single"], f"seed {seed}"
        links, _people, review_pairs, _count = seen["batch"]
        methods |= {method for (org, local_id), (_p, method) in links.items() if local_id.startswith("N")}
        reviews += len(review_pairs)
        decided_alone += seen["alone"]
        decided_together += seen["new"] - seen["alone"]
    # The batches are worth comparing: every way of deciding is met, on both paths.
    assert methods == {"new_person", "nhs_number", "upn", "probabilistic"}
    assert reviews and decided_alone and decided_together


def test_written_rows_are_near_a_record_exactly_when_a_rule_holds_between_them():
    """``_Written.near`` answers as ``online._holds`` over every rule, both ways round, with an
    unknown value never agreeing; a column it cannot index makes everything near (safe)."""
    from cylch.identity.linkage.online import _holds
    from cylch.identity.records_batch import _Written

    rules = ((("dob", "dob"), ("given_canon", "given_canon")), (("given_name", "surname"), ("surname", "given_name")))
    rows = [
        {"dob": "2015-03-01", "given_canon": "dafydd", "given_name": "dai", "surname": "pugh"},
        {"dob": "2015-03-01", "given_canon": None, "given_name": "pugh", "surname": "dai"},
        {"dob": None, "given_canon": "dafydd", "given_name": None, "surname": "pugh"},
        {"dob": "2016-05-09", "given_canon": "rhys", "given_name": "rhys", "surname": "jones"},
        {"dob": "2016-05-09", "given_canon": "rhys", "given_name": "jones", "surname": "rhys"},
    ]
    for i, written in enumerate(rows):
        index = _Written(rules)
        index.add(written)
        for j, new in enumerate(rows):
            expected = any(_holds(terms, new, written) for terms in rules)
            assert index.near(new) is expected, (i, j)
    assert _Written(rules).near(rows[0]) is False
    odd = _Written(((("given_variants", "given_variants"),),))
    odd.add({"given_variants": ["dafydd", "dai"]})
    assert odd.near({"given_variants": ["sian"]}) is True


def test_a_record_its_persons_other_records_decide_is_decided_with_the_batchs_earlier_links(prydderch):
    """The school knows Osian Hopkins, with no NHS number. The police send, in one batch, "Osian
    Hopkin" with his birthday and an NHS number (the model links him to Osian, 8.5), then a
    record at the school's address with his birthday a day out and another NHS number (5.6: the
    band where the person's other records decide). Sent one by one, the first link is stored
    when the second is decided, and its NHS number forbids joining Osian on the cluster-level
    score: a new person and a review task. The batch decides the same, which it can only do
    with its first link stored (``online.weighs_whole_person``)."""
    fam = prydderch
    osian = {"given_name": "Osian", "family_name": "Hopkins", "date_of_birth": "2016-05-09", "sex": "male",
             "address_line": "12 Heol y Bryn", "postcode": "SA48 7AB"}  # fmt: skip
    agency_record_upsert(organisation=fam.orgs.school, local_id="S-OSIAN", data=osian)
    subjects = [
        ("P-HOPKIN", {"given_name": "Osian", "family_name": "Hopkin", "date_of_birth": "2016-05-09", "sex": "male",
                      "nhs_number": factories.nhs_number("712345678")}),
        ("P-DAYOUT", {**osian, "date_of_birth": "2016-05-10", "nhs_number": factories.nhs_number("612398760")}),
    ]  # fmt: skip

    def one_by_one():
        for local_id, data in subjects:
            agency_record_upsert(organisation=fam.orgs.police, local_id=local_id, data=data, audit=False)

    def together():
        results = list(agency_records_upsert(organisation=fam.orgs.police, subjects=subjects))
        assert [r.link_method for r in results] == ["probabilistic", "new_person"]

    single, batched = rolled_back(one_by_one), rolled_back(together)
    assert batched == single
    links, _people, reviews, _count = batched
    police, school = fam.orgs.police.code, fam.orgs.school.code
    assert links[police, "P-HOPKIN"][0] == links[school, "S-OSIAN"][0] != links[police, "P-DAYOUT"][0]
    assert frozenset({"P-DAYOUT", "S-OSIAN"}) in reviews


def test_a_number_given_to_a_second_person_still_finds_the_first_as_one_by_one(prydderch):
    """The batch's ``_know``: the GP holds Ana with an NHS number. The police hold Bea without
    one, then send, in one batch, Bea with Ana's number (a mistake an agency can make: Bea's
    person learns it, and two people hold it) and a new record with the same number. Sent one
    by one, the new record joins whoever stored it first (the lowest id): Ana. The batch must
    not let the number it has just taught Bea's person hide Ana."""
    fam = prydderch
    number = factories.nhs_number("943476590")
    ana = {"given_name": "Ana", "family_name": "Pugh", "date_of_birth": "2015-03-01", "nhs_number": number}
    bea = {"given_name": "Bea", "family_name": "Jones", "date_of_birth": "2012-01-02"}
    new = {"given_name": "Cai", "family_name": "Rowlands", "date_of_birth": "2016-05-09", "nhs_number": number}
    seen = {}

    def run():
        agency_record_upsert(organisation=fam.orgs.gp, local_id="G-ANA", data=ana)
        agency_record_upsert(organisation=fam.orgs.police, local_id="P-BEA", data=bea)
        subjects = [("P-BEA", {**bea, "nhs_number": number}), ("P-NEW", new)]

        def one_by_one():
            for local_id, data in subjects:
                agency_record_upsert(organisation=fam.orgs.police, local_id=local_id, data=data, audit=False)

        seen["single"] = rolled_back(one_by_one)
        seen["batch"] = rolled_back(
            lambda: list(agency_records_upsert(organisation=fam.orgs.police, subjects=subjects))
        )

    rolled_back(run)
    links, people, _reviews, _count = seen["batch"]
    assert seen["batch"] == seen["single"]
    assert links[(fam.orgs.police.code, "P-NEW")] == (links[(fam.orgs.gp.code, "G-ANA")][0], "nhs_number")
    assert people[links[(fam.orgs.police.code, "P-BEA")][0]][3] == number  # Bea's person did learn it

"""Online matching: which person a new record is matched with, and the keys stored to find candidates."""

from __future__ import annotations

from datetime import date

from cylch.identity.linkage.model import LinkageModel
from cylch.identity.linkage.online import DEFAULT_MODEL, best_match, candidate_rows, candidates
from cylch.identity.models import AgencyRecord, match_keys
from cylch.identity.services import agency_record_upsert

OSIAN = {"given_name": "Osian", "family_name": "Hopkins", "date_of_birth": date(2016, 5, 9), "sex": "male",
         "postcode": "SA48 7AB", "address_line": "12 Heol y Bryn", "nhs_number": "", "upn": ""}  # fmt: skip


def test_best_match_passes_over_a_best_candidate_that_belongs_to_nobody(prydderch):
    """A record held without an active link (nobody to join) scores best: the match is the best
    candidate that does belong to a person, decided on its own score, instead of no match at all."""
    model = LinkageModel.load(DEFAULT_MODEL)
    school = prydderch.orgs.school
    linked = agency_record_upsert(
        organisation=school, local_id="S1", data={**OSIAN, "address_line": "", "town": ""}
    )  # fmt: skip
    orphan = AgencyRecord.objects.create(organisation=prydderch.orgs.health_visiting, local_id="HV1", **OSIAN)
    assert not orphan.links.exists()

    match = best_match(OSIAN, model=model)

    assert match is not None
    assert match.record_id == linked.record.pk and match.person_id == linked.person.pk
    assert match.decision == "link" and match.weight >= model.auto_link_weight


def test_a_saved_record_keeps_the_keys_its_blocking_rules_read(prydderch):
    """Intake stores the given-name form, the postcode without spaces and the folded street address
    beside what was sent, and a later change to one field refreshes its key."""
    record = agency_record_upsert(
        organisation=prydderch.orgs.school, local_id="S1",
        data={**OSIAN, "given_name": "Dai", "postcode": "sa48 7ab", "address_line": "12, Heol-y-Bryn"},
    ).record  # fmt: skip
    record.refresh_from_db()
    assert (record.given_canon, record.postcode_key, record.address_key, record.surname_key) == (
        "dafydd", "SA487AB", "12 heol y bryn", "hopkins",
    )  # fmt: skip
    record.given_name = "Siân"
    record.save(update_fields=["given_name"])
    record.refresh_from_db()
    assert record.given_canon == "sian" and record.address_key == "12 heol y bryn"
    AgencyRecord.objects.filter(pk=record.pk).update(surname_key="")  # as stored before the key existed
    record.refresh_from_db()
    record.save(update_fields=["surname_key"])  # what intake writes when it finds a key missing
    record.refresh_from_db()
    assert record.surname_key == "hopkins"


def test_bulk_writes_keep_the_keys_too(prydderch):
    """``bulk_create`` and ``bulk_update`` do not call ``save``: the keys are filled all the same."""
    org = prydderch.orgs.school
    AgencyRecord.objects.bulk_create([AgencyRecord(organisation=org, local_id="B1", **OSIAN)])
    stored = AgencyRecord.objects.get(local_id="B1")
    assert (stored.given_canon, stored.postcode_key, stored.address_key) == ("osian", "SA487AB", "12 heol y bryn")
    stored.address_line = "Fferm Glan-yr-Afon"
    AgencyRecord.objects.bulk_update([stored], ["address_line"])
    assert AgencyRecord.objects.get(local_id="B1").address_key == "fferm glan yr afon"


def test_the_migration_fills_the_keys_of_records_already_held(prydderch):
    """Records stored before the keys existed get them from the migration's fill, in batches."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    fill = importlib.import_module("cylch.identity.migrations.0007_agency_record_match_keys")
    org = prydderch.orgs.school
    names = ["Dai", "Gwenllian", "Rees", ""] * 2
    AgencyRecord.objects.bulk_create(
        [AgencyRecord(organisation=org, local_id=f"M{i}", **{**OSIAN, "given_name": n}) for i, n in enumerate(names)]
    )
    AgencyRecord.objects.update(given_canon="", postcode_key="", address_key="")
    fill.BATCH, batch = 3, fill.BATCH
    try:
        fill.fill_match_keys(apps, SimpleNamespace(connection=connection))
    finally:
        fill.BATCH = batch
    for record in AgencyRecord.objects.all():
        assert [getattr(record, k) for k in fill.KEYS] == [match_keys(record)[k] for k in fill.KEYS]
    assert set(AgencyRecord.objects.filter(local_id__startswith="M").values_list("given_canon", flat=True)) == {
        "dafydd", "gwenllian", "rhys", "",
    }  # fmt: skip


def test_a_street_address_is_found_whatever_its_punctuation_and_accents(prydderch):
    """The address rule is asked of the stored folded address: another spelling of the same
    street (commas, hyphens, a circumflex) still finds the record."""
    stored = AgencyRecord.objects.create(
        organisation=prydderch.orgs.school, local_id="S1",
        **{**OSIAN, "given_name": "Dafydd", "address_line": "Tŷ Gwyn, Heol-y-Bryn", "postcode": "LL55 1AA"},
    )  # fmt: skip
    sent = {**OSIAN, "given_name": "David", "date_of_birth": date(1990, 1, 2), "address_line": "TY GWYN HEOL Y BRYN"}
    assert [r.pk for r in candidates(sent, model=LinkageModel.load(DEFAULT_MODEL))] == [stored.pk]


def test_the_database_answers_each_rule_exactly(prydderch):
    """On a sample of the hard population, the rows the database returns for a record are its
    candidates, no more: nothing is read only to be thrown away in Python."""
    from cylch.demo import hardpop

    org = prydderch.orgs.school
    AgencyRecord.objects.bulk_create([_stored(org, r) for r in hardpop.generate(400, seed=11)])
    model = LinkageModel.load(DEFAULT_MODEL)
    compared = 0
    for record in AgencyRecord.objects.filter(organisation=org, local_id__startswith="R"):
        fields = {f: getattr(record, f) for f in ("given_name", "family_name", "date_of_birth", "sex", "postcode",
                                                  "address_line", "town", "nhs_number", "upn")}  # fmt: skip
        assert match_keys(record) == {k: getattr(record, k) for k in AgencyRecord.MATCH_KEYS}
        rows = candidate_rows(fields, exclude_record=record.pk, model=model)
        read = set() if rows is None else set(rows.values_list("pk", flat=True))
        found = {c.pk for c in candidates(fields, exclude_record=record.pk, model=model)}
        assert read == found, record.local_id
        compared += len(found)
    assert compared > 100  # the sample exercises the rules


def _stored(org, r) -> AgencyRecord:
    """A hard-population record as intake stores it."""
    from cylch.identity.linkage import features

    return AgencyRecord(
        organisation=org, local_id=r["id"], given_name=r["given_name"], family_name=r["surname"],
        date_of_birth=features.parse_date(r["date_of_birth"]), sex=r["sex"] or "unknown",
        postcode=" ".join(r["postcode"].upper().split()), address_line=r["address"], town=r["town"],
        nhs_number=r["nhs_number"], upn=r["pupil_number"],
    )  # fmt: skip


def _person_of_two(prydderch):
    """A person known by two records (school and health visiting), for the cluster-level rule."""
    from cylch.identity.models import LinkMethod, PersonLink

    first = agency_record_upsert(organisation=prydderch.orgs.school, local_id="S1", data=OSIAN)
    second = AgencyRecord.objects.create(organisation=prydderch.orgs.health_visiting, local_id="HV1", **OSIAN)
    PersonLink.objects.create(agency_record=second, person=first.person, method=LinkMethod.CLERICAL)
    return first.person, first.record, second


def _scores(model, weights: dict[int, float]):
    from cylch.identity.linkage.online import Score

    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    return [Score(str(pk), w, 0.5, {}, model) for pk, w in ranked]


def test_online_cluster_level_link_is_the_batch_mean_of_the_persons_records(prydderch):
    """A review-band best candidate links the new record to its person when the mean weight of the
    person's records that were candidates scoring at least the review weight reaches the
    cluster-link weight (``batch.cluster_score``, as a batch run decides), not otherwise."""
    import dataclasses

    from cylch.identity.linkage.online import _agrees_with_the_whole_person

    model = dataclasses.replace(LinkageModel.load(DEFAULT_MODEL), cluster_link_weight=5.5, review_weight=0.0,
                                auto_link_weight=8.0)  # fmt: skip
    person, a, b = _person_of_two(prydderch)

    def links(weights):
        scores = _scores(model, weights)
        return _agrees_with_the_whole_person(model, scores[0], person.pk, scores, OSIAN)

    assert links({a.pk: 7.0, b.pk: 4.5})  # mean 5.75
    assert not links({a.pk: 6.0, b.pk: 1.0})  # mean 3.5: the other record says otherwise
    assert links({a.pk: 6.0})  # the other record never compared: says nothing, as in a batch run
    assert links({a.pk: 6.0, b.pk: -3.0})  # scored below the review weight: not a kept pair
    assert not links({a.pk: 5.0})  # below the cluster-link weight
    assert links({a.pk: 6.0, b.pk: 6.0})


def test_online_cluster_level_link_refuses_a_person_holding_another_nhs_number(prydderch):
    """The batch's guard: a person whose records hold an NHS number more than a slip from the new
    record's is not joined on a cluster-level score."""
    import dataclasses

    from cylch.identity.linkage.online import _agrees_with_the_whole_person

    model = dataclasses.replace(LinkageModel.load(DEFAULT_MODEL), cluster_link_weight=5.5)
    person, a, b = _person_of_two(prydderch)
    AgencyRecord.objects.filter(pk=b.pk).update(nhs_number="9434765919")
    scores = _scores(model, {a.pk: 7.0, b.pk: 7.0})
    assert not _agrees_with_the_whole_person(model, scores[0], person.pk, scores, {**OSIAN, "nhs_number": "4010232137"})
    assert _agrees_with_the_whole_person(model, scores[0], person.pk, scores, OSIAN)


def test_a_model_used_on_more_records_than_it_was_trained_on_scores_every_pair_lower(prydderch):
    """The shipped model was trained on 100,000 records; among a million, two records picked at
    random are a tenth as likely to be one person, so each pair's weight falls by log2(10) (the
    same pair, scored by Splink, both ways), and the SQL of each is cached apart. Among fewer
    records than it was trained on the model is used as it is (precision first)."""
    import math

    from cylch.identity.linkage.online import population, record_fields, score

    model = LinkageModel.load(DEFAULT_MODEL)
    trained = model.training["records"]
    assert model.for_population(trained // 10) is model and model.for_population(trained) is model
    wider = model.for_population(trained * 10)
    assert wider.version == model.version and model.splink is not wider.splink
    left = record_fields({**OSIAN, "nhs_number": None})
    right = record_fields({**OSIAN, "nhs_number": None, "postcode": "CF10 1AA", "address_line": "3 Stryd y Castell"})
    [own] = score(model, left, [("a", right)])
    [far] = score(wider, left, [("a", right)])
    drop = own.weight - far.weight
    assert math.isclose(drop, math.log2(10), abs_tol=0.01), drop
    agency_record_upsert(organisation=prydderch.orgs.gp, local_id="POP-1", data=dict(OSIAN))
    assert 1 <= population() <= AgencyRecord.objects.count()

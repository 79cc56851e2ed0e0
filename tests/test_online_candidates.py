"""Online matching finds the candidates a batch run would compare: the model's own blocking rules."""

from __future__ import annotations

from datetime import date

import pytest

from cylch.demo import hardpop
from cylch.identity.linkage import features
from cylch.identity.linkage.model import LinkageModel, blocking_rules_for
from cylch.identity.linkage.online import (
    DEFAULT_MODEL,
    UnsupportedRule,
    _rule_terms,
    best_match,
    blocking_terms,
    candidates,
    record_fields,
)
from cylch.identity.models import AgencyRecord
from cylch.identity.services import agency_record_upsert

OSIAN = {"given_name": "Osian", "family_name": "Hopkins", "date_of_birth": "2016-05-09", "sex": "male",
         "postcode": "SA48 7AB", "address_line": "12 Heol y Bryn"}  # fmt: skip
# Agrees with Osian on nothing any blocking rule reads; each test gives it back one or two fields.
STRANGER = {"given_name": "Gethin", "family_name": "Watkins", "date_of_birth": date(1990, 1, 2), "sex": "male",
            "postcode": "LL55 1AA", "address_line": "3 Stryd Fawr"}  # fmt: skip


@pytest.fixture
def osian(prydderch):
    return agency_record_upsert(organisation=prydderch.orgs.school, local_id="S1", data=OSIAN).record


def _found(fields) -> list[int]:
    return [r.pk for r in candidates(fields, model=LinkageModel.load(DEFAULT_MODEL))]


def test_stranger_is_no_candidate(osian):
    assert _found(STRANGER) == []


def test_same_postcode_and_date_of_birth_finds_a_candidate(osian):
    """A record sharing only the postcode (written without its space) and the birthday is compared."""
    assert _found({**STRANGER, "postcode": "SA487AB", "date_of_birth": date(2016, 5, 9)}) == [osian.pk]
    assert _found({**STRANGER, "postcode": "SA487AB", "date_of_birth": date(2016, 5, 10)}) == []


def test_same_street_address_and_year_of_birth_finds_a_candidate(osian):
    """The same street address in other capitals, another postcode, born the same year: compared."""
    same_year = {**STRANGER, "address_line": "12 HEOL Y BRYN", "date_of_birth": date(2016, 11, 30)}
    assert _found(same_year) == [osian.pk]
    assert _found({**same_year, "date_of_birth": date(2015, 11, 30)}) == []


def test_same_street_address_and_given_name_form_finds_a_candidate(osian):
    """The same street address and the English form of the given name, nothing else: compared."""
    david = {**STRANGER, "given_name": "David", "address_line": "12 heol y bryn"}
    dafydd = agency_record_upsert(
        organisation=osian.organisation, local_id="S2", data={**OSIAN, "given_name": "Dafydd", "family_name": "Rees",
                                                              "date_of_birth": "2001-02-03"},
    ).record  # fmt: skip
    assert _found(david) == [dafydd.pk]
    assert _found({**david, "given_name": "Dylan"}) == []


def test_a_candidate_found_by_a_new_rule_is_scored_and_decided(osian):
    """Found through the street address alone, a record is still scored by the model and the
    decision follows the thresholds (here: too little agrees to link)."""
    model = LinkageModel.load(DEFAULT_MODEL)
    match = best_match({**STRANGER, "address_line": "12 Heol y Bryn", "date_of_birth": date(2016, 11, 30)}, model=model)
    assert match is not None and match.record_id == osian.pk
    assert match.weight < model.auto_link_weight and match.decision in {"review", "none"}
    assert match.decision == ("review" if match.weight >= model.review_weight else "none")


def test_every_rule_cylch_trains_can_be_read_online():
    """Whatever fields a model has, its blocking rules are column equalities online matching reads."""
    hub = {"given_name", "surname", "date_of_birth", "sex", "postcode", "address", "nhs_number", "pupil_number"}
    for fields in (hub, hub - {"date_of_birth"}, {"given_name", "surname", "postcode", "other_id"}):
        assert len(_rule_terms(tuple(r.sql for r in blocking_rules_for(fields)))) == len(blocking_rules_for(fields))
    with pytest.raises(UnsupportedRule):
        _rule_terms(('levenshtein(l."surname", r."surname") <= 1',))


def test_online_candidates_are_the_batch_blocked_pairs(prydderch):
    """On a sample of the hard population, every record's online candidates are exactly the records
    the batch's blocking rules pair it with (DuckDB over the same prepared rows)."""
    import duckdb

    org = prydderch.orgs.school
    stored = []
    for r in hardpop.generate(600, seed=7):
        record = AgencyRecord(
            organisation=org, local_id=r["id"], given_name=r["given_name"], family_name=r["surname"],
            date_of_birth=features.parse_date(r["date_of_birth"]), sex=r["sex"] or "unknown",
            postcode=" ".join(r["postcode"].upper().split()), address_line=r["address"], town=r["town"],
            nhs_number=r["nhs_number"], upn=r["pupil_number"], surname_key=features.surname_key(r["surname"]),
        )  # fmt: skip
        stored.append(record)
    AgencyRecord.objects.bulk_create(stored)
    records = list(AgencyRecord.objects.filter(organisation=org, local_id__startswith="R"))
    model = LinkageModel.load(DEFAULT_MODEL)
    con = duckdb.connect()
    con.register("t", features.to_arrow([features.prepare(r.pk, record_fields(r)) for r in records]))
    rules = " OR ".join(f"({r['blocking_rule']})" for r in model.splink["blocking_rules_to_generate_predictions"])
    blocked: dict[str, set[str]] = {}
    for a, b in con.execute(
        f"select l.unique_id, r.unique_id from t l join t r on l.unique_id <> r.unique_id and ({rules})"
    ).fetchall():
        blocked.setdefault(a, set()).add(b)
    assert sum(map(len, blocked.values())) > 200  # the sample exercises the rules
    assert len(blocking_terms(model)) == len(model.splink["blocking_rules_to_generate_predictions"])
    for r in records:
        found = {str(c.pk) for c in candidates(record_fields_as_cleaned(r), exclude_record=r.pk, model=model)}
        assert found == blocked.get(str(r.pk), set()), r.local_id


def record_fields_as_cleaned(record: AgencyRecord) -> dict:
    """A stored record's fields as intake hands them to matching (cleaned ``AgencyRecord`` fields)."""
    return {f: getattr(record, f) for f in ("given_name", "family_name", "date_of_birth", "sex", "postcode",
                                            "address_line", "town", "nhs_number", "upn")}  # fmt: skip

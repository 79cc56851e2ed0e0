"""The Spark engine: the same saved model on Splink's Spark backend (local mode) scores the same
pairs, and the guarded clustering makes the same people and decisions, as on DuckDB.

Needs pyspark (the dev and spark extras) and Java 17+; nothing here is skipped without them.
One local[2] session serves the whole module (starting Spark costs about 5 s).
"""

from __future__ import annotations

import io
import random
import sys

import duckdb
import pyarrow as pa
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from cylch.demo import hardpop
from cylch.identity.linkage import batch, features
from cylch.identity.linkage import spark as spark_engine
from cylch.identity.linkage.model import LinkageModel
from cylch.identity.linkage.online import DEFAULT_MODEL
from cylch.identity.models import PersonLink
from cylch.identity.services import agency_record_upsert

# Weights agree to about 1e-14 (the same sums in another order); a pair this close to a
# threshold could fall on either side of it, so the comparison below checks none is.
WEIGHT_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def spark():
    session = spark_engine.session()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def population():
    """The shipped model, read back from its JSON, and 3,000 records of the hard population."""
    model = LinkageModel.from_json(LinkageModel.load(DEFAULT_MODEL).to_json())
    rows = list(hardpop.generate(3000, seed=11))
    return model, features.to_arrow([features.prepare(r["id"], r) for r in rows])


# ---- the model in Spark SQL ----------------------------------------------------------------------
@pytest.mark.once  # no database of the settings': run once, in the SQLite pass
def test_spark_settings_translate_only_the_sql():
    saved = LinkageModel.load(DEFAULT_MODEL).splink
    translated = spark_engine.spark_settings(saved)
    assert translated["probability_two_random_records_match"] == saved["probability_two_random_records_match"]
    assert len(translated["blocking_rules_to_generate_predictions"]) == len(
        saved["blocking_rules_to_generate_predictions"]
    )
    for ours, theirs in zip(translated["comparisons"], saved["comparisons"], strict=True):
        assert len(ours["comparison_levels"]) == len(theirs["comparison_levels"])
        for a, b in zip(ours["comparison_levels"], theirs["comparison_levels"], strict=True):
            assert {k: v for k, v in a.items() if k != "sql_condition"} == {
                k: v for k, v in b.items() if k != "sql_condition"
            }
            assert '"' not in a["sql_condition"]  # a double-quoted name is a string literal on Spark
    given = [lvl["sql_condition"] for lvl in translated["comparisons"][0]["comparison_levels"]]
    assert "ARRAY_CONTAINS(`given_variants_l`, `given_name_r`)" in given[2]
    assert given[3] == "CYLCH_JARO_WINKLER(`given_name_l`, `given_name_r`) >= 0.92"
    # A Welsh/English form misspelt: DuckDB's list lambda as Spark's transform, with Cylch's
    # Jaro-Winkler written out inside it (Spark calls no SQL function from a lambda).
    assert given[4].startswith("ARRAY_MAX(TRANSFORM(`given_variants_l`, v -> (CASE")
    assert "ARRAY_MAX(TRANSFORM(`given_variants_r`, v -> (CASE" in given[4] and "CYLCH_JARO" not in given[4]
    assert spark_engine.to_spark_sql('l."dob" = r."dob"') == "l.`dob` = r.`dob`"
    with pytest.raises(spark_engine.UnsupportedSQL, match="LEVENSHTEIN"):
        spark_engine.to_spark_sql('levenshtein("surname_l", "surname_r") <= 2')


def _string_pairs(table: pa.Table) -> list[tuple[str, str]]:
    """Every pair of the population's distinct surnames, plus strings built to be awkward."""
    names = sorted({n for n in table.column("surname").to_pylist() if n})
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    addresses = sorted({a for a in table.column("address").to_pylist() if a})[:150]
    pairs += [(a, b) for i, a in enumerate(addresses) for b in addresses[i + 1 :]]
    rnd = random.Random(7)
    for _ in range(4000):
        alphabet = rnd.choice(["ab", "abc", "0123456789", "abcdefghij"])
        pairs.append(tuple("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 16))) for _ in "lr"))
    pairs += [("annwen", "anwen"), ("115 heol newydd", "122 heol newydd"), ("meiyr", "mair"), ("a", "a"),
              ("a", "b"), ("a", "ab"), ("ab", "ba"), ("", "x"), ("", ""), ("9434765919", "9434765991")]  # fmt: skip
    return pairs + [(b, a) for a, b in pairs[::5]]


@pytest.mark.once  # no database of the settings': run once, in the SQLite pass
def test_jaro_winkler_and_damerau_levenshtein_on_spark_are_duckdbs(spark, population):
    """To the last bit for Jaro-Winkler; for "at most one edit" for Damerau-Levenshtein."""
    _, table = population
    pairs = _string_pairs(table)
    con = duckdb.connect()
    con.register("p", pa.table({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]}))
    rows = con.execute("select a, b, jaro_winkler_similarity(a, b), damerau_levenshtein(a, b) <= 1 from p").fetchall()
    expected = pa.table({k: [r[i] for r in rows] for i, k in enumerate(("a", "b", "jw", "dl1"))})
    spark_engine.register_functions(spark)
    spark.createDataFrame(expected).createOrReplaceTempView("cylch_expected")
    wrong = spark.sql(
        "select a, b, jw, cylch_jaro_winkler(a, b) as spark_jw, dl1, damerau_levenshtein(a, b) <= 1 as spark_dl1 "
        "from cylch_expected "
        "where not (jw <=> cylch_jaro_winkler(a, b)) or not (dl1 <=> (damerau_levenshtein(a, b) <= 1))"
    ).collect()
    assert len(pairs) > 10_000
    assert not wrong, [tuple(r) for r in wrong[:10]]


@pytest.mark.once  # no database of the settings': run once, in the SQLite pass
def test_best_similarity_to_a_name_form_on_spark_is_duckdbs(spark, population):
    """The misspelt-form level's score, the best Jaro-Winkler of a name against the other's forms,
    the same to the last bit on both engines for every given name of the population against
    every form list, and for made-up lists."""
    _, table = population
    names = sorted({n for n in table.column("given_name").to_pylist() if n})
    forms = sorted({tuple(v) for v in table.column("given_variants").to_pylist() if v})
    rows = [{"given_variants_l": list(f), "given_name_r": n} for f in forms for n in names[::3]]
    rows += [{"given_variants_l": ["rhys", "rees", "reece"], "given_name_r": "rese"},
             {"given_variants_l": [], "given_name_r": "rese"}, {"given_variants_l": None, "given_name_r": "rese"},
             {"given_variants_l": ["dafydd"], "given_name_r": None}]  # fmt: skip
    pairs = pa.Table.from_pylist(rows, schema=pa.schema([("given_variants_l", pa.list_(pa.string())),
                                                         ("given_name_r", pa.string())]))  # fmt: skip
    duck_sql = 'list_max(list_transform("given_variants_l", lambda v: jaro_winkler_similarity(v, "given_name_r")))'
    con = duckdb.connect()
    con.register("p", pairs)
    expected = con.sql(f"select given_variants_l, given_name_r, {duck_sql} as best from p").to_arrow_table()
    spark.createDataFrame(expected).createOrReplaceTempView("cylch_forms")
    ours = spark_engine.to_spark_sql(duck_sql)
    wrong = spark.sql(f"select * from cylch_forms where not (best <=> {ours})").collect()
    assert len(rows) > 5000
    assert not wrong, [tuple(r) for r in wrong[:10]]


# ---- the same pairs, people and decisions -----------------------------------------------------------
@pytest.mark.once  # no database of the settings': run once, in the SQLite pass
def test_every_blocked_pair_scores_the_same(spark, population):
    from splink import DuckDBAPI, Linker
    from splink.backends.spark import SparkAPI

    model, table = population
    con = duckdb.connect()
    con.register("cylch_input", table)
    on_duckdb = Linker(DuckDBAPI(connection=con).register("cylch_input"), model.splink).inference.predict()
    duck = {
        (a, b): w
        for a, b, w in con.execute(
            f"select unique_id_l, unique_id_r, match_weight from {on_duckdb.physical_name}"
        ).fetchall()
    }
    spark_engine.register_functions(spark)
    api = SparkAPI(spark_session=spark, break_lineage_method="persist")
    linker = Linker(api.register(spark.createDataFrame(table)), spark_engine.spark_settings(model.splink))
    scored = linker.inference.predict().as_spark_dataframe().select("unique_id_l", "unique_id_r", "match_weight")
    ours = {(r[0], r[1]): r[2] for r in scored.collect()}
    assert len(duck) > 2000 and ours.keys() == duck.keys()
    worst = max(abs(ours[k] - duck[k]) for k in duck)
    assert worst < WEIGHT_TOLERANCE, worst


def _people(result: batch.BatchResult) -> set[frozenset[str]]:
    return {frozenset(members) for members in result.clusters().values()}


@pytest.mark.once  # no database of the settings': run once, in the SQLite pass
def test_spark_and_duckdb_make_the_same_people_and_decisions(spark, population):
    model, table = population
    plain, _ = batch.run_duckdb(table, model)
    # Reviewers' decisions, so the guard runs on both engines: two of one family are "different
    # people" (the chain through a third member is refused: a conflict), two loners "the same".
    family = sorted(next(m for m in plain.clusters().values() if len(m) >= 3))
    loners = sorted(uid for uid, d in plain.decision_of.items() if d == "single")
    must, cannot = [(loners[0], loners[1])], {frozenset(family[:2])}
    duck, _ = batch.run_duckdb(table, model, must_link=must, cannot_link=cannot, count_blocking=True)
    # A Spark DataFrame in, as a cluster job reading prepared rows from Parquet would pass.
    ours, same_model = spark_engine.run_spark(
        spark.createDataFrame(table), model, spark=spark, must_link=must, cannot_link=cannot, count_blocking=True
    )
    assert same_model is model
    assert ours.blocking == duck.blocking and ours.blocking[0]["rule"] == "same nhs number"
    assert (ours.pairs_kept, ours.pairs_auto) == (duck.pairs_kept, duck.pairs_auto)
    assert _people(ours) == _people(duck) != _people(plain)
    assert ours.decision_of == duck.decision_of
    assert [(p.left, p.right, p.reason) for p in ours.review] == [(p.left, p.right, p.reason) for p in duck.review]
    assert all(abs(p.weight - q.weight) < WEIGHT_TOLERANCE for p, q in zip(ours.review, duck.review, strict=True))
    assert {p.reason for p in duck.review} == {"uncertain", "conflict"}  # both kinds of review are compared
    c = duck.decision_counts()
    # (Cluster-level links settle most review-band pairs of this population: 66 records remain.)
    assert c["linked"] > 1000 and c["review"] > 50 and c["single"] > 100, c
    # The one difference allowed is a pair within float error of a threshold; there is none here.
    for threshold in (model.auto_link_weight, model.review_weight, model.cluster_link_weight):
        assert all(abs(p.weight - threshold) > WEIGHT_TOLERANCE for p in duck.review)


@pytest.mark.once  # no database of the settings': run once, in the SQLite pass
def test_training_stays_on_duckdb(population):
    model, table = population
    with pytest.raises(ValueError, match="train it on DuckDB"):
        spark_engine.run_spark(table, model, train=True)


# ---- the command --------------------------------------------------------------------------------------------
def _duplicates(prydderch):
    """The same boy as three agencies know him, sent before online matching existed."""
    base = {"family_name": "Hopkins", "date_of_birth": "2016-05-09", "sex": "male", "postcode": "SA48 7AB",
            "address_line": "12 Heol y Bryn"}  # fmt: skip
    orgs = prydderch.orgs
    with override_settings(CYLCH_ONLINE_LINKAGE=False):
        for org, local_id, given in ((orgs.school, "S1", "Dafydd"), (orgs.housing, "H1", "David"),
                                     (orgs.police, "P1", "Dai")):  # fmt: skip
            agency_record_upsert(organisation=org, local_id=local_id, data={**base, "given_name": given})


def test_link_run_on_spark_dry_run_matches_duckdb(prydderch, spark):
    _duplicates(prydderch)
    links = sorted(PersonLink.objects.filter(active=True).values_list("agency_record_id", "person_id"))
    outputs = {}
    for engine in ("duckdb", "spark"):
        out = io.StringIO()
        call_command("link", "run", "--engine", engine, "--dry-run", "--no-progress", stdout=out)
        outputs[engine] = out.getvalue()
    assert "on spark in" in outputs["spark"] and "dry run: nothing changed" in outputs["spark"]
    summary = {engine: text.split(": ", 1)[1].splitlines()[0] for engine, text in outputs.items()}
    assert summary["spark"] == summary["duckdb"]
    assert "0 linked" not in summary["spark"]  # the three Hopkins records are one boy
    assert sorted(PersonLink.objects.filter(active=True).values_list("agency_record_id", "person_id")) == links


def test_link_run_on_spark_without_pyspark_says_what_to_install(prydderch, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if not installed
    with pytest.raises(CommandError, match=r"needs pyspark.*spark extra"):
        call_command("link", "run", "--engine", "spark", "--dry-run", "--no-progress")

"""Online matching: score one new agency record against the records already held, at once.

Candidates are the records the saved model's own blocking rules pair with the new one, as in
a batch run: each rule is asked of the main database exactly, through the identifiers, the date
of birth (as given or with day and month swapped) and the prepared keys stored on every record
(``AgencyRecord.MATCH_KEYS``: surname, given-name form, postcode, street address), indexed
together, and checked again on the prepared fields of the rows read. They are scored by
Splink's own comparison SQL for the saved model on an in-process DuckDB, so online and batch
compare the same pairs and give them the same numbers.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from cylch.identity.linkage import features
from cylch.identity.linkage.model import LinkageModel, quiet
from cylch.identity.names import headword

DEFAULT_MODEL = Path(__file__).with_name("default_model.json")
MAX_CANDIDATES = 200
_local = threading.local()


# Which model is active is looked up at most this often per process, not once per record.
ACTIVE_MODEL_TTL_SECONDS = 30
_active: tuple[float, LinkageModel] | None = None


@lru_cache(maxsize=4)
def _load(version_pk: int | None) -> LinkageModel:
    """A stored model by row (rows are never edited, so the cache never goes stale)."""
    from cylch.identity.models import LinkageModelVersion

    if version_pk is None:
        return LinkageModel.load(DEFAULT_MODEL)
    return LinkageModel.from_json(LinkageModelVersion.objects.get(pk=version_pk).model_json)


def active_model() -> LinkageModel:
    """The model marked active in the database, else the one shipped with Cylch.

    A newly activated model takes over in this process at once (``forget_active_model``) and
    in other processes within ``ACTIVE_MODEL_TTL_SECONDS``.
    """
    global _active
    from cylch.identity.models import LinkageModelVersion

    now = time.monotonic()
    if _active is not None and now - _active[0] < ACTIVE_MODEL_TTL_SECONDS:
        return _active[1]
    pk = LinkageModelVersion.objects.filter(active=True).order_by("-pk").values_list("pk", flat=True).first()
    model = _load(pk).for_population(population())
    _active = (now, model)
    return model


def population() -> int:
    """About how many agency records a new one is matched among, to two significant figures
    (``LinkageModel.for_population``; a coarse figure keeps the scoring SQL cached between
    looks). Counted, with the active model, at most every ``ACTIVE_MODEL_TTL_SECONDS``:
    PostgreSQL's own estimate (``reltuples``) can be far off after a bulk load or deletions."""
    from cylch.identity.models import AgencyRecord

    n = AgencyRecord.objects.count()
    digits = max(len(str(n)) - 2, 0)
    return n // 10**digits * 10**digits


def forget_active_model() -> None:
    global _active
    _active = None


def record_fields(record) -> dict[str, Any]:
    """An ``AgencyRecord`` (or the cleaned fields of one) in the linkage field names."""
    get = record.get if isinstance(record, dict) else lambda k, d=None: getattr(record, k, d)
    sex = get("sex") or ""
    return {
        "given_name": get("given_name") or "",
        "surname": get("family_name") or "",
        "date_of_birth": get("date_of_birth"),
        "sex": "" if sex == "unknown" else sex,
        "postcode": get("postcode") or "",
        "address": get("address_line") or "",
        "town": get("town") or "",
        "nhs_number": get("nhs_number") or "",
        "pupil_number": get("upn") or "",
    }


def _row(model: LinkageModel, uid: str, fields: dict[str, Any]) -> dict[str, Any]:
    row = features.prepare(uid, fields)
    for col in ("given_name", "surname"):
        if col in model.term_frequencies:
            row[f"tf_{col}"] = model.tf(col, row[col])
    return row


def _connection():
    con = getattr(_local, "duckdb", None)
    if con is None:
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect()
        # One record against a few candidates: DuckDB's worker threads only add waiting, and on a
        # busy two-core machine they doubled the median and quadrupled the 95th centile.
        con.execute("SET threads = 1")
        _local.duckdb = con
        _local.api = DuckDBAPI(connection=con)
        quiet()
    return _local.api


@dataclass(frozen=True)
class Score:
    uid: str
    weight: float
    probability: float
    row: dict[str, Any] = field(repr=False, compare=False)  # Splink's output row, for the evidence
    model: LinkageModel = field(repr=False, compare=False)

    @cached_property
    def evidence(self) -> list[dict[str, Any]]:
        """Per-comparison evidence (worked out when asked: only the best candidate's is shown)."""
        return explain(self.model, self.row)


def score(model: LinkageModel, left: dict[str, Any], rights: list[tuple[str, dict[str, Any]]]) -> list[Score]:
    """Score one record (linkage fields) against candidates, best first (a tie in the order given)."""
    return score_many(model, [(left, rights)])[0]


# Each left row is compared only with the right rows made for it: both carry its number before
# the colon of their unique id. The condition never changes, so Splink's SQL is built once.
_OWN_PAIRS = "split_part(l.unique_id, ':', 1) = split_part(r.unique_id, ':', 1)"


def score_many(
    model: LinkageModel, pairs: list[tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]]
) -> list[list[Score]]:
    """For each (record, its candidates), what :func:`score` gives, in one comparison."""
    out: list[list[Score]] = [[] for _ in pairs]
    lefts, rights, order = [], [], {}
    for i, (left, candidates_of) in enumerate(pairs):
        if not candidates_of:
            continue
        lefts.append(_row(model, f"{i}:__new__", left))
        for j, (uid, fields) in enumerate(candidates_of):
            rights.append(_row(model, f"{i}:{uid}", fields))
            order[(i, uid)] = j
    if not lefts:
        return out
    import pyarrow as pa
    from splink.internals.realtime import compare_records

    api = _connection()
    schema = _schema(_columns(model))
    result = compare_records(
        pa.Table.from_pylist(lefts, schema=schema), pa.Table.from_pylist(rights, schema=schema), model.splink, api,
        sql_cache_key=f"cylch-online-own-{model.version}-{model.splink['probability_two_random_records_match']!r}",
        join_condition=_OWN_PAIRS,
    )  # fmt: skip
    rows = result.as_record_list()
    _forget(api, result.physical_name)
    for r in rows:
        i, uid = r["unique_id_r"].split(":", 1)
        r["unique_id_l"], r["unique_id_r"] = "__new__", uid
        out[int(i)].append(Score(uid, float(r["match_weight"]), float(r["match_probability"]), r, model))
    for i, scores in enumerate(out):
        scores.sort(key=lambda s: (-s.weight, order[(i, s.uid)]))
    return out


def _forget(api, physical_name: str) -> None:
    """Drop the per-call tables Splink made, so a long-running worker does not grow."""
    uid = physical_name.rsplit("_", 1)[-1]
    con = api._con
    con.execute(f'drop table if exists "{physical_name}"')
    for side in ("left", "right"):
        con.unregister(f"__splink__compare_records_{side}_{uid}")


def _columns(model: LinkageModel) -> list[str]:
    return [*features.COLUMNS, *(f"tf_{c}" for c in ("given_name", "surname") if c in model.term_frequencies)]


def _schema(cols: list[str]):
    import pyarrow as pa

    types = {"given_variants": pa.list_(pa.string())}
    return pa.schema([(c, pa.float64() if c.startswith("tf_") else types.get(c, pa.string())) for c in cols])


def explain(model: LinkageModel, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Which fields agree and how much each moved the score (match weight, with name frequency)."""
    out = []
    for comp in model.splink["comparisons"]:
        col = comp["output_column_name"]
        gamma = row.get(f"gamma_{col}")
        level = next(
            (lvl for lvl in comp["comparison_levels"] if lvl.get("comparison_vector_value") == gamma),
            None,
        ) or _level_by_position(comp["comparison_levels"], gamma)
        weight = (row.get(f"mw_{col}") or 0.0) + (row.get(f"mw_tf_adj_{col}") or 0.0)
        out.append(
            {
                "field": col,
                "level": "Not known on one side" if level.get("is_null_level") else level.get("label_for_charts", ""),
                "is_null": bool(level.get("is_null_level")),
                "weight": round(float(weight), 2),
                "left": _shown(row, col, "l"),
                "right": _shown(row, col, "r"),
            }
        )
    return out


def _shown(row: dict[str, Any], col: str, side: str) -> str:
    if col == "address":
        parts = [row.get(f"address_{side}"), row.get(f"postcode_{side}")]
        return ", ".join(p for p in parts if p)
    value = row.get(f"{col}_{side}")
    return "" if value is None else str(value)


def _level_by_position(levels: list[dict[str, Any]], gamma: int | None) -> dict[str, Any]:
    """Splink numbers levels from the last (0, the else level) upward and the null level -1."""
    if gamma == -1:
        return next((lvl for lvl in levels if lvl.get("is_null_level")), {})
    ranked = [lvl for lvl in levels if not lvl.get("is_null_level")]
    if gamma is None or not 0 <= gamma < len(ranked):
        return {}
    return ranked[len(ranked) - 1 - gamma]


# Blocking rules are conjunctions of ``l."x" = r."y"``; online matching reads them from the model.
_TERM = re.compile(r'l\."(\w+)"\s*=\s*r\."(\w+)"')
_AND = re.compile(r"\s*\bAND\b\s*", re.IGNORECASE)
# Fields read from each candidate: what ``record_fields`` needs, no more.
_CANDIDATE_COLUMNS = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address_line", "town",
                      "nhs_number", "upn")  # fmt: skip
# Rows read from the database for one record before the rules are applied in Python; a key
# shared by thousands (a placeholder birthday, a hostel's postcode) cannot slow a match more.
MAX_ROWS_READ = 3000


class UnsupportedRule(ValueError):
    """A blocking rule online matching cannot read (not a conjunction of column equalities)."""


@lru_cache(maxsize=16)
def _rule_terms(rules: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Each blocking rule as its (left column, right column) equalities."""
    out = []
    for sql in rules:
        terms = _TERM.findall(sql)
        if not terms or _AND.sub("", _TERM.sub("", sql)).strip():
            raise UnsupportedRule(sql)
        out.append(tuple(terms))
    return tuple(out)


def blocking_terms(model: LinkageModel) -> tuple[tuple[tuple[str, str], ...], ...]:
    """The model's own blocking rules (the batch's), as column equalities."""
    rules = model.splink.get("blocking_rules_to_generate_predictions") or []
    return _rule_terms(tuple(r["blocking_rule"] if isinstance(r, dict) else str(r) for r in rules))


# Prepared columns stored on each AgencyRecord (``AgencyRecord.MATCH_KEYS``): a rule on them is
# asked of the database exactly, through the indexes beside the date of birth, postcode and address.
# Whether one alone narrows enough to be asked (a given-name form alone does not).
_STORED = {"surname": ("surname_key", True), "given_canon": ("given_canon", False),
           "postcode": ("postcode_key", True), "address": ("address_key", True)}  # fmt: skip


# One condition on the stored records: SQL on AgencyRecord's columns with its parameters, as
# Django's lookups would write it for the database in use. Built as text, not as ``Q`` objects:
# resolving a ``Q`` of every blocking rule took longer than the query (docs/bench.md, "A new
# record's candidates asked as SQL").
Condition = tuple[tuple[str, ...], tuple[Any, ...]]


def _column(name: str) -> str:
    from cylch.identity.models import AgencyRecord

    quote = connection.ops.quote_name
    return f"{quote(AgencyRecord._meta.db_table)}.{quote(name)}"


def _equals(name: str, value: Any) -> Condition:
    if isinstance(value, date):
        value = connection.ops.adapt_datefield_value(value)
    return (f"{_column(name)} = %s",), (value,)


def _lookup(column: str, value: str) -> tuple[Condition, bool] | None:
    """Stored records whose prepared ``column`` may equal ``value``, as an indexed condition, and
    whether it narrows enough alone (a year of birth or a surname initial does not)."""
    from cylch.identity.models import AgencyRecord

    if column in _STORED:
        key, strong = _STORED[column]
        # Cut as the stored key is; the whole value is checked on the rows read.
        return _equals(key, value[: AgencyRecord._meta.get_field(key).max_length]), strong
    if column == "nhs_number":
        return _equals("nhs_number", value), True
    if column == "pupil_number":
        return _equals("upn", value), True
    if column == "dob":
        return _equals("date_of_birth", date.fromisoformat(value)), True
    if column == "dob_swapped":
        swapped = features.swap_day_month(date.fromisoformat(value))
        return (_equals("date_of_birth", swapped), True) if swapped else None
    if column == "birth_year":
        year = int(value)
        adapt, born = connection.ops.adapt_datefield_value, _column("date_of_birth")
        return ((f"{born} >= %s", f"{born} <= %s"), (adapt(date(year, 1, 1)), adapt(date(year, 12, 31)))), False
    if column == "given_name":
        # Not stored as such, but its form is: a record with this given name has this form (the
        # swapped-names rules; a variant spelling sharing the form is read and checked in Python).
        return _lookup("given_canon", headword(value))
    if column == "birth_month_day":
        month, day = (int(x) for x in value.split("-"))
        sqls, params = [], []
        for part, number in (("month", month), ("day", day)):
            sql, extract_params = connection.ops.date_extract_sql(part, _column("date_of_birth"), ())
            sqls.append(f"{sql} = %s")
            params.extend([*extract_params, number])
        return (tuple(sqls), tuple(params)), False
    if column == "surname_initial":
        lhs = connection.ops.lookup_cast("startswith", "CharField") % _column("surname_key")
        pattern = connection.ops.prep_for_like_query(value) + "%"
        return ((f"{lhs} {connection.operators['startswith'] % '%s'}",), (pattern,)), False
    return None  # any other column a model may block on: checked in Python on the rows read


def _rule_conditions(terms, row: dict[str, Any]) -> list[Condition]:
    """Records that may satisfy one rule with the new record on either side of it, each as its
    terms in a fixed order (so the same condition from either side of a symmetric rule is one)."""
    out = []
    for new_side in (0, 1):
        parts: dict[str, tuple[Any, ...]] = {}
        strong = False
        for pair in terms:
            value = row.get(pair[new_side])
            if value is None:
                break
            found = _lookup(pair[1 - new_side], value)
            if found:
                (sqls, params), narrows = found
                parts[" AND ".join(sqls)] = params
                strong = strong or narrows
        else:
            if strong:
                ordered = sorted(parts.items())
                out.append((tuple(sql for sql, _p in ordered), tuple(p for _s, ps in ordered for p in ps)))
    return out


def _holds(terms, a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(x) is not None and a.get(x) == b.get(y) for x, y in terms) or all(
        b.get(x) is not None and b.get(x) == a.get(y) for x, y in terms
    )


def candidates(
    fields: dict[str, Any],
    *,
    exclude_record: int | None = None,
    model: LinkageModel | None = None,
    hidden: Collection[int] = (),
) -> list:
    """Agency records a batch run would compare with these (cleaned ``AgencyRecord``) fields.

    The model's own blocking rules choose them, as in a batch run: the database is asked for the
    records each rule holds for (:func:`candidate_rows`), and each rule is checked again on the
    prepared fields of the rows read, so online and batch compare the same pairs. Rows are read
    as values; records are made only of the candidates kept. Newest first, at most
    ``MAX_CANDIDATES``. ``hidden``: records not to be seen (a batch's, stored before their turn)."""
    return _search(fields, exclude_record, model or active_model(), hidden)[0]


def _search(fields: dict[str, Any], exclude_record: int | None, model: LinkageModel, hidden: Collection[int]):
    """:func:`candidates`, and whether they are all there are (no limit was reached)."""
    from cylch.identity.models import AgencyRecord

    row = _row_for_rules(fields)
    rules = blocking_terms(model)
    qs = candidate_rows(fields, exclude_record=exclude_record, model=model)
    if qs is not None and hidden:
        qs = qs.exclude(pk__in=sorted(hidden))
    if qs is None:
        return [], True
    # In the model's field order, so the kept rows become records as a query would make them
    # (the other fields deferred).
    names = [f.attname for f in AgencyRecord._meta.concrete_fields if f.attname in {"id", *_CANDIDATE_COLUMNS}]
    found = []
    rows = qs.order_by("-pk").values_list(*names)[:MAX_ROWS_READ]
    for read, values in enumerate(rows, start=1):
        data = dict(zip(names, values, strict=True))
        if any(_holds(terms, row, _row_for_rules(data)) for terms in rules):
            found.append(AgencyRecord.from_db(qs.db, names, values))
            if len(found) == MAX_CANDIDATES:
                return found, False
        if read == MAX_ROWS_READ:
            return found, False
    return found, True


def candidate_rows(fields: dict[str, Any], *, exclude_record: int | None = None, model: LinkageModel | None = None):
    """The records the database finds for the model's blocking rules (None when no rule can be
    asked). Every rule on the columns stored on ``AgencyRecord`` (``MATCH_KEYS``) and on the
    identifiers and date of birth is asked exactly through an index, so for Cylch's rules these
    are the candidates themselves; a column a model blocks on that is not stored, or a key cut
    to its field's length, is checked by :func:`candidates` on the rows read."""
    from cylch.identity.models import AgencyRecord

    model = model or active_model()
    row = _row_for_rules(fields)
    conds: dict[Condition, None] = {}  # a symmetric rule gives the same condition from either side
    for terms in blocking_terms(model):
        for cond in _rule_conditions(terms, row):
            conds.setdefault(cond)
    if not conds:
        return None
    sql = " OR ".join("(" + " AND ".join(sqls) + ")" for sqls, _params in conds)
    params = [p for _sqls, ps in conds for p in ps]
    qs = AgencyRecord.objects.filter(RawSQL(sql, params, output_field=BooleanField()))
    return qs if exclude_record is None else qs.exclude(pk=exclude_record)


def _row_for_rules(record) -> dict[str, Any]:
    return features.prepare("", record_fields(record))


@dataclass(frozen=True)
class Match:
    """The best-scoring person for a new record, with the record that scored it."""

    person_id: int
    record_id: int
    weight: float
    probability: float
    evidence: list[dict[str, Any]]
    model_version: str
    decision: str  # "link" (at or above the auto-link weight), "review" or "none"


@dataclass(frozen=True)
class Prescored:
    """A record's candidates and their scores, worked out before the record was stored."""

    model: LinkageModel
    candidates: frozenset[int]  # the agency records scored
    scores: list[Score]  # best first
    # Every record the blocking rules found (no limit reached): then a record the rules do not
    # hold for can change nothing by being written, and ``records_batch`` relies on it.
    whole: bool = True


def prescore(many: list[dict[str, Any]], *, model: LinkageModel | None = None) -> list[Prescored]:
    """What :func:`best_match` scores, for several records about to be stored, in one comparison.

    A batch's new records are scored together rather than one DuckDB call each. Each result
    holds for its record only while its candidates are the same records, unchanged, under the
    same model: :func:`best_match` checks the candidates again and scores afresh otherwise (an
    earlier record of the same batch may have joined them)."""
    model = model or active_model()
    searched = [_search(f, None, model, ()) for f in many]
    scored = score_many(
        model,
        [
            (record_fields(f), [(str(r.pk), record_fields(r)) for r in records])
            for f, (records, _whole) in zip(many, searched, strict=True)
        ],
    )
    return [
        Prescored(model, frozenset(r.pk for r in records), scores, whole)
        for (records, whole), scores in zip(searched, scored, strict=True)
    ]


def best_match(
    fields: dict[str, Any],
    *,
    exclude_record: int | None = None,
    model: LinkageModel | None = None,
    prescored: Prescored | None = None,
    hidden: Collection[int] = (),
) -> Match | None:
    """The best candidate person for a record about to be stored, or None when nobody scores.

    ``prescored`` (from :func:`prescore`) is used when the candidates found now are the ones it
    scored under the same model; the caller vouches that none of them has changed since.
    ``hidden``: records the search is not to see (:func:`candidates`)."""
    from cylch.identity.models import PersonLink

    model = model or active_model()
    found = candidates(fields, exclude_record=exclude_record, model=model, hidden=hidden)
    if not found:
        return None
    if prescored is not None and prescored.model is model and prescored.candidates == {r.pk for r in found}:
        scores = prescored.scores
    else:
        scores = score(model, record_fields(fields), [(str(r.pk), record_fields(r)) for r in found])
    person_of = dict(
        PersonLink.objects.filter(agency_record_id__in=[int(s.uid) for s in scores], active=True).values_list(
            "agency_record_id", "person_id"
        )
    )
    return decide(model, scores, person_of, fields)


def best_linked(scores: list[Score], person_of: dict[int, int]) -> Score | None:
    """The best score of a candidate that has a person (``person_of``: record -> person).

    A candidate held without an active link (stored by a loader, or between a record's write
    and its link) has nobody to join: the best candidate that has someone stands in."""
    return next((s for s in scores if int(s.uid) in person_of), None)


def weighs_whole_person(model: LinkageModel, weight: float) -> bool:
    """Whether a best score of this weight is decided by the person's other records as well
    (:func:`_agrees_with_the_whole_person`, which reads them)."""
    return model.cluster_link_weight is not None and model.review_weight <= weight < model.auto_link_weight


def decide(model: LinkageModel, scores: list[Score], person_of: dict[int, int], fields: dict[str, Any]) -> Match | None:
    """:func:`best_match`'s decision on the scores of a record's candidates (best first)."""
    best = best_linked(scores, person_of)
    if best is None:
        return None
    person_id = person_of[int(best.uid)]
    if best.weight >= model.auto_link_weight or (
        weighs_whole_person(model, best.weight)
        and _agrees_with_the_whole_person(model, best, person_id, scores, fields)
    ):
        decision = "link"
    elif best.weight >= model.review_weight:
        decision = "review"
    else:
        decision = "none"
    return Match(person_id, int(best.uid), best.weight, best.probability, best.evidence, model.version, decision)


def _agrees_with_the_whole_person(
    model: LinkageModel, best: Score, person_id: int, scores: list[Score], fields: dict[str, Any]
) -> bool:
    """The batch's cluster-level link for one new record (a cluster of one): the best score is in
    the review band, the cluster-level score (``batch.cluster_score``: the mean weight of the
    person's records that were candidates scoring at least the review weight, the pairs a batch
    run keeps) reaches the model's cluster-link weight, the person has no more records than a
    batch run would weigh (``MAX_CROSS_PAIRS``), and none of them holds an NHS or pupil number
    more than a slip from the new record's (the batch's guard)."""
    from rapidfuzz.distance import DamerauLevenshtein

    from cylch.identity.linkage.batch import MAX_CROSS_PAIRS, cluster_score
    from cylch.identity.models import PersonLink

    if not weighs_whole_person(model, best.weight):
        return False
    theirs = PersonLink.objects.filter(person_id=person_id, active=True).values_list(
        "agency_record_id", "agency_record__nhs_number", "agency_record__upn"
    )[: MAX_CROSS_PAIRS + 1]
    if len(theirs) > MAX_CROSS_PAIRS:
        return False
    kept = {s.uid: s.weight for s in scores if s.weight >= model.review_weight}
    if cluster_score(kept[str(pk)] for pk, *_ in theirs if str(pk) in kept) < model.cluster_link_weight:
        return False
    row = record_fields(fields)
    for i, kind in enumerate(("nhs_number", "pupil_number"), start=1):
        mine = features.identifier(row[kind])
        for held in {features.identifier(t[i]) for t in theirs} - {None, mine}:
            if mine and DamerauLevenshtein.distance(mine, held) > 1:
                return False
    return True


def compare_pair(record_a, record_b, *, model: LinkageModel | None = None) -> Score:
    """Score two stored records, for the side-by-side review page."""
    model = model or active_model()
    return score(model, record_fields(record_a), [(str(record_b.pk), record_fields(record_b))])[0]

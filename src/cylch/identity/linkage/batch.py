"""Batch linkage: score every blocked pair with a saved model, then cluster with guards.

Clustering is connected components over pairs above the auto-link weight, built greedily
from the strongest pair down. A join is refused, and the pair sent to review instead, when
it would put two different trusted identifiers (NHS numbers or pupil numbers more than one
character apart) in one cluster, or join records a reviewer said are different people. That
is the guard against long chains: a run of plausible pairs cannot make two children one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from cylch.identity.linkage.model import LinkageModel, blocking_rules_for

TRUSTED = ("nhs_number", "pupil_number")


@dataclass
class ReviewPair:
    left: str
    right: str
    weight: float
    reason: str  # "uncertain" (between thresholds) or "conflict" (guard refused the join)


@dataclass
class BatchResult:
    cluster_of: dict[str, str]
    decision_of: dict[str, str]
    review: list[ReviewPair]
    pairs_kept: int  # pairs at or above the review weight
    pairs_auto: int
    seconds: dict[str, float] = field(default_factory=dict)
    blocking: list[dict[str, Any]] = field(default_factory=list)
    # What the clustering read (the kept pairs and the records' trusted numbers), so it can be run
    # again with reviewers' decisions (``evaluate.after_review``) without scoring again.
    edges: list[tuple[str, str, float]] = field(default_factory=list, repr=False)
    trusted: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def decision_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("linked", "review", "single"), 0)
        for d in self.decision_of.values():
            counts[d] += 1
        return counts

    def summary(self) -> str:
        c = self.decision_counts()
        return f"{c['linked']} linked, {c['review']} for review, {c['single']} single"

    def clusters(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for uid, cid in self.cluster_of.items():
            out.setdefault(cid, []).append(uid)
        return out


class _Clusters:
    """Union-find that refuses joins across conflicting identifiers or reviewer decisions."""

    def __init__(self, ids: list[str], trusted: dict[str, dict[str, str]], cannot: set[frozenset[str]]):
        self.parent = {i: i for i in ids}
        self.size = dict.fromkeys(ids, 1)
        self.idents: dict[str, dict[str, set[str]]] = {}
        for uid, values in trusted.items():
            self.idents[uid] = {k: {v} for k, v in values.items()}
        self.cannot: dict[str, set[str]] = {}
        for pair in cannot:
            a, b = tuple(pair)
            self.cannot.setdefault(a, set()).add(b)
            self.cannot.setdefault(b, set()).add(a)

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def conflict(self, ra: str, rb: str) -> bool:
        ia, ib = self.idents.get(ra), self.idents.get(rb)
        if ia and ib:
            for kind in TRUSTED:
                for a in ia.get(kind, ()):
                    for b in ib.get(kind, ()):
                        if a != b and DamerauLevenshtein.distance(a, b) > 1:
                            return True
        ca, cb = self.cannot.get(ra), self.cannot.get(rb)
        if ca and any(self.find(x) == rb for x in ca):
            return True
        return bool(cb and any(self.find(x) == ra for x in cb))

    def share_identifier(self, ra: str, rb: str) -> bool:
        """Whether two clusters (by root) hold the same NHS number or pupil number."""
        ia, ib = self.idents.get(ra), self.idents.get(rb)
        return bool(ia and ib and any(ia.get(kind, set()) & ib.get(kind, set()) for kind in TRUSTED))

    def union(self, a: str, b: str, *, force: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not force and self.conflict(ra, rb):
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        if rb in self.idents:
            merged = self.idents.setdefault(ra, {})
            for kind, values in self.idents.pop(rb).items():
                merged.setdefault(kind, set()).update(values)
        if rb in self.cannot:
            self.cannot.setdefault(ra, set()).update(self.cannot.pop(rb))
        return True


def cluster(
    ids: list[str],
    edges: Iterable[tuple[str, str, float]],
    *,
    model: LinkageModel,
    trusted: dict[str, dict[str, str]],
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: set[frozenset[str]] | None = None,
) -> tuple[dict[str, str], dict[str, str], list[ReviewPair], int]:
    """Clusters, per-record decisions and review pairs from scored edges (strongest first)."""
    cannot_link = cannot_link or set()
    uf = _Clusters(ids, trusted, cannot_link)
    for a, b in must_link:
        uf.union(a, b, force=True)
    uncertain: list[tuple[str, str, float]] = []
    review: list[ReviewPair] = []
    auto = 0
    scored: dict[tuple[str, str], float] = {}  # pairs at or above the review weight, for cluster-level links
    # Ties broken by id, so the result does not depend on the order an engine returned pairs in.
    for a, b, w in sorted(edges, key=lambda e: (-e[2], min(e[0], e[1]), max(e[0], e[1]))):
        if model.cluster_link_weight is not None and w >= model.review_weight:
            scored[(a, b) if a < b else (b, a)] = w
        if frozenset((a, b)) in cannot_link:
            continue
        if w >= model.auto_link_weight:
            if uf.union(a, b):
                auto += 1
            else:
                review.append(ReviewPair(a, b, w, "conflict"))
        elif w >= model.review_weight:
            uncertain.append((a, b, w))
    # An uncertain pair needs a person only if it joins two clusters, once per pair of clusters;
    # and not when the clusters' own identifiers settle it: the same NHS or pupil number (held
    # by any of their records) links them, as it would have deterministically; numbers that
    # differ by more than a slip mean two people, which the score alone cannot outweigh here.
    # Nor when the two clusters' cluster-level score reaches the cluster-link weight (``cluster_score``).
    members: dict[str, list[str]] = {}
    if scored and uncertain:
        for i in ids:
            members.setdefault(uf.find(i), []).append(i)
    seen: set[tuple[str, str]] = set()
    for a, b, w in uncertain:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            continue
        if uf.conflict(ra, rb):
            continue
        if uf.share_identifier(ra, rb) or (
            members and _cross_score(members[ra], members[rb], scored) >= model.cluster_link_weight
        ):
            uf.union(a, b)
            auto += 1
            if members:
                root = uf.find(a)
                members[root] = members.pop(ra) + members.pop(rb)
            continue
        key = (ra, rb) if ra < rb else (rb, ra)
        if key in seen:
            continue
        seen.add(key)
        review.append(ReviewPair(a, b, w, "uncertain"))
    # A pair sent to review before its clusters were joined by a stronger one needs nobody.
    review = [p for p in review if p.reason == "conflict" or uf.find(p.left) != uf.find(p.right)]
    cluster_of = {i: uf.find(i) for i in ids}
    in_review = {x for p in review for x in (p.left, p.right)}
    decision_of = {}
    for i in ids:
        if i in in_review:
            decision_of[i] = "review"
        elif uf.size[cluster_of[i]] > 1:
            decision_of[i] = "linked"
        else:
            decision_of[i] = "single"
    return cluster_of, decision_of, review, auto


# Clusters larger than this (records on one side times the other) are left to a reviewer.
MAX_CROSS_PAIRS = 64


def cluster_score(weights: Iterable[float]) -> float:
    """The evidence that two clusters are one person: the mean match weight of the pairs of records
    across them that were compared and scored at least the review weight (the pairs a run keeps).

    A lone strong resemblance between two clusters (a namesake, a sibling) is pulled down by the
    weaker pairs beside it, and corroboration is not double counted: the records of one person
    repeat the same facts, so summing their pairs' weights would count each fact again (summed,
    precision fell to 0.9989 on the hard population). A cross pair never compared (no blocking
    rule held) or scored below the review weight says nothing here; the identifiers and a
    reviewer's decisions guard the join as for any other (docs/linkage.md, "Cluster-level links")."""
    values = list(weights)
    return sum(values) / len(values) if values else float("-inf")


def _cross_score(left: list[str], right: list[str], scored: dict[tuple[str, str], float]) -> float:
    """``cluster_score`` of two clusters; -inf when they are too large to join without a person."""
    if len(left) * len(right) > MAX_CROSS_PAIRS:
        return float("-inf")
    pairs = (((x, y) if x < y else (y, x)) for x in left for y in right)
    return cluster_score(scored[k] for k in pairs if k in scored)


def run_duckdb(
    rows_table,
    model: LinkageModel,
    *,
    connection=None,
    train: bool = False,
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: set[frozenset[str]] | None = None,
    count_blocking: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[BatchResult, LinkageModel]:
    """Link a prepared pyarrow table on DuckDB; retrain first when ``train`` (e.g. `link csv`)."""
    import duckdb
    from splink import DuckDBAPI, Linker

    from cylch.identity.linkage import model as model_mod

    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    con = connection or duckdb.connect()
    con.register("cylch_input_arrow", rows_table)
    con.execute("create or replace table cylch_input as select * from cylch_input_arrow")
    con.unregister("cylch_input_arrow")
    n = con.execute("select count(*) from cylch_input").fetchall()[0][0]
    fields = set(model.fields)

    def linker_for(settings):
        api = DuckDBAPI(connection=con)
        linker = Linker(api.register("cylch_input"), settings)
        model_mod.quiet()
        return linker

    if train:
        say("training the model on the records themselves")
        started = time.perf_counter()
        trained = model_mod.train(linker_for, fields=fields, records=n, version=model.version)
        trained.auto_link_weight, trained.review_weight = model.auto_link_weight, model.review_weight
        trained.cluster_link_weight = model.cluster_link_weight
        model = trained
        timings["train"] = round(time.perf_counter() - started, 2)
    model = model.for_population(n)
    blocking = []
    if count_blocking:
        blocking = blocking_counts(con, fields)
    say("scoring pairs")
    started = time.perf_counter()
    linker = linker_for(model.splink)
    chunks = max(1, n // 400_000)
    predictions = linker.inference.predict(
        threshold_match_weight=model.review_weight, num_chunks_left=chunks, num_chunks_right=1
    )
    edges = con.execute(
        f'select "unique_id_l", "unique_id_r", "match_weight" from {predictions.physical_name}'
    ).fetchall()
    timings["predict"] = round(time.perf_counter() - started, 2)
    say("clustering")
    started = time.perf_counter()
    ids = [r[0] for r in con.execute('select "unique_id" from cylch_input').fetchall()]
    trusted: dict[str, dict[str, str]] = {}
    for uid, nhs, upn in con.execute(
        'select "unique_id", "nhs_number", "pupil_number" from cylch_input '
        'where "nhs_number" is not null or "pupil_number" is not null'
    ).fetchall():
        trusted[uid] = {k: v for k, v in (("nhs_number", nhs), ("pupil_number", upn)) if v}
    result = clustered(ids, edges, model=model, trusted=trusted, must_link=must_link, cannot_link=cannot_link,
                       timings=timings, blocking=blocking, started=started)  # fmt: skip
    return result, model


def clustered(ids, edges, *, model, trusted, must_link, cannot_link, timings, blocking, started) -> BatchResult:
    """The end of every engine's run: guarded clustering of the scored pairs, timed."""
    cluster_of, decision_of, review, auto = cluster(
        ids, edges, model=model, trusted=trusted, must_link=must_link, cannot_link=cannot_link
    )
    timings["cluster"] = round(time.perf_counter() - started, 2)
    return BatchResult(
        cluster_of=cluster_of,
        decision_of=decision_of,
        review=review,
        pairs_kept=len(edges),
        pairs_auto=auto,
        seconds=timings,
        blocking=blocking,
        edges=edges,
        trusted=trusted,
    )


def blocking_counts(con, fields: set[str]) -> list[dict[str, Any]]:
    """Exact marginal and cumulative comparison counts per blocking rule, for the docs and bench."""
    from splink import DuckDBAPI

    rules = blocking_rules_for(fields)
    return comparison_counts(DuckDBAPI(connection=con).register("cylch_input"), rules, [r.sql for r in rules])


def comparison_counts(registered, rules, sqls: list[str]) -> list[dict[str, Any]]:
    """Counts per rule on any Splink backend; ``sqls`` are the rules in that backend's dialect."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    counts = count_comparisons_from_blocking_rules(
        registered,
        blocking_rules=sqls,
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        record_sample_proportion=1.0,
    )
    return [
        {
            "rule": r.name,
            "marginal": int(c["marginal_comparison_count"]),
            "cumulative": int(c["cumulative_comparison_count"]),
        }
        for r, c in zip(rules, counts, strict=True)
    ]


def train_duckdb(rows_table, *, fields: set[str], version: str | None = None) -> LinkageModel:
    """Train a new model on a prepared table (no prediction)."""
    import duckdb
    from splink import DuckDBAPI, Linker

    from cylch.identity.linkage import model as model_mod

    con = duckdb.connect()
    con.register("cylch_input_arrow", rows_table)
    con.execute("create table cylch_input as select * from cylch_input_arrow")
    n = con.execute("select count(*) from cylch_input").fetchall()[0][0]

    def linker_for(settings):
        return Linker(DuckDBAPI(connection=con).register("cylch_input"), settings)

    return model_mod.train(linker_for, fields=fields, records=n, version=version)

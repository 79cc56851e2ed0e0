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

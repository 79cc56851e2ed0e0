"""Cluster-level links: review-band pairs between clusters whose cluster-level score (the mean
weight of the pairs across them) reaches the cluster-link weight need nobody."""

from __future__ import annotations

import itertools
import json

from cylch.identity.linkage import batch
from cylch.identity.linkage.model import DEFAULT_CLUSTER_LINK_WEIGHT, LinkageModel, settings_for
from cylch.identity.linkage.online import DEFAULT_MODEL


def _model(auto=8.0, review=0.0, cluster=5.5) -> LinkageModel:
    return LinkageModel(version="t", fields=["given_name"], splink=settings_for({"given_name"}),
                        auto_link_weight=auto, review_weight=review, cluster_link_weight=cluster)  # fmt: skip


IDS = ["a1", "a2", "b1", "b2"]
INSIDE = [("a1", "a2", 30.0), ("b1", "b2", 30.0)]
# Four pairs across the two clusters, all in the review band: their mean is 5.5.
ACROSS = [("a1", "b1", 7.0), ("a1", "b2", 5.0), ("a2", "b1", 5.5), ("a2", "b2", 4.5)]


def test_clusters_whose_score_reaches_the_cluster_link_weight_link_without_review():
    """The mean weight of the pairs across two clusters at least the cluster-link weight: one
    person, nobody asked."""
    cluster_of, decision, review, auto = batch.cluster(IDS, INSIDE + ACROSS, model=_model(), trusted={})
    assert len(set(cluster_of.values())) == 1 and review == [] and auto == 3
    assert set(decision.values()) == {"linked"}


def test_just_under_and_at_the_cluster_link_weight():
    """A cluster-level score at the cluster-link weight links; just under it goes to review, though
    the best pair across (7) is above it."""
    at = batch.cluster(IDS, INSIDE + ACROSS, model=_model(cluster=5.5), trusted={})
    under = batch.cluster(IDS, INSIDE + ACROSS, model=_model(cluster=5.51), trusted={})
    assert len(set(at[0].values())) == 1 and at[2] == []
    assert len(set(under[0].values())) == 2 and len(under[2]) == 1


def test_a_weak_pair_across_pulls_the_score_down():
    """One record of a cluster that barely resembles one of the other (a sibling's likeness, say)
    lowers the score below the weight: two clusters and a review task."""
    edges = [*INSIDE, *ACROSS[:-1], ("a2", "b2", 0.5)]
    cluster_of, _decision, review, auto = batch.cluster(IDS, edges, model=_model(), trusted={})
    assert cluster_of["a1"] != cluster_of["b1"] and auto == 2
    assert [(p.left, p.right, p.reason) for p in review] == [("a1", "b1", "uncertain")]


def test_a_cross_pair_below_the_band_sends_the_clusters_to_review():
    """Pairs across scored below the review weight are not kept and add no evidence either way:
    two clusters whose only kept pair across scores under the cluster-link weight stay two, and
    that pair goes to review (as under default-3's agreement-throughout rule)."""
    edges = [*INSIDE, ("a1", "b1", 5.0)]  # a1-b2, a2-b1, a2-b2 scored below 0: not kept
    cluster_of, _decision, review, auto = batch.cluster(IDS, edges, model=_model(), trusted={})
    assert cluster_of["a1"] != cluster_of["b1"] and auto == 2
    assert [(p.left, p.right, p.reason) for p in review] == [("a1", "b1", "uncertain")]


def test_a_pair_not_compared_or_below_review_says_nothing():
    """A pair across that no blocking rule compared, or that scored below the review weight (not
    kept), is left out of the mean, not counted as disagreement."""
    edges = INSIDE + [e for e in ACROSS if e[2] != 4.5]  # the rest average 5.83
    cluster_of, _decision, review, _auto = batch.cluster(IDS, edges, model=_model(cluster=5.8), trusted={})
    assert len(set(cluster_of.values())) == 1 and review == []
    assert batch.cluster_score([7.0, 5.0, 5.5]) == 17.5 / 3 and batch.cluster_score([]) == float("-inf")


def test_clusters_too_large_to_score_go_to_a_person():
    """More than MAX_CROSS_PAIRS pairs across: a reviewer decides, whatever the score."""
    left = [f"a{i}" for i in range(9)]
    right = [f"b{i}" for i in range(8)]
    edges = [(x, y, 30.0) for side in (left, right) for x, y in itertools.pairwise(side)]
    edges += [(x, y, 7.0) for x in left for y in right]
    assert len(left) * len(right) > batch.MAX_CROSS_PAIRS
    cluster_of, _decision, review, _auto = batch.cluster(left + right, edges, model=_model(), trusted={})
    assert cluster_of["a0"] != cluster_of["b0"] and len(review) == 1


def test_cluster_level_links_respect_identifiers_and_reviewers():
    """A cluster-level score never joins clusters holding different NHS numbers, nor records a
    reviewer said are different people."""
    trusted = {"a1": {"nhs_number": "9434765919"}, "b1": {"nhs_number": "4505577104"}}
    cluster_of, *_ = batch.cluster(IDS, INSIDE + ACROSS, model=_model(), trusted=trusted)
    assert cluster_of["a1"] != cluster_of["b1"]
    cannot = {frozenset(("a2", "b2"))}
    cluster_of, *_ = batch.cluster(IDS, INSIDE + ACROSS, model=_model(), trusted={}, cannot_link=cannot)
    assert cluster_of["a1"] != cluster_of["b1"]


def test_a_model_saved_before_cluster_level_links_keeps_its_behaviour(tmp_path):
    """A saved model without the setting has no cluster-level links; the shipped model has them."""
    data = json.loads(DEFAULT_MODEL.read_text())
    assert LinkageModel.from_json(json.dumps(data)).cluster_link_weight == DEFAULT_CLUSTER_LINK_WEIGHT
    del data["cluster_link_weight"]
    old = LinkageModel.from_json(json.dumps(data))
    assert old.cluster_link_weight is None
    cluster_of, _decision, review, _auto = batch.cluster(IDS, INSIDE + ACROSS, model=old, trusted={})
    assert cluster_of["a1"] != cluster_of["b1"] and len(review) == 1


def _batch_result(ids, edges, model, trusted=None) -> batch.BatchResult:
    trusted = trusted or {}
    cluster_of, decision, review, auto = batch.cluster(ids, edges, model=model, trusted=trusted)
    return batch.BatchResult(cluster_of, decision, review, len(edges), auto, edges=edges, trusted=trusted)


def test_after_review_takes_every_review_decision_rightly_and_counts_them():
    """The bench's "after clerical review" figure: a review pair truly of one person is merged, one
    of two people is kept apart (and with it every other pair between their clusters, as a
    reviewer's cannot-link does); the pairs a reviewer saw are counted, and the automatic result
    is left as it was."""
    from cylch.identity.linkage import evaluate

    ids = ["a1", "a2", "b1", "c1"]
    truth = {"a1": 1, "a2": 1, "b1": 1, "c1": 2}
    # a2-b1 is the same person, a1-c1 and a2-c1 are not: all three in the review band.
    edges = [("a1", "a2", 30.0), ("a2", "b1", 3.0), ("a1", "c1", 2.0), ("a2", "c1", 1.0)]
    result = _batch_result(ids, edges, _model())
    assert evaluate.cluster_scores(result.cluster_of, truth)["f1"] < 1
    after = evaluate.after_review(result, truth, model=_model())
    assert after["clusters"]["f1"] == 1.0 and after["pairs"]["fp"] == after["pairs"]["fn"] == 0
    assert (after["reviewed_pairs"], after["reviewed_truly_same"], after["review_rounds"]) == (2, 1, 1)
    assert after["reviewed_per_1000_records"] == 500.0 and after["left_in_review"] == 0
    assert result.cluster_of["b1"] != result.cluster_of["a1"]  # the automatic result is untouched


def test_after_review_overrides_the_identifier_guard_only_for_the_same_person():
    """A pair the identifier guard refused (NHS numbers far apart) is a conflict for
    review: a reviewer's "same person" joins it, "different people" keeps it apart."""
    from cylch.identity.linkage import evaluate

    trusted = {"a": {"nhs_number": "9434765919"}, "b": {"nhs_number": "4505577104"}}
    result = _batch_result(["a", "b"], [("a", "b", 20.0)], _model(), trusted)
    assert [p.reason for p in result.review] == ["conflict"]
    same = evaluate.after_review(result, {"a": 1, "b": 1}, model=_model())
    apart = evaluate.after_review(result, {"a": 1, "b": 2}, model=_model())
    assert same["clusters"]["f1"] == apart["clusters"]["f1"] == 1.0
    assert same["reviewed_truly_same"] == 1 and apart["reviewed_truly_same"] == 0


def test_the_bench_table_shows_the_after_review_figures_beside_the_automatic_ones():
    from cylch.identity.linkage import bench

    row = {"case": "hard population 10", "records": 10, "seconds": 1.0, "peak_mb": 1.0, "review_pairs": 2,
           "pairs": {"precision": 1.0, "recall": 0.5, "f1": 0.667}, "clusters": {"f1": 0.5},
           "after_review": {"clusters": {"f1": 0.75}, "reviewed_per_1000_records": 200.0}}  # fmt: skip
    text = bench.table([row, {"case": "febrl4 recordlinkage baseline", "records": 10, "seconds": 1.0,
                              "peak_mb": 1.0, "pairs": {"precision": 1.0, "recall": 1.0, "f1": 1.0}}])  # fmt: skip
    assert "clus F1 after review" in text and "reviewed/1,000" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("hard population 10"))
    assert line.split()[-2:] == ["0.7500", "200.0"] and " 0.5000 " in line


def test_review_weights_bench_sets_more_review_beside_what_a_reviewer_would_make_of_it():
    """`bench review-weights`: a lower review weight sends at least as many pairs to review, and a
    reviewer deciding them rightly leaves clusters no worse than the machine alone."""
    from cylch.identity.linkage import bench

    rows = bench.case_review_weights(600, (0, -3))["rows"]
    assert [r["review_weight"] for r in rows] == [0, -3]
    assert rows[1]["review_pairs"] >= rows[0]["review_pairs"] > 0
    for r in rows:
        assert r["after_review"]["clusters"]["f1"] >= r["cluster_f1"]
        assert r["after_review"]["reviewed_pairs"] >= r["review_pairs"]

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

"""Cluster-level links: review-band pairs between clusters that agree throughout need nobody."""

from __future__ import annotations

import json

from cylch.identity.linkage import batch
from cylch.identity.linkage.model import LinkageModel, settings_for
from cylch.identity.linkage.online import DEFAULT_MODEL


def _model(auto=8.0, review=0.0, cluster=5.0) -> LinkageModel:
    return LinkageModel(version="t", fields=["given_name"], splink=settings_for({"given_name"}),
                        auto_link_weight=auto, review_weight=review, cluster_link_weight=cluster)  # fmt: skip


IDS = ["a1", "a2", "b1", "b2"]
INSIDE = [("a1", "a2", 30.0), ("b1", "b2", 30.0)]
ACROSS = [("a1", "b1", 6.0), ("a1", "b2", 3.0), ("a2", "b1", 1.0), ("a2", "b2", 0.5)]


def test_clusters_agreeing_throughout_link_without_review():
    """Every record of one cluster scored in the band with every record of the other, the best at
    least the cluster-link weight: one person, nobody asked."""
    cluster_of, decision, review, auto = batch.cluster(IDS, INSIDE + ACROSS, model=_model(), trusted={})
    assert len(set(cluster_of.values())) == 1 and review == [] and auto == 3
    assert set(decision.values()) == {"linked"}


def test_a_cross_pair_below_the_band_sends_the_clusters_to_review():
    """One record of a cluster that does not resemble one of the other (scored below review, so
    not kept): two clusters and a review task, as before."""
    edges = INSIDE + ACROSS[:-1]
    cluster_of, _decision, review, auto = batch.cluster(IDS, edges, model=_model(), trusted={})
    assert cluster_of["a1"] != cluster_of["b1"] and auto == 2
    assert [(p.left, p.right, p.reason) for p in review] == [("a1", "b1", "uncertain")]


def test_just_under_and_at_the_cluster_link_weight():
    """The best pair across at the cluster-link weight links; just under it goes to review."""
    at = batch.cluster(IDS, INSIDE + ACROSS, model=_model(cluster=6.0), trusted={})
    under = batch.cluster(IDS, INSIDE + ACROSS, model=_model(cluster=6.01), trusted={})
    assert len(set(at[0].values())) == 1 and at[2] == []
    assert len(set(under[0].values())) == 2 and len(under[2]) == 1


def test_cluster_level_links_respect_identifiers_and_reviewers():
    """Agreement throughout never joins clusters holding different NHS numbers, nor records a
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
    assert LinkageModel.from_json(json.dumps(data)).cluster_link_weight == 6.0
    del data["cluster_link_weight"]
    old = LinkageModel.from_json(json.dumps(data))
    assert old.cluster_link_weight is None
    cluster_of, _decision, review, _auto = batch.cluster(IDS, INSIDE + ACROSS, model=old, trusted={})
    assert cluster_of["a1"] != cluster_of["b1"] and len(review) == 1

"""Tests of the VG150 vocabulary and the Visual-Genome-like graph generator."""
from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from torch_geometric.loader import DataLoader

from sgkit.data import EDGE, NODE, to_triplets, validate
from sgkit.datasets import vg150_frequencies, vg150_vocabulary, vg_like_graphs


@pytest.fixture(scope="module")
def graphs() -> list:
    return vg_like_graphs(4000, seed=11)


def test_vocabulary_matches_the_shared_dict_file(shared_data) -> None:
    vocab = vg150_vocabulary()
    assert (vocab.num_objects, vocab.num_predicates, len(vocab.attributes)) == (150, 50, 200)
    ref = json.loads((shared_data / "vg150" / "VG-SGG-dicts-with-attri.json").read_text())
    assert vocab.objects == [ref["idx_to_label"][str(i + 1)] for i in range(150)]
    assert vocab.predicates == [ref["idx_to_predicate"][str(i + 1)] for i in range(50)]
    bundled = resources.files("sgkit.datasets.assets").joinpath("VG-SGG-dicts-with-attri.json").read_text()
    assert json.loads(bundled) == ref
    obj_p, pred_p = vg150_frequencies()
    assert obj_p[vocab.encode_object("man")] == pytest.approx(ref["object_count"]["man"] / sum(ref["object_count"].values()))
    assert pred_p.sum() == pytest.approx(1.0) and pred_p.argmax() == vocab.encode_predicate("on")


def test_determinism() -> None:
    a, b, c = vg_like_graphs(30, seed=1), vg_like_graphs(30, seed=1), vg_like_graphs(30, seed=2)
    assert all(to_triplets(x) == to_triplets(y) for x, y in zip(a, b))
    assert sum(to_triplets(x) != to_triplets(y) for x, y in zip(a, c)) >= 28


def test_graphs_are_valid_and_sized(graphs: list) -> None:
    n = np.array([g[NODE].num_nodes for g in graphs])
    e = np.array([g[EDGE].edge_index.size(1) for g in graphs])
    assert n.min() >= 3 and n.max() <= 25 and 9 < n.mean() < 13
    assert 1.0 <= (e / n).mean() <= 1.5
    for g in graphs[:500]:
        validate(g, num_classes=150, num_predicates=50, allow_self_loops=False)
        assert g[EDGE].edge_index.is_contiguous()
        assert g[NODE].label.untyped_storage().nbytes() == 8 * g[NODE].num_nodes  # owns its storage
    small = vg_like_graphs(50, seed=0, min_nodes=5, max_nodes=6)
    assert all(5 <= g[NODE].num_nodes <= 6 for g in small)
    assert vg_like_graphs(0) == []
    single = vg_like_graphs(3, min_nodes=1, max_nodes=1)
    assert all(g[NODE].num_nodes == 1 and g[EDGE].edge_index.shape == (2, 0) for g in single)
    with pytest.raises(ValueError, match="max_nodes"):
        vg_like_graphs(2, min_nodes=5, max_nodes=4)
    with pytest.raises(ValueError, match="n:"):
        vg_like_graphs(-1)


def test_marginal_frequencies_match_the_dict_counts(graphs: list) -> None:
    obj_p, pred_p = vg150_frequencies()
    labels = torch.cat([g[NODE].label for g in graphs]).numpy()
    preds = torch.cat([g[EDGE].label for g in graphs]).numpy()
    obj_hist = np.bincount(labels, minlength=150)
    pred_hist = np.bincount(preds, minlength=50)
    assert 0.5 * np.abs(obj_hist / obj_hist.sum() - obj_p).sum() < 0.03  # total variation
    assert 0.5 * np.abs(pred_hist / pred_hist.sum() - pred_p).sum() < 0.02
    assert chisquare(obj_hist, obj_p * obj_hist.sum()).pvalue > 1e-3
    assert chisquare(pred_hist, pred_p * pred_hist.sum()).pvalue > 1e-3


def test_plausible_structure(graphs: list) -> None:
    vocab = vg150_vocabulary()
    humans = {vocab.encode_object(h) for h in ("man", "woman", "person", "boy", "girl", "people", "lady")}
    clothing = {vocab.encode_object(c) for c in ("shirt", "pant", "hat", "jacket", "shoe", "jean", "short")}
    wearing = {vocab.encode_predicate("wearing"), vocab.encode_predicate("wears")}
    typed, multi, repeated = [], 0, 0
    for g in graphs:
        labels, trips = to_triplets(g)
        multi += len({(s, o) for s, _, o in trips}) < len(trips)
        repeated += len(set(labels)) < len(labels)
        if any(lab in humans for lab in labels) and any(lab in clothing for lab in labels):
            typed += [labels[s] in humans for s, p, o in trips if p in wearing]
    assert np.mean(typed) > 0.9  # "wearing" picks a person as subject when there is one
    assert 0.05 < multi / len(graphs) < 0.9  # multi-edges occur but are not the rule
    assert repeated / len(graphs) > 0.3  # repeated categories are common, as in VG
    degree = np.concatenate([torch.bincount(g[EDGE].edge_index.flatten(), minlength=g[NODE].num_nodes).numpy() for g in graphs])
    assert degree.max() >= 8 and (degree == 0).mean() > 0.05  # hubs and isolated objects


def test_batching(graphs: list) -> None:
    batch = next(iter(DataLoader(graphs[:8], batch_size=8)))
    assert batch[NODE].label.numel() == sum(g[NODE].num_nodes for g in graphs[:8])
    assert int(batch[NODE].batch.max()) == 7


def test_vg150_vocabulary_carries_the_rank_table() -> None:
    """hierarchical ordering on VG-like graphs is not silently random: three rank levels exist."""
    vocab = vg150_vocabulary()
    assert sorted(set(vocab.object_ranks)) == [0, 1, 2]
    assert vocab.object_ranks[vocab.objects.index("building")] < vocab.object_ranks[vocab.objects.index("window")]

"""Visual-Genome-like random scene graphs over the VG150 vocabulary (graph only, fast).

The generator reproduces the *marginal* object and predicate frequencies of the VG150 training
split (``object_count`` / ``predicate_count`` of ``VG-SGG-dicts-with-attri.json``, bundled in
``sgkit/datasets/assets``) exactly in expectation, and adds plausible structure without changing
those marginals:

1. the number of objects ``N`` is ``min_nodes`` plus a negative-binomial draw (mean about 11,
   as in VG150 images), clipped to ``[min_nodes, max_nodes]``;
2. object categories are drawn i.i.d. from the object frequencies (so frequent categories such
   as ``window`` or ``man`` repeat within a graph, as in VG);
3. the number of edges is ``round(N * r)`` with ``r ~ U(1.0, 1.5)`` and every predicate is drawn
   i.i.d. from the predicate frequencies;
4. subject and object of each edge are then chosen among the graph's nodes: typed predicates
   prefer compatible categories when the graph has some (``wearing``: a person and a piece of
   clothing; ``has``: a person/animal/vehicle/building and a part; ``parked on``: a vehicle and a
   surface; ...), and nodes are picked with probability proportional to ``degree + 1``
   (preferential attachment: a few hub nodes, as in VG), redrawing (up to 8 times) pairs that are
   already joined; with probability ``multi_edge_prob`` an edge instead reuses an already joined
   ordered pair (a multi-edge with another predicate). There are no self-loops.
"""
from __future__ import annotations

import json
import random
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from sgkit.data import Vocabulary

from ._graph import build_graph

__all__ = ["vg_like_graphs", "vg150_vocabulary", "vg150_frequencies", "VG150_DICTS"]

VG150_DICTS: str = "VG-SGG-dicts-with-attri.json"
"""File name of the bundled VG150 dictionary (in ``sgkit/datasets/assets``)."""

_HUMAN = {
    "man", "woman", "person", "people", "boy", "girl", "child", "kid", "lady", "guy", "men",
    "player", "skier"
}
_ANIMAL = {
    "animal", "bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep",
    "zebra"
}
_AGENT = _HUMAN | _ANIMAL
_BODY = {
    "arm", "ear", "eye", "face", "finger", "hair", "hand", "head", "leg", "mouth", "neck",
    "nose", "paw", "tail", "trunk"
}
_CLOTHING = {
    "boot", "cap", "coat", "glove", "hat", "helmet", "jacket", "jean", "pant", "shirt", "shoe",
    "short", "sneaker", "sock", "tie"
}
_VEHICLE = {
    "airplane", "bike", "boat", "bus", "car", "motorcycle", "plane", "train", "truck", "vehicle"
}
_PART = {
    "engine", "tire", "wheel", "windshield", "wing", "door", "window", "seat", "handle", "roof",
    "leaf", "branch", "logo", "letter", "number", "screen", "drawer"
}
_WHOLE = _AGENT | _VEHICLE | {"building", "house", "tree", "tower", "plant", "cabinet", "laptop", "sign", "clock"}
_SURFACE = {
    "beach", "sidewalk", "street", "snow", "track", "hill", "mountain", "rock", "bench", "bed",
    "chair", "seat", "table", "counter", "desk", "wave", "surfboard", "skateboard", "ski",
    "board"
}
_HOLDABLE = {
    "bag", "banana", "basket", "book", "bottle", "bowl", "box", "cup", "fork", "fruit", "glass",
    "kite", "laptop", "orange", "paper", "phone", "pizza", "plate", "racket", "skateboard",
    "ski", "surfboard", "umbrella", "vase", "food", "vegetable", "flower", "board", "towel",
    "flag"
}
_FOOD = {"banana", "food", "fruit", "orange", "pizza", "vegetable", "leaf", "plant"}
_RIDEABLE = _VEHICLE | {"horse", "elephant", "skateboard", "surfboard", "wave", "board", "ski"}
_GROWING = {"plant", "flower", "leaf", "tree", "branch"}

# predicate name -> (subject category set, object category set); None = any category.
_TYPES: dict[str, tuple[set[str] | None, set[str] | None]] = {
    "wearing": (_HUMAN, _CLOTHING),
    "wears": (_HUMAN, _CLOTHING),
    "holding": (_HUMAN, _HOLDABLE),
    "carrying": (_HUMAN, _HOLDABLE),
    "using": (_HUMAN, _HOLDABLE),
    "playing": (_HUMAN, _HOLDABLE),
    "eating": (_AGENT, _FOOD),
    "riding": (_HUMAN, _RIDEABLE),
    "watching": (_AGENT, None),
    "looking at": (_AGENT, None),
    "walking on": (_AGENT, _SURFACE),
    "walking in": (_AGENT, _SURFACE),
    "standing on": (_AGENT, _SURFACE),
    "sitting on": (_AGENT, _SURFACE),
    "laying on": (_AGENT, _SURFACE),
    "lying on": (_AGENT, _SURFACE),
    "parked on": (_VEHICLE, _SURFACE),
    "has": (_WHOLE, _BODY | _PART | _CLOTHING),
    "of": (_BODY | _PART, _WHOLE),
    "part of": (_BODY | _PART, _WHOLE),
    "belonging to": (_BODY | _PART | _HOLDABLE, _WHOLE),
    "growing on": (_GROWING, None),
    "mounted on": (None, _WHOLE | _SURFACE),
    "attached to": (_PART | {"sign", "light", "clock", "wire", "handle"}, None),
}


_PAIR_TRIES = 8


@lru_cache(maxsize=1)
def _dicts() -> dict[str, Any]:
    text = resources.files("sgkit.datasets.assets").joinpath(VG150_DICTS).read_text(encoding="utf-8")
    return json.loads(text)


def vg150_vocabulary() -> Vocabulary:
    """The VG150 vocabulary (150 objects, 50 predicates, 200 attributes, 0-based ids).

    Loaded from the bundled ``VG-SGG-dicts-with-attri.json`` with
    :func:`sgkit.data.visual_genome.read_vg_sgg_dicts` (no download), so it carries the VG150
    background/object/part ranks that the hierarchical ordering needs.
    """
    from sgkit.data.visual_genome import read_vg_sgg_dicts

    return read_vg_sgg_dicts(_dicts())[0]


def vg150_frequencies(vocab: Vocabulary | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Relative training-set frequencies of the VG150 objects and predicates in vocabulary order.

    Returns:
        ``(object_freq [150], predicate_freq [50])``, each summing to 1.
    """
    vocab = vocab or vg150_vocabulary()
    d = _dicts()
    obj = np.array([d["object_count"][name] for name in vocab.objects], dtype=np.float64)
    pred = np.array([d["predicate_count"][name] for name in vocab.predicates], dtype=np.float64)
    return obj / obj.sum(), pred / pred.sum()


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, list[tuple[frozenset[int] | None, frozenset[int] | None]]]:
    vocab = vg150_vocabulary()
    obj_p, pred_p = vg150_frequencies(vocab)
    index: Mapping[str, int] = {name: i for i, name in enumerate(vocab.objects)}

    def ids(names: set[str] | None) -> frozenset[int] | None:
        return None if names is None else frozenset(index[n] for n in names if n in index)

    types = [(ids(_TYPES[p][0]), ids(_TYPES[p][1])) if p in _TYPES else (None, None) for p in vocab.predicates]
    return obj_p, pred_p, types


def vg_like_graphs(
    n: int,
    seed: int = 0,
    *,
    min_nodes: int = 3,
    max_nodes: int = 25,
    mean_nodes: float = 11.0,
    edges_per_node: tuple[float, float] = (1.0, 1.5),
    multi_edge_prob: float = 0.02,
    progress: bool = False,
) -> list[HeteroData]:
    """Random scene graphs with Visual-Genome (VG150) statistics (see the module docstring).

    Args:
        n: number of graphs.
        seed: random seed.
        min_nodes: minimum number of objects per graph.
        max_nodes: maximum number of objects per graph.
        mean_nodes: approximate mean number of objects before clipping.
        edges_per_node: range of the ratio edges / nodes (uniform per graph).
        multi_edge_prob: probability that an edge reuses an already joined ordered pair.
        progress: show a tqdm bar.

    Returns:
        ``n`` :class:`HeteroData` graphs over :func:`vg150_vocabulary` (labels and relations only).

    Example:
        >>> graphs = vg_like_graphs(2, seed=0)
        >>> all(3 <= g["object"].num_nodes <= 25 for g in graphs)
        True
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    if not isinstance(min_nodes, (int, np.integer)) or min_nodes < 1:
        raise ValueError(f"min_nodes: expected an int >= 1, got {min_nodes!r}")
    if not isinstance(max_nodes, (int, np.integer)) or max_nodes < min_nodes:
        raise ValueError(f"max_nodes: expected an int >= min_nodes={min_nodes}, got {max_nodes!r}")
    lo, hi = edges_per_node
    if not 0 <= lo <= hi:
        raise ValueError(f"edges_per_node: expected 0 <= low <= high, got {edges_per_node!r}")
    if not 0 <= multi_edge_prob <= 1:
        raise ValueError(f"multi_edge_prob: expected a probability in [0, 1], got {multi_edge_prob!r}")
    obj_p, pred_p, types = _tables()
    rng = np.random.default_rng(seed)
    extra = max(float(mean_nodes) - min_nodes, 0.5)
    shape = 4.0
    num_nodes = np.clip(min_nodes + rng.negative_binomial(shape, shape / (shape + extra), size=n), min_nodes, max_nodes)
    ratio = rng.uniform(lo, hi, size=n)
    num_edges = np.where(num_nodes > 1, np.rint(num_nodes * ratio), 0).astype(np.int64)
    labels_all = rng.choice(len(obj_p), size=int(num_nodes.sum()), p=obj_p)
    preds_all = rng.choice(len(pred_p), size=int(num_edges.sum()), p=pred_p)
    py = random.Random(int(rng.integers(2**63)))
    node_ptr = np.concatenate([[0], np.cumsum(num_nodes)])
    edge_ptr = np.concatenate([[0], np.cumsum(num_edges)])
    src_all: list[int] = []
    dst_all: list[int] = []
    for g in tqdm(range(n), disable=not progress, desc="vg-like graphs"):
        nn = int(num_nodes[g])
        labels = labels_all[node_ptr[g] : node_ptr[g + 1]].tolist()
        preds = preds_all[edge_ptr[g] : edge_ptr[g + 1]].tolist()
        nodes = range(nn)
        degree = [1] * nn
        cache: dict[frozenset[int], list[int]] = {}
        src: list[int] = []
        dst: list[int] = []
        pairs: set[tuple[int, int]] = set()
        for p in preds:
            if src and py.random() < multi_edge_prob:
                e = py.randrange(len(src))
                s, o = src[e], dst[e]
            else:
                subj_set, obj_set = types[p]
                subj = _candidates(subj_set, labels, nodes, cache)
                obj = _candidates(obj_set, labels, nodes, cache)
                for _ in range(_PAIR_TRIES):  # prefer a new ordered pair (multi-edges stay rare)
                    s = _pick(py, subj, degree, -1)
                    o = _pick(py, obj, degree, s)
                    if (s, o) not in pairs:
                        break
            pairs.add((s, o))
            src.append(s)
            dst.append(o)
            degree[s] += 1
            degree[o] += 1
        src_all.extend(src)
        dst_all.extend(dst)
    labels_t = torch.from_numpy(labels_all).split(num_nodes.tolist())
    preds_t = torch.from_numpy(preds_all).split(num_edges.tolist())
    edges_t = torch.tensor([src_all, dst_all], dtype=torch.long).reshape(2, -1).split(num_edges.tolist(), dim=1)
    # clones: each graph owns its storage (saving one graph must not save all of them)
    return [build_graph(lab.clone(), ei.clone(), el.clone()) for lab, ei, el in zip(labels_t, edges_t, preds_t)]


def _candidates(allowed: frozenset[int] | None, labels: list[int], nodes: range, cache: dict) -> list[int] | range:
    if allowed is None:
        return nodes
    hit = cache.get(allowed)
    if hit is None:
        hit = [i for i, lab in enumerate(labels) if lab in allowed]
        cache[allowed] = hit
    return hit if hit else nodes


def _pick(py: random.Random, cands: list[int] | range, degree: list[int], exclude: int) -> int:
    """A candidate with probability proportional to its degree + 1, never ``exclude``."""
    total = 0
    for c in cands:
        if c != exclude:
            total += degree[c]
    if total == 0:  # the only compatible node is the subject: fall back to any other node
        cands = range(len(degree))
        total = sum(degree) - degree[exclude]
    r = py.random() * total
    last = -1
    for c in cands:
        if c == exclude:
            continue
        last = c
        r -= degree[c]
        if r < 0:
            return c
    return last

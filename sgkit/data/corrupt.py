"""Random label corruption of scene graphs (the MMD sanity check of thesis Table 10.2).

A corruption of ``x`` % selects, in every graph, ``round(x/100 * N)`` of its ``N`` nodes and
``round(x/100 * E)`` of its ``E`` edges uniformly without replacement and gives each selected
node (edge) a category (predicate) drawn uniformly from the whole vocabulary (so a replacement
may, with probability ``1 / num_classes``, equal the old label). Structure is unchanged.
``round`` is round-half-up (``floor(v + 0.5)``).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import HeteroData

from ._checks import as_graph_list
from .scene_graph import EDGE, NODE, num_relations, validate

__all__ = ["corrupt"]


def _round_half_up(v: float) -> int:
    return int(math.floor(v + 0.5))


def corrupt(
    graphs: Sequence[HeteroData],
    fraction: float,
    *,
    num_classes: int,
    num_predicates: int,
    seed: int = 0,
) -> list[HeteroData]:
    """Replace a fraction of node and edge labels of every graph by uniformly random labels.

    Args:
        graphs: scene graphs (not modified).
        fraction: share of nodes and of edges to relabel, in ``[0, 1]``.
        num_classes: number of object categories (new labels in ``0..num_classes-1``).
        num_predicates: number of predicates (new labels in ``0..num_predicates-1``).
        seed: seed of the random generator (the result is a deterministic function of it).

    Returns:
        New graphs (shallow copies with new ``label`` tensors; other fields shared).

    Raises:
        ValueError: for a fraction outside ``[0, 1]``, a non-positive vocabulary size, a single
            graph instead of a list or an invalid graph (ids outside the vocabulary included).

    Example:
        >>> from sgkit.data import from_triplets
        >>> g = from_triplets([0, 1, 2, 3], [(0, 0, 1)])
        >>> out = corrupt([g], 0.5, num_classes=10, num_predicates=5, seed=0)
        >>> int((out[0]["object"].label != g["object"].label).sum()) <= 2
        True
    """
    graphs = as_graph_list(graphs)
    if isinstance(fraction, (bool, np.bool_)) or not isinstance(fraction, (int, float, np.integer, np.floating)):
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction!r}")
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"fraction: expected a value in [0, 1], got {fraction!r}")
    for name, value in (("num_classes", num_classes), ("num_predicates", num_predicates)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
    for k, g in enumerate(graphs):
        try:
            validate(g, num_classes=num_classes, num_predicates=num_predicates)
        except ValueError as exc:
            raise ValueError(f"graphs[{k}]: {exc}") from exc
    rng = np.random.default_rng(seed)
    out: list[HeteroData] = []
    for g in graphs:
        new = copy.copy(g)
        labels = g[NODE].label.clone()
        n = labels.numel()
        k = _round_half_up(fraction * n)
        if k:
            idx = rng.choice(n, size=k, replace=False)
            labels[torch.from_numpy(idx)] = torch.from_numpy(rng.integers(0, num_classes, size=k)).to(labels.dtype)
        new[NODE].label = labels
        e = num_relations(g)
        if e:
            preds = g[EDGE].label.clone()
            k = _round_half_up(fraction * e)
            if k:
                idx = rng.choice(e, size=k, replace=False)
                preds[torch.from_numpy(idx)] = torch.from_numpy(rng.integers(0, num_predicates, size=k)).to(
                    preds.dtype
                )
            new[EDGE].label = preds
        out.append(new)
    return out

"""The random-walk kernel of one pair by the product-graph recursion: the slow, direct reference."""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph_arrays import GraphArrays, graph_arrays

__all__ = ["random_walk_pair"]

MODES = ("usggen", "thesis")


def reduce_last(ga: GraphArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep one edge per ordered pair: the last one in edge order (as ``to_xf(multi_edge='last')``)."""
    if ga.src.size == 0:
        return ga.src, ga.dst, ga.pred
    key = ga.src * max(ga.num_nodes, 1) + ga.dst
    _, first_rev = np.unique(key[::-1], return_index=True)
    keep = np.sort(key.size - 1 - first_rev)
    return ga.src[keep], ga.dst[keep], ga.pred[keep]


def random_walk_pair(
    a: Any,
    b: Any,
    *,
    walk_length: int = 3,
    mode: str = "usggen",
    node_normalization: bool = True,
    edge_labels: bool = True,
) -> float:
    r"""Unnormalised random-walk kernel of ONE pair by the product-graph recursion (slow reference).

    :math:`K_0(r, s) = k_N(r, s)`, :math:`K_t(r, s) = k_N(r, s) \sum_e (A_e K_{t-1} B_e^\top)_{rs}`
    (``A_e`` the count adjacency of predicate ``e``; in ``"usggen"`` mode 0/1 after reducing
    multi-edges to the last one, and the neighbour sum replaced by 0.5 where ``r`` or ``s`` has no
    outgoing edge), :math:`k = \sum_{r,s} K_{p-1}(r, s)`. Cost :math:`O(p |E_a| |V_b|^2)` per pair;
    use :class:`RandomWalkKernel` for Gram matrices.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    parts = []
    for g in (a, b):
        lab, s, d, p = graph_arrays(g)
        if mode == "usggen" and s.size:
            ga = GraphArrays(lab, np.array([0, lab.size]), s, d, p)
            s, d, p = reduce_last(ga)
        if not edge_labels:
            p = np.zeros_like(p)
        if node_normalization and lab.size:
            _, inv, cnt = np.unique(lab, return_inverse=True, return_counts=True)
            sig = 1.0 / cnt[inv.reshape(-1)]
        else:
            sig = np.ones(lab.size)
        parts.append((lab, s, d, p, sig))
    (la, sa, da, pa, siga), (lb, sb, db, pb, sigb) = parts
    k0 = np.outer(siga, sigb) * (la[:, None] == lb[None, :])
    preds = np.intersect1d(pa, pb)
    mats = []
    for e in preds:
        am = np.zeros((la.size, la.size))
        np.add.at(am, (sa[pa == e], da[pa == e]), 1.0)
        bm = np.zeros((lb.size, lb.size))
        np.add.at(bm, (sb[pb == e], db[pb == e]), 1.0)
        mats.append((am, bm))
    if mode == "usggen":
        dead = (np.bincount(sa, minlength=la.size) == 0)[:, None] | (np.bincount(sb, minlength=lb.size) == 0)[None, :]
    k = k0
    for _ in range(1, walk_length):
        nsum = np.zeros_like(k0)
        for am, bm in mats:
            nsum += am @ k @ bm.T
        if mode == "usggen":
            nsum = np.where(dead, 0.5, nsum)
        k = k0 * nsum
    return float(k.sum())

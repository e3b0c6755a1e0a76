r"""The object-set kernel (thesis eq. 10.10-10.12): compares the multisets of object categories.

.. math::

    k(A, B) = \sum_{x} \frac{1}{1 + |A(x) - B(x)|},
    \qquad k_N(A, B) = \frac{k(A, B)}{\max(k(A, A), k(B, B))},

where :math:`A(x)` counts the nodes of category :math:`x` in graph :math:`A` (a Kronecker-delta
label kernel with the generalised t-student count kernel). The sum runs over the categories
present in BOTH graphs (``support="both"``, the default: what the published SceneGraphGen
evaluation code computes, so the mode behind the published MMD_N numbers) or in EITHER graph
(``support="either"``, the union reading of the text's formula). :math:`k(A, A)` is the number
of distinct categories of :math:`A`.

``support="either"`` is kept only to reproduce that literal reading, and warns when used: it is
not a valid similarity. A category present in one graph only still adds
:math:`1 / (1 + A(x)) > 0`, so two graphs with no category in common (one instance each) score
:math:`k_N = 1`, exactly like two identical graphs, and the MMD between two completely different
sets can be 0 or negative.

A Gram matrix is computed without a Python loop over pairs: with the one-hot encoding
:math:`E[g, (x, i)] = [A_g(x) = i]` and :math:`H[g, (x, i)] = f(i, A_g(x))`,
:math:`f(i, j) = 1 / (1 + |i - j|)`, the ``both`` kernel is the sparse product :math:`E_Y H_X^\top`;
the ``either`` kernel adds the rank-one and sparse correction terms of the categories present in
only one graph.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import GraphKernel, bilinear_product, stack_graphs

__all__ = ["ObjectSetKernel", "object_set_pair"]

_SUPPORTS = ("both", "either")


EITHER_WARNING = (
    'ObjectSetKernel(support="either") reproduces the literal formula only and is not a valid '
    "similarity: graphs with no category in common score like identical graphs, so MMDs can be 0 "
    'or negative for different sets; use support="both" (the published evaluation code)'
)


def _check_support(support: str) -> None:
    if support not in _SUPPORTS:
        raise ValueError(f"support: expected one of {_SUPPORTS}, got {support!r}")
    if support == "either":
        warnings.warn(EITHER_WARNING, UserWarning, stacklevel=3)


class _SetFeatures:
    """Category counts ``[n, n_categories]`` (CSR, integer-valued) and self-kernel values."""

    __slots__ = ("counts", "diag")

    def __init__(self, counts: sp.csr_matrix, diag: np.ndarray) -> None:
        self.counts = counts
        self.diag = diag


def _count_matrix(graphs: Sequence[Any]) -> sp.csr_matrix:
    ga = stack_graphs(graphs)
    n_cat = int(ga.labels.max()) + 1 if ga.labels.size else 1
    ones = np.ones(ga.labels.size, dtype=np.float64)
    m = sp.csr_matrix((ones, (ga.node_graph, ga.labels)), shape=(ga.num_graphs, n_cat))
    m.sum_duplicates()
    return m


def _widen(m: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    if m.shape[1] == n_cols:
        return m
    return sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_cols))


class ObjectSetKernel(GraphKernel):
    r"""Object-set kernel: Kronecker delta on categories times :math:`1 / (1 + |A(x) - B(x)|)`.

    Args:
        support: ``"both"`` sums over the categories present in both graphs (published code,
            default); ``"either"`` over those present in at least one (the literal formula of
            the text, kept for reproduction only: it scores graphs without any common category
            like identical graphs, see the module docstring; a :class:`UserWarning` says so).
        normalize: divide by ``max(k(A, A), k(B, B))`` (0 where that maximum is 0, i.e. both
            graphs empty).

    Example:
        >>> from sgkit.data import from_triplets
        >>> a = from_triplets([0, 0, 1], [])
        >>> b = from_triplets([0, 2], [])
        >>> ObjectSetKernel(normalize=False).fit([a]).transform([b])
        array([[0.5]])
    """

    def __init__(self, support: str = "both", normalize: bool = True) -> None:
        self.support = support
        self.normalize = normalize

    def _validate_params(self) -> None:
        _check_support(self.support)

    def _featurize(self, graphs: Sequence[Any]) -> _SetFeatures:
        counts = _count_matrix(graphs)
        diag = np.diff(counts.indptr).astype(np.float64)  # distinct categories per graph
        return _SetFeatures(counts, diag)

    def _diag(self, feats: _SetFeatures) -> np.ndarray:
        return feats.diag

    def _take(self, feats: _SetFeatures, rows: slice) -> _SetFeatures:
        return _SetFeatures(feats.counts[rows], feats.diag[rows])

    def _parts(self, counts: sp.csr_matrix, n_cat: int, m: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """``(L, R)`` with ``K = L R^T`` in the column space fixed by ``n_cat`` and ``m``."""
        a = _widen(counts, n_cat)
        n = a.shape[0]
        ac = a.tocoo()
        cnt = ac.data.astype(np.int64)
        e = sp.csr_matrix((np.ones(ac.nnz), (ac.row, ac.col * m + cnt - 1)), shape=(n, n_cat * m))
        i = np.arange(1, m + 1, dtype=np.float64)
        vals = 1.0 / (1.0 + np.abs(i[None, :] - ac.data[:, None]))
        h = sp.csr_matrix(
            (vals.reshape(-1), (np.repeat(ac.row, m), np.repeat(ac.col * m, m) + np.tile(np.arange(m), ac.nnz))),
            shape=(n, n_cat * m),
        )
        if self.support == "both":
            return e, h
        g = sp.csr_matrix((1.0 / (1.0 + ac.data), (ac.row, ac.col)), shape=(n, n_cat))
        pres = sp.csr_matrix((np.ones(ac.nnz), (ac.row, ac.col)), shape=(n, n_cat))
        s_col = sp.csr_matrix(np.asarray(g.sum(axis=1)).reshape(-1, 1))
        ones = sp.csr_matrix(np.ones((n, 1)))
        left = sp.hstack([e, s_col, ones, g, pres], format="csr")
        right = sp.hstack([h, ones, s_col, -pres, -g], format="csr")
        return left, right

    def _bilinear(self, feats: _SetFeatures) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """``K = L R^T``: one-hot (category, count) against ``f(i, count)`` columns (module doc)."""
        m = max(int(feats.counts.data.max(initial=0)), 1)
        return self._parts(feats.counts, feats.counts.shape[1], m)

    def _cross(self, rows: _SetFeatures, cols: _SetFeatures) -> np.ndarray | sp.csr_matrix:
        n_cat = max(rows.counts.shape[1], cols.counts.shape[1])
        m = max(int(rows.counts.data.max(initial=0)), int(cols.counts.data.max(initial=0)), 1)
        left, _ = self._parts(rows.counts, n_cat, m)
        _, right = self._parts(cols.counts, n_cat, m)
        return bilinear_product(left, right.T.tocsr())


def object_set_pair(a: Any, b: Any, *, support: str = "both") -> float:
    """Unnormalised object-set kernel of ONE pair, directly from the formula (slow reference)."""
    _check_support(support)
    ga, gb = stack_graphs([a]), stack_graphs([b])
    ca = dict(zip(*np.unique(ga.labels, return_counts=True)))
    cb = dict(zip(*np.unique(gb.labels, return_counts=True)))
    keys = set(ca) & set(cb) if support == "both" else set(ca) | set(cb)
    return float(sum(1.0 / (1.0 + abs(int(ca.get(x, 0)) - int(cb.get(x, 0)))) for x in keys))

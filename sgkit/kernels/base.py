"""Shared machinery of the scene-graph kernels: the scikit-learn estimator base, normalisation.

Every kernel of :mod:`sgkit.kernels` is a scikit-learn estimator in the GraKeL style:

* ``__init__`` only stores its parameters (so :func:`sklearn.base.clone`, ``get_params`` and
  pickling work);
* ``fit(X)`` featurises the reference graphs and returns ``self``;
* ``transform(Y)`` returns the ``[len(Y), len(X)]`` kernel matrix against the fitted graphs;
* ``fit_transform(X)`` returns the symmetric ``[len(X), len(X)]`` Gram matrix.

Graphs are :class:`~torch_geometric.data.HeteroData` scene graphs (see :mod:`sgkit.data`);
:class:`grakel.Graph` objects with integer labels are accepted too; :mod:`.graph_arrays` turns
them into flat integer arrays (refusing float ids).

Normalisation (``normalize=True``) is the thesis' (eq. 10.8 / 10.12)::

    k_N(a, b) = k(a, b) / max(k(a, a), k(b, b))

and where that maximum is 0 (e.g. two empty graphs) the normalised value is defined as 0, never
NaN. Subclasses implement three hooks: :meth:`GraphKernel._featurize` (graphs -> an opaque,
row-sliceable feature object), :meth:`GraphKernel._cross` (two feature objects -> dense kernel
block) and :meth:`GraphKernel._diag` (self-kernel values).
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .graph_arrays import GraphArrays, check_graphs, graph_arrays, stack_graphs

__all__ = ["GraphArrays", "GraphKernel", "bilinear_product", "check_graphs", "graph_arrays", "stack_graphs", "normalize_gram"]


def normalize_gram(k: np.ndarray, diag_rows: np.ndarray, diag_cols: np.ndarray) -> np.ndarray:
    """In place ``k[i, j] /= max(diag_rows[i], diag_cols[j])``; entries with a zero maximum become 0.

    Args:
        k: ``[n, m]`` unnormalised kernel values.
        diag_rows: ``[n]`` self-kernel values of the row graphs.
        diag_cols: ``[m]`` self-kernel values of the column graphs.

    Returns:
        ``k`` (normalised in place).
    """
    denom = np.maximum.outer(np.asarray(diag_rows, dtype=np.float64), np.asarray(diag_cols, dtype=np.float64))
    zero_r, zero_c = diag_rows <= 0, diag_cols <= 0
    if zero_r.any() and zero_c.any():
        # max(k(a, a), k(b, b)) = 0: both graphs have zero features, so k(a, b) = 0 too; define 0
        k[np.ix_(zero_r, zero_c)] = 0.0
        denom[np.ix_(zero_r, zero_c)] = 1.0
    k /= denom
    return k


def bilinear_product(left: sp.csr_matrix, right_t: sp.csr_matrix, threads: int = 1) -> np.ndarray | sp.csr_matrix:
    """``left @ right_t`` for sparse features, choosing the cheaper evaluation.

    Where the product is dense-ish, the feature columns frequent on both sides (whose sparse work
    ``df_left * df_right`` exceeds their share of a dense GEMM) are multiplied densely with BLAS
    and the rest sparsely; otherwise one sparse product (split over ``threads`` row blocks).

    Args:
        left: ``[n, F]`` CSR features of the rows.
        right_t: ``[F, m]`` CSR (transposed) features of the columns.
        threads: threads for the sparse product.

    Returns:
        ``[n, m]`` dense array or CSR matrix.
    """
    n_r, n_c = left.shape[0], right_t.shape[1]
    n_feat = left.shape[1]
    df_l = np.bincount(left.indices, minlength=n_feat).astype(np.float64)
    df_r = np.diff(right_t.indptr).astype(np.float64)
    work = df_l * df_r  # multiply-adds of the sparse product, per feature column
    if n_r * n_c and work.sum() > 0.05 * n_r * n_c:
        dense = work > (n_r * n_c) / 64.0
        if dense.any():
            idx = np.flatnonzero(dense)
            rest = np.flatnonzero(~dense)
            out = np.ascontiguousarray(left[:, idx].toarray()) @ right_t[idx].toarray()
            if rest.size:
                tail = (left[:, rest] @ right_t[rest]).tocoo()
                out[tail.row, tail.col] += tail.data  # a product's COO has no duplicates
            return out
    threads = min(max(threads, 1), max(1, n_r // 256))
    if threads <= 1:
        return (left @ right_t).tocsr()
    bounds = np.linspace(0, n_r, threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda i: left[bounds[i] : bounds[i + 1]] @ right_t, range(threads)))
    return sp.vstack(parts, format="csr")


def _mirror_upper(k: np.ndarray, block: int = 256) -> None:
    """Make a square matrix exactly symmetric in place by copying its upper triangle down."""
    n = k.shape[0]
    for start in range(block, n, block):
        end = min(n, start + block)
        k[start:end, :start] = k[:start, start:end].T
    for start in range(0, n, block):  # the diagonal blocks
        end = min(n, start + block)
        sub = k[start:end, start:end]
        il = np.tril_indices(end - start, -1)
        sub[il] = sub.T[il]


def _finish(
    k: np.ndarray | sp.spmatrix,
    diag_rows: np.ndarray,
    diag_cols: np.ndarray,
    normalize: bool,
    symmetric: bool,
) -> np.ndarray:
    """Normalise (and symmetrise) a kernel block; sparse blocks are handled on their non-zeros."""
    if sp.issparse(k) and k.nnz > 0.05 * k.shape[0] * k.shape[1]:
        k = k.toarray()  # dense-ish: dense arithmetic is cheaper
    if sp.issparse(k):
        k = k.tocsr()
        if symmetric:
            k = ((k + k.T) * 0.5).tocsr()
        if normalize:
            k = k.tocoo()
            denom = np.maximum(diag_rows[k.row], diag_cols[k.col])
            data = np.divide(k.data, denom, out=np.zeros_like(k.data), where=denom > 0)
            k = sp.coo_matrix((data, (k.row, k.col)), shape=k.shape)
        return np.asarray(k.toarray(), dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if symmetric:
        _mirror_upper(k)
    if normalize:
        normalize_gram(k, diag_rows, diag_cols)
    return k


class GraphKernel(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the scene-graph kernels (scikit-learn / GraKeL estimator conventions).

    Subclasses store their parameters in ``__init__`` (plus ``normalize``) and implement
    :meth:`_featurize`, :meth:`_cross` and :meth:`_diag`.

    Attributes (after ``fit``):
        X_features_: the featurised fitted graphs.
        X_diag_: ``[n_X]`` self-kernel values ``k(x, x)`` of the fitted graphs (unnormalised).
        n_fitted_: number of fitted graphs.
    """

    normalize: bool

    # ----------------------------------------------------------------- hooks for subclasses
    def _exactly_symmetric(self) -> bool:
        """Whether ``_cross(F, F)`` is bitwise symmetric (then no symmetrisation pass is needed)."""
        return False

    @abstractmethod
    def _validate_params(self) -> None:
        """Raise ValueError naming the parameter for a bad parameter value."""

    @abstractmethod
    def _featurize(self, graphs: Sequence[Any]) -> Any:
        """Featurise a list of graphs (an opaque object understood by the other hooks)."""

    @abstractmethod
    def _cross(self, rows: Any, cols: Any) -> np.ndarray | sp.spmatrix:
        """Unnormalised kernel ``[n_rows, n_cols]`` (dense or scipy sparse) between two sets."""

    @abstractmethod
    def _diag(self, feats: Any) -> np.ndarray:
        """Unnormalised self-kernel values of a featurised graph set."""

    @abstractmethod
    def _take(self, feats: Any, rows: slice) -> Any:
        """Rows ``rows`` of a featurised graph set (same column space)."""

    # ----------------------------------------------------------------- estimator API
    def fit(self, X: Sequence[Any], y: Any = None) -> "GraphKernel":
        """Featurise the reference graphs ``X``.

        Args:
            X: list of scene graphs.
            y: ignored (scikit-learn signature).

        Returns:
            ``self``.
        """
        self._validate_params()
        if len(X) == 0:
            raise ValueError("X: need at least one graph to fit a kernel, got an empty sequence")
        self.X_features_ = self._featurize(X)
        self.X_diag_ = self._diag(self.X_features_)
        self.n_fitted_ = len(X)
        return self

    def transform(self, Y: Sequence[Any]) -> np.ndarray:
        """Kernel matrix between ``Y`` and the fitted graphs.

        Args:
            Y: list of scene graphs.

        Returns:
            ``[len(Y), len(X)]`` float64 matrix (normalised if ``normalize``).
        """
        check_is_fitted(self, "X_features_")
        feats = self._featurize_against(Y, self.X_features_)
        k = self._cross(feats, self.X_features_)
        return _finish(k, self._diag(feats), self.X_diag_, bool(self.normalize), symmetric=False)

    def fit_transform(self, X: Sequence[Any], y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit on ``X`` and return its symmetric Gram matrix ``[len(X), len(X)]``.

        With ``normalize=True`` the diagonal is 1 wherever ``k(x, x) > 0`` and 0 elsewhere.
        """
        self.fit(X)
        k = self._cross(self.X_features_, self.X_features_)
        # normalise by the Gram diagonal itself so that the normalised diagonal is exactly 1
        self.X_diag_ = np.asarray(k.diagonal(), dtype=np.float64).reshape(-1)
        symmetric = not self._exactly_symmetric()
        return _finish(k, self.X_diag_, self.X_diag_, bool(self.normalize), symmetric=symmetric)

    def _featurize_against(self, graphs: Sequence[Any], reference: Any) -> Any:
        """Featurise ``graphs`` in the column space of ``reference`` (default: independent)."""
        return self._featurize(graphs)

    def iter_gram_blocks(
        self, graphs: Sequence[Any], block_size: int | None = None, *, upper: bool = False
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield the Gram matrix of ``graphs`` row block by row block, in bounded memory.

        The estimator is not fitted by this call. Each block is normalised like
        :meth:`fit_transform`.

        Args:
            graphs: list of scene graphs.
            block_size: rows per block; default keeps each dense block at about 2**24 entries
                (128 MiB of float64).
            upper: yield only the columns from the block's first row on (``K[rows, rows.start:]``),
                i.e. the upper triangle plus the diagonal block: half the work for symmetric sums.

        Yields:
            ``(rows, block)`` with ``rows`` a slice and ``block`` ``K[rows, :]`` (or
            ``K[rows, rows.start:]`` with ``upper=True``).
        """
        self._validate_params()
        feats = self._featurize(graphs)
        diag = self._diag(feats)
        n = len(graphs)
        if block_size is None:
            block_size = max(1, (1 << 24) // max(n, 1))
        if block_size < 1:
            raise ValueError(f"block_size: must be a positive integer, got {block_size}")
        for start in range(0, n, block_size):
            rows = slice(start, min(n, start + block_size))
            cols = slice(start, n) if upper else slice(0, n)
            k = self._cross(self._take(feats, rows), self._take(feats, cols) if upper else feats)
            yield rows, _finish(k, diag[rows], diag[cols], bool(self.normalize), symmetric=False)

    def _bilinear(self, feats: Any) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
        """Sparse ``(L, R)`` with ``K = L @ R.T`` for a featurised set, or ``None`` if unavailable."""
        return None

    def mmd_sums(
        self, graphs: Sequence[Any], n_x: int, *, chunk_size: int = 1024
    ) -> tuple[float, float, float, float, float] | None:
        r"""Region sums of the (normalised) Gram matrix of ``graphs = X + Y`` in linear memory.

        With ``K = L R^T`` and the max-normalisation, sorting the graphs by ``d = k(g, g)`` makes
        ``max(d_i, d_j) = d_j`` for every earlier ``i``, so the sum over pairs is
        :math:`\sum_j \langle \sum_{i < j} L_i, R_j \rangle / d_j`: prefix sums of the (sparse)
        left features, no ``n x n`` matrix. Pairs inside a chunk of ``chunk_size`` graphs are
        summed from a small dense block. Exact up to floating-point summation order.

        Args:
            graphs: ``X + Y`` (the first ``n_x`` graphs form ``X``).
            n_x: size of ``X``.
            chunk_size: graphs per dense within-chunk block.

        Returns:
            ``(sum K_xx, trace K_xx, sum K_yy, trace K_yy, sum K_xy)``, or ``None`` when this
            kernel has no explicit bilinear feature form.
        """
        self._validate_params()
        feats = self._featurize(graphs)
        lr = self._bilinear(feats)
        if lr is None:
            return None
        left, right = lr
        n, n_feat = left.shape
        diag = np.asarray(self._diag(feats), dtype=np.float64)
        if self.normalize:
            order = np.argsort(diag, kind="stable")
            scale_all = np.divide(1.0, diag, out=np.zeros_like(diag), where=diag > 0)
        else:
            order = np.arange(n)
            scale_all = np.ones(n)
        prefix_x = np.zeros(n_feat)
        prefix_y = np.zeros(n_feat)
        off_xx = off_yy = s_xy = t_xx = t_yy = 0.0
        for a in range(0, n, chunk_size):
            idx = order[a : a + chunk_size]
            lc, rc = left[idx], right[idx]
            scale = scale_all[idx]
            is_x = idx < n_x
            v_x = (rc @ prefix_x) * scale  # pairs (earlier X graph, this graph)
            v_y = (rc @ prefix_y) * scale
            off_xx += float(v_x[is_x].sum())
            off_yy += float(v_y[~is_x].sum())
            s_xy += float(v_y[is_x].sum() + v_x[~is_x].sum())
            kc = np.asarray((lc @ rc.T).toarray()) * scale[None, :]  # column j scaled by 1 / d_j
            dg = np.diag(kc).copy()
            t_xx += float(dg[is_x].sum())
            t_yy += float(dg[~is_x].sum())
            upper = np.triu(kc, 1)  # i earlier than j in the sorted order
            off_xx += float(upper[np.ix_(is_x, is_x)].sum())
            off_yy += float(upper[np.ix_(~is_x, ~is_x)].sum())
            s_xy += float(upper[np.ix_(is_x, ~is_x)].sum() + upper[np.ix_(~is_x, is_x)].sum())
            if is_x.any():
                prefix_x += np.asarray(lc[is_x].sum(axis=0)).reshape(-1)
            if (~is_x).any():
                prefix_y += np.asarray(lc[~is_x].sum(axis=0)).reshape(-1)
        return 2.0 * off_xx + t_xx, t_xx, 2.0 * off_yy + t_yy, t_yy, s_xy

    def __sklearn_tags__(self) -> Any:  # pragma: no cover - sklearn >= 1.6 metadata only
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags

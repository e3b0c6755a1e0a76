"""Graph-statistics MMD against a direct implementation of the GraphRNN / GRAN formulas."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from sgkit.data import from_triplets
from sgkit.datasets import vg_like_graphs
from sgkit.metrics import (
    clustering_mmd,
    degree_mmd,
    gaussian_emd_kernel,
    spectral_mmd,
    to_undirected_simple,
)

A = vg_like_graphs(12, seed=0, max_nodes=12)
B = vg_like_graphs(9, seed=1, max_nodes=12)


def _pmf(h: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length)
    out[: h.size] = h
    return out / out.sum()


def direct_mmd(hx: list, hy: list, kernel) -> float:
    """GraphRNN compute_mmd: pmfs, biased mean over all pairs, k(x,x') + k(y,y') - 2 k(x,y)."""
    length = max(h.size for h in hx + hy)
    px = [_pmf(h, length) for h in hx]
    py = [_pmf(h, length) for h in hy]
    disc = lambda s, t: np.mean([kernel(a, b) for a in s for b in t])  # noqa: E731
    return disc(px, px) + disc(py, py) - 2 * disc(px, py)


def gauss_emd(sigma: float, scaling: float):
    def k(p: np.ndarray, q: np.ndarray) -> float:
        support = np.arange(p.size) / scaling
        d = wasserstein_distance(support, support, p, q)
        return float(np.exp(-d * d / (2 * sigma * sigma)))

    return k


def test_gaussian_emd_kernel_is_exact_emd() -> None:
    rng = np.random.default_rng(0)
    p = rng.random((5, 7))
    q = rng.random((4, 7))
    p /= p.sum(1, keepdims=True)
    q /= q.sum(1, keepdims=True)
    k = gaussian_emd_kernel(p, q, sigma=0.7, distance_scaling=3.0)
    expected = np.array([[gauss_emd(0.7, 3.0)(a, b) for b in q] for a in p])
    np.testing.assert_allclose(k, expected, rtol=1e-10)


def test_degree_mmd_matches_graphrnn_formula() -> None:
    nxa = [to_undirected_simple(g) for g in A]
    nxb = [to_undirected_simple(g) for g in B]
    hx = [np.array(nx.degree_histogram(g), float) for g in nxa]
    hy = [np.array(nx.degree_histogram(g), float) for g in nxb]
    expected = direct_mmd(hx, hy, gauss_emd(1.0, 1.0))
    assert expected > 0
    assert degree_mmd(A, B) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_clustering_mmd_matches_graphrnn_formula() -> None:
    def hist(g):
        h, _ = np.histogram(list(nx.clustering(to_undirected_simple(g)).values()), bins=100, range=(0.0, 1.0))
        return h.astype(float)

    expected = direct_mmd([hist(g) for g in A], [hist(g) for g in B], gauss_emd(0.1, 100.0))
    assert clustering_mmd(A, B) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_spectral_mmd_matches_gran_formula() -> None:
    def hist(g):
        lap = nx.normalized_laplacian_matrix(to_undirected_simple(g)).toarray()
        h, _ = np.histogram(np.linalg.eigvalsh(lap), bins=200, range=(-1e-5, 2.0))
        return h.astype(float)

    def gauss_tv(p, q):
        d = np.abs(p - q).sum() / 2
        return float(np.exp(-d * d / 2))

    expected = direct_mmd([hist(g) for g in A], [hist(g) for g in B], gauss_tv)
    assert spectral_mmd(A, B) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_conventions_and_errors() -> None:
    # identical sets: biased MMD is exactly 0; the undirected simple view drops loops and directions
    assert degree_mmd(A, A) == pytest.approx(0.0, abs=1e-12)
    g = to_undirected_simple(from_triplets([0, 1, 2], [(0, 0, 1), (1, 3, 0), (2, 1, 2)]))
    assert sorted(g.edges) == [(0, 1)] and g.number_of_nodes() == 3
    # empty graphs are dropped (no histogram)
    with_empty = A + [from_triplets([], [])]
    assert degree_mmd(with_empty, B) == pytest.approx(degree_mmd(A, B), abs=1e-12)
    with pytest.raises(ValueError, match="kernel"):
        degree_mmd(A, B, kernel="l2")
    with pytest.raises(ValueError, match="non-empty"):
        degree_mmd([from_triplets([], [])], B)

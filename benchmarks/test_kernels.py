"""Side-by-side benchmarks of the scene-graph kernels and MMDs (run with ``--benchmark``).

Groups (each compares contenders in the same run; ``extra_info`` carries pairs/s):

* ``rw-gram``: random-walk Gram of 2,000 VG-like graphs (``usggen`` and ``thesis`` modes) vs the
  per-pair product-graph recursion (measured on a 40 x 40 subset) vs GraKeL
  ``RandomWalkLabeled(p=2, lamda=1, method_type="baseline")`` minus ``p=1`` on the equivalent
  configuration (no node normalisation, no edge labels, walks of 3 nodes; 20 x 20 subset),
  and our kernel on that same configuration.
* ``rw-guard``: random-walk features of 2,000 graphs with the memory guard (default
  ``max_memory``: walk-count bound, per-level checks when it is exceeded) vs without it
  (``max_memory=None``), plus the id-dtype check of :func:`sgkit.kernels.base.check_graphs`.
* ``objset-gram``: object-set Gram of 2,000 graphs vs the per-pair formula (100 x 100 subset).
* ``mmd-20k``: MMD between 20,000 and 20,000 graphs in linear memory (stretch goal; tracemalloc
  peak reported); ``mmd-5k-paths``: that sorted-prefix-sum path vs explicit Gram blocks;
  ``mmd-100k``: the exact MMD of 100,000 vs 100,000 graphs (random-walk ``usggen`` and
  object-set kernels), which stays near-linear in the number of graphs.
* ``graph-stats``: degree and clustering MMD for 1,000 vs 1,000 graphs vs the direct GraphRNN
  formula (scipy ``wasserstein_distance`` per pair, 60 vs 60 subset).
"""
from __future__ import annotations

import resource
import tracemalloc

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from sgkit.datasets import vg_like_graphs
from sgkit.kernels import ObjectSetKernel, RandomWalkKernel, object_set_pair, random_walk_pair
from sgkit.metrics import clustering_mmd, degree_mmd, mmd
from sgkit.metrics.graph_stats import clustering_histograms, degree_histograms


@pytest.fixture(scope="module")
def graphs_2000() -> list:
    return vg_like_graphs(2000, seed=0)


def _rate(benchmark, pairs: int) -> None:
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["pairs"] = pairs
    benchmark.extra_info["pairs_per_s"] = pairs / mean


# ------------------------------------------------------------------------------ random walk
@pytest.mark.parametrize("mode", ["usggen", "thesis"])
def test_rw_gram_2000_fast(benchmark, graphs_2000, mode: str) -> None:
    benchmark.group = "rw-gram"
    kern = RandomWalkKernel(mode=mode, n_jobs=2)
    k = benchmark.pedantic(kern.fit_transform, args=(graphs_2000,), rounds=3, iterations=1)
    assert k.shape == (2000, 2000)
    _rate(benchmark, 2000 * 2000)


@pytest.mark.parametrize("guard", ["default", "none"])
def test_rw_features_memory_guard(benchmark, graphs_2000, guard: str) -> None:
    benchmark.group = "rw-guard"
    kern = RandomWalkKernel() if guard == "default" else RandomWalkKernel(max_memory=None)
    benchmark.pedantic(kern.fit, args=(graphs_2000,), rounds=5, iterations=1)


def test_rw_guard_dtype_check(benchmark, graphs_2000) -> None:
    from sgkit.kernels.base import check_graphs

    benchmark.group = "rw-guard"
    benchmark.pedantic(check_graphs, args=(graphs_2000, "X"), rounds=5, iterations=1)


@pytest.mark.parametrize("mode", ["usggen", "thesis"])
def test_rw_pairs_slow_recursion(benchmark, graphs_2000, mode: str) -> None:
    benchmark.group = "rw-gram"
    sub = graphs_2000[:40]

    def slow() -> np.ndarray:
        return np.array([[random_walk_pair(a, b, walk_length=3, mode=mode) for b in sub] for a in sub])

    k = benchmark.pedantic(slow, rounds=1, iterations=1)
    fast = RandomWalkKernel(mode=mode, normalize=False).fit_transform(sub)
    np.testing.assert_allclose(fast, k, atol=1e-9)
    _rate(benchmark, len(sub) ** 2)


def test_rw_grakel_equivalent(benchmark, graphs_2000) -> None:
    from grakel import Graph
    from grakel.kernels import RandomWalkLabeled

    from sgkit.data import EDGE, NODE

    benchmark.group = "rw-gram"
    sub = graphs_2000[:20]

    def as_grakel(g):
        n = g[NODE].label.numel()
        adj = np.zeros((n, n))
        np.add.at(adj, tuple(g[EDGE].edge_index.numpy()), 1.0)
        return Graph(adj, node_labels={i: int(c) for i, c in enumerate(g[NODE].label.tolist())})

    gk = [as_grakel(g) for g in sub]

    def grakel_walks3() -> np.ndarray:
        two = RandomWalkLabeled(p=2, lamda=1.0, method_type="baseline").fit_transform(gk)
        one = RandomWalkLabeled(p=1, lamda=1.0, method_type="baseline").fit_transform(gk)
        return two - one

    k = benchmark.pedantic(grakel_walks3, rounds=1, iterations=1)
    ours = RandomWalkKernel(mode="thesis", normalize=False, node_normalization=False, edge_labels=False).fit_transform(sub)
    np.testing.assert_allclose(ours, k, rtol=1e-9, atol=1e-9)
    _rate(benchmark, len(sub) ** 2)


def test_rw_ours_equivalent_config_2000(benchmark, graphs_2000) -> None:
    benchmark.group = "rw-gram"
    kern = RandomWalkKernel(mode="thesis", normalize=False, node_normalization=False, edge_labels=False)
    benchmark.pedantic(kern.fit_transform, args=(graphs_2000,), rounds=3, iterations=1)
    _rate(benchmark, 2000 * 2000)


# ------------------------------------------------------------------------------ object set
@pytest.mark.parametrize("support", ["both", "either"])
def test_objset_gram_2000_fast(benchmark, graphs_2000, support: str) -> None:
    benchmark.group = "objset-gram"
    kern = ObjectSetKernel(support=support)
    benchmark.pedantic(kern.fit_transform, args=(graphs_2000,), rounds=3, iterations=1)
    _rate(benchmark, 2000 * 2000)


def test_objset_pairs_slow(benchmark, graphs_2000) -> None:
    benchmark.group = "objset-gram"
    sub = graphs_2000[:100]
    k = benchmark.pedantic(
        lambda: np.array([[object_set_pair(a, b) for b in sub] for a in sub]), rounds=1, iterations=1
    )
    np.testing.assert_allclose(ObjectSetKernel(normalize=False).fit_transform(sub), k, atol=1e-12)
    _rate(benchmark, len(sub) ** 2)


# ------------------------------------------------------------------------------ 20k x 20k MMD
@pytest.fixture(scope="module")
def graphs_20k() -> tuple[list, list]:
    return vg_like_graphs(20000, seed=0), vg_like_graphs(20000, seed=1)


@pytest.mark.parametrize("kernel", ["usggen", "thesis", "object_set"])
def test_mmd_20k_blockwise(benchmark, graphs_20k, kernel: str) -> None:
    """Stretch goal: 20,000 vs 20,000 graphs; memory = tracemalloc peak of the MMD call."""
    benchmark.group = "mmd-20k"
    x, y = graphs_20k
    kern = ObjectSetKernel() if kernel == "object_set" else RandomWalkKernel(mode=kernel, n_jobs=2)
    tracemalloc.start()
    value = benchmark.pedantic(mmd, args=(x, y, kern), kwargs={"progress": False}, rounds=1, iterations=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    benchmark.extra_info["mmd_x1e3"] = value * 1e3
    benchmark.extra_info["traced_peak_mib"] = peak / 2**20
    benchmark.extra_info["process_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _rate(benchmark, 40000 * 40000)


@pytest.fixture(scope="module")
def graphs_100k() -> tuple[list, list]:
    return vg_like_graphs(100_000, seed=0), vg_like_graphs(100_000, seed=1)


@pytest.mark.parametrize("kernel", ["usggen", "object_set"])
def test_mmd_100k(benchmark, graphs_100k, kernel: str) -> None:
    """100,000 vs 100,000 graphs through the sorted prefix sums (the Gram would hold 4e10 entries)."""
    benchmark.group = "mmd-100k"
    x, y = graphs_100k
    kern = ObjectSetKernel() if kernel == "object_set" else RandomWalkKernel(mode=kernel)
    value = benchmark.pedantic(mmd, args=(x, y, kern), kwargs={"progress": False}, rounds=1, iterations=1)
    benchmark.extra_info["mmd_x1e3"] = value * 1e3
    _rate(benchmark, 200_000 * 200_000)


@pytest.mark.parametrize("path", ["prefix_sums", "gram_blocks"])
def test_mmd_5k_prefix_vs_blocks(benchmark, graphs_20k, path: str) -> None:
    """Linear-memory sorted-prefix sums (default) vs explicit upper-triangle Gram blocks."""
    from sgkit.metrics.mmd import _block_sums

    benchmark.group = "mmd-5k-paths"
    x, y = graphs_20k[0][:5000], graphs_20k[1][:5000]
    kern = RandomWalkKernel(mode="usggen")

    def blocks() -> tuple:
        class _NoPrefix:  # hides mmd_sums so that _block_sums takes the Gram-block path
            def __init__(self, k):
                self.iter_gram_blocks = k.iter_gram_blocks

        return _block_sums(x, y, _NoPrefix(kern), None)

    fn = (lambda: _block_sums(x, y, kern, None)) if path == "prefix_sums" else blocks
    sums = benchmark.pedantic(fn, rounds=1, iterations=1)
    benchmark.extra_info["sum_xy"] = sums[4]
    _rate(benchmark, 10000 * 10000)


# ------------------------------------------------------------------------------ graph statistics
def _direct_emd_mmd(hx: list, hy: list, sigma: float, scaling: float) -> float:
    length = max(h.size for h in hx + hy)

    def pmf(h: np.ndarray) -> np.ndarray:
        out = np.zeros(length)
        out[: h.size] = h
        return out / out.sum()

    px, py = [pmf(h) for h in hx], [pmf(h) for h in hy]
    support = np.arange(length) / scaling

    def k(a: np.ndarray, b: np.ndarray) -> float:
        d = wasserstein_distance(support, support, a, b)
        return float(np.exp(-d * d / (2 * sigma * sigma)))

    disc = lambda s, t: np.mean([k(a, b) for a in s for b in t])  # noqa: E731
    return disc(px, px) + disc(py, py) - 2 * disc(px, py)


@pytest.mark.parametrize("stat", ["degree", "clustering"])
def test_graph_stats_1000_fast(benchmark, stat: str) -> None:
    benchmark.group = f"graph-stats-{stat}"
    x, y = vg_like_graphs(1000, seed=0), vg_like_graphs(1000, seed=1)
    fn = degree_mmd if stat == "degree" else clustering_mmd
    benchmark.pedantic(fn, args=(x, y), rounds=3, iterations=1)
    _rate(benchmark, 3 * 1000 * 1000)


@pytest.mark.parametrize("stat", ["degree", "clustering"])
def test_graph_stats_direct_formula(benchmark, stat: str) -> None:
    benchmark.group = f"graph-stats-{stat}"
    x, y = vg_like_graphs(60, seed=0), vg_like_graphs(60, seed=1)
    if stat == "degree":
        hx, hy, sigma, scaling, fn = degree_histograms(x), degree_histograms(y), 1.0, 1.0, degree_mmd
    else:
        hx, hy, sigma, scaling, fn = clustering_histograms(x), clustering_histograms(y), 0.1, 100.0, clustering_mmd
    value = benchmark.pedantic(_direct_emd_mmd, args=(hx, hy, sigma, scaling), rounds=1, iterations=1)
    assert fn(x, y) == pytest.approx(value, rel=1e-9, abs=1e-12)
    _rate(benchmark, 3 * 60 * 60)

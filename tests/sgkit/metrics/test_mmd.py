"""Kernel MMD: estimators against the formula on explicit Gram matrices, block-wise evaluation,
the stateful metric, and the corruption sanity pattern of thesis Table 10.2."""
from __future__ import annotations

import numpy as np
import pytest

from sgkit.data import from_triplets
from sgkit.data.corrupt import corrupt
from sgkit.datasets import ShapesWorld, vg_like_graphs
from sgkit.kernels import ObjectSetKernel, RandomWalkKernel
from sgkit.metrics import MMD, mmd, mmd_from_gram

X = vg_like_graphs(23, seed=0, max_nodes=10)
Y = vg_like_graphs(17, seed=1, max_nodes=10)


def formula(k: np.ndarray, n: int, estimator: str) -> float:
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    m = k.shape[0] - n
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    off = lambda a: a.sum() - np.trace(a)  # noqa: E731
    return off(kxx) / (n * (n - 1)) + off(kyy) / (m * (m - 1)) - 2 * kxy.mean()


@pytest.mark.parametrize("kernel", [RandomWalkKernel(mode="usggen"), RandomWalkKernel(walk_length=2), ObjectSetKernel()])
@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
def test_mmd_matches_formula_on_gram(kernel, estimator: str) -> None:
    gram = type(kernel)(**kernel.get_params()).fit_transform(X + Y)
    expected = formula(gram, len(X), estimator)
    assert mmd(X, Y, kernel, estimator) == pytest.approx(expected, abs=1e-12)
    assert mmd(X, Y, kernel, estimator, block_size=5) == pytest.approx(expected, abs=1e-12)
    n = len(X)
    assert mmd_from_gram(gram[:n, :n], gram[n:, n:], gram[:n, n:], estimator) == pytest.approx(expected, abs=1e-12)



class _GramBlocksOnly:
    """Exposes only ``iter_gram_blocks`` of a kernel (no ``mmd_sums``, no ``fit_transform``), so
    that :func:`mmd` must take its Gram-block path; records the blocks it hands out."""

    def __init__(self, kernel) -> None:
        self._kernel = kernel
        self.calls: list[int | None] = []
        self.row_blocks: list[tuple[int, int]] = []

    def iter_gram_blocks(self, graphs, block_size=None, *, upper=False):
        self.calls.append(block_size)
        for rows, k in self._kernel.iter_gram_blocks(graphs, block_size=block_size, upper=upper):
            self.row_blocks.append((rows.start, rows.stop))
            yield rows, k


@pytest.mark.parametrize("kernel", [RandomWalkKernel(mode="usggen"), RandomWalkKernel(walk_length=2), ObjectSetKernel()])
@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("block_size", [5, 7, 1000])
def test_gram_block_path_matches_full_gram(kernel, estimator: str, block_size: int) -> None:
    """The block path of :func:`mmd` (taken when the kernel has no ``mmd_sums``) equals the formula.

    ``len(X) = 23`` and ``len(Y) = 17`` differ and neither 5 nor 7 divides them or their sum 40
    (7 does not divide 40; 5 does divide 40 but not 23, so a block straddles the X/Y border).
    """
    assert not hasattr(_GramBlocksOnly(kernel), "mmd_sums")
    gram = type(kernel)(**kernel.get_params()).fit_transform(X + Y)
    expected = formula(gram, len(X), estimator)
    wrapped = _GramBlocksOnly(kernel)
    got = mmd(X, Y, wrapped, estimator, block_size=block_size, progress=False)
    assert got == pytest.approx(expected, abs=1e-12)
    # the block path really ran, in the requested blocks that tile all 40 rows
    total = len(X) + len(Y)
    assert wrapped.calls == [block_size]
    starts = list(range(0, total, block_size))
    assert wrapped.row_blocks == [(a, min(a + block_size, total)) for a in starts]
    # and it agrees with the kernel's own linear-memory path where that exists
    assert got == pytest.approx(mmd(X, Y, kernel, estimator, progress=False), abs=1e-12)

def test_published_code_convention_zero_diagonal() -> None:
    """The published code zeroes the Gram diagonal and divides xx, yy by n(n-1): same number."""
    gram = RandomWalkKernel(mode="usggen").fit_transform(X + Y)
    n, m = len(X), len(Y)
    g0 = gram.copy()
    np.fill_diagonal(g0, 0.0)
    published = g0[:n, :n].sum() / (n * (n - 1)) + g0[n:, n:].sum() / (m * (m - 1)) - 2 * g0[n:, :n].sum() / (n * m)
    assert mmd(X, Y, RandomWalkKernel(mode="usggen")) == pytest.approx(published, abs=1e-12)


def test_self_mmd_and_halves() -> None:
    for kernel in (RandomWalkKernel(), ObjectSetKernel()):
        assert mmd(X, X, kernel, "biased") == pytest.approx(0.0, abs=1e-12)
    graphs = vg_like_graphs(400, seed=3)
    noisy = corrupt(graphs[200:], 1.0, num_classes=150, num_predicates=50, seed=0)
    for kernel in (RandomWalkKernel(mode="usggen"), ObjectSetKernel()):
        halves = mmd(graphs[:200], graphs[200:], kernel)
        assert abs(halves) < 0.1 * mmd(graphs[:200], noisy, kernel)


def test_generic_sklearn_kernel_path() -> None:
    """A kernel without iter_gram_blocks (here a GraKeL kernel) is evaluated on its full Gram."""
    from grakel.kernels import VertexHistogram

    from sgkit.data import to_grakel

    gx = [to_grakel(g) for g in X]
    gy = [to_grakel(g) for g in Y]
    kern = VertexHistogram(normalize=True)
    gram = VertexHistogram(normalize=True).fit_transform(gx + gy)
    assert mmd(gx, gy, kern) == pytest.approx(formula(gram, len(gx), "unbiased"), abs=1e-12)


def test_stateful_metric_accumulates_batches() -> None:
    metric = MMD(Y, RandomWalkKernel(mode="usggen"), block_size=4)
    metric.update(X[:10])
    metric.update(X[10:])
    assert metric.compute() == pytest.approx(mmd(X, Y, RandomWalkKernel(mode="usggen")), abs=1e-12)
    metric.reset()
    metric.update(X[:5])
    assert metric.compute() == pytest.approx(mmd(X[:5], Y, RandomWalkKernel(mode="usggen")), abs=1e-12)
    metric.reset()
    with pytest.raises(ValueError, match="update"):
        metric.compute()


def test_errors() -> None:
    with pytest.raises(ValueError, match="estimator"):
        mmd(X, Y, ObjectSetKernel(), estimator="linear")
    with pytest.raises(ValueError, match="at least 2"):
        mmd(X[:1], Y, ObjectSetKernel())
    with pytest.raises(ValueError, match="non-empty"):
        mmd([], Y, ObjectSetKernel(), "biased")
    one = [from_triplets([0], [])]
    assert mmd(one, one, ObjectSetKernel(), "biased") == 0.0


def _table_10_2_sets(dataset: str, n: int) -> tuple[list, list, dict]:
    if dataset == "vg":
        from sgkit.datasets import vg150_vocabulary

        vocab = vg150_vocabulary()
        test_a, test_b = vg_like_graphs(n, seed=0), vg_like_graphs(n, seed=1)
    else:
        world = ShapesWorld(2 * n, seed=0, progress=False)
        vocab, graphs = world.vocab, world.graphs()
        test_a, test_b = graphs[:n], graphs[n:]
    return test_a, test_b, {"num_classes": vocab.num_objects, "num_predicates": vocab.num_predicates}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["vg", "shapes"])
def test_corruption_sanity_pattern_of_the_default_kernels(dataset: str) -> None:
    """Thesis Table 10.2 with the default kernels (the published metrics), 1,000 vs 1,000 graphs:
    MMD(test, x% corrupted test) grows strictly with x and MMD(test, test) is near 0."""
    test_a, test_b, sizes = _table_10_2_sets(dataset, 1000)
    levels = [0.0, 0.2, 0.5, 1.0]
    corrupted = [corrupt(test_b, f, seed=1, **sizes) for f in levels]
    for kernel in (RandomWalkKernel(), ObjectSetKernel()):
        values = [mmd(test_a, c, kernel, progress=False) for c in corrupted]
        assert values[0] < values[1] < values[2] < values[3], (kernel, values)
        assert abs(values[0]) < 0.02 * values[-1], (kernel, values)
        both = [corrupt(g, 1.0, seed=s, **sizes) for g, s in ((test_a, 2), (test_b, 3))]
        assert abs(mmd(*both, kernel, progress=False)) < 0.02 * values[-1]  # 100% vs 100% corrupt
    if dataset == "shapes":  # the literal formula: monotone but nearly flat (few complete walks)
        thesis = [mmd(test_a, c, RandomWalkKernel(mode="thesis"), progress=False) for c in corrupted]
        assert thesis[0] < thesis[1] < thesis[2] <= thesis[3] + 1e-5, thesis


def test_sets_with_different_vocabularies_are_refused() -> None:
    from sgkit.data import Vocabulary

    va = Vocabulary(["man", "horse"], ["on"])
    vb = Vocabulary(["horse", "man"], ["on"])
    a = [from_triplets([0, 1], [(0, 0, 1)]) for _ in range(3)]
    b = [from_triplets([1, 0], [(0, 0, 1)]) for _ in range(3)]  # the same graphs in vb's ids
    for g in a:
        g.vocab = va
    for g in b:
        g.vocab = vb
    for kernel in (RandomWalkKernel(), ObjectSetKernel()):
        with pytest.raises(ValueError, match=r"different vocabularies: X uses Vocabulary\(objects=2.*'man', 'horse'.*Y uses .*'horse', 'man'.*object id 0 is 'man' in one and 'horse' in the other"):
            mmd(a, b, kernel)
        metric = MMD(b, kernel)
        metric.update(a)
        with pytest.raises(ValueError, match="different vocabularies"):
            metric.compute()
    # an extension (grown with on_unknown="add") keeps every shared id: accepted
    grown = Vocabulary(["man", "horse", "tree"], ["on", "near"])
    c = [from_triplets([0, 1], [(0, 0, 1)]) for _ in range(3)]
    for g in c:
        g.vocab = grown
    assert mmd(a, c, ObjectSetKernel(), "biased") == pytest.approx(0.0, abs=1e-12)
    mixed = a[:2] + b[:1]
    with pytest.raises(ValueError, match=r"X: graphs are encoded with different vocabularies: X\[0\] .* X\[2\]"):
        mmd(mixed, a, ObjectSetKernel())
    named_x, named_y = [from_triplets([0], []) for _ in range(2)], [from_triplets([0], []) for _ in range(2)]
    for g in named_x:
        g.vocab = "vg150"
    for g in named_y:
        g.vocab = "coco"
    with pytest.raises(ValueError, match="X uses vocabulary 'vg150' and Y uses vocabulary 'coco'"):
        mmd(named_x, named_y, ObjectSetKernel())


@pytest.mark.parametrize(
    "kernel",
    [RandomWalkKernel(mode="usggen"), RandomWalkKernel(normalize=False), ObjectSetKernel(), ObjectSetKernel(support="either")],
)
@pytest.mark.filterwarnings("ignore:ObjectSetKernel")
def test_linear_memory_sums_equal_gram_blocks(kernel) -> None:
    """The sorted-prefix-sum path (mmd_sums) equals region sums of the explicit Gram blocks."""
    graphs = X + Y
    fast = kernel.mmd_sums(graphs, len(X), chunk_size=6)
    gram = np.vstack([b for _, b in kernel.iter_gram_blocks(graphs, block_size=11)])
    n = len(X)
    expected = (gram[:n, :n].sum(), np.trace(gram[:n, :n]), gram[n:, n:].sum(), np.trace(gram[n:, n:]), gram[:n, n:].sum())
    np.testing.assert_allclose(fast, expected, rtol=1e-12, atol=1e-10)


def test_graphs_with_float_ids_are_refused_by_every_graph_metric() -> None:
    """Graphs that skipped validate(): float labels or edge indices are an error, never truncated."""
    import torch

    from sgkit.metrics import degree_mmd, object_occurrence

    bad = from_triplets([0, 1, 2], [(0, 0, 1), (1, 1, 2)])
    bad["object", "relation", "object"].edge_index = torch.tensor([[0.0, 1.7], [1.0, 2.0]])
    good = X[:3]
    with pytest.raises(ValueError, match=r"Y\[2\]: relation.edge_index has dtype torch.float32"):
        mmd(good, good[:2] + [bad], ObjectSetKernel())
    with pytest.raises(ValueError, match="relation.edge_index has dtype torch.float32"):
        degree_mmd(good, [bad, bad])
    bad2 = from_triplets([0, 1], [])
    bad2["object"].label = torch.tensor([0.0, 1.7])
    with pytest.raises(ValueError, match="object.label has dtype torch.float32"):
        object_occurrence([bad2], num_classes=3)


def test_two_files_loaded_with_separate_vocabularies_are_refused(tmp_path) -> None:
    """Identical scenes in two files, each loaded with its own vocabulary (ids swapped): refused."""
    import json

    from sgkit.data import load_sg2im_json
    from sgkit.kernels import ObjectSetKernel
    from sgkit.metrics import mmd as mmd_fn

    a = [{"objects": ["sky", "tree"], "relationships": [[0, "above", 1]]}] * 4
    b = [{"objects": ["tree", "sky"], "relationships": [[1, "above", 0]]}] * 4
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    ga, va = load_sg2im_json(tmp_path / "a.json")
    gb, _ = load_sg2im_json(tmp_path / "b.json")
    with pytest.raises(ValueError, match="X and Y are encoded with different vocabularies"):
        mmd_fn(ga, gb, ObjectSetKernel())
    gb_shared, _ = load_sg2im_json(tmp_path / "b.json", va)
    assert mmd_fn(ga, gb_shared, ObjectSetKernel()) == pytest.approx(0.0, abs=1e-12)

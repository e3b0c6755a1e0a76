"""RandomWalkKernel: exactness against independent slow implementations, GraKeL, estimator API."""
from __future__ import annotations

import itertools
import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sgkit.data import EDGE, NODE, from_triplets, to_grakel, to_xf
from sgkit.kernels import ObjectSetKernel, RandomWalkKernel, random_walk_pair


def _random_graphs(n_graphs: int, seed: int, *, max_nodes: int = 6, n_cat: int = 3, n_pred: int = 2) -> list:
    """Small random multigraphs: empty graphs, isolated nodes, repeated categories, cycles,
    self-loops and multi-edges (several predicates and repeated triplets on one ordered pair)."""
    rng = np.random.default_rng(seed)
    graphs = [from_triplets([], []), from_triplets([1], []), from_triplets([0, 0], [(0, 1, 1), (1, 1, 0)])]
    graphs.append(from_triplets([2, 2, 1], [(0, 0, 1), (0, 0, 1), (0, 1, 1), (1, 0, 2), (2, 0, 0), (2, 1, 2)]))
    while len(graphs) < n_graphs:
        n = int(rng.integers(0, max_nodes + 1))
        labels = rng.integers(0, n_cat, n).tolist()
        e = int(rng.integers(0, 2 * n + 1)) if n else 0
        trips = [(int(rng.integers(n)), int(rng.integers(n_pred)), int(rng.integers(n))) for _ in range(e)]
        graphs.append(from_triplets(labels, trips))
    return graphs


def _walks(g, p: int, edge_labels: bool = True) -> list[tuple[list[int], list[int]]]:
    """All directed walks of p nodes of a multigraph, as (node list, predicate list)."""
    labels = g[NODE].label.tolist()
    ei = g[EDGE].edge_index.t().tolist()
    preds = g[EDGE].label.tolist()
    edges = [(s, o, pr if edge_labels else 0) for (s, o), pr in zip(ei, preds)]
    walks = [([r], []) for r in range(len(labels))]
    for _ in range(p - 1):
        walks = [(nodes + [o], ps + [pr]) for nodes, ps in walks for (s, o, pr) in edges if s == nodes[-1]]
    return walks


def brute_force_thesis(a, b, p: int, *, node_norm: bool = True, edge_labels: bool = True) -> float:
    """Eq. 10.6-10.9 by explicit enumeration of all pairs of walks (independent of the package)."""
    la, lb = a[NODE].label.tolist(), b[NODE].label.tolist()
    ca, cb = Counter(la), Counter(lb)
    total = 0.0
    for (wa, pa), (wb, pb) in itertools.product(_walks(a, p, edge_labels), _walks(b, p, edge_labels)):
        if pa != pb or [la[r] for r in wa] != [lb[s] for s in wb]:
            continue
        term = 1.0
        for r, s in zip(wa, wb):
            term *= 1.0 / (ca[la[r]] * cb[lb[s]]) if node_norm else 1.0
        total += term
    return total


def literal_usggen(a, b, p: int) -> float:
    """The published evaluation rule, written as loops over node pairs on the (X, F) form."""
    xa, fa = (t.numpy() for t in to_xf(a, multi_edge="last"))
    xb, fb = (t.numpy() for t in to_xf(b, multi_edge="last"))
    na, nb = len(xa), len(xb)
    cnt_a, cnt_b = Counter(xa.tolist()), Counter(xb.tolist())
    k = np.zeros((p, na, nb))
    for t in range(p):
        for r in range(na):
            for s in range(nb):
                if xa[r] != xb[s]:
                    continue
                base = 1.0 / (cnt_a[xa[r]] * cnt_b[xb[s]])
                if t == 0:
                    k[t, r, s] = base
                    continue
                nr, ns = np.nonzero(fa[r])[0], np.nonzero(fb[s])[0]
                if len(nr) == 0 or len(ns) == 0:
                    sim = 0.5
                else:
                    sim = sum(k[t - 1, i, j] for i in nr for j in ns if fa[r, i] == fb[s, j])
                k[t, r, s] = base * sim
    return float(k[p - 1].sum())


def _normalise(s: np.ndarray) -> np.ndarray:
    d = np.diag(s)
    den = np.maximum(d[:, None], d[None, :])
    return np.where(den > 0, s / np.where(den > 0, den, 1.0), 0.0)


GRAPHS = _random_graphs(16, seed=0)


@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_thesis_mode_equals_walk_enumeration(p: int) -> None:
    fast = RandomWalkKernel(walk_length=p, mode="thesis", normalize=False).fit_transform(GRAPHS)
    slow = np.array([[brute_force_thesis(a, b, p) for b in GRAPHS] for a in GRAPHS])
    assert slow.max() > 0
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
    normed = RandomWalkKernel(walk_length=p, mode="thesis").fit_transform(GRAPHS)
    np.testing.assert_allclose(normed, _normalise(slow), rtol=0, atol=1e-9)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_usggen_mode_equals_published_rule(p: int) -> None:
    fast = RandomWalkKernel(walk_length=p, mode="usggen", normalize=False).fit_transform(GRAPHS)
    slow = np.array([[literal_usggen(a, b, p) for b in GRAPHS] for a in GRAPHS])
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
    # the 0.5 rule really matters: differs from the thesis formula on these graphs
    thesis = RandomWalkKernel(walk_length=p, mode="thesis", normalize=False).fit_transform(GRAPHS)
    assert p == 1 or np.abs(thesis - slow).max() > 0.1


@pytest.mark.parametrize("mode", ["thesis", "usggen"])
def test_pair_recursion_agrees(mode: str) -> None:
    fast = RandomWalkKernel(walk_length=3, mode=mode, normalize=False).fit_transform(GRAPHS)
    pair = np.array([[random_walk_pair(a, b, walk_length=3, mode=mode) for b in GRAPHS] for a in GRAPHS])
    np.testing.assert_allclose(fast, pair, rtol=0, atol=1e-9)


def test_hand_computed_value() -> None:
    # a: man -on-> horse, man -on-> horse (two men): walks of 2 nodes: (man,on,horse) x 2,
    # sigma(man) = 1/2, sigma(horse) = 1 -> feature 2 * 1/2 = 1; k(a, a) = 1
    a = from_triplets([0, 0, 1], [(0, 5, 2), (1, 5, 2)])
    b = from_triplets([0, 1], [(0, 5, 1), (0, 4, 1)])  # feature (man,on,horse) = 1
    k = RandomWalkKernel(walk_length=2, mode="thesis", normalize=False).fit([a]).transform([b])
    assert k[0, 0] == pytest.approx(1.0)
    # normalised: k(b, b) = 1 + 1 (the 'next to' walk) -> 1 / max(1, 2)
    assert RandomWalkKernel(walk_length=2, mode="thesis").fit([a]).transform([b])[0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_grakel_equivalence(p: int) -> None:
    """Unnormalised nodes, no edge labels: walks of p+1 nodes = GraKeL(p) - GraKeL(p-1)."""
    from grakel import Graph
    from grakel.kernels import RandomWalkLabeled

    graphs = [g for g in _random_graphs(10, seed=3) if g[NODE].label.numel() > 0]

    def as_grakel(g):
        n = g[NODE].label.numel()
        adj = np.zeros((n, n))
        for s, o in g[EDGE].edge_index.t().tolist():
            adj[s, o] += 1.0  # multi-edges as counts: directed count adjacency
        return Graph(adj, node_labels={i: int(c) for i, c in enumerate(g[NODE].label.tolist())})

    def grakel_gram(steps: int) -> np.ndarray:
        rw = RandomWalkLabeled(p=steps, lamda=1.0, method_type="baseline", normalize=False)
        return rw.fit_transform([as_grakel(g) for g in graphs])

    ours = RandomWalkKernel(
        walk_length=p + 1, mode="thesis", normalize=False, node_normalization=False, edge_labels=False
    ).fit_transform(graphs)
    if p == 1:  # GraKeL's p=0 term is the identity: |V_a| * |V_b|, labels not compared
        sizes = np.array([g[NODE].label.numel() for g in graphs], dtype=float)
        expected = grakel_gram(1) - np.outer(sizes, sizes)
    else:
        expected = grakel_gram(p) - grakel_gram(p - 1)
    assert expected.max() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", ["thesis", "usggen"])
def test_gram_symmetric_unit_diagonal_and_empty_graphs(mode: str) -> None:
    k = RandomWalkKernel(walk_length=3, mode=mode).fit_transform(GRAPHS)
    assert np.array_equal(k, k.T)
    assert not np.isnan(k).any()
    self_k = np.array([random_walk_pair(g, g, walk_length=3, mode=mode) for g in GRAPHS])
    np.testing.assert_array_equal(np.diag(k), np.where(self_k > 0, 1.0, 0.0))
    # the empty graph has max(k(a, a), k(b, b)) = 0 against itself: defined as 0
    assert k[0, 0] == 0.0
    if mode == "thesis":
        assert k.min() >= 0 and k.max() <= 1 + 1e-12


@pytest.mark.parametrize("mode", ["thesis", "usggen"])
def test_transform_aligns_with_joint_gram(mode: str) -> None:
    x, y = GRAPHS[:9], _random_graphs(12, seed=5, n_cat=5, n_pred=3)  # y has labels unseen in x
    joint = RandomWalkKernel(mode=mode).fit_transform(x + y)
    kern = RandomWalkKernel(mode=mode).fit(x)
    k = kern.transform(y)
    assert k.shape == (len(y), len(x))
    np.testing.assert_allclose(k, joint[len(x) :, : len(x)], rtol=0, atol=1e-12)


def test_blocks_and_threads_agree() -> None:
    graphs = _random_graphs(40, seed=7, max_nodes=8)
    full = RandomWalkKernel(mode="usggen").fit_transform(graphs)
    blocks = np.vstack([b for _, b in RandomWalkKernel(mode="usggen").iter_gram_blocks(graphs, block_size=7)])
    np.testing.assert_allclose(blocks, full, rtol=0, atol=1e-12)
    for rows, upper in RandomWalkKernel(mode="usggen").iter_gram_blocks(graphs, block_size=9, upper=True):
        np.testing.assert_allclose(upper, full[rows, rows.start :], rtol=0, atol=1e-12)
    threaded = RandomWalkKernel(mode="usggen", n_jobs=2).fit(graphs[:20]).transform(graphs)
    np.testing.assert_allclose(threaded, full[:, :20], rtol=0, atol=1e-12)


def test_grakel_graph_inputs() -> None:
    simple = [from_triplets([0, 1, 1, 2], [(0, 0, 1), (1, 1, 2), (2, 0, 0), (0, 1, 3)]), from_triplets([1, 2], [(0, 1, 1)])]
    ours = RandomWalkKernel(walk_length=2).fit_transform(simple)
    via_grakel = RandomWalkKernel(walk_length=2).fit_transform([to_grakel(g) for g in simple])
    np.testing.assert_allclose(via_grakel, ours, atol=1e-12)


def test_sklearn_estimator_protocol() -> None:
    kern = RandomWalkKernel(walk_length=2, mode="usggen", normalize=False, n_jobs=1)
    params = kern.get_params()
    assert params == {
        "walk_length": 2, "mode": "usggen", "normalize": False, "n_jobs": 1,
        "node_normalization": True, "edge_labels": True, "max_memory": 2.0**31,
    }
    cloned = clone(kern)
    assert cloned.get_params() == params and not hasattr(cloned, "X_features_")
    assert kern.fit(GRAPHS[:5]) is kern
    restored = pickle.loads(pickle.dumps(kern))
    np.testing.assert_array_equal(restored.transform(GRAPHS[5:]), kern.transform(GRAPHS[5:]))
    assert "RandomWalkKernel" in repr(kern)


def test_bad_parameters_and_inputs() -> None:
    with pytest.raises(ValueError, match="walk_length"):
        RandomWalkKernel(walk_length=0).fit(GRAPHS)
    with pytest.raises(ValueError, match="mode"):
        RandomWalkKernel(mode="fast").fit(GRAPHS)
    with pytest.raises(ValueError, match="n_jobs"):
        RandomWalkKernel(n_jobs=0).fit(GRAPHS)
    with pytest.raises(ValueError, match=r"graphs\[1\]"):
        RandomWalkKernel().fit([GRAPHS[0], "not a graph"])
    with pytest.raises(ValueError, match="mode"):
        random_walk_pair(GRAPHS[0], GRAPHS[1], mode="x")
    with pytest.raises(ValueError, match="empty"):
        RandomWalkKernel().fit([])
    bad = from_triplets([0, 1], [(0, 0, 1)])
    bad[EDGE].edge_index = bad[EDGE].edge_index + 5
    with pytest.raises(ValueError, match=r"graphs\[0\]: relation.edge_index"):
        RandomWalkKernel().fit([bad])


def test_default_mode_is_the_published_code() -> None:
    """One default everywhere: the published evaluation code's kernel (usggen, walks of 3 nodes)."""
    assert RandomWalkKernel().get_params()["mode"] == "usggen"
    np.testing.assert_array_equal(
        RandomWalkKernel().fit_transform(GRAPHS), RandomWalkKernel(mode="usggen", walk_length=3).fit_transform(GRAPHS)
    )
    assert random_walk_pair(GRAPHS[0], GRAPHS[1]) == random_walk_pair(GRAPHS[0], GRAPHS[1], mode="usggen")


@pytest.mark.parametrize("field", ["label", "edge_index", "predicate"])
def test_float_ids_are_refused_not_truncated(field: str) -> None:
    g = from_triplets([0, 1, 2], [(0, 1, 1), (1, 0, 2)])
    if field == "label":
        g[NODE].label = torch.tensor([0.0, 1.7, 2.0])
        name = "object.label"
    elif field == "edge_index":
        g[EDGE].edge_index = g[EDGE].edge_index.float()
        name = "relation.edge_index"
    else:
        g[EDGE].label = torch.tensor([1.0, 0.0])
        name = "relation.label"
    for kernel in (RandomWalkKernel(), ObjectSetKernel()):
        with pytest.raises(ValueError, match=rf"graphs\[1\]: {name} has dtype torch.float32.*integer"):
            kernel.fit([GRAPHS[0], g])
    g2 = from_triplets([0, 1], [])
    g2[NODE].label = torch.tensor([True, False])
    with pytest.raises(ValueError, match="object.label has dtype torch.bool"):
        RandomWalkKernel().fit([g2])


def _cyclic_graphs() -> list:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(5):
        trips = [(a, int(rng.integers(3)), b) for a in range(6) for b in range(6) if a != b and rng.random() < 0.4]
        out.append(from_triplets(rng.integers(0, 4, 6).tolist(), trips))
    return out


def test_memory_estimate_refuses_exponential_walks_before_allocating() -> None:
    import tracemalloc

    graphs = _cyclic_graphs()
    tracemalloc.start()
    with pytest.raises(MemoryError, match=r"walk_length=200: .* need at least [0-9.e+-]+ GiB") as info:
        RandomWalkKernel(walk_length=200, max_memory=2**24).fit(graphs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "max_memory=0.0156 GiB" in str(info.value) and "upper bound" in str(info.value)
    assert peak < 2**25  # stopped near the budget, far from the 1e76 GiB the walks would take
    with pytest.raises(ValueError, match="max_memory"):
        RandomWalkKernel(max_memory=-1).fit(graphs)


def test_memory_check_passes_when_walks_merge_into_few_states() -> None:
    """On a complete digraph with one category the walk count explodes but the DP states do not."""
    k4 = from_triplets([0] * 4, [(a, 0, b) for a in range(4) for b in range(4) if a != b])
    for mode in ("thesis", "usggen"):
        fast = RandomWalkKernel(walk_length=30, mode=mode, normalize=False, max_memory=2**20).fit_transform([k4])
        assert fast[0, 0] == pytest.approx(random_walk_pair(k4, k4, walk_length=30, mode=mode), rel=1e-12)
    short = RandomWalkKernel(walk_length=3, max_memory=1e6).fit_transform(GRAPHS)
    np.testing.assert_array_equal(short, RandomWalkKernel(walk_length=3, max_memory=None).fit_transform(GRAPHS))

import networkx as nx
import pytest
import torch

from sgkit.data import from_triplets
from sgkit.data.orderings import (
    bfs_ordering,
    get_ordering,
    hierarchical_ordering,
    identity_ordering,
    random_ordering,
)


def _path_graph(n: int):
    return from_triplets(list(range(n)), [(i, 0, i + 1) for i in range(n - 1)])


def _is_perm(p: torch.Tensor, n: int) -> bool:
    return p.dtype == torch.long and sorted(p.tolist()) == list(range(n))


@pytest.mark.parametrize("fn", [random_ordering, bfs_ordering, identity_ordering])
def test_orderings_are_permutations_and_seeded(fn):
    g = from_triplets([0, 1, 2, 0, 1, 2, 0], [(0, 0, 1), (2, 1, 1), (3, 0, 4), (5, 1, 6)])
    p = fn(g, seed=3)
    assert _is_perm(p, 7)
    assert torch.equal(p, fn(g, seed=3))
    gen_a, gen_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(fn(g, generator=gen_a), fn(g, generator=gen_b))


def test_orderings_empty_graph():
    g = from_triplets([], [])
    for fn in (random_ordering, bfs_ordering, identity_ordering):
        assert fn(g, seed=0).numel() == 0
    assert hierarchical_ordering(g, object_ranks=[0], seed=0).numel() == 0


def test_random_ordering_reaches_every_permutation():
    g = from_triplets([0, 1, 2], [])
    gen = torch.Generator().manual_seed(0)
    seen = {tuple(random_ordering(g, generator=gen).tolist()) for _ in range(300)}
    assert len(seen) == 6


def test_bfs_ordering_is_a_breadth_first_order():
    # two components: a tree 0-1, 0-2, 1-3, 2-4, 3-5 and an edge 6-7 (direction ignored)
    g = from_triplets([0] * 8, [(1, 0, 0), (0, 0, 2), (3, 1, 1), (2, 0, 4), (5, 0, 3), (6, 0, 7)])
    und = nx.Graph([(1, 0), (0, 2), (3, 1), (2, 4), (5, 3), (6, 7)])
    gen = torch.Generator().manual_seed(1)
    roots = set()
    for _ in range(50):
        order = bfs_ordering(g, generator=gen).tolist()
        assert sorted(order) == list(range(8))
        # split into connected components in visiting order; distances from each component's root
        # must be non-decreasing (the defining property of a BFS order)
        pos = 0
        while pos < 8:
            root = order[pos]
            comp = nx.node_connected_component(und, root)
            block = order[pos : pos + len(comp)]
            assert set(block) == comp
            dist = nx.single_source_shortest_path_length(und, root)
            d = [dist[v] for v in block]
            assert d == sorted(d)
            # each non-root node has a neighbour visited before it (its BFS parent)
            for k, v in enumerate(block[1:], start=1):
                assert any(u in block[:k] for u in und[v])
            pos += len(comp)
        roots.add(order[0])
    assert len(roots) > 3  # the root is random


def test_bfs_ordering_on_path_from_end_is_the_path():
    g = _path_graph(5)
    for s in range(20):
        order = bfs_ordering(g, seed=s).tolist()
        if order[0] == 0:
            assert order == [0, 1, 2, 3, 4]
        if order[0] == 2:
            assert order[1:3] in ([1, 3], [3, 1]) and sorted(order[3:]) == [0, 4]


def test_hierarchical_ordering_sorts_by_rank_randomly_within_rank():
    # categories 0 (rank 2), 1 (rank 0), 2 (rank 1)
    g = from_triplets([0, 1, 2, 1, 0, 2], [(0, 0, 1)])
    ranks = [2, 0, 1]
    gen = torch.Generator().manual_seed(0)
    firsts = set()
    for _ in range(40):
        p = hierarchical_ordering(g, object_ranks=ranks, generator=gen)
        assert _is_perm(p, 6)
        labels = g["object"].label[p].tolist()
        assert [ranks[c] for c in labels] == [0, 0, 1, 1, 2, 2]
        firsts.add(int(p[0]))
    assert firsts == {1, 3}


def test_hierarchical_ordering_errors():
    g = from_triplets([0, 5], [])
    with pytest.raises(ValueError, match="category id 5 has no entry in object_ranks"):
        hierarchical_ordering(g, object_ranks=[0, 1], seed=0)


def test_get_ordering():
    g = from_triplets([1, 0], [])
    assert get_ordering("random") is random_ordering
    fn = get_ordering("hierarchical", object_ranks=[0, 1])
    assert fn(g, seed=0).tolist() == [1, 0]
    with pytest.raises(ValueError, match="unknown ordering 'dfs'"):
        get_ordering("dfs")
    with pytest.raises(ValueError, match="'hierarchical' needs object_ranks"):
        get_ordering("hierarchical")
    with pytest.raises(ValueError, match="at most one"):
        random_ordering(g, seed=0, generator=torch.Generator())

"""Node orderings of a scene graph for autoregressive models (SceneGraphGen, GraphRNN).

Each ordering is a function ``HeteroData -> permutation``: it returns a long tensor ``perm`` of
length ``N`` such that ``perm[k]`` is the index (in ``data``) of the node placed at position ``k``
of the sequence. Every ordering takes a ``seed`` or a :class:`torch.Generator` (ties and roots
are broken at random), so the same seed always gives the same permutation.

- :func:`random_ordering`: a uniformly random permutation (the best ordering in the thesis,
  Table 10.1).
- :func:`bfs_ordering`: GraphRNN's breadth-first-search order (You et al., 2018,
  https://arxiv.org/abs/1802.08773) on the undirected skeleton: random root, neighbours visited
  in random order; when a connected component is exhausted the search restarts at a random
  unvisited node.
- :func:`hierarchical_ordering`: nodes sorted by the rank of their category (e.g. background 0
  -> objects 1 -> parts 2, from :attr:`sgkit.data.Vocabulary.object_ranks`), random within a rank.
  Visual Genome's VG150 vocabulary file has no ranks: :func:`vg150_object_ranks` reads the
  documented background / object / part table shipped with the package (``vg150_ranks.json``);
  :func:`get_ordering` warns when every rank is equal (the ordering would be random).
- :func:`identity_ordering`: the stored node order (used to score or complete a graph exactly as
  given).
"""
from __future__ import annotations

import json
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data.scene_graph import EDGE, NODE

__all__ = [
    "random_ordering",
    "bfs_ordering",
    "hierarchical_ordering",
    "identity_ordering",
    "get_ordering",
    "ORDERINGS",
    "VG150_RANKS_FILE",
    "vg150_object_ranks",
    "vg150_rank_table",
]

Ordering = Callable[..., Tensor]


def _generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    if generator is not None:
        if seed is not None:
            raise ValueError("seed and generator: pass at most one of them")
        return generator
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def _num_nodes(data: HeteroData) -> int:
    if not isinstance(data, HeteroData):
        raise ValueError(f"data: expected a torch_geometric HeteroData, got {type(data).__name__}")
    store = data[NODE]
    if "label" in store:
        return int(store.label.numel())
    return int(store.num_nodes or 0)


def identity_ordering(
    data: HeteroData, *, seed: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """The stored node order ``[0, 1, ..., N-1]`` (``seed``/``generator`` are accepted and unused).

    Args:
        data: the scene graph.
        seed: unused (interface compatibility).
        generator: unused (interface compatibility).

    Returns:
        Long tensor ``[N]``.
    """
    return torch.arange(_num_nodes(data), dtype=torch.long)


def random_ordering(
    data: HeteroData, *, seed: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """A uniformly random node permutation.

    Args:
        data: the scene graph.
        seed: seed of a fresh generator (default 0) when ``generator`` is not given.
        generator: a :class:`torch.Generator` to draw from (advanced in place).

    Returns:
        Long tensor ``[N]``; ``perm[k]`` is the node at sequence position ``k``.
    """
    g = _generator(seed, generator)
    return torch.randperm(_num_nodes(data), generator=g)


def bfs_ordering(
    data: HeteroData, *, seed: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """GraphRNN's breadth-first-search order on the undirected skeleton of the graph.

    The root is uniformly random; each visited node appends its unvisited, not yet queued
    neighbours in random order; when the queue empties before all nodes are visited, the search
    restarts from a uniformly random unvisited node (as in the published SceneGraphGen code).

    Args:
        data: the scene graph.
        seed: seed of a fresh generator (default 0) when ``generator`` is not given.
        generator: a :class:`torch.Generator` to draw from (advanced in place).

    Returns:
        Long tensor ``[N]``; ``perm[k]`` is the node at sequence position ``k``.
    """
    g = _generator(seed, generator)
    n = _num_nodes(data)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    if EDGE in data.edge_types and data[EDGE].edge_index.numel():
        for s, o in data[EDGE].edge_index.t().tolist():
            if s != o:
                neighbours[s].add(o)
                neighbours[o].add(s)
    order: list[int] = []
    seen = [False] * n
    while len(order) < n:
        remaining = [v for v in range(n) if not seen[v]]
        root = remaining[int(torch.randint(len(remaining), (1,), generator=g))]
        seen[root] = True
        queue = deque([root])
        while queue:
            v = queue.popleft()
            order.append(v)
            nb = sorted(u for u in neighbours[v] if not seen[u])
            for k in torch.randperm(len(nb), generator=g).tolist():
                seen[nb[k]] = True
                queue.append(nb[k])
    return torch.tensor(order, dtype=torch.long)


def hierarchical_ordering(
    data: HeteroData,
    *,
    object_ranks: Sequence[int],
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Nodes sorted by the hierarchy rank of their category, random order within a rank.

    Args:
        data: the scene graph.
        object_ranks: rank per object category (e.g. ``Vocabulary.object_ranks``; background 0 ->
            objects 1 -> parts 2); lower ranks come first.
        seed: seed of a fresh generator (default 0) when ``generator`` is not given.
        generator: a :class:`torch.Generator` to draw from (advanced in place).

    Returns:
        Long tensor ``[N]``; ``perm[k]`` is the node at sequence position ``k``.

    Raises:
        ValueError: if a category id has no rank.
    """
    g = _generator(seed, generator)
    n = _num_nodes(data)
    if n == 0:
        return torch.zeros(0, dtype=torch.long)
    ranks = torch.as_tensor(list(object_ranks), dtype=torch.long)
    label = data[NODE].label
    if int(label.max()) >= ranks.numel() or int(label.min()) < 0:
        bad = int(label.max()) if int(label.max()) >= ranks.numel() else int(label.min())
        raise ValueError(f"object.label: category id {bad} has no entry in object_ranks (length {ranks.numel()})")
    shuffle = torch.randperm(n, generator=g)
    node_rank = ranks[label[shuffle]]
    # stable sort of a random permutation by rank = random order within each rank
    order = torch.sort(node_rank, stable=True).indices
    return shuffle[order]


ORDERINGS: dict[str, Ordering] = {
    "random": random_ordering,
    "bfs": bfs_ordering,
    "hierarchical": hierarchical_ordering,
    "identity": identity_ordering,
}


VG150_RANKS_FILE = "vg150_ranks.json"
"""Package data: background (0) / object (1) / part (2) rank of the 150 VG150 classes."""


def vg150_rank_table() -> dict[str, Any]:
    """The documented VG150 rank table: ``{"description", "levels", "ranks": {name: rank}}``.

    Ranks: 0 background (scene regions and surfaces: beach, hill, mountain, room, sidewalk,
    snow, street, track, wave), 1 object (beings and free-standing things), 2 part (body parts,
    parts of objects, and clothing or accessories worn by a being), as in the hierarchical
    ordering of SceneGraphGen (background -> objects/beings -> parts).
    """
    from importlib import resources

    text = resources.files("sgkit.data").joinpath(VG150_RANKS_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def vg150_object_ranks(objects: Sequence[str] | None = None, *, default: int | None = None) -> list[int]:
    """Ranks of object category names from the VG150 rank table (:func:`vg150_rank_table`).

    Args:
        objects: category names (e.g. ``Vocabulary.objects``); default: the 150 VG150 classes
            in alphabetical (VG-SGG id) order.
        default: rank of a name missing from the table; ``None`` raises instead.

    Raises:
        KeyError: naming the first unknown category when ``default`` is ``None``.
    """
    table = vg150_rank_table()["ranks"]
    names = sorted(table) if objects is None else list(objects)
    out = []
    for name in names:
        if name not in table and default is None:
            raise KeyError(f"objects: category {name!r} has no rank in the VG150 rank table ({VG150_RANKS_FILE})")
        out.append(int(table.get(name, default)))
    return out


def get_ordering(ordering: str | Ordering, *, object_ranks: Sequence[int] | None = None) -> Ordering:
    """Resolve an ordering name (``"random"``, ``"bfs"``, ``"hierarchical"``, ``"identity"``) or callable.

    Args:
        ordering: a name from :data:`ORDERINGS` or a callable ``(data, *, generator) -> perm``.
        object_ranks: category ranks, required by ``"hierarchical"``.

    Returns:
        A callable ``(data, *, generator=None, seed=None) -> perm``.

    Raises:
        ValueError: for an unknown name or a hierarchical ordering without ranks.
    """
    if callable(ordering):
        return ordering
    if ordering not in ORDERINGS:
        raise ValueError(f"ordering: unknown ordering {ordering!r}; expected one of {sorted(ORDERINGS)} or a callable")
    if ordering == "hierarchical":
        if object_ranks is None:
            raise ValueError("ordering: 'hierarchical' needs object_ranks (e.g. from Vocabulary.object_ranks)")
        ranks = list(object_ranks)
        if len(set(ranks)) <= 1:
            warnings.warn(
                f"ordering: 'hierarchical' got {len(ranks)} object ranks that are all equal "
                f"({ranks[0] if ranks else 'none'}), so it is a random ordering; give the vocabulary ranks "
                "(e.g. Vocabulary(..., object_ranks=vg150_object_ranks(names)) for Visual Genome)",
                UserWarning,
                stacklevel=2,
            )

        def _hier(data: HeteroData, *, seed: int | None = None, generator: torch.Generator | None = None) -> Tensor:
            return hierarchical_ordering(data, object_ranks=ranks, seed=seed, generator=generator)

        return _hier
    return ORDERINGS[ordering]

"""Converters between the scene-graph :class:`HeteroData` and other graph libraries' types.

* networkx :class:`~networkx.MultiDiGraph` (lossless: multi-edges and repeated triplets kept);
* GraKeL :class:`grakel.Graph` (one predicate per ordered pair, see ``multi_edge``);
* DGL heterograph (optional extra ``dgl``);
* the ``(X, F)`` matrix form of the published SceneGraphGen code: ``X`` the category of every
  node, ``F`` an ``N x N`` matrix with ``F[s, o] = predicate + 1`` and 0 meaning "no edge".
"""
from __future__ import annotations

import os
import re
from typing import Any

import networkx as nx
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from ._checks import as_index_tensor
from .scene_graph import (
    EDGE,
    NODE,
    SceneGraph,
    from_triplets,
    num_relations,
    to_triplets,
    validate,
)
from .vocab import Vocabulary

__all__ = [
    "to_networkx",
    "from_networkx",
    "to_grakel",
    "from_grakel",
    "to_dgl",
    "from_dgl",
    "to_xf",
    "from_xf",
    "reduce_multi_edges",
]

_MULTI_EDGE = ("error", "first", "last")
_NODE_TENSORS = ("mask", "feature", "attribute")  # per-node tensors carried by to_networkx


def to_networkx(data: HeteroData, *, vocab: Vocabulary | None = None) -> nx.MultiDiGraph:
    """Scene graph -> networkx ``MultiDiGraph`` with ``label`` on nodes and edges.

    ``label`` holds ids, or names when ``vocab`` is given. Boxes, when present, are stored as the
    node attribute ``box`` (a list of 4 floats); masks, features and attributes as the node
    attributes ``mask``, ``feature`` and ``attribute`` (one tensor row per node); the image as the
    graph attribute ``image``. :func:`from_networkx` (with the same ``vocab``) restores all of them.
    """
    labels, trips = to_triplets(data, vocab=vocab)
    g = nx.MultiDiGraph()
    store = data[NODE]
    boxes = store.box.tolist() if "box" in store else None
    rows = {key: store[key] for key in _NODE_TENSORS if key in store}
    for i, c in enumerate(labels):
        attrs: dict = {"label": c}
        if boxes is not None:
            attrs["box"] = boxes[i]
        attrs.update({key: value[i] for key, value in rows.items()})
        g.add_node(i, **attrs)
    for k, (s, p, o) in enumerate(trips):
        g.add_edge(s, o, label=p, eid=k)
    if "image" in data:
        g.graph["image"] = data.image
    return g


def _networkx_error(exc: ValueError, nodes: list[Any], edges: list[Any]) -> ValueError:
    """``exc`` with ``labels[i]`` / ``triplets[k]`` replaced by the networkx node / edge they come from."""
    msg = str(exc)
    m = re.match(r"(labels|triplets)\[(\d+)\](\[\d+\])?: (.*)", msg, re.DOTALL)
    if m is None:
        return ValueError(f"networkx graph: {msg}")
    k = int(m.group(2))
    if m.group(1) == "labels":
        return ValueError(f"node {nodes[k]!r}: label: {m.group(4)}")
    s, o = edges[k][0], edges[k][1]
    return ValueError(f"edge ({s!r}, {o!r}): label: {m.group(4)}")


def from_networkx(g: nx.Graph, *, vocab: Vocabulary | None = None, on_unknown: str = "error") -> SceneGraph:
    """networkx graph (any kind) with ``label`` attributes on nodes and edges -> scene graph.

    Labels are integer ids, or names when ``vocab`` is given (all names or all ids among the
    nodes, and among the edges; see :func:`~sgkit.data.from_triplets`). Node attributes ``box``,
    ``mask``, ``feature`` and ``attribute`` and the graph attribute ``image`` are restored when
    every node carries them (as :func:`to_networkx` writes them).

    Nodes are renumbered ``0..N-1`` in ``g.nodes`` order. Edges are ordered by their ``eid``
    attribute when every edge has one (as :func:`to_networkx` writes), else in ``g.edges`` order.

    Raises:
        ValueError: naming the node or edge with a missing or bad label.
        KeyError: for a name missing from ``vocab`` with ``on_unknown="error"``.
    """
    if not isinstance(g, nx.Graph):
        raise ValueError(f"g: expected a networkx graph, got {type(g).__name__}")
    order = {n: i for i, n in enumerate(g.nodes)}
    labels = []
    for n, attrs in g.nodes(data=True):
        if "label" not in attrs:
            raise ValueError(f"node {n!r}: missing 'label' attribute")
        labels.append(attrs["label"])
    edges = list(g.edges(data=True))
    if edges and all("eid" in a for _, _, a in edges):
        edges.sort(key=lambda e: e[2]["eid"])
    trips = []
    for s, o, attrs in edges:
        if "label" not in attrs:
            raise ValueError(f"edge ({s!r}, {o!r}): missing 'label' attribute")
        trips.append((order[s], attrs["label"], order[o]))
    nodes = [a for _, a in g.nodes(data=True)]

    def stacked(key: str):
        if not nodes or not all(key in a for a in nodes):
            return None
        return torch.stack([torch.as_tensor(a[key]) for a in nodes])

    boxes = [a["box"] for a in nodes] if nodes and all("box" in a for a in nodes) else None
    try:
        data = from_triplets(
            labels, trips, vocab=vocab, on_unknown=on_unknown, boxes=boxes, masks=stacked("mask"),
            features=stacked("feature"), image=g.graph.get("image"),
        )
    except KeyError as exc:
        raise type(exc)(f"networkx graph: {exc}") from None
    except ValueError as exc:
        raise _networkx_error(exc, list(g.nodes), edges) from exc
    attribute = stacked("attribute")
    if attribute is not None:
        data[NODE].attribute = as_index_tensor(attribute, "attribute")
        validate(data, vocab=vocab)
    return data


def reduce_multi_edges(data: HeteroData, multi_edge: str = "error") -> dict[tuple[int, int], int]:
    """One predicate per ordered pair: ``{(subject, object): predicate}``.

    Args:
        data: the scene graph.
        multi_edge: what to do when an ordered pair carries several edges: ``"error"`` raises,
            ``"first"`` keeps the first edge in edge order, ``"last"`` the last one (what the
            published SceneGraphGen preprocessing does when it writes its ``N x N`` matrix).
    """
    if multi_edge not in _MULTI_EDGE:
        raise ValueError(f"multi_edge: expected one of {_MULTI_EDGE}, got {multi_edge!r}")
    out: dict[tuple[int, int], int] = {}
    for s, p, o in to_triplets(data)[1]:
        key = (s, o)
        if key in out:
            if multi_edge == "error":
                raise ValueError(
                    f"relation: ordered pair {key} has several predicates ({out[key]} and {p}); "
                    "pass multi_edge='first' or 'last' to reduce them"
                )
            if multi_edge == "first":
                continue
        out[key] = p
    return out


def to_xf(data: HeteroData, multi_edge: str = "error") -> tuple[Tensor, Tensor]:
    """Scene graph -> ``(X, F)``: categories ``[N]`` and predicate matrix ``[N, N]``.

    ``F[s, o] = p + 1`` for the edge ``s -p-> o`` and 0 for no edge (the published code's
    convention). See :func:`reduce_multi_edges` for ``multi_edge``.
    """
    x = data[NODE].label.clone()
    n = x.numel()
    f = torch.zeros(n, n, dtype=torch.long)
    for (s, o), p in reduce_multi_edges(data, multi_edge).items():
        f[s, o] = p + 1
    return x, f


def from_xf(x: Tensor, f: Tensor) -> SceneGraph:
    """Inverse of :func:`to_xf`; edges come out in row-major ``(s, o)`` order."""
    x = as_index_tensor(x, "X")
    if x.dim() != 1:
        raise ValueError(f"X: expected shape [N], got {list(x.shape)}")
    f = as_index_tensor(f, "F")
    n = x.numel()
    if f.shape != (n, n):
        raise ValueError(f"F: expected shape [{n}, {n}] for {n} nodes, got {list(f.shape)}")
    if n and int(f.min()) < 0:
        i, j = (int(v) for v in (f < 0).nonzero()[0])
        raise ValueError(f"F[{i}, {j}]: expected 0 (no edge) or predicate + 1, got {int(f[i, j])}")
    s, o = f.nonzero(as_tuple=True)
    trips = torch.stack([s, f[s, o] - 1, o], dim=1) if s.numel() else torch.zeros(0, 3, dtype=torch.long)
    return from_triplets(x, trips)


def to_grakel(data: HeteroData, multi_edge: str = "last") -> Any:
    """Scene graph -> :class:`grakel.Graph` with ``node_labels`` and ``edge_labels``.

    GraKeL graphs hold one edge per ordered pair, so multi-edges are reduced by ``multi_edge``
    (see :func:`reduce_multi_edges`). Isolated nodes are kept.
    """
    from grakel import Graph

    labels = data[NODE].label.tolist()
    edges = reduce_multi_edges(data, multi_edge)
    adj: dict[int, dict[int, float]] = {i: {} for i in range(len(labels))}
    for s, o in edges:
        adj[s][o] = 1.0
    return Graph(
        adj,
        node_labels={i: c for i, c in enumerate(labels)},
        edge_labels={k: v for k, v in edges.items()},
        graph_format="dictionary",
    )


def from_grakel(g: Any) -> SceneGraph:
    """:class:`grakel.Graph` with integer node (and optionally edge) labels -> scene graph.

    Edges without an edge label get predicate 0.
    """
    try:
        node_labels = g.get_labels(purpose="dictionary", label_type="vertex")
    except ValueError:
        if len(g.get_vertices(purpose="dictionary")):
            raise ValueError("grakel graph: vertices have no labels (scene graphs need categories)") from None
        node_labels = {}
    try:
        edge_labels = g.get_labels(purpose="dictionary", label_type="edge")
    except (ValueError, AttributeError):
        edge_labels = {}
    nodes = sorted(node_labels)
    order = {n: i for i, n in enumerate(nodes)}
    trips = []
    for (s, o), _weight in sorted(g.get_edges(purpose="dictionary")):
        trips.append((order[s], edge_labels.get((s, o), 0), order[o]))
    return from_triplets([node_labels[n] for n in nodes], trips)


def to_dgl(data: HeteroData) -> Any:
    """Scene graph -> DGL heterograph (node type ``object``, edge type ``relation``).

    Requires the ``dgl`` extra. ``label`` (and ``box`` if present) are stored in ``ndata`` /
    ``edata``.
    """
    from sgkit._imports import require

    require("WITH_DGL", "DGL conversion")
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl

    n = int(data[NODE].label.numel())
    ei = data[EDGE].edge_index if num_relations(data) else torch.zeros(2, 0, dtype=torch.long)
    g = dgl.heterograph({EDGE: (ei[0], ei[1])}, num_nodes_dict={NODE: n})
    g.nodes[NODE].data["label"] = data[NODE].label.clone()
    if "box" in data[NODE]:
        g.nodes[NODE].data["box"] = data[NODE].box.clone()
    lab = data[EDGE].label if num_relations(data) else torch.zeros(0, dtype=torch.long)
    g.edges[EDGE].data["label"] = lab.clone()
    return g


def from_dgl(g: Any) -> SceneGraph:
    """Inverse of :func:`to_dgl`."""
    from sgkit._imports import require

    require("WITH_DGL", "DGL conversion")
    s, o = g.edges(etype=EDGE, order="eid")
    labels = g.nodes[NODE].data["label"]
    preds = g.edges[EDGE].data["label"]
    trips = torch.stack([s.long(), as_index_tensor(preds, "relation.label"), o.long()], dim=1) if s.numel() else []
    boxes = g.nodes[NODE].data["box"] if "box" in g.nodes[NODE].data else None
    return from_triplets(labels, trips, boxes=boxes)

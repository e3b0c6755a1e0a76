"""Scene graphs -> flat integer arrays for the kernels, with the id checks (no truncation).

Graphs are :class:`~torch_geometric.data.HeteroData` scene graphs (see :mod:`sgkit.data`);
:class:`grakel.Graph` objects with integer labels are accepted too (converted by
:func:`sgkit.data.from_grakel`). Labels, edge indices and predicates must be integer tensors:
float, bool or complex ids are refused with an error naming the graph and the field, never
truncated (a dtype check per graph, no copy).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data import EDGE, NODE

__all__ = ["GraphArrays", "check_graphs", "graph_arrays", "stack_graphs"]


class GraphArrays:
    """All graphs of a list as flat int64 numpy arrays (global node ids), cheap to vectorise over.

    Attributes:
        num_graphs: number of graphs.
        labels: ``[N_total]`` node categories.
        node_graph: ``[N_total]`` graph index of every node.
        node_ptr: ``[num_graphs + 1]`` offsets of every graph's nodes.
        src, dst: ``[E_total]`` global subject and object node ids (edge order kept, graph by graph).
        pred: ``[E_total]`` predicate ids.
    """

    __slots__ = ("num_graphs", "labels", "node_graph", "node_ptr", "src", "dst", "pred")

    def __init__(
        self,
        labels: np.ndarray,
        node_ptr: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        pred: np.ndarray,
    ) -> None:
        self.labels = labels
        self.node_ptr = node_ptr
        self.num_graphs = int(node_ptr.size - 1)
        self.node_graph = np.repeat(np.arange(self.num_graphs, dtype=np.int64), np.diff(node_ptr))
        self.src = src
        self.dst = dst
        self.pred = pred

    @property
    def num_nodes(self) -> int:
        """Total number of nodes."""
        return int(self.labels.size)


def _as_heterodata(graph: Any, index: int, name: str = "graphs") -> HeteroData:
    if isinstance(graph, HeteroData):
        return graph
    if type(graph).__name__ == "Graph" and type(graph).__module__.startswith("grakel"):
        from sgkit.data import from_grakel

        return from_grakel(graph)
    raise ValueError(
        f"{name}[{index}]: expected a torch_geometric HeteroData scene graph or a grakel.Graph, "
        f"got {type(graph).__name__}"
    )


_EMPTY_LONG = torch.zeros(0, dtype=torch.long)
_EMPTY_EI = torch.zeros(2, 0, dtype=torch.long)


_INT_DTYPES = frozenset({torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8})


def _integer(t: Any, index: int, field: str, name: str = "graphs") -> Tensor:
    """``t`` if it is an integer tensor; float, bool or complex ids are refused, never truncated."""
    dtype = getattr(t, "dtype", None)
    if dtype in _INT_DTYPES and isinstance(t, Tensor):
        return t
    if not isinstance(t, Tensor):
        raise ValueError(f"{name}[{index}]: {field} must be a torch tensor of integer ids, got {type(t).__name__}")
    raise ValueError(
        f"{name}[{index}]: {field} has dtype {dtype}; the kernels need integer ids (torch.long) and do "
        "not truncate other values: convert the graph with sgkit.data.from_triplets or check it with "
        "sgkit.data.validate"
    )


def _tensors(graph: Any, index: int, name: str = "graphs") -> tuple[Tensor, Tensor, Tensor]:
    """``(labels [N], edge_index [2, E], predicates [E])`` long tensors of one graph."""
    graph = _as_heterodata(graph, index, name)
    store = graph[NODE]
    if "label" not in store:
        raise ValueError(f"{name}[{index}]: object.label is missing")
    labels = _integer(store["label"], index, "object.label", name).reshape(-1)
    if EDGE in graph.edge_types:
        rel = graph[EDGE]
        if "edge_index" in rel:
            ei = _integer(rel["edge_index"], index, "relation.edge_index", name)
            if ei.dim() != 2 or ei.size(0) != 2:
                raise ValueError(f"{name}[{index}]: relation.edge_index must have shape [2, E], got {list(ei.shape)}")
            if "label" in rel:
                pred = _integer(rel["label"], index, "relation.label", name).reshape(-1)
            else:
                pred = torch.zeros(ei.size(1), dtype=torch.long)
            if pred.numel() != ei.size(1):
                raise ValueError(
                    f"{name}[{index}]: relation.label has {pred.numel()} entries for {ei.size(1)} edges"
                )
            return labels, ei, pred
    return labels, _EMPTY_EI, _EMPTY_LONG


def check_graphs(graphs: Sequence[Any], name: str = "graphs") -> None:
    """Check the types and id dtypes of a graph list, naming the list (e.g. ``"X"``) in errors.

    Cheap (no copies): every graph must be a scene graph with integer ``object.label``,
    ``relation.edge_index`` and ``relation.label`` tensors.

    Raises:
        ValueError: as ``"{name}[{i}]: {field} ..."``.
    """
    if isinstance(graphs, (HeteroData, str, bytes)) or not isinstance(graphs, Sequence):
        raise ValueError(f"{name}: expected a sequence (list) of scene graphs, got {type(graphs).__name__}")
    for i, g in enumerate(graphs):
        _tensors(g, i, name)


def graph_arrays(graph: Any, index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One scene graph as ``(labels [N], src [E], dst [E], pred [E])`` int64 numpy arrays.

    Args:
        graph: a :class:`HeteroData` scene graph or a :class:`grakel.Graph` with integer labels.
        index: position of the graph in its list (for error messages).

    Raises:
        ValueError: if the graph is of an unsupported type or lacks ``object.label``.
    """
    ga = stack_graphs([graph])
    return ga.labels, ga.src, ga.dst, ga.pred


def stack_graphs(graphs: Sequence[Any]) -> GraphArrays:
    """Concatenate a list of graphs into one :class:`GraphArrays` (nodes renumbered globally).

    Raises:
        ValueError: for an unsupported element, a negative label or an out-of-range edge (the
            message names the graph index).
    """
    if isinstance(graphs, (HeteroData, str, bytes)) or not isinstance(graphs, Sequence):
        raise ValueError(f"graphs: expected a sequence (list) of scene graphs, got {type(graphs).__name__}")
    labels, eis, preds = [], [], []
    for i, g in enumerate(graphs):
        lab, ei, pred = _tensors(g, i)
        labels.append(lab)
        eis.append(ei)
        preds.append(pred)
    n_graphs = len(graphs)
    sizes = np.fromiter((t.numel() for t in labels), dtype=np.int64, count=n_graphs)
    n_edges = np.fromiter((t.size(1) for t in eis), dtype=np.int64, count=n_graphs)
    node_ptr = np.zeros(n_graphs + 1, dtype=np.int64)
    np.cumsum(sizes, out=node_ptr[1:])
    lab = torch.cat(labels).numpy().astype(np.int64, copy=False) if n_graphs else np.zeros(0, np.int64)
    if n_graphs and n_edges.sum():
        ei = torch.cat(eis, dim=1).numpy().astype(np.int64, copy=False)
        pred = torch.cat(preds).numpy().astype(np.int64, copy=False)
    else:
        ei, pred = np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
    if lab.size and lab.min() < 0:
        bad = int(np.searchsorted(node_ptr, int(np.argmax(lab < 0)), side="right") - 1)
        raise ValueError(f"graphs[{bad}]: object.label has a negative category id")
    if pred.size:
        edge_graph = np.repeat(np.arange(n_graphs, dtype=np.int64), n_edges)
        limit = sizes[edge_graph]
        bad_e = (ei < 0).any(axis=0) | (ei >= limit).any(axis=0)
        if bad_e.any():
            bad = int(edge_graph[int(np.argmax(bad_e))])
            raise ValueError(
                f"graphs[{bad}]: relation.edge_index refers to a node outside 0..{int(sizes[bad]) - 1}"
            )
        if pred.min() < 0:
            bad = int(edge_graph[int(np.argmax(pred < 0))])
            raise ValueError(f"graphs[{bad}]: relation.label has a negative predicate id")
        offset = node_ptr[:-1][edge_graph]
        src, dst = ei[0] + offset, ei[1] + offset
    else:
        src = dst = np.zeros(0, dtype=np.int64)
    return GraphArrays(lab, node_ptr, src, dst, pred)

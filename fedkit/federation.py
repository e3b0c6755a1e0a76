"""The federation as a graph: clients are nodes, distances between their updates are edges.

:func:`federation_graph` builds a PyG :class:`~torch_geometric.data.Data` from the client updates
``theta_i - theta_global`` (nodes carry a seeded random-projection sketch of their update, edges
the Euclidean distance between full updates, ``y`` the cluster labels); :func:`plot_federation`
draws it with networkx. :func:`graph_clusters` is a graph-based alternative to the Ward
clustering of :func:`fedkit.strategies.cluster_clients`: connected components after removing the
edges longer than a threshold (single linkage).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from fedkit.strategies.clustered import cluster_clients

__all__ = ["federation_graph", "graph_clusters", "plot_federation"]


def federation_graph(
    updates: Tensor,
    *,
    cluster_labels: np.ndarray | Tensor | None = None,
    distance_threshold: float | None = None,
    num_samples: np.ndarray | Tensor | None = None,
    sketch_dim: int = 32,
    max_edge_distance: float | None = None,
    seed: int = 0,
) -> Data:
    """Build the client graph of a federation.

    Args:
        updates: client updates ``[M, P]`` (finite).
        cluster_labels: cluster of every client; if None and ``distance_threshold`` is given,
            computed with :func:`~fedkit.strategies.cluster_clients` (Ward); else all zero.
        distance_threshold: threshold of the Ward clustering (used when labels are missing).
        num_samples: training-set size of every client (stored as ``num_samples``).
        sketch_dim: size of the node features: the updates projected with a seeded Gaussian
            matrix scaled by ``1/sqrt(sketch_dim)`` (distances are preserved in expectation).
        max_edge_distance: keep only edges not longer than this (default: complete graph).
        seed: seed of the projection.

    Returns:
        ``Data(x [M, sketch_dim], edge_index [2, E], edge_attr [E, 1] distance,
        edge_weight [E] = 1 / (1 + distance), y [M] cluster labels, num_samples [M])``;
        ``edge_index`` is symmetric without self-loops.

    Raises:
        ValueError: for a bad shape, non-finite updates or mismatching label lengths.
    """
    if not torch.is_tensor(updates) or updates.dim() != 2 or updates.shape[0] < 1:
        raise ValueError(f"updates must be a [M, P] tensor, got {getattr(updates, 'shape', type(updates))}")
    if not torch.isfinite(updates).all():
        raise ValueError("updates contain non-finite values")
    if sketch_dim < 1:
        raise ValueError(f"sketch_dim must be positive, got {sketch_dim}")
    m, p = updates.shape
    u = updates.detach().double()
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(p, sketch_dim, generator=g, dtype=torch.float64) / math.sqrt(sketch_dim)
    x = (u @ proj).float()
    dist = torch.cdist(u, u)
    row, col = torch.triu_indices(m, m, offset=1)
    keep = torch.ones(row.numel(), dtype=torch.bool)
    if max_edge_distance is not None:
        keep = dist[row, col] <= max_edge_distance
    row, col = row[keep], col[keep]
    edge_index = torch.cat([torch.stack([row, col]), torch.stack([col, row])], dim=1)
    d = dist[edge_index[0], edge_index[1]].float()
    if cluster_labels is None:
        labels = cluster_clients(u, distance_threshold) if distance_threshold is not None else np.zeros(m, dtype=np.int64)
    else:
        labels = np.asarray(cluster_labels.cpu() if torch.is_tensor(cluster_labels) else cluster_labels, dtype=np.int64)
    if labels.shape != (m,):
        raise ValueError(f"cluster_labels must have shape ({m},), got {labels.shape}")
    data = Data(
        x=x,
        edge_index=edge_index,
        edge_attr=d.unsqueeze(1),
        edge_weight=1.0 / (1.0 + d),
        y=torch.as_tensor(labels, dtype=torch.long),
        num_nodes=m,
    )
    if num_samples is not None:
        ns = torch.as_tensor(np.asarray(num_samples.cpu() if torch.is_tensor(num_samples) else num_samples))
        if ns.shape != (m,):
            raise ValueError(f"num_samples must have shape ({m},), got {tuple(ns.shape)}")
        data.num_samples = ns.long()
    return data


def graph_clusters(graph: Data, max_distance: float) -> np.ndarray:
    """Connected components of the graph restricted to edges with distance ``<= max_distance``.

    Equivalent to single-linkage clustering cut at ``max_distance``.

    Args:
        graph: a graph from :func:`federation_graph` (``edge_attr`` holds distances).
        max_distance: longest edge kept.

    Returns:
        0-based component label per node ``[M]``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not max_distance >= 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance!r}")
    keep = graph.edge_attr.view(-1) <= max_distance
    ei = graph.edge_index[:, keep].cpu().numpy()
    n = int(graph.num_nodes)
    adj = coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    return labels.astype(np.int64)


def plot_federation(graph: Data, path: str | Path | None = None, *, title: str | None = None, seed: int = 0, ax: Any = None) -> Any:
    """Draw the client graph: nodes coloured by cluster, closer updates drawn closer.

    The layout is networkx's Kamada-Kawai layout on the update distances (clients with similar
    updates are drawn close); only the edges inside a cluster are drawn, faintly.

    Args:
        graph: a graph from :func:`federation_graph`.
        path: if given, the figure is saved there.
        title: axis title.
        seed: layout seed.
        ax: existing matplotlib axis.

    Returns:
        The matplotlib figure.
    """
    import networkx as nx
    from matplotlib.figure import Figure

    n = int(graph.num_nodes)
    labels = graph.y.cpu().numpy() if graph.y is not None else np.zeros(n, dtype=np.int64)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    ei = graph.edge_index.cpu().numpy()
    dist = graph.edge_attr.view(-1).cpu().numpy()
    for (i, j), d in zip(ei.T.tolist(), dist.tolist()):
        if i < j:
            g.add_edge(i, j, distance=float(d))
    # Kamada-Kawai on the update distances (an MDS-like picture of the federation)
    if g.number_of_edges() and nx.is_connected(g):
        pos = nx.kamada_kawai_layout(g, weight="distance")
    else:  # thresholded graph with several components
        pos = nx.spring_layout(g, seed=seed)
    if ax is None:
        fig = Figure(figsize=(5, 5))  # no pyplot: the user's backend is left alone
        ax = fig.subplots()
    else:
        fig = ax.figure
    same = [(i, j) for i, j in g.edges if labels[i] == labels[j]]
    nx.draw_networkx_edges(g, pos, edgelist=same, ax=ax, alpha=0.15)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=labels, cmap="tab10", node_size=60)
    ax.set_title(title or f"{graph.num_nodes} clients, {len(np.unique(labels))} clusters")
    ax.set_axis_off()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

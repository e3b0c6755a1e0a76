"""Data-set level statistics of scene graphs (thesis Fig. 10.10 / 10.11), with plots.

* :func:`object_occurrence`: probability of each object category over all nodes of a data set;
* :func:`relationship_occurrence`: probability of each predicate over all edges;
* :func:`cooccurrence`: for two distinct categories, the share of graphs containing both
  (``normalize="graphs"``) or the pair counts normalised to sum 1 (``normalize="sum"``);
* :func:`instance_count_distribution` / :func:`instance_count_kl`: per category, the
  distribution of its number of instances (1, 2, ...) over the graphs that contain it, and the
  KL divergence ``KL(generated || reference)`` of these distributions (additive smoothing
  ``eps``; NaN for a category absent from either set).

Each statistic has a ``plot_*`` function returning a matplotlib figure (saved when ``path`` is
given); matplotlib is imported lazily with the non-interactive Agg backend.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from sgkit.kernels.base import stack_graphs

__all__ = [
    "object_occurrence",
    "relationship_occurrence",
    "cooccurrence",
    "instance_count_distribution",
    "instance_count_kl",
    "plot_object_occurrence",
    "plot_relationship_occurrence",
    "plot_cooccurrence",
    "plot_instance_count_kl",
]


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def _check_range(name: str, values: np.ndarray, size: int, size_name: str) -> None:
    if values.size and int(values.max()) >= size:
        raise ValueError(f"{name}: id {int(values.max())} out of range ({size_name}={size})")


def object_occurrence(graphs: Sequence[Any], num_classes: int) -> np.ndarray:
    """``[num_classes]`` probability of each category among all nodes (zeros if no node)."""
    _check_size("num_classes", num_classes)
    ga = stack_graphs(graphs)
    _check_range("object.label", ga.labels, num_classes, "num_classes")
    counts = np.bincount(ga.labels, minlength=num_classes).astype(np.float64)
    return counts / counts.sum() if counts.sum() > 0 else counts


def relationship_occurrence(graphs: Sequence[Any], num_predicates: int) -> np.ndarray:
    """``[num_predicates]`` probability of each predicate among all edges (zeros if no edge)."""
    _check_size("num_predicates", num_predicates)
    ga = stack_graphs(graphs)
    _check_range("relation.label", ga.pred, num_predicates, "num_predicates")
    counts = np.bincount(ga.pred, minlength=num_predicates).astype(np.float64)
    return counts / counts.sum() if counts.sum() > 0 else counts


def _presence(graphs: Sequence[Any], num_classes: int) -> sp.csr_matrix:
    ga = stack_graphs(graphs)
    _check_range("object.label", ga.labels, num_classes, "num_classes")
    m = sp.csr_matrix(
        (np.ones(ga.labels.size), (ga.node_graph, ga.labels)), shape=(ga.num_graphs, num_classes)
    )
    m.sum_duplicates()
    return m


def cooccurrence(graphs: Sequence[Any], num_classes: int, *, normalize: str = "graphs") -> np.ndarray:
    """``[num_classes, num_classes]`` symmetric co-occurrence of distinct categories (zero diagonal).

    Args:
        graphs: scene graphs.
        num_classes: number of categories.
        normalize: ``"graphs"``: share of graphs that contain both categories; ``"sum"``: pair
            counts divided by their total.
    """
    _check_size("num_classes", num_classes)
    if normalize not in ("graphs", "sum"):
        raise ValueError(f"normalize: expected 'graphs' or 'sum', got {normalize!r}")
    pres = _presence(graphs, num_classes)
    pres.data = np.ones_like(pres.data)
    co = (pres.T @ pres).toarray()
    np.fill_diagonal(co, 0.0)
    denom = float(pres.shape[0]) if normalize == "graphs" else float(co.sum())
    return co / denom if denom > 0 else co


def instance_count_distribution(graphs: Sequence[Any], num_classes: int, max_count: int) -> np.ndarray:
    """``[num_classes, max_count]`` distribution of instance counts ``1..max_count`` per category.

    Row ``x`` is, over the graphs containing category ``x``, the share with exactly ``c`` instances
    (column ``c - 1``; counts above ``max_count`` are put in the last column). Rows of categories
    that never occur are zero.
    """
    _check_size("num_classes", num_classes)
    _check_size("max_count", max_count)
    pres = _presence(graphs, num_classes).tocoo()
    cnt = np.minimum(pres.data.astype(np.int64), max_count)
    hist = np.zeros((num_classes, max_count), dtype=np.float64)
    np.add.at(hist, (pres.col, cnt - 1), 1.0)
    tot = hist.sum(axis=1, keepdims=True)
    return np.divide(hist, tot, out=np.zeros_like(hist), where=tot > 0)


def instance_count_kl(
    generated: Sequence[Any],
    reference: Sequence[Any],
    num_classes: int,
    *,
    max_count: int | None = None,
    eps: float = 1e-10,
) -> np.ndarray:
    """Per category ``KL(generated || reference)`` of the instance-count distributions.

    Args:
        generated: generated scene graphs.
        reference: reference (test) scene graphs.
        num_classes: number of categories.
        max_count: largest count bin (default: the largest count seen in either set).
        eps: additive smoothing of both distributions before renormalisation.

    Returns:
        ``[num_classes]`` KL values, NaN where the category is absent from either set (use
        ``np.nanmean`` for the thesis' average).
    """
    if max_count is None:
        m = 1
        for gs in (generated, reference):
            pres = _presence(gs, num_classes)
            if pres.nnz:
                m = max(m, int(pres.data.max()))
        max_count = m
    p = instance_count_distribution(generated, num_classes, max_count)
    q = instance_count_distribution(reference, num_classes, max_count)
    valid = (p.sum(axis=1) > 0) & (q.sum(axis=1) > 0)
    ps = (p + eps) / (p + eps).sum(axis=1, keepdims=True)
    qs = (q + eps) / (q + eps).sum(axis=1, keepdims=True)
    kl = np.sum(ps * np.log(ps / qs), axis=1)
    kl[~valid] = np.nan
    return kl


# ---------------------------------------------------------------------------- plots
def _subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A :class:`matplotlib.figure.Figure` and its axes (pyplot state and the backend are left alone)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols)


def _save(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _bars(
    gen: np.ndarray,
    ref: np.ndarray,
    names: Sequence[str] | None,
    title: str,
    top: int | None,
    path: str | os.PathLike | None,
) -> Any:
    order = np.argsort(-ref, kind="stable")
    if top is not None:
        order = order[:top]
    x = np.arange(order.size)
    fig, ax = _subplots(figsize=(max(6.0, 0.18 * order.size + 2), 3.5))
    ax.bar(x - 0.2, ref[order], width=0.4, label="reference")
    ax.bar(x + 0.2, gen[order], width=0.4, label="generated")
    labels = [names[i] for i in order] if names is not None else [str(i) for i in order]
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_object_occurrence(
    generated: Sequence[Any],
    reference: Sequence[Any],
    num_classes: int,
    *,
    names: Sequence[str] | None = None,
    top: int | None = 50,
    path: str | os.PathLike | None = None,
) -> Any:
    """Bar chart of object occurrence, generated vs reference (``top`` most frequent categories)."""
    return _bars(
        object_occurrence(generated, num_classes),
        object_occurrence(reference, num_classes),
        names,
        "object occurrence",
        top,
        path,
    )


def plot_relationship_occurrence(
    generated: Sequence[Any],
    reference: Sequence[Any],
    num_predicates: int,
    *,
    names: Sequence[str] | None = None,
    top: int | None = 50,
    path: str | os.PathLike | None = None,
) -> Any:
    """Bar chart of relationship occurrence, generated vs reference."""
    return _bars(
        relationship_occurrence(generated, num_predicates),
        relationship_occurrence(reference, num_predicates),
        names,
        "relationship occurrence",
        top,
        path,
    )


def plot_cooccurrence(
    generated: Sequence[Any],
    reference: Sequence[Any],
    num_classes: int,
    *,
    vmax: float = 0.05,
    path: str | os.PathLike | None = None,
) -> Any:
    """Side-by-side co-occurrence heat maps, colour scale capped at ``vmax`` (thesis: 0.05)."""
    fig, axes = _subplots(1, 2, figsize=(10, 4.5))
    for ax, gs, title in zip(axes, (reference, generated), ("reference", "generated")):
        im = ax.imshow(cooccurrence(gs, num_classes), vmin=0.0, vmax=vmax, cmap="viridis")
        ax.set_title(f"co-occurrence ({title})")
        ax.set_xlabel("category")
        ax.set_ylabel("category")
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    return _save(fig, path)


def plot_instance_count_kl(
    generated: Sequence[Any],
    reference: Sequence[Any],
    num_classes: int,
    *,
    names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Bar chart of the per-category instance-count KL divergence, with its mean in the title."""
    kl = instance_count_kl(generated, reference, num_classes)
    idx = np.flatnonzero(np.isfinite(kl))
    fig, ax = _subplots(figsize=(max(6.0, 0.18 * idx.size + 2), 3.5))
    ax.bar(np.arange(idx.size), kl[idx])
    ax.set_xticks(np.arange(idx.size))
    ax.set_xticklabels([names[i] if names is not None else str(i) for i in idx], rotation=90, fontsize=6)
    mean = float(np.nanmean(kl)) if idx.size else float("nan")
    ax.set_title(f"instance-count KL(generated || reference), mean {mean:.3g}")
    ax.set_ylabel("KL")
    fig.tight_layout()
    return _save(fig, path)

"""Figures of data-set statistics, anomaly scores and training curves, labelled with names."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data import Vocabulary, to_triplets

__all__ = [
    "plot_dataset_statistics",
    "plot_cooccurrence_matrix",
    "plot_score_histograms",
    "plot_nll_histograms",
    "plot_training_curves",
]

def _top(p: np.ndarray, top: int) -> np.ndarray:
    order = np.argsort(-p, kind="stable")[:top]
    return order[p[order] > 0]


def plot_dataset_statistics(graphs: Sequence[HeteroData], vocab: Vocabulary, *, top: int = 15) -> Any:
    """Four panels: objects and relations per graph, and the ``top`` most frequent categories and predicates.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    from sgkit.metrics import object_occurrence, relationship_occurrence

    if not graphs:
        raise ValueError("graphs: need at least one scene graph")
    sizes = np.array([[len(lab), len(tr)] for lab, tr in map(to_triplets, graphs)])
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, col, what in zip(axes[0], range(2), ("objects", "relations")):
        v = sizes[:, col]
        ax.hist(v, bins=np.arange(v.min(), v.max() + 2) - 0.5, color="#4c72b0")
        ax.set_xlabel(f"{what} per graph")
        ax.set_ylabel("graphs")
        ax.set_title(f"{what} per graph: mean {v.mean():.2f}, max {v.max()}", fontsize=9)
    for ax, p, names, what in (
        (axes[1, 0], object_occurrence(graphs, vocab.num_objects), vocab.objects, "categories"),
        (axes[1, 1], relationship_occurrence(graphs, vocab.num_predicates), vocab.predicates, "predicates"),
    ):
        idx = _top(p, top)
        ax.barh(np.arange(idx.size), p[idx], color="#55a868")
        ax.set_yticks(np.arange(idx.size), [names[i] for i in idx], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("share of all " + ("objects" if what == "categories" else "relations"))
        ax.set_title(f"{min(top, idx.size)} most frequent {what}", fontsize=9)
    return fig


def plot_cooccurrence_matrix(
    graphs: Sequence[HeteroData],
    vocab: Vocabulary,
    *,
    top: int = 20,
    reference: Sequence[HeteroData] | None = None,
    labels: tuple[str, str] = ("generated", "reference"),
) -> Any:
    """Co-occurrence of the ``top`` most frequent categories, with names and a labelled colour bar.

    Cell ``(x, y)`` is the share of graphs that contain both categories (zero diagonal), as
    :func:`sgkit.metrics.cooccurrence` computes it. With ``reference`` the two sets are drawn
    side by side on one colour scale, over the categories most frequent in ``reference``.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    from sgkit.metrics import cooccurrence, object_occurrence

    if not graphs or (reference is not None and not reference):
        raise ValueError("graphs: need at least one scene graph in every set")
    sets = [(graphs, labels[0])] if reference is None else [(reference, labels[1]), (graphs, labels[0])]
    idx = _top(object_occurrence(sets[0][0], vocab.num_objects), top)
    mats = [cooccurrence(g, vocab.num_objects)[np.ix_(idx, idx)] for g, _ in sets]
    names = [vocab.objects[i] for i in idx]
    side = 2.5 + 0.28 * len(idx)
    fig = Figure(figsize=(side * len(sets) + 1.2, side), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(sets)))
    vmax = max(float(m.max()) for m in mats) or 1.0
    for ax, m, (_, label) in zip(axes, mats, sets):
        im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=vmax)
        ax.set_xticks(np.arange(len(idx)), names, rotation=90, fontsize=7)
        ax.set_yticks(np.arange(len(idx)), names, fontsize=7)
        title = f"co-occurrence of the {len(idx)} most frequent categories"
        ax.set_title(title if reference is None else f"{label}", fontsize=9)
    if reference is not None:
        fig.suptitle(f"co-occurrence of the {len(idx)} most frequent categories", fontsize=10)
    fig.colorbar(im, ax=list(axes), shrink=0.8).set_label("share of graphs containing both")
    return fig


def plot_score_histograms(
    scores: dict[str, Any],
    *,
    auroc: dict[str, float] | None = None,
    xlabel: str = "score",
    title: str | None = None,
    bins: int = 40,
) -> Any:
    """Overlaid density histograms of scores per group (e.g. ``"clean"``, ``"0.5"`` corrupted).

    The legend, with the AUROC of each group against the first when given, sits beside the axes
    so that it never covers a histogram.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    if not scores:
        raise ValueError("scores: need at least one group of scores")
    values = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in scores.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    if finite.size == 0:
        raise ValueError("scores: no finite value to draw")
    edges = np.histogram_bin_edges(finite, bins=bins)
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for k, v in values.items():
        label = k if auroc is None or k not in auroc else f"{k} (AUROC {auroc[k]:.3f})"
        ax.hist(v[np.isfinite(v)], bins=edges, alpha=0.45, density=True, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return fig


def plot_nll_histograms(
    nll_by_level: Mapping[str, Tensor | Sequence[float]],
    path: str | os.PathLike,
    *,
    auroc: Mapping[str, float] | None = None,
    bins: int = 40,
    title: str = "NLL of clean and corrupted scene graphs",
    xlabel: str = "negative log-likelihood (nats)",
) -> str:
    """Overlaid score histograms per corruption level (thesis Fig. 10.6, left), saved to ``path``.

    :func:`plot_score_histograms` saved to a file (the legend sits beside the axes).

    Args:
        nll_by_level: label (e.g. ``"clean"``, ``"0.2"``) -> scores.
        path: output image file.
        auroc: optional AUROC per label, shown in the legend.
        bins: number of histogram bins (shared by all levels).
        title: figure title.
        xlabel: label of the score axis.

    Returns:
        ``path`` as a string.
    """
    import torch

    values = {k: torch.as_tensor(v, dtype=torch.float64).reshape(-1).cpu().numpy() for k, v in nll_by_level.items()}
    fig = plot_score_histograms(values, auroc=dict(auroc) if auroc is not None else None, xlabel=xlabel,
                                title=title, bins=bins)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return os.fspath(path)


def plot_training_curves(
    history: Sequence[Mapping[str, float]],
    path: str | os.PathLike,
    *,
    keys: Sequence[str] | None = None,
    title: str = "training losses",
    xlabel: str = "step",
) -> str:
    """Loss curves of a training history (one dict of statistics per step or epoch), saved to ``path``.

    Drawn on a :class:`matplotlib.figure.Figure` (the user's backend is left alone); the legend
    sits outside the axes so it never covers a curve.

    Args:
        history: e.g. ``model.history`` of an image model or ``model.history_`` of SceneGraphGen.
        path: output image file.
        keys: the statistics to draw (default: every numeric key but ``step`` and ``epoch``).
        title: figure title.
        xlabel: label of the horizontal axis.

    Returns:
        ``path`` as a string.
    """
    from matplotlib.figure import Figure

    if keys is None:
        keys = [k for k in dict.fromkeys(k for h in history for k in h) if k not in ("step", "epoch")]
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    for key in keys:
        values = [(i + 1, float(h[key])) for i, h in enumerate(history) if key in h]
        if values:
            xs, ys = zip(*values)
            ax.plot(xs, ys, label=key)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title(title)
    if ax.lines:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return os.fspath(path)

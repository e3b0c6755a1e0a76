"""Anomaly detection with a generative scene-graph model (thesis section 10.4.2, Fig. 10.6).

A graph is scored by its negative log-likelihood under the model; corrupted graphs (random node
and edge labels, :func:`sgkit.data.corrupt.corrupt`) should score higher than clean ones. The
separation is measured by the area under the ROC curve (scikit-learn ``roc_auc_score``) with
corrupted graphs as the positive class and the NLL as the score.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

__all__ = ["nll_auroc", "anomaly_auroc", "plot_nll_histograms"]


def nll_auroc(clean_nll: Tensor | Sequence[float], corrupted_nll: Tensor | Sequence[float]) -> float:
    """AUROC of NLL scores: probability that a corrupted graph scores above a clean one.

    Args:
        clean_nll: NLL of the clean graphs (negatives).
        corrupted_nll: NLL of the corrupted graphs (positives).

    Returns:
        The AUROC in ``[0, 1]`` (0.5 = no separation).

    Raises:
        ValueError: if either set is empty or contains non-finite values.
    """
    from sklearn.metrics import roc_auc_score

    clean = np.asarray(torch.as_tensor(clean_nll, dtype=torch.float64).reshape(-1))
    bad = np.asarray(torch.as_tensor(corrupted_nll, dtype=torch.float64).reshape(-1))
    for name, v in (("clean_nll", clean), ("corrupted_nll", bad)):
        if v.size == 0:
            raise ValueError(f"{name}: empty (need at least one score)")
        if not np.isfinite(v).all():
            raise ValueError(f"{name}: contains non-finite values")
    y = np.concatenate([np.zeros(clean.size), np.ones(bad.size)])
    return float(roc_auc_score(y, np.concatenate([clean, bad])))


def anomaly_auroc(
    model: Any,
    clean: Sequence[HeteroData],
    corrupted: Sequence[HeteroData],
    *,
    normalize: str | None = None,
    **nll_kwargs: Any,
) -> tuple[float, Tensor, Tensor]:
    """Score clean and corrupted graphs with ``model.nll`` and return the AUROC.

    Args:
        model: a fitted model with an ``nll(graphs, **kwargs)`` method
            (:class:`~sgkit.models.SceneGraphGen`, :class:`~sgkit.models.GraphRNN`).
        clean: clean graphs.
        corrupted: corrupted graphs.
        normalize: ``None`` (the thesis' score: the NLL of the whole graph) or ``"nodes"`` (NLL
            divided by the number of nodes; removes the spread of NLL with graph size, which
            otherwise dominates when graph sizes vary a lot).
        **nll_kwargs: passed to ``model.nll`` (``ordering``, ``num_orderings``, ``seed`` ...).

    Returns:
        ``(auroc, clean_scores, corrupted_scores)``.
    """
    if normalize not in (None, "nodes"):
        raise ValueError(f"normalize: expected None or 'nodes', got {normalize!r}")
    a = model.nll(clean, **nll_kwargs)
    b = model.nll(corrupted, **nll_kwargs)
    if normalize == "nodes":
        a = a / torch.tensor([float(g["object"].label.numel()) for g in clean])
        b = b / torch.tensor([float(g["object"].label.numel()) for g in corrupted])
    return nll_auroc(a, b), a, b


def plot_nll_histograms(
    nll_by_level: Mapping[str, Tensor | Sequence[float]],
    path: str | os.PathLike,
    *,
    auroc: Mapping[str, float] | None = None,
    bins: int = 40,
    title: str = "NLL of clean and corrupted scene graphs",
) -> str:
    """Overlaid NLL histograms per corruption level (thesis Fig. 10.6, left), saved to ``path``.

    Args:
        nll_by_level: label (e.g. ``"clean"``, ``"0.2"``) -> NLL values.
        path: output image file.
        auroc: optional AUROC per label, shown in the legend.
        bins: number of histogram bins (shared by all levels).
        title: figure title.

    Returns:
        ``path`` as a string.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = {k: np.asarray(torch.as_tensor(v, dtype=torch.float64).reshape(-1)) for k, v in nll_by_level.items()}
    allv = np.concatenate([v for v in values.values() if v.size]) if values else np.zeros(1)
    edges = np.histogram_bin_edges(allv, bins=bins)
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, v in values.items():
        label = k if auroc is None or k not in auroc else f"{k} (AUROC {auroc[k]:.3f})"
        ax.hist(v, bins=edges, alpha=0.45, density=True, label=label)
    ax.set_xlabel("negative log-likelihood (nats)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)

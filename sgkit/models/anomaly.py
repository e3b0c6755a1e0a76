"""Anomaly detection with a generative scene-graph model (thesis section 10.4.2, Fig. 10.6).

A graph is scored by its negative log-likelihood under the model; corrupted graphs (random node
and edge labels, :func:`sgkit.data.corrupt.corrupt`) should score higher than clean ones. The
separation is measured by the area under the ROC curve (scikit-learn ``roc_auc_score``) with
corrupted graphs as the positive class and the NLL as the score.

Scores (``normalize`` of :func:`anomaly_auroc`):

* ``None``: the thesis' score, ``-log p(X)`` of the whole graph. It grows with the number of
  nodes (every node and edge slot adds its own uncertainty, and a random node order adds about
  ``log N!``), so when graph sizes vary (ShapesWorld: 3-10 objects) the spread of clean NLLs
  across sizes is as large as the increase that corruption causes, and a corrupted small graph
  often scores below a clean large one although it scores above its own clean version.
* ``"nodes"``: NLL divided by the number of nodes.
* ``"size"``: the NLL standardised for the graph's size under the model,
  ``(-log p(X) - mu_N) / sigma_N`` with ``mu_N`` and ``sigma_N`` the mean and standard deviation
  of the model's NLL of its *own samples* with ``N = |X|`` nodes (:func:`nll_size_statistics`,
  :func:`standardize_nll`). It asks "how surprising is this graph compared with graphs of the
  same size that the model would generate"; it needs no data besides the model, and ranks
  graphs of one size exactly as the whole-graph NLL does. The demo reports all three; the
  ``"size"`` score is its headline anomaly score.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

__all__ = ["nll_auroc", "anomaly_auroc", "nll_size_statistics", "standardize_nll"]


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


def _num_nodes(graphs: Sequence[HeteroData]) -> Tensor:
    return torch.tensor([int(g["object"].label.numel()) for g in graphs], dtype=torch.long)


def nll_size_statistics(
    model: Any,
    *,
    num_samples: int = 2000,
    sample_seed: int = 0,
    max_nodes: int | None = None,
    **nll_kwargs: Any,
) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of the model's NLL per graph size, from its own samples.

    Draws ``num_samples`` graphs with ``model.sample``, scores them with ``model.nll`` and
    returns, for every size ``N = 0..max_nodes``, the mean ``mu_N`` and the (unbiased) standard
    deviation ``sigma_N`` of the NLL of the samples with ``N`` nodes. A size with fewer than two
    samples takes the statistics of the nearest size that has them (the smaller one on ties);
    ``sigma_N`` is at least ``1e-6``.

    Args:
        model: a fitted model with ``sample(n, generator=...)`` and ``nll(graphs, **kwargs)``.
        num_samples: number of graphs to sample (at least 2).
        sample_seed: seed of the sampling generator.
        max_nodes: largest size of the tables (default ``model.max_nodes``, else the largest
            sampled size).
        **nll_kwargs: passed to ``model.nll``.

    Returns:
        ``(mu, sigma)``, two float tensors of shape ``[max_nodes + 1]`` indexed by size.

    Raises:
        ValueError: for ``num_samples < 2`` or if no size has two samples.
    """
    if not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples: expected an integer >= 2, got {num_samples!r}")
    graphs = model.sample(num_samples, generator=torch.Generator().manual_seed(sample_seed))
    nll = torch.as_tensor(model.nll(graphs, **nll_kwargs), dtype=torch.float64).reshape(-1)
    sizes = _num_nodes(graphs)
    top = max_nodes if max_nodes is not None else getattr(model, "max_nodes", None)
    top = int(top) if top is not None else int(sizes.max())
    top = max(top, int(sizes.max()))
    mu = torch.full((top + 1,), float("nan"), dtype=torch.float64)
    sd = torch.full((top + 1,), float("nan"), dtype=torch.float64)
    for n in range(top + 1):
        sel = nll[sizes == n]
        if sel.numel() >= 2:
            mu[n], sd[n] = sel.mean(), sel.std()
    known = torch.nonzero(~torch.isnan(mu)).flatten()
    if known.numel() == 0:
        raise ValueError("num_samples: no graph size occurs twice among the samples; sample more graphs")
    for n in range(top + 1):
        if torch.isnan(mu[n]):
            k = known[torch.argmin((known - n).abs())]  # argmin returns the first (smaller) on ties
            mu[n], sd[n] = mu[k], sd[k]
    return mu.float(), sd.clamp_min(1e-6).float()


def standardize_nll(nll: Tensor | Sequence[float], sizes: Tensor | Sequence[int], mu: Tensor, sigma: Tensor) -> Tensor:
    """Size-standardised score ``(nll - mu[N]) / sigma[N]`` (see :func:`nll_size_statistics`).

    Args:
        nll: ``[B]`` NLL values.
        sizes: ``[B]`` numbers of nodes ``N`` (sizes beyond the tables use the last entry).
        mu: per-size mean NLL.
        sigma: per-size standard deviation.

    Returns:
        ``[B]`` float tensor.
    """
    nll = torch.as_tensor(nll, dtype=torch.float32).reshape(-1)
    idx = torch.as_tensor(sizes, dtype=torch.long).reshape(-1)
    if idx.numel() != nll.numel():
        raise ValueError(f"sizes: expected {nll.numel()} sizes (one per NLL value), got {idx.numel()}")
    if idx.numel() and int(idx.min()) < 0:
        raise ValueError(f"sizes: expected non-negative sizes, got {int(idx.min())}")
    idx = idx.clamp_max(mu.numel() - 1)
    return (nll - mu[idx]) / sigma[idx]


def anomaly_auroc(
    model: Any,
    clean: Sequence[HeteroData],
    corrupted: Sequence[HeteroData],
    *,
    normalize: str | None = None,
    num_samples: int = 2000,
    sample_seed: int = 0,
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
            otherwise dominates when graph sizes vary a lot) or ``"size"`` (NLL standardised by
            the mean and standard deviation of the model's NLL for graphs of the same size, from
            ``num_samples`` of its own samples drawn with ``sample_seed``; see the module docstring).
        num_samples: samples for ``normalize="size"``.
        sample_seed: sampling seed for ``normalize="size"``.
        **nll_kwargs: passed to ``model.nll`` (``ordering``, ``num_orderings``, ``seed`` ...).

    Returns:
        ``(auroc, clean_scores, corrupted_scores)``.
    """
    if normalize not in (None, "nodes", "size"):
        raise ValueError(f"normalize: expected None, 'nodes' or 'size', got {normalize!r}")
    a = model.nll(clean, **nll_kwargs)
    b = model.nll(corrupted, **nll_kwargs)
    if normalize == "nodes":
        a = a / _num_nodes(clean).to(a.dtype)
        b = b / _num_nodes(corrupted).to(b.dtype)
    elif normalize == "size":
        mu, sigma = nll_size_statistics(model, num_samples=num_samples, sample_seed=sample_seed, **nll_kwargs)
        a = standardize_nll(a, _num_nodes(clean), mu, sigma)
        b = standardize_nll(b, _num_nodes(corrupted), mu, sigma)
    return nll_auroc(a, b), a, b

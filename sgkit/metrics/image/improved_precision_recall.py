"""Improved precision and recall of Kynkäänniemi et al. (2019): k-NN manifold coverage."""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

from ._common import _check_features

__all__ = ["improved_precision_recall", "precision_recall"]


def _kth_nn_radii(feats: Tensor, k: int, batch_size: int) -> Tensor:
    radii = []
    for start in range(0, feats.size(0), batch_size):
        d = torch.cdist(feats[start : start + batch_size], feats)
        # the k-th neighbour excluding the point itself (distance 0 at rank 0)
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _coverage(queries: Tensor, centres: Tensor, radii: Tensor, batch_size: int) -> Tensor:
    inside = []
    for start in range(0, queries.size(0), batch_size):
        d = torch.cdist(queries[start : start + batch_size], centres)
        inside.append((d <= radii.view(1, -1)).any(dim=1))
    return torch.cat(inside)


def improved_precision_recall(
    real: Tensor, fake: Tensor, *, k: int = 3, batch_size: int = 1024
) -> tuple[float, float]:
    r"""Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019) from features.

    Not the thesis' precision / recall: the thesis reports the PRD summaries :math:`F_{1/8}` /
    :math:`F_8` of Sajjadi et al. (2018), see :func:`~sgkit.metrics.image.prd`.

    Each sample's manifold ball has the radius of its ``k``-th nearest neighbour within its own
    set. Precision is the fraction of fake samples inside at least one real ball; recall is the
    fraction of real samples inside at least one fake ball.

    Args:
        real: ``[N, D]`` features of real images.
        fake: ``[M, D]`` features of generated images.
        k: neighbourhood size (3 in the paper).
        batch_size: rows per distance block (memory).

    Returns:
        ``(precision, recall)``.
    """
    real, fake = _check_features(real, fake, min_rows=k + 1)
    if k < 1:
        raise ValueError(f"k must be >= 1, got k={k}")
    real_r = _kth_nn_radii(real, k, batch_size)
    fake_r = _kth_nn_radii(fake, k, batch_size)
    precision = _coverage(fake, real, real_r, batch_size).double().mean()
    recall = _coverage(real, fake, fake_r, batch_size).double().mean()
    return float(precision), float(recall)



def precision_recall(real: Tensor, fake: Tensor, *, k: int = 3, batch_size: int = 1024) -> tuple[float, float]:
    """Deprecated alias of :func:`improved_precision_recall` (the name did not say which metric).

    Warns with :class:`FutureWarning`; for the thesis' F_8 / F_1/8 use
    :func:`~sgkit.metrics.image.prd`.
    """
    warnings.warn(
        "sgkit.metrics.precision_recall is the Kynkäänniemi et al. (2019) metric and is renamed "
        "improved_precision_recall; the thesis' precision / recall (F_1/8 / F_8) is sgkit.metrics.prd",
        FutureWarning,
        stacklevel=2,
    )
    return improved_precision_recall(real, fake, k=k, batch_size=batch_size)

r"""Inception Score (Salimans et al., NeurIPS 2016) from class probabilities of a given classifier.

.. math::

    \mathrm{IS} = \exp\left(\mathbb{E}_x\, \mathrm{KL}\big(p(y \mid x)\,\|\,p(y)\big)\right),
    \qquad p(y) = \mathbb{E}_x\, p(y \mid x),

computed, as in the reference procedure, on ``splits`` consecutive equal parts of the images
(10 by default) and reported as the mean and standard deviation over the parts. It lies in
``[1, K]`` for ``K`` classes: 1 when every image gets the same class distribution, ``K`` when
every image is confidently one class and the classes are used uniformly. The classifier is any
callable returning logits; the Inception-v3 network is used only from local weights
(:class:`~sgkit.metrics.image.InceptionClassifier`), never downloaded.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ._common import PathLike
from .inception import InceptionClassifier, extract_features

__all__ = ["inception_score", "inception_score_from_probs"]


def inception_score_from_probs(probs: np.ndarray | Tensor, splits: int = 10) -> tuple[float, float]:
    """Inception Score ``(mean, std)`` from class probabilities ``[N, K]`` (rows summing to 1).

    Args:
        probs: ``[N, K]`` probabilities :math:`p(y \\mid x)` of ``N`` images.
        splits: number of consecutive parts (``N // splits`` images each; a remainder is left out).

    Raises:
        ValueError: for non-finite or negative probabilities, rows not summing to 1, or fewer
            images than ``splits``.
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.dim() != 2 or p.size(0) == 0 or p.size(1) == 0:
        raise ValueError(f"probs: expected [N, K] class probabilities, got shape {tuple(p.shape)}")
    if not torch.isfinite(p).all() or (p < 0).any():
        raise ValueError("probs: probabilities must be finite and non-negative (pass softmax outputs, not logits)")
    worst = float((p.sum(1) - 1).abs().max())
    if worst > 1e-4:
        raise ValueError(f"probs: every row must sum to 1 (pass softmax outputs, not logits); a row is off by {worst:.3g}")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or not 1 <= splits <= p.size(0):
        raise ValueError(f"splits: expected an integer in [1, {p.size(0)}] (the number of images), got {splits!r}")
    size = p.size(0) // int(splits)
    scores = []
    for i in range(int(splits)):
        part = p[i * size : (i + 1) * size]
        marginal = part.mean(0, keepdim=True)
        kl = torch.where(part > 0, part * (part.log() - marginal.log()), torch.zeros_like(part)).sum(1)
        scores.append(float(kl.mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score(
    images: Union[Tensor, Sequence[Tensor]],
    *,
    classifier: Optional[Callable[[Tensor], Tensor]] = None,
    inception_weights: Optional[PathLike] = None,
    splits: int = 10,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[float, float]:
    """Inception Score ``(mean, std)`` of images ``[N, 3, H, W]`` in ``[0, 1]``.

    Args:
        images: a tensor or a sequence of batches.
        classifier: callable ``[B, 3, H, W] -> [B, K]`` logits; or
        inception_weights: local torchvision Inception-v3 weights for :class:`InceptionClassifier`.
        splits: see :func:`inception_score_from_probs`.
        batch_size: batch size when ``images`` is one tensor.
        progress: show a tqdm bar.

    Raises:
        ValueError: when neither ``classifier`` nor ``inception_weights`` is given.
    """
    if classifier is None:
        if inception_weights is None:
            raise ValueError(
                "inception_score needs a classifier: pass classifier=... (logits) or inception_weights=<local "
                "torchvision inception_v3 weights file> (nothing is downloaded)"
            )
        classifier = InceptionClassifier(inception_weights)
    logits = extract_features(images, classifier, batch_size=batch_size, progress=progress)
    return inception_score_from_probs(torch.softmax(logits, dim=1), splits)

"""Kernel Inception Distance between feature sets."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from ._common import PathLike, _check_features
from .inception import _resolve_extractor, extract_features

__all__ = ["kid", "kid_from_features"]


def _poly_mmd2_unbiased(x: Tensor, y: Tensor, degree: int, gamma: float, coef0: float) -> Tensor:
    kxx = (x @ x.T * gamma + coef0) ** degree
    kyy = (y @ y.T * gamma + coef0) ** degree
    kxy = (x @ y.T * gamma + coef0) ** degree
    m, n = x.size(0), y.size(0)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return sxx + syy - 2 * kxy.mean()


def kid_from_features(
    real: Tensor,
    fake: Tensor,
    *,
    subset_size: int = 1000,
    num_subsets: int = 100,
    degree: int = 3,
    gamma: Optional[float] = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    r"""Kernel Inception Distance (Bińkowski et al., ICLR 2018) from features.

    The unbiased MMD² with the polynomial kernel
    :math:`k(x, y) = (\gamma\, x^\top y + c_0)^{d}` (default :math:`\gamma = 1/D`,
    :math:`c_0 = 1`, :math:`d = 3`), averaged over ``num_subsets`` random subsets of
    ``min(subset_size, N, M)`` rows drawn without replacement from each set.

    Args:
        real: ``[N, D]`` features.
        fake: ``[M, D]`` features.
        subset_size: rows per subset.
        num_subsets: number of subsets.
        degree: kernel degree.
        gamma: kernel scale (default ``1 / D``).
        coef0: kernel offset.
        seed: seed of the subset sampling.

    Returns:
        ``(mean, std)`` of the subset estimates.
    """
    real, fake = _check_features(real, fake)
    if subset_size < 2 or num_subsets < 1:
        raise ValueError(
            f"need subset_size >= 2 and num_subsets >= 1, got subset_size={subset_size}, "
            f"num_subsets={num_subsets}"
        )
    gamma = 1.0 / real.size(1) if gamma is None else gamma
    size = min(subset_size, real.size(0), fake.size(0))
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(num_subsets):
        ix = torch.randperm(real.size(0), generator=g)[:size]
        iy = torch.randperm(fake.size(0), generator=g)[:size]
        values.append(_poly_mmd2_unbiased(real[ix], fake[iy], degree, gamma, coef0))
    vals = torch.stack(values)
    std = float(vals.std(unbiased=False)) if len(values) > 1 else 0.0
    return float(vals.mean()), std


def kid(
    real_images: Union[Tensor, Sequence[Tensor]],
    fake_images: Union[Tensor, Sequence[Tensor]],
    *,
    feature_extractor: Optional[Callable[[Tensor], Tensor]] = None,
    inception_weights: Optional[PathLike] = None,
    batch_size: int = 64,
    progress: bool = False,
    **kid_kwargs: Any,
) -> tuple[float, float]:
    """KID ``(mean, std)`` between two image sets; see :func:`kid_from_features` for options."""
    ext = _resolve_extractor(feature_extractor, inception_weights)
    real = extract_features(real_images, ext, batch_size=batch_size, progress=progress)
    fake = extract_features(fake_images, ext, batch_size=batch_size, progress=progress)
    return kid_from_features(real, fake, **kid_kwargs)

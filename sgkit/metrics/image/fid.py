"""Fréchet (Inception) distance between feature sets."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from ._common import PathLike, _check_features
from .inception import _resolve_extractor, extract_features

__all__ = ["fid", "fid_from_features", "frechet_distance"]


def _sqrtm_psd(mat: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh(mat)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    r"""Fréchet distance between Gaussians :math:`\mathcal{N}(\mu_1, \Sigma_1)` and
    :math:`\mathcal{N}(\mu_2, \Sigma_2)` (the FID formula of Heusel et al., 2017):

    .. math::
        \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{tr}\left(\Sigma_1 + \Sigma_2 -
        2 (\Sigma_1 \Sigma_2)^{1/2}\right).

    :math:`\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}` is computed stably in float64 as the sum of
    square roots of the eigenvalues of the symmetric PSD matrix
    :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (same eigenvalues as :math:`\Sigma_1\Sigma_2`).

    Args:
        mu1: ``[D]`` mean.
        sigma1: ``[D, D]`` covariance.
        mu2: ``[D]`` mean.
        sigma2: ``[D, D]`` covariance.

    Returns:
        The distance as a float.
    """
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    s1 = torch.as_tensor(sigma1, dtype=torch.float64)
    s2 = torch.as_tensor(sigma2, dtype=torch.float64)
    D = mu1.numel()
    if mu2.shape != mu1.shape or s1.shape != (D, D) or s2.shape != (D, D):
        raise ValueError(
            f"expected mu [D], sigma [D, D]; got mu1 {tuple(mu1.shape)}, mu2 {tuple(mu2.shape)}, "
            f"sigma1 {tuple(s1.shape)}, sigma2 {tuple(s2.shape)}"
        )
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    r1 = _sqrtm_psd(s1)
    inner = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean)



def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """Fréchet Inception Distance from two feature matrices ``[N, D]`` and ``[M, D]``.

    Uses the unbiased (``N - 1``) covariance, like the reference implementations.
    """
    real, fake = _check_features(real, fake)
    return frechet_distance(real.mean(0), torch.cov(real.T), fake.mean(0), torch.cov(fake.T))


def fid(
    real_images: Union[Tensor, Sequence[Tensor]],
    fake_images: Union[Tensor, Sequence[Tensor]],
    *,
    feature_extractor: Optional[Callable[[Tensor], Tensor]] = None,
    inception_weights: Optional[PathLike] = None,
    batch_size: int = 64,
    progress: bool = False,
) -> float:
    """FID between two image sets (``[N, 3, H, W]`` in ``[0, 1]`` or sequences of batches).

    Features come from ``feature_extractor`` or, if only ``inception_weights`` is given, from
    :class:`InceptionFeatures`; one of the two is required.
    """
    ext = _resolve_extractor(feature_extractor, inception_weights)
    real = extract_features(real_images, ext, batch_size=batch_size, progress=progress)
    fake = extract_features(fake_images, ext, batch_size=batch_size, progress=progress)
    return fid_from_features(real, fake)

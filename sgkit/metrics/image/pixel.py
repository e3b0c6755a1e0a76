"""Pixel metrics of generated images against references: MAE and SSIM."""
from __future__ import annotations

import numbers
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import _check_pair, _mask_4d, _reduce

__all__ = ["mae", "ssim"]


def mae(
    pred: Tensor, target: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean"
) -> Tensor:
    r"""Mean absolute error per image, :math:`\frac{1}{CHW}\sum |\hat{I} - I|`.

    Values are in the units of the inputs (e.g. ``[0, 1]`` images give MAE in ``[0, 1]``).

    Args:
        pred: ``[B, C, H, W]`` generated images.
        target: ``[B, C, H, W]`` reference images.
        mask: optional ``[B, H, W]`` or ``[B, 1, H, W]`` region of interest (non-zero = inside);
            the error is averaged over the pixels inside (an image with an empty RoI gives NaN).
        reduction: ``"mean"`` (over images), ``"sum"`` or ``"none"`` (``[B]``).

    Returns:
        Scalar or ``[B]`` tensor.
    """
    _check_pair(pred, target)
    err = (pred - target).abs()
    if mask is None:
        per_image = err.flatten(1).mean(dim=1)
    else:
        m = (_mask_4d(mask, pred) != 0).to(err.dtype)
        per_image = (err * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * pred.size(1))
    return _reduce(per_image, reduction)


def _gaussian_kernel(sigma: float, radius: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def ssim(
    pred: Tensor,
    target: Tensor,
    *,
    data_range: float = 1.0,
    win_size: Optional[int] = None,
    gaussian_weights: bool = False,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    use_sample_covariance: bool = True,
    mask: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Structural similarity (Wang et al., 2004), identical to scikit-image's definition.

    Computes, with local means/variances from a uniform ``win_size`` window (default 7) or an
    11-tap Gaussian (``gaussian_weights=True``, :math:`\sigma = 1.5`),

    .. math::
        S = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},\quad
        C_i = (k_i L)^2,

    averaged over the positions whose window lies fully inside the image (scikit-image crops the
    same border) and over channels. Matches
    ``skimage.metrics.structural_similarity(x, y, data_range=L, channel_axis=0, ...)``
    (computed in float64).

    Args:
        pred: ``[B, C, H, W]`` images.
        target: ``[B, C, H, W]`` images.
        data_range: dynamic range :math:`L` of the images (1 for ``[0, 1]``).
        win_size: odd window size (default 7, or the Gaussian's ``2 * round(3.5 sigma) + 1``);
            at least 3 with ``use_sample_covariance`` (1 is allowed only without it, as in
            scikit-image, which otherwise divides by zero).
        gaussian_weights: use a Gaussian window.
        sigma: Gaussian standard deviation.
        k1: constant :math:`k_1`.
        k2: constant :math:`k_2`.
        use_sample_covariance: normalise (co)variances by ``N - 1`` (scikit-image default).
        mask: optional ``[B, H, W]`` region of interest: the SSIM map is averaged over the valid
            positions inside it (NaN if none).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``[B]``).

    Returns:
        Scalar or ``[B]`` tensor (float64).
    """
    _check_pair(pred, target)
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, got data_range={data_range!r}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got sigma={sigma!r}")
    B, C, H, W = pred.shape
    x = pred.to(torch.float64)
    y = target.to(torch.float64)
    if win_size is not None and (
        not isinstance(win_size, numbers.Integral) or isinstance(win_size, bool) or win_size < 1
        or win_size % 2 != 1
    ):
        raise ValueError(f"win_size must be a positive odd int, got win_size={win_size!r}")
    if win_size is not None:
        win_size = int(win_size)
    if gaussian_weights:
        radius = int(3.5 * sigma + 0.5)
        if win_size is not None and win_size != 2 * radius + 1:
            raise ValueError(
                f"with gaussian_weights the window is 2 * int(3.5 * sigma + 0.5) + 1 = "
                f"{2 * radius + 1}; got win_size={win_size}"
            )
        win_size = 2 * radius + 1
        k = _gaussian_kernel(sigma, radius, x.dtype, x.device)
        kernel = (k.view(-1, 1) * k.view(1, -1)).expand(C, 1, win_size, win_size)
    else:
        win_size = 7 if win_size is None else win_size
        kernel = torch.full(
            (C, 1, win_size, win_size), 1.0 / win_size**2, dtype=x.dtype, device=x.device
        )
    if win_size == 1 and use_sample_covariance:
        # scikit-image divides by N - 1 = 0 here (ZeroDivisionError); one pixel has no
        # sample variance.
        raise ValueError(
            "win_size must be >= 3 with use_sample_covariance=True (the sample covariance of a "
            "1-pixel window divides by N - 1 = 0), got win_size=1; pass an odd win_size >= 3 or "
            "use_sample_covariance=False"
        )
    if win_size > min(H, W):
        raise ValueError(
            f"win_size={win_size} exceeds the image extent {H}x{W}; pass a smaller odd win_size"
        )

    def filt(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel, groups=C)

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    n_pts = win_size**2
    cov_norm = n_pts / (n_pts - 1) if use_sample_covariance else 1.0
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    if mask is None:
        per_image = s_map.flatten(1).mean(dim=1)
    else:
        pad = (win_size - 1) // 2
        m = (_mask_4d(mask, pred) != 0).to(s_map.dtype)[:, :, pad : H - pad, pad : W - pad]
        per_image = (s_map * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * C)
    return _reduce(per_image, reduction)


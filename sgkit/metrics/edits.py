"""Image-manipulation metrics: per-mode MAE and SSIM over all pixels and the region of interest.

The protocol of the SIMSG evaluation (thesis Tables 12.1-12.4) without its contrast stretch:
images in ``[0, 1]`` are quantised to ``[0, 255]`` (rounded; no per-image min-max rescale unless
``minmax_rescale=True``), MAE is the mean absolute difference on that scale, SSIM is reported
x100. ``ssim_window=3`` is the published variant (:func:`gaussian_ssim`: a 3-tap Gaussian window
with sigma 1.5, zero padding, mean over the full map and the channels);
``ssim_window=None`` uses scikit-image's definition (:func:`~sgkit.metrics.image.ssim`). LPIPS is
computed on full images when an :class:`~sgkit.metrics.LPIPS` module (local weights) is given.

The region of interest (RoI) of an edit is the union of its boxes' pixel regions widened by a
margin (2 px at 64 px, scaled with the image side), see
:func:`~sgkit.nn.visual_features.box_pixels`; RoI MAE averages over its pixels, RoI SSIM is
computed on the rectangle that bounds it.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sgkit.metrics.image import ssim as skimage_ssim
from sgkit.nn.visual_features import box_pixels, box_region_masks

__all__ = ["edit_roi_boxes", "evaluate_edits", "gaussian_ssim", "quantize"]


def quantize(images: Tensor, minmax_rescale: bool = False) -> Tensor:
    """``[0, 1]`` images -> float values in ``{0, ..., 255}`` (optionally after the per-image
    min-max stretch of the reference evaluation)."""
    x = images.float()
    if minmax_rescale:
        lo = x.flatten(1).min(1)[0].view(-1, 1, 1, 1)
        hi = x.flatten(1).max(1)[0].view(-1, 1, 1, 1)
        x = (x - lo) / (hi - lo).clamp(min=1e-8)
    return torch.round(x.clamp(0, 1) * 255.0)


def gaussian_ssim(pred: Tensor, target: Tensor, window: int = 3, sigma: float = 1.5) -> Tensor:
    """SSIM per image ``[B]`` with a ``window``-tap Gaussian window, zero padding (same-size map),
    ``C1 = 0.01^2``, ``C2 = 0.03^2`` (data range 1), averaged over the map and the channels."""
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"pred and target must have the same shape [B, C, H, W], got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    if not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd int, got window={window!r}")
    x, y = pred.double(), target.double()
    C = x.size(1)
    r = torch.arange(window, dtype=torch.float64) - window // 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    k = (g.view(-1, 1) * g.view(1, -1)).expand(C, 1, window, window).to(x.device)

    def f(t: Tensor) -> Tensor:
        return F.conv2d(t, k, padding=window // 2, groups=C)

    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def edit_roi_boxes(pair: Mapping[str, Any]) -> Tensor:
    """The boxes whose union is the RoI of a ShapesWorld-style edit pair: removal, the removed
    node's source box; replacement, the node's box; addition, the new node's target box;
    relationship, the source and target boxes of both endpoints of the changed edge."""
    src, tgt, mode, info = pair["source"]["object"].box, pair["target"]["object"].box, pair["mode"], pair["info"]
    if mode in ("removal", "replacement"):
        return src[info["node"]].view(1, 4).float()
    if mode == "addition":
        return tgt[info["node"]].view(1, 4).float()
    if mode == "relationship":
        s, o = pair["source"]["object", "relation", "object"].edge_index[:, info["edge"]].tolist()
        return torch.stack([src[s], src[o], tgt[s], tgt[o]]).float()
    raise ValueError(f"pair['mode']: unknown edit mode {mode!r}")


def evaluate_edits(
    pred: Tensor,
    target: Tensor,
    modes: Sequence[str],
    roi_boxes: Sequence[Tensor],
    *,
    margin: int | None = None,
    ssim_window: int | None = 3,
    lpips: torch.nn.Module | None = None,
    minmax_rescale: bool = False,
) -> dict[str, dict[str, float]]:
    """Per-mode MAE (0-255), SSIM (x100), RoI MAE and RoI SSIM (and LPIPS) of edited images.

    Args:
        pred: ``[N, 3, H, W]`` generated images in ``[0, 1]``.
        target: ``[N, 3, H, W]`` exact targets in ``[0, 1]``.
        modes: the edit mode of every image.
        roi_boxes: per image ``[k, 4]`` normalised boxes whose union is the RoI.
        margin: RoI margin in pixels (default ``round(2 * H / 64)``, i.e. 2 px at 64 px).
        ssim_window: 3 (published Gaussian-window variant) or another odd size for
            :func:`gaussian_ssim`; ``None`` for the scikit-image SSIM (7x7 uniform window).
        lpips: optional LPIPS module (full images).
        minmax_rescale: apply the reference evaluation's per-image contrast stretch first.

    Returns:
        ``{mode: {"mae", "ssim", "roi_mae", "roi_ssim"[, "lpips"], "n"}}`` with an extra
        ``"all"`` entry over every image; an image with an empty RoI is left out of the RoI means.
    """
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"pred and target must have the same shape [N, 3, H, W], got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    n, _, H, W = pred.shape
    if len(modes) != n or len(roi_boxes) != n:
        raise ValueError(f"modes and roi_boxes need one entry per image ({n}), got {len(modes)} and {len(roi_boxes)}")
    margin = max(1, round(2 * H / 64)) if margin is None else margin
    p, t = quantize(pred, minmax_rescale) / 255.0, quantize(target, minmax_rescale) / 255.0

    def ssim_of(a: Tensor, b: Tensor) -> Tensor:
        if ssim_window is None:
            return skimage_ssim(a, b, reduction="none")
        return gaussian_ssim(a, b, ssim_window)

    mae = (p - t).abs().flatten(1).mean(1) * 255.0
    ssim = ssim_of(p, t) * 100.0
    lp = lpips(pred, target).detach().cpu() if lpips is not None else None
    roi_mae = torch.full((n,), float("nan"), dtype=torch.float64)
    roi_ssim = torch.full((n,), float("nan"), dtype=torch.float64)
    for i in range(n):
        boxes = torch.as_tensor(roi_boxes[i], dtype=torch.float32).view(-1, 4)
        region = box_region_masks(boxes, torch.zeros(len(boxes), dtype=torch.long), 1, H, W, margin)[0]
        if not bool(region.any()):
            continue
        roi_mae[i] = float((p[i] - t[i]).abs()[:, region].mean()) * 255.0
        px = box_pixels(boxes, H, W, margin)
        x0, y0 = int(px[:, 0].min()), int(px[:, 1].min())
        x1, y1 = int(px[:, 2].max()), int(px[:, 3].max())
        a, b = p[i:i + 1, :, y0:y1, x0:x1], t[i:i + 1, :, y0:y1, x0:x1]
        if ssim_window is None and min(a.shape[-2:]) < 7:
            continue
        roi_ssim[i] = float(ssim_of(a, b)[0]) * 100.0
    out: dict[str, dict[str, float]] = {}
    groups = {m: [i for i, mm in enumerate(modes) if mm == m] for m in dict.fromkeys(modes)}
    groups["all"] = list(range(n))
    for m, idx in groups.items():
        sel = torch.tensor(idx, dtype=torch.long)
        entry = {"mae": float(mae[sel].mean()), "ssim": float(ssim[sel].mean()),
                 "roi_mae": float(roi_mae[sel].nanmean()), "roi_ssim": float(roi_ssim[sel].nanmean()),
                 "n": len(idx)}
        if lp is not None:
            entry["lpips"] = float(lp[sel].mean())
        out[m] = entry
    return out

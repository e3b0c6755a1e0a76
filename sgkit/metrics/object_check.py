"""Object check: does a generated image paint each object in its category's colour?

A cheap recognisability metric for procedural data with category colours (ShapesWorld): the
median colour inside each object's ground-truth region is matched to per-category colour
prototypes measured on real images (:func:`category_colours`). :func:`evaluate_generation`
reports it with MAE and SSIM for a scene-graph-to-image model.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data.batch import collate_scenes
from sgkit.metrics.image import mae, ssim
from sgkit.nn.layout import boxes_to_layout, masks_to_layout

__all__ = ["category_colours", "evaluate_generation", "object_check"]


def _object_regions(graphs: Sequence[HeteroData], size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Per-object pixel regions ``[O, S, S]`` (mask at box, or box), labels and image index."""
    b = collate_scenes(graphs, need_boxes=True)
    O = b.labels.numel()
    ones = torch.ones(O, 1)
    index = torch.arange(O)
    assert b.boxes is not None
    if b.masks is not None:
        regions = masks_to_layout(ones, b.boxes, b.masks, index, O, size)[:, 0]
    else:
        regions = boxes_to_layout(ones, b.boxes, index, O, size)[:, 0]
    return regions > 0.5, b.labels, b.batch


def _mean_colours(images: Tensor, graphs: Sequence[HeteroData]) -> tuple[Tensor, Tensor]:
    """Per-object median colour over the interior of its region (eroded by one pixel when at
    least 9 pixels remain), robust to blurred object borders."""
    regions, labels, batch = _object_regions(graphs, images.shape[-1])
    inner = -F.max_pool2d(-regions.float().unsqueeze(1), 3, stride=1, padding=1).squeeze(1) > 0.5
    use_inner = inner.sum(dim=(1, 2)) >= 9
    regions = torch.where(use_inner.view(-1, 1, 1), inner, regions)
    imgs = images.detach().float().cpu()[batch]  # [O, 3, S, S]
    colours = torch.full((labels.numel(), 3), float("nan"))
    for o in range(labels.numel()):
        if regions[o].any():
            colours[o] = imgs[o][:, regions[o]].median(dim=1).values
    return colours, labels


def category_colours(scenes: Sequence[HeteroData], num_objects: int) -> Tensor:
    """Median RGB colour of each category inside its objects' regions over real images.

    Args:
        scenes: graphs with ``image`` and ``box`` (``mask`` used when present).
        num_objects: number of categories.

    Returns:
        ``[num_objects, 3]`` prototypes (``nan`` for categories never seen).
    """
    images = collate_scenes(scenes, need_boxes=True, need_images=True).images
    assert images is not None
    colours, labels = _mean_colours(images, scenes)
    protos = torch.full((num_objects, 3), float("nan"))
    for k in range(num_objects):
        sel = (labels == k) & ~torch.isnan(colours).any(dim=1)
        if sel.any():
            protos[k] = colours[sel].median(dim=0).values
    return protos


def object_check(
    images: Tensor,
    graphs: Sequence[HeteroData],
    colours: Tensor,
    *,
    tolerance: float = 0.12,
    reference: Tensor | None = None,
    background: Tensor | Sequence[float] | None = None,
    return_per_object: bool = False,
) -> float | tuple[float, Tensor]:
    """Fraction of objects whose generated colour identifies their category's colour group.

    For every object the median colour of ``images`` inside its ground-truth region (mask
    pasted at the box, or the box; eroded by one pixel to skip blurred borders) is assigned to the nearest category prototype of ``colours``; the
    object is recognised when that prototype lies within ``tolerance`` (Euclidean, RGB in
    ``[0, 1]``) of its own category's prototype (categories sharing a colour are not told
    apart). The background colour is an extra prototype that never matches (an object painted
    as background is not recognised). With ``reference`` (the real images) only objects that
    the check recognises in the reference count (occluded objects are excluded).

    Args:
        images: ``[B, 3, S, S]`` generated images.
        graphs: the ``B`` graphs with ground-truth boxes (and masks).
        colours: ``[C, 3]`` prototypes from :func:`category_colours`.
        tolerance: colour distance under which two prototypes are the same colour.
        reference: optional real images ``[B, 3, S, S]``.
        background: background RGB; default: the median colour of the reference pixels outside
            every object region (no background prototype without reference).
        return_per_object: also return the boolean per-object result ``[O]``.

    Returns:
        The recognised fraction (``nan`` without valid objects), optionally with the flags.
    """
    if images.dim() != 4 or images.shape[0] != len(graphs):
        raise ValueError(
            f"images must have shape [B={len(graphs)}, 3, S, S], got {tuple(images.shape)}"
        )

    colours = colours.detach().float().cpu()
    if background is None and reference is not None:
        regions, _, batch = _object_regions(graphs, reference.shape[-1])
        covered = torch.zeros(reference.shape[0], *reference.shape[-2:], dtype=torch.bool)
        covered.index_put_((batch,), regions, accumulate=True)
        pixels = reference.detach().float().cpu().permute(0, 2, 3, 1)[~covered]
        if pixels.numel():
            background = pixels.median(dim=0).values
    valid = ~torch.isnan(colours).any(dim=1)
    protos = torch.where(valid.unsqueeze(1), colours, torch.full_like(colours, 1e6))
    if background is not None:
        bg = torch.as_tensor(background, dtype=torch.float32).view(1, 3)
        protos = torch.cat([protos, bg])  # index C: background, never a category's colour

    def recognised(imgs: Tensor) -> Tensor:
        col, labels = _mean_colours(imgs, graphs)
        d = torch.cdist(torch.nan_to_num(col, nan=1e3), protos)
        nearest = d.argmin(dim=1)
        is_bg = nearest >= colours.shape[0]
        same = torch.linalg.vector_norm(protos[nearest] - colours[labels], dim=1) <= tolerance
        return same & ~is_bg & ~torch.isnan(col).any(dim=1) & valid[labels]

    flags = recognised(images)
    keep = torch.ones_like(flags)
    if reference is not None:
        keep = recognised(reference)
    n = int(keep.sum())
    frac = float(flags[keep].float().mean()) if n > 0 else float("nan")
    return (frac, flags & keep) if return_per_object else frac


def evaluate_generation(
    model: Any,
    scenes: Sequence[HeteroData],
    colours: Tensor,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """MAE, SSIM and object check of a generator on scenes with images (ground-truth boxes and
    predicted layout).

    Args:
        model: a model with ``generate(graphs, use_boxes=..., seed=..., return_outputs=True)`` and
            ``config.image_size`` (e.g. :class:`~sgkit.models.SG2Im`).
        scenes: scenes with images and boxes.
        colours: category prototypes from :func:`category_colours`.
        seed: seed of the layout noise.

    Returns:
        ``mae``, ``ssim``, ``object_check`` (with ground-truth boxes), ``object_check_predicted``
        (predicted layout), ``object_check_real`` (the check on the real images: its ceiling)
        and ``box_l1`` (predicted vs ground-truth boxes).
    """
    real = collate_scenes(scenes, need_boxes=True, need_images=True,
                          image_size=model.config.image_size).images
    assert real is not None
    out_gt = model.generate(scenes, use_boxes=True, seed=seed, return_outputs=True)
    out_pred = model.generate(scenes, use_boxes=False, seed=seed, return_outputs=True)
    assert isinstance(out_gt, dict) and isinstance(out_pred, dict)
    gt_boxes = collate_scenes(scenes, need_boxes=True).boxes
    assert gt_boxes is not None
    return {
        "mae": float(mae(out_gt["image"], real)),
        "ssim": float(ssim(out_gt["image"], real)),
        "object_check": float(object_check(out_gt["image"], scenes, colours, reference=real)),
        "object_check_predicted": float(
            object_check(out_pred["image"], scenes, colours, reference=real)),
        "object_check_real": float(object_check(real, scenes, colours)),
        "box_l1": float(F.l1_loss(out_pred["boxes_pred"], gt_boxes)),
    }

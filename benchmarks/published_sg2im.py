"""The published SG2Im/SIMSG code's layout and crop operations, for the step benchmark.

The public SG2Im code (which SIMSG builds on) places objects on the layout by expanding every
object's feature vector over its mask (``[O, D, M, M]``), warping that tensor into the image with
:func:`torch.nn.functional.grid_sample` (``[O, D, H, W]``) and summing per image; its object
discriminator crops every object by warping a copy of the object's whole image with
``grid_sample``. By linearity the layout equals :func:`sgkit.nn.masks_to_layout` (which samples
the ``[O, H, W]`` masks once and sums with one matrix product per image), and the crops equal
:func:`sgkit.nn.crop_boxes` (``roi_align``) up to half a pixel at the image border
(``benchmarks/test_sg2im_model.py`` checks both). :func:`published_ops` swaps these operations
into an sgkit model for the time of a step, so that the benchmark times the published way of
computing the same step. Its cascaded refinement decoder likewise pools the full-resolution layout
down to each module's resolution inside every module (:func:`sg2im_style_crn_forward`).
Written here for the benchmark only.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from sgkit.nn.layout import boxes_to_grid

__all__ = ["sg2im_style_crop", "sg2im_style_masks_to_layout", "sg2im_style_boxes_to_layout",
           "sg2im_style_crn_forward", "published_ops"]


def sg2im_style_crop(images: Tensor, boxes: Tensor, batch: Tensor, size: int) -> Tensor:
    """Expand each object's image and bilinearly sample a ``size x size`` grid in its box."""
    O = boxes.shape[0]
    x0, y0, x1, y1 = boxes.unbind(1)
    t = (torch.arange(size, dtype=boxes.dtype, device=boxes.device) + 0.5) / size
    xs = x0.view(O, 1) + t.view(1, size) * (x1 - x0).view(O, 1)
    ys = y0.view(O, 1) + t.view(1, size) * (y1 - y0).view(O, 1)
    grid = torch.stack([xs.view(O, 1, size).expand(O, size, size),
                        ys.view(O, size, 1).expand(O, size, size)], dim=-1) * 2 - 1
    return F.grid_sample(images[batch], grid, mode="bilinear", align_corners=False)


def sg2im_style_masks_to_layout(features: Tensor, boxes: Tensor, masks: Tensor, batch: Tensor, num_images: int,
                                H: int, W: Optional[int] = None) -> Tensor:
    """``[O, D, M, M]`` feature-times-mask tensors warped to ``[O, D, H, W]`` and summed per image."""
    W = H if W is None else W
    O, D = features.shape
    grid = boxes_to_grid(boxes.to(features.dtype), H, W)
    img_in = features.view(O, D, 1, 1) * masks.to(features.dtype).unsqueeze(1)
    sampled = F.grid_sample(img_in, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return features.new_zeros(num_images, D, H, W).index_add(0, batch.long(), sampled)


def sg2im_style_boxes_to_layout(features: Tensor, boxes: Tensor, batch: Tensor, num_images: int, H: int,
                                W: Optional[int] = None, mask_size: int = 16) -> Tensor:
    """:func:`sg2im_style_masks_to_layout` with constant masks (each box filled with its vector)."""
    ones = features.new_ones(1, mask_size, mask_size).expand(features.size(0), -1, -1)
    return sg2im_style_masks_to_layout(features, boxes, ones, batch, num_images, H, W)


def sg2im_style_crn_forward(self, layout: Tensor) -> Tensor:
    """:class:`sgkit.nn.crn.CRNDecoder` forward with every module pooling the full layout itself."""
    b, _, h, w = layout.shape
    factor = 2 ** len(self.dims)
    feats = layout.new_zeros(b, 1, h // factor, w // factor)
    for module in self.refinement:
        feats = F.interpolate(feats, scale_factor=2.0, mode="nearest")
        feats = module(layout, feats)
    out = self.output(feats)
    return torch.sigmoid(out) if self.output_activation == "sigmoid" else out


@contextlib.contextmanager
def published_ops() -> Iterator[None]:
    """Use the published layout and crop operations inside sgkit's generator and discriminator."""
    import sgkit.models.sg2im_generator as gen
    import sgkit.nn.crn as crn
    import sgkit.nn.discriminators as disc

    saved = (gen.masks_to_layout, gen.boxes_to_layout, disc.crop_boxes, crn.CRNDecoder.forward)
    gen.masks_to_layout, gen.boxes_to_layout = sg2im_style_masks_to_layout, sg2im_style_boxes_to_layout
    disc.crop_boxes = lambda images, boxes, batch, size, **_: sg2im_style_crop(images, boxes, batch, size)
    crn.CRNDecoder.forward = sg2im_style_crn_forward
    try:
        yield
    finally:
        gen.masks_to_layout, gen.boxes_to_layout, disc.crop_boxes, crn.CRNDecoder.forward = saved

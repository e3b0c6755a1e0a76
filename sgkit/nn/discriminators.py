"""Image discriminators for scene-graph-to-image models.

- :class:`PatchDiscriminator`: convolutional patch discriminator on the whole image (SG2Im,
  Johnson et al. 2018, https://arxiv.org/abs/1804.01622);
- :class:`MultiscaleDiscriminator`: patch discriminators on an image pyramid (pix2pixHD /
  SPADE, https://arxiv.org/abs/1711.11585), returning intermediate features for the
  feature-matching loss;
- :class:`ObjectDiscriminator`: patch discriminator with an auxiliary classifier (AC-GAN,
  https://arxiv.org/abs/1610.09585) applied to object crops extracted with
  :func:`torchvision.ops.roi_align`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align

__all__ = ["PatchDiscriminator", "MultiscaleDiscriminator", "ObjectDiscriminator", "crop_boxes"]

_NORMS = ("batch", "instance", "spectral", "none")


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _conv_stack(in_channels: int, dims: Sequence[int], normalization: str) -> nn.ModuleList:
    """Strided 4x4 conv blocks (conv -> norm -> leaky ReLU), each halving the resolution."""
    if normalization not in _NORMS:
        raise ValueError(f"normalization must be one of {_NORMS}, got {normalization!r}")
    dims = tuple(dims)
    if len(dims) == 0:
        raise ValueError(f"dims must contain at least one channel count, got {dims!r}")
    layers = nn.ModuleList()
    prev = in_channels
    for i, d in enumerate(dims):
        _check_positive("dims entry", d)
        conv: nn.Module = nn.Conv2d(prev, d, 4, stride=2, padding=1)
        block: list[nn.Module] = []
        if normalization == "spectral":
            conv = nn.utils.spectral_norm(conv)
        block.append(conv)
        if i > 0 and normalization == "batch":
            block.append(nn.BatchNorm2d(d))
        elif i > 0 and normalization == "instance":
            block.append(nn.InstanceNorm2d(d, affine=True))
        block.append(nn.LeakyReLU(0.2))
        layers.append(nn.Sequential(*block))
        prev = d
    return layers


def _reset(module: nn.Module) -> None:
    for m in module.modules():
        if m is not module and hasattr(m, "reset_parameters") and not list(m.children()):
            m.reset_parameters()


class PatchDiscriminator(nn.Module):
    r"""Convolutional patch discriminator.

    ``len(dims)`` strided :math:`4\times4` convolutions (each followed by normalisation,
    except the first, and leaky ReLU) and a final :math:`3\times3` convolution to one logit per
    patch.

    Args:
        in_channels: image channels.
        dims: channels of the strided convolutions.
        normalization: ``"batch"``, ``"instance"``, ``"spectral"`` or ``"none"``.

    Shapes:
        - input: ``[B, in_channels, H, W]``.
        - output: ``[B, 1, H / 2^K, W / 2^K]`` logits (``K = len(dims)``), and with
          ``return_features=True`` also the list of the ``K`` intermediate feature maps.
    """

    def __init__(
        self,
        in_channels: int = 3,
        dims: Sequence[int] = (64, 128, 256),
        normalization: str = "batch",
    ) -> None:
        super().__init__()
        _check_positive("in_channels", in_channels)
        self.in_channels = in_channels
        self.dims = tuple(dims)
        self.normalization = normalization
        self.layers = _conv_stack(in_channels, self.dims, normalization)
        self.classifier = nn.Conv2d(self.dims[-1], 1, 3, padding=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset all convolutions and normalisation layers."""
        _reset(self)

    def forward(
        self, x: Tensor, return_features: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Score image patches (logits, higher = more real)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"input must have shape [B, {self.in_channels}, H, W], got {tuple(x.shape)}"
            )
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        logits = self.classifier(x)
        return (logits, feats) if return_features else logits

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, dims={self.dims}, normalization={self.normalization!r}"


class MultiscaleDiscriminator(nn.Module):
    r"""Patch discriminators applied to an image pyramid.

    Scale ``s`` sees the image average-pooled ``s`` times (:math:`3\times3`, stride 2), as in
    pix2pixHD/SPADE. The thesis uses two scales for the SPADE model.

    Args:
        num_scales: number of pyramid levels (``>= 1``).
        in_channels: image channels.
        dims: channels of each patch discriminator.
        normalization: see :class:`PatchDiscriminator`.

    Shapes:
        - input: ``[B, in_channels, H, W]``.
        - output: list of ``num_scales`` logit maps; with ``return_features=True`` a list of
          ``(logits, features)`` pairs.
    """

    def __init__(
        self,
        num_scales: int = 2,
        in_channels: int = 3,
        dims: Sequence[int] = (64, 128, 256),
        normalization: str = "batch",
    ) -> None:
        super().__init__()
        _check_positive("num_scales", num_scales)
        self.num_scales = num_scales
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels, dims, normalization) for _ in range(num_scales)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset every scale's discriminator."""
        for d in self.discriminators:
            d.reset_parameters()

    def forward(self, x: Tensor, return_features: bool = False) -> list:
        """Score the image at every scale."""
        outputs = []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(d(x, return_features=return_features))
        return outputs

    def extra_repr(self) -> str:
        return f"num_scales={self.num_scales}"


def _rank_in_image(batch: Tensor, num_images: int) -> tuple[Tensor, int]:
    """Each object's position among its image's objects (in order) and the largest count."""
    counts = torch.bincount(batch, minlength=num_images)
    order = torch.argsort(batch, stable=True)
    starts = counts.cumsum(0) - counts
    rank = torch.empty_like(batch)
    rank[order] = torch.arange(batch.numel(), device=batch.device) - starts[batch[order]]
    return rank, int(counts.max()) if batch.numel() else 0


def _bin_centre_grid(boxes: Tensor, size: int, height: int, width: int) -> Tensor:
    """``[O, size, size, 2]`` normalised (``align_corners=False``) RoIAlign bin centres."""
    t = torch.arange(size, dtype=boxes.dtype, device=boxes.device) + 0.5
    x0, y0 = boxes[:, 0] * width, boxes[:, 1] * height
    # pixel coordinates as roi_align(aligned=True, sampling_ratio=1) computes them
    px = (x0 - 0.5).unsqueeze(1) + t * ((boxes[:, 2] * width - x0) / size).unsqueeze(1)
    py = (y0 - 0.5).unsqueeze(1) + t * ((boxes[:, 3] * height - y0) / size).unsqueeze(1)
    gx = (px * 2 + 1) / width - 1
    gy = (py * 2 + 1) / height - 1
    o = boxes.shape[0]
    return torch.stack([gx.unsqueeze(1).expand(o, size, size), gy.unsqueeze(2).expand(o, size, size)], -1)


def _grid_sample_crops(images: Tensor, boxes: Tensor, batch: Tensor, size: int) -> Tensor:
    """Bin-centre crops with one ``grid_sample`` call (see :func:`crop_boxes`)."""
    b, c, h, w = images.shape
    o = boxes.shape[0]
    if o == 0:
        return images.new_zeros(0, c, size, size)
    dtype = torch.promote_types(images.dtype, boxes.dtype)
    if dtype != images.dtype:  # half-precision images: sample in the boxes' precision
        return _grid_sample_crops(images.to(dtype), boxes, batch, size).to(images.dtype)
    grid = _bin_centre_grid(boxes.detach(), size, h, w).to(dtype)
    if images.requires_grad and torch.is_grad_enabled():
        rank, k = _rank_in_image(batch, b)
        if 4 * b * k <= 5 * o:
            slot = batch * k + rank
            identity = b * k == o and bool((slot == torch.arange(o, device=slot.device)).all())
            if not identity:  # image i's objects fill slots i*k .. i*k + count_i - 1
                grid = grid.new_zeros(b * k, size, size, 2).index_copy_(0, slot, grid)
            out = F.grid_sample(images, grid.reshape(b, k * size, size, 2), mode="bilinear",
                                padding_mode="border", align_corners=False)
            out = out.reshape(b, c, k, size, size).transpose(1, 2).reshape(b * k, c, size, size)
            return out if identity else out.index_select(0, slot)
    return F.grid_sample(images.index_select(0, batch), grid, mode="bilinear",
                         padding_mode="border", align_corners=False)


_CROP_METHODS = ("auto", "roi_align")


def crop_boxes(
    images: Tensor, boxes: Tensor, batch: Tensor, size: int, sampling_ratio: int = 1,
    method: str = "auto",
) -> Tensor:
    """Crop and resize object boxes from images with RoIAlign bilinear bin sampling.

    The result is :func:`torchvision.ops.roi_align` with ``aligned=True`` on the boxes scaled to
    pixels. With ``method="auto"`` on CPU with ``sampling_ratio=1`` and boxes inside ``[0, 1]``
    it is computed with one :func:`torch.nn.functional.grid_sample` call at the bin centres,
    with ``padding_mode="border"``, which equals RoIAlign's clamping for sample points in
    ``[-1, side]`` (always the case for boxes in ``[0, 1]``). When the images need a gradient and
    padding every image to the largest object count adds at most 25% grid slots, the call
    samples the ``[B, C, H, W]`` images themselves, each at the bin centres of all its objects
    stacked along the grid's height (the backward pass then accumulates into ``B`` images);
    otherwise it samples a copy of each object's image (``images[batch]``). Other devices,
    sampling ratios, boxes outside ``[0, 1]`` and ``method="roi_align"`` call ``roi_align``
    (the two agree up to rounding: within 1e-5 for float32 images in ``[0, 1]``). Boxes receive
    no gradient.

    Args:
        images: ``[B, C, H, W]``.
        boxes: ``[O, 4]`` normalised ``x0, y0, x1, y1`` in ``[0, 1]``.
        batch: ``[O]`` image index of each box.
        size: output crop side.
        sampling_ratio: bilinear samples per bin side (1: the bin centre, like SG2Im's crops and
            about 3x faster on CPU than 2).
        method: ``"auto"`` or ``"roi_align"`` (always :func:`torchvision.ops.roi_align`).

    Returns:
        ``[O, C, size, size]`` crops (bilinear, aligned).
    """
    if method not in _CROP_METHODS:
        raise ValueError(f"method must be one of {_CROP_METHODS}, got {method!r}")
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [O, 4], got {tuple(boxes.shape)}")
    if batch.shape != boxes.shape[:1]:
        raise ValueError(
            f"batch must have shape [O] = [{boxes.shape[0]}], got {tuple(batch.shape)}"
        )
    on_cpu = images.device.type == "cpu" and boxes.device.type == "cpu"
    if (method == "auto" and sampling_ratio == 1 and on_cpu
            and bool(((boxes >= 0) & (boxes <= 1)).all())):
        return _grid_sample_crops(images, boxes, batch.long(), size)
    h, w = images.shape[-2:]
    scale = boxes.new_tensor([w, h, w, h])
    rois = torch.cat([batch.to(boxes.dtype).unsqueeze(1), boxes * scale], dim=1)
    return roi_align(images, rois, output_size=(size, size), spatial_scale=1.0,
                     sampling_ratio=sampling_ratio, aligned=True)


class ObjectDiscriminator(nn.Module):
    r"""Object-patch discriminator with an auxiliary classifier.

    Each object's box is cropped from the image and resized to ``crop_size`` (RoIAlign); a
    strided CNN and global average pooling give a feature vector :math:`f`, from which a linear
    layer predicts the real/fake logit and another the object category (AC-GAN):

    .. math::
        f_i = \mathrm{pool}(\mathrm{CNN}(\mathrm{RoIAlign}(x, b_i))), \quad
        s_i = w^\top f_i + c, \quad p(\cdot \mid i) = \mathrm{softmax}(W_c f_i + c_c)

    Args:
        num_classes: number of object categories.
        in_channels: image channels.
        crop_size: side of the object crops.
        dims: channels of the strided convolutions.
        normalization: ``"batch"``, ``"instance"``, ``"spectral"`` or ``"none"``.
        crop_method: the ``method`` of :func:`crop_boxes` (``"roi_align"`` or ``"auto"``); the
            attribute may be changed later.

    Shapes:
        - images: ``[B, in_channels, H, W]``; boxes: ``[O, 4]`` normalised; batch: ``[O]``.
        - output: ``(realness [O], class_logits [O, num_classes])``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        crop_size: int = 32,
        dims: Sequence[int] = (64, 128, 256),
        normalization: str = "batch",
        crop_method: str = "roi_align",
    ) -> None:
        super().__init__()
        _check_positive("num_classes", num_classes)
        if crop_method not in _CROP_METHODS:
            raise ValueError(f"crop_method must be one of {_CROP_METHODS}, got {crop_method!r}")
        self.crop_method = crop_method
        _check_positive("in_channels", in_channels)
        _check_positive("crop_size", crop_size)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.crop_size = crop_size
        self.dims = tuple(dims)
        self.layers = _conv_stack(in_channels, self.dims, normalization)
        self.real_head = nn.Linear(self.dims[-1], 1)
        self.class_head = nn.Linear(self.dims[-1], num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset all layers."""
        _reset(self)

    def forward(self, images: Tensor, boxes: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        """Score the objects' crops and classify them."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"images must have shape [B, {self.in_channels}, H, W], got {tuple(images.shape)}"
            )
        crops = crop_boxes(images, boxes, batch, self.crop_size, method=self.crop_method)
        return self.forward_crops(crops)

    def forward_crops(self, crops: Tensor) -> tuple[Tensor, Tensor]:
        """Score already-cropped objects ``[O, C, s, s]``."""
        x = crops
        for layer in self.layers:
            x = layer(x)
        f = x.mean(dim=(2, 3))
        return self.real_head(f).squeeze(-1), self.class_head(f)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, crop_size={self.crop_size}, dims={self.dims}"
        )

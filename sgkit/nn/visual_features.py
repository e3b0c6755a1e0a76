"""Per-object visual features from an image: box-to-pixel regions, exact crops and the encoder.

Boxes are normalised ``(x0, y0, x1, y1)``; the pixel region of a box in an ``H x W`` image is
``[top:bottom, left:right]`` with the truncation rule ``left = int(x0 * W)``,
``right = int(x1 * W)``, ``top = int(y0 * H)``, ``bottom = int(y1 * H)`` (clipped to the image),
as in SIMSG. :func:`box_pixels` is the one implementation of that rule; a box narrower than one
pixel gives an empty region. A ``margin`` widens the region by that many pixels on every side
(the region of interest of the edit metrics is the box +- 2 px at 64 px).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VisualFeatureEncoder",
    "box_pixels",
    "box_region_masks",
    "crop_box_regions",
    "imagenet_normalize",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def imagenet_normalize(images: Tensor) -> Tensor:
    """``(x - mean) / std`` with the ImageNet statistics (images ``[B, 3, H, W]`` in ``[0, 1]``)."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def box_pixels(boxes: Tensor, height: int, width: int, margin: int = 0) -> Tensor:
    """Pixel regions ``[O, 4]`` (long ``left, top, right, bottom``, exclusive ends) of boxes.

    Args:
        boxes: ``[O, 4]`` normalised boxes.
        height: image height ``H``.
        width: image width ``W``.
        margin: pixels added on every side before clipping to the image.
    """
    if boxes.dim() != 2 or boxes.size(-1) != 4:
        raise ValueError(f"boxes must have shape [O, 4], got {tuple(boxes.shape)}")
    scale = boxes.new_tensor([width, height, width, height], dtype=torch.float64)
    px = torch.trunc(boxes.to(torch.float64) * scale).long()
    px = px + torch.tensor([-margin, -margin, margin, margin], device=boxes.device)
    lim = torch.tensor([width, height, width, height], device=boxes.device)
    return torch.minimum(px.clamp(min=0), lim)


def box_region_masks(boxes: Tensor, batch: Tensor, num_images: int, height: int, width: int,
                     margin: int = 0) -> Tensor:
    """Union per image of the boxes' pixel regions: bool ``[B, H, W]``.

    Args:
        boxes: ``[O, 4]`` normalised boxes.
        batch: ``[O]`` image index of every box.
        num_images: ``B``.
        height: ``H``.
        width: ``W``.
        margin: see :func:`box_pixels`.
    """
    px = box_pixels(boxes, height, width, margin)
    ys = torch.arange(height, device=boxes.device).view(1, height, 1)
    xs = torch.arange(width, device=boxes.device).view(1, 1, width)
    inside = ((ys >= px[:, 1].view(-1, 1, 1)) & (ys < px[:, 3].view(-1, 1, 1))
              & (xs >= px[:, 0].view(-1, 1, 1)) & (xs < px[:, 2].view(-1, 1, 1)))
    out = torch.zeros(num_images, height, width, device=boxes.device)
    out.index_add_(0, batch.long(), inside.float())
    return out > 0


def crop_box_regions(images: Tensor, boxes: Tensor, batch: Tensor, size: int) -> Tensor:
    """The pixel region of every box (:func:`box_pixels`) resized bilinearly (corners aligned)
    to ``size x size``: ``[O, C, size, size]``; an empty region gives an all-zero crop."""
    _, _, h, w = images.shape
    px = box_pixels(boxes, h, w).to(images.dtype)
    left, top, right, bottom = px.unbind(-1)
    steps = torch.linspace(0, 1, size, device=images.device, dtype=images.dtype)
    # sample positions (pixel indices) from the first to the last pixel of the region
    xs = left.view(-1, 1) + steps.view(1, -1) * (right - left - 1).clamp(min=0).view(-1, 1)
    ys = top.view(-1, 1) + steps.view(1, -1) * (bottom - top - 1).clamp(min=0).view(-1, 1)
    gx = 2 * xs / max(w - 1, 1) - 1
    gy = 2 * ys / max(h - 1, 1) - 1
    grid = torch.stack([gx.view(-1, 1, size).expand(-1, size, size),
                        gy.view(-1, size, 1).expand(-1, size, size)], dim=-1)
    crops = F.grid_sample(images[batch.long()], grid, mode="bilinear", align_corners=True)
    empty = (right <= left) | (bottom <= top)
    return crops * (~empty).to(crops.dtype).view(-1, 1, 1, 1)


class VisualFeatureEncoder(nn.Module):
    r"""Object crops (ImageNet-normalised, ``[O, 3, s, s]``) -> visual features ``[O, F]``.

    ``kind="vgg16"``: torchvision VGG16 ``features`` up to conv5_3 + ReLU (stride 16), frozen,
    with weights read from a local file, then a trainable linear layer on the flattened map.
    ``kind="cnn"``: a small trainable CNN (``log2(s)`` stride-2 convolutions of ``channels``
    channels with BatchNorm and LeakyReLU, then a linear layer); it needs no weights, and results
    then differ from those of the pretrained trunk. ``kind="auto"`` picks ``"vgg16"`` when
    ``weights`` is given, else ``"cnn"``; :attr:`kind` says which one is in use.

    Args:
        out_channels: feature size ``F``.
        crop_size: crop side ``s`` (a power of two, at least 16 for VGG16).
        kind: ``"auto"``, ``"cnn"`` or ``"vgg16"``.
        weights: local torchvision VGG16 state dict (full model or ``features``).
        channels: channels of the CNN encoder.
    """

    def __init__(self, out_channels: int, crop_size: int = 16, kind: str = "auto",
                 weights: str | os.PathLike | None = None, channels: int = 32) -> None:
        super().__init__()
        if kind not in ("auto", "cnn", "vgg16"):
            raise ValueError(f"kind must be 'auto', 'cnn' or 'vgg16', got kind={kind!r}")
        if not isinstance(crop_size, int) or crop_size < 2 or crop_size & (crop_size - 1):
            raise ValueError(f"crop_size must be a power of two >= 2, got crop_size={crop_size!r}")
        if kind == "vgg16" and weights is None:
            raise ValueError("kind='vgg16' needs a local weights file (weights=...), got weights=None")
        self.kind = "vgg16" if kind == "vgg16" or (kind == "auto" and weights is not None) else "cnn"
        self.crop_size = crop_size
        if self.kind == "vgg16":
            if crop_size < 16:
                raise ValueError(f"crop_size must be >= 16 for the VGG16 trunk, got crop_size={crop_size}")
            from sgkit.models.losses import _vgg16_features
            from sgkit.models.pretrained import load_local_state_dict

            trunk = _vgg16_features()[:30]  # conv1_1 ... conv5_3 + ReLU, without the last max-pool
            state = load_local_state_dict(weights, argument="feature_weights", what="vgg16",  # type: ignore[arg-type]
                                          strip_prefix="features.")
            wanted = trunk.state_dict().keys()
            missing = [k for k in wanted if k not in state]
            if missing:
                raise ValueError(f"feature_weights file {os.fspath(weights)!r} is not a torchvision vgg16 "  # type: ignore[arg-type]
                                 f"state dict: missing {missing[:4]}")
            trunk.load_state_dict({k: state[k] for k in wanted})
            for p in trunk.parameters():
                p.requires_grad_(False)
            self.trunk: nn.Module = trunk.eval()
            flat = 512 * (crop_size // 16) ** 2
        else:
            layers: list[nn.Module] = []
            prev, side = 3, crop_size
            while side > 1:
                layers += [nn.Conv2d(prev, channels, 4, stride=2, padding=1), nn.BatchNorm2d(channels),
                           nn.LeakyReLU(0.2)]
                prev, side = channels, side // 2
            self.trunk = nn.Sequential(*layers)
            flat = channels
        self.fc = nn.Linear(flat, out_channels)

    def train(self, mode: bool = True) -> "VisualFeatureEncoder":
        """Keep a frozen VGG16 trunk in eval mode."""
        super().train(mode)
        if self.kind == "vgg16":
            self.trunk.eval()
        return self

    def forward(self, crops: Tensor) -> Tensor:
        """Features ``[O, F]`` of crops ``[O, 3, s, s]``."""
        if crops.size(0) == 0:
            return crops.new_zeros(0, self.fc.out_features)
        return self.fc(self.trunk(crops).flatten(1))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, crop_size={self.crop_size}"


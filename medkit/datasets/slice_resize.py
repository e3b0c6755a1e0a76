"""Resizing of image / label-map pairs: :func:`resize_pair` (labels never interpolated)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["resize_pair"]


def resize_pair(
    image: Tensor, labels: Tensor, size: tuple[int, int] | None
) -> tuple[Tensor, Tensor]:
    """Resize images bilinearly and label maps with nearest-neighbour.

    Args:
        image: ``[N, C, H, W]`` float.
        labels: ``[N, H, W]`` integer.
        size: target ``(H, W)`` or ``None`` (unchanged).
    """
    if size is None or tuple(image.shape[-2:]) == tuple(size):
        return image, labels
    img = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
    lab = F.interpolate(labels[:, None].float(), size=size, mode="nearest-exact")[:, 0]
    return img, lab.round().long()

"""Shared inputs of the decoder tests."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

N_IMAGES = 3


@pytest.fixture
def layout_objects() -> Callable[[int, int], tuple[Tensor, ...]]:
    """Factory of six objects in three images (unsorted batch, image 1 empty), double precision.

    ``make(d, noise_channels)`` returns ``batch [6]``, ``boxes [6, 4]``, ``feats [6, d]``,
    ``masks [6, 5, 5]`` and ``noise [3, noise_channels, 16, 16]``.
    """

    def make(d: int, noise_channels: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        batch = torch.tensor([2, 0, 0, 2, 2, 0])
        xy = torch.rand(6, 2, generator=g, dtype=torch.float64) * 0.6
        boxes = torch.cat([xy, xy + 0.2 + 0.2 * torch.rand(6, 2, generator=g, dtype=torch.float64)], 1)
        feats = torch.randn(6, d, generator=g, dtype=torch.float64)
        masks = torch.rand(6, 5, 5, generator=g, dtype=torch.float64)
        noise = torch.randn(N_IMAGES, noise_channels, 16, 16, generator=g, dtype=torch.float64)
        return batch, boxes, feats, masks, noise

    return make

"""Per-volume intensity normalisation: :func:`normalize_volume` (MetaMedSeg's standardisation)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["normalize_volume"]


def normalize_volume(volume: np.ndarray | Tensor, eps: float = 1e-8) -> Tensor:
    """Standardise a volume with the mean and standard deviation of its non-zero voxels.

    MetaMedSeg's volume normalisation (thesis line 1590): ``(x - mean) / std`` over the whole
    volume, statistics from the non-zero voxels (the body, not the air around it). A volume
    without non-zero voxels is returned unchanged. A volume with a NaN or infinite voxel is
    rejected: one such voxel would make the statistics, and so every normalised voxel, NaN.

    Args:
        volume: array of any shape.
        eps: added to the standard deviation.

    Returns:
        Float32 tensor of the same shape.

    Raises:
        ValueError: if the volume holds a non-finite voxel (the message gives their number and
            the first one's index).
    """
    x = torch.as_tensor(np.asarray(volume) if not torch.is_tensor(volume) else volume).float()
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"volume has {int(bad.sum())} non-finite voxel(s) (NaN/inf), the first at index {first}; "
            "normalising it would make every voxel NaN"
        )
    nz = x[x != 0]
    if nz.numel() == 0:
        return x.clone()
    std = nz.std(unbiased=False) if nz.numel() > 1 else torch.tensor(0.0)
    return (x - nz.mean()) / (std + eps)

"""medkit: medical image segmentation on PyTorch.

Subpackages: :mod:`medkit.nn` (U-Net, FFC blocks, Y-Net), :mod:`medkit.losses` (MONAI-style
segmentation losses), :mod:`medkit.metrics` (Dice/IoU), :mod:`medkit.datasets` (synthetic
and real OCT / organ data) and :mod:`medkit.meta` (MetaMedSeg).
"""
from medkit import datasets, losses, meta, metrics, nn

__all__ = ["datasets", "losses", "meta", "metrics", "nn"]

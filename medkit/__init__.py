"""medkit: medical image segmentation on PyTorch.

Subpackages: :mod:`medkit.nn` (U-Net, FFC blocks, Y-Net), :mod:`medkit.losses` (MONAI-style
segmentation losses), :mod:`medkit.metrics` (Dice/IoU), :mod:`medkit.datasets` (synthetic
and real OCT / organ data) and :mod:`medkit.meta` (MetaMedSeg). They are loaded on first use
(PEP 562): ``import medkit`` loads no submodule and no other kit.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["datasets", "losses", "meta", "metrics", "nn"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{name}")
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Optional pretrained weights from local files: one loader, one policy.

Pretrained networks (VGG16 for the perceptual loss, LPIPS, Inception) are never downloaded. A
model or metric that can use one takes a path argument:

- ``None``: the feature is disabled; the caller warns once with a message that says how to
  enable it.
- a path that does not exist: :class:`FileNotFoundError` naming the argument and the path.
- a file that is not a readable state dict: :class:`ValueError` naming the path.

Files are read with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any

import torch
from torch import Tensor

__all__ = ["load_local_state_dict"]


def load_local_state_dict(
    path: str | os.PathLike,
    *,
    argument: str,
    what: str,
    strip_prefix: str | None = None,
) -> dict[str, Tensor]:
    """Read a state dict from a local weights file.

    Args:
        path: the file.
        argument: the name of the argument that gave ``path`` (for messages).
        what: what the weights are for, e.g. ``"vgg"`` (for messages).
        strip_prefix: remove this prefix from the keys that have it (e.g. ``"features."``).

    Returns:
        The state dict (tensors on the CPU).

    Raises:
        FileNotFoundError: ``"{what} weights file not found: {argument}='{path}'"``.
        ValueError: if the file cannot be read as a state dict, naming the path.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} weights file not found: {argument}={path!r}")
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"{what} weights file {path!r} could not be read: {err}") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{what} weights file {path!r} does not contain a state dict of tensors")
    if strip_prefix:
        state = {k[len(strip_prefix):] if k.startswith(strip_prefix) else k: v for k, v in state.items()}
    return state

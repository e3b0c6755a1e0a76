"""Argument checks and weight loading shared by the image metrics."""
from __future__ import annotations

import os
from typing import Union

import torch
from torch import Tensor

__all__ = ["PathLike"]

PathLike = Union[str, os.PathLike]


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got pred.shape={tuple(pred.shape)}, "
            f"target.shape={tuple(target.shape)}"
        )
    if pred.dim() != 4:
        raise ValueError(f"images must have shape [B, C, H, W], got pred.shape={tuple(pred.shape)}")


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got reduction={reduction!r}")


def _mask_4d(mask: Tensor, like: Tensor) -> Tensor:
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    B, _, H, W = like.shape
    if mask.dim() != 4 or mask.size(0) != B or mask.shape[-2:] != (H, W) or mask.size(1) != 1:
        raise ValueError(
            f"mask must have shape [B, H, W] or [B, 1, H, W] = [{B}, 1, {H}, {W}], got "
            f"mask.shape={tuple(mask.shape)}"
        )
    return mask.to(like.dtype)


def _load_state(path: PathLike, what: str) -> dict:
    if path is None:
        raise FileNotFoundError(
            f"{what}: no local weights file given. This toolkit never downloads weights; pass "
            "the path of a local copy."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: weights file {os.fspath(path)!r} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state



def _check_features(real: Tensor, fake: Tensor, min_rows: int = 2) -> tuple[Tensor, Tensor]:
    real = torch.as_tensor(real, dtype=torch.float64)
    fake = torch.as_tensor(fake, dtype=torch.float64)
    if real.dim() != 2 or fake.dim() != 2 or real.size(1) != fake.size(1):
        raise ValueError(
            f"features must be [N, D] with the same D, got real {tuple(real.shape)}, "
            f"fake {tuple(fake.shape)}"
        )
    for name, t in (("real", real), ("fake", fake)):
        if t.size(0) < min_rows:
            raise ValueError(f"{name} features need at least {min_rows} rows, got {t.size(0)}")
    return real, fake


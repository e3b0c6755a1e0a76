"""Argument and file checks shared by medkit's public entry points (losses, loaders, networks).

Every check raises with a message that names the argument, the value and, for files, the path.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from fedkit.validation import check_number

__all__ = ["check_number", "check_seg_input", "check_target_values", "reading"]


def check_seg_input(input: Tensor, target: Tensor) -> None:
    """Shape checks of a segmentation loss's ``input`` (``[B, C, *spatial]``, non-empty, float).

    Only shapes and dtypes are inspected (no host synchronisation).
    """
    if not torch.is_tensor(input) or not torch.is_tensor(target):
        raise TypeError(
            f"input and target must be tensors, got {type(input).__name__} and {type(target).__name__}"
        )
    if input.dim() < 3:
        raise ValueError(f"input must have shape [B, C, *spatial], got {tuple(input.shape)}")
    if input.numel() == 0:
        raise ValueError(f"input must not be empty (no batch item or no pixel), got shape {tuple(input.shape)}")
    if not torch.is_floating_point(input):
        raise ValueError(f"input must hold float logits or probabilities, got dtype {input.dtype}")


def check_target_values(target: Tensor, labels: int | None) -> None:
    """Target values: whole labels in ``[0, labels - 1]``, or (``labels=None``) finite in ``[0, 1]``.

    One fused reduction and one host synchronisation per call.
    """
    if labels is None:
        t = target.float()
        lo, hi, nan = torch.stack([t.min(), t.max(), torch.isnan(t).any().float()]).tolist()
        if nan or not (0.0 <= lo and hi <= 1.0):
            raise ValueError(
                "target must hold one-hot or probabilistic values in [0, 1] (finite), got range "
                f"[{lo:g}, {hi:g}]{' with NaN' if nan else ''}; pass integer labels with "
                "to_onehot_y=True"
            )
        return
    if torch.is_floating_point(target):
        lo, hi, frac = torch.stack(
            [target.min(), target.max(), (target != torch.round(target)).any().float()]
        ).tolist()
    else:
        lo, hi = (float(v) for v in torch.stack([target.min(), target.max()]).tolist())
        frac = 0.0
    if frac or not (0 <= lo and hi <= labels - 1):
        bad = "labels"
        if frac:  # error path only: name one offending value
            first = float(target[target != torch.round(target)].flatten()[0])
            bad = f"non-integral labels (e.g. {first:g})"
        raise ValueError(
            f"target {bad} must be whole numbers in [0, {labels - 1}] for {labels} channels, "
            f"got range [{lo:g}, {hi:g}]"
        )


@contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Re-raise a library's failure to read ``path`` as a ``ValueError`` naming the file.

    ``FileNotFoundError`` passes through unchanged (its message already names the path).

    Args:
        path: the file being read.
        what: a short description of the content (``"Duke subject file"``).
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as err:  # the readers raise many unrelated types on corrupt input
        raise ValueError(
            f"cannot read {what} {str(path)!r} (corrupt or not in the expected format): "
            f"{type(err).__name__}: {err}"
        ) from err

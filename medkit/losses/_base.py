"""Shared machinery of the segmentation losses: input checks, activation, overlap terms, reduction."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medkit._checks import check_number, check_seg_input, check_target_values

__all__ = ["object_background_ratio"]

_REDUCTIONS = ("mean", "sum", "none")


def object_background_ratio(
    target: Tensor, eps: float = 0.0, channel_dim: int | None = None
) -> Tensor:
    """``p_pos`` of thesis Eq. 7.4: sum of object pixels over sum of background pixels.

    A mask (or channel) without background pixels has no background to balance the objects
    against: its ratio is defined as ``1`` (plain, unweighted BCE) instead of the unbounded
    ``n_obj / 0``. A mask without object pixels gives ``0`` (there are no positives to weigh).

    Args:
        target: binary mask (any shape, values in ``{0, 1}`` or soft).
        eps: non-negative constant added to the background sum where it is positive.
        channel_dim: ``None`` pools all elements (a scalar); an int gives one ratio per
            index along that dimension (summing over all other dimensions, e.g. batch and
            space for ``channel_dim=1``), shape ``[target.shape[channel_dim]]``.
    """
    eps = check_number("eps", eps, low=0.0)
    t = target.float()
    if channel_dim is None:
        obj, bg = t.sum(), (1 - t).sum()
    else:
        t = t.movedim(channel_dim, 0).reshape(t.shape[channel_dim], -1)
        obj, bg = t.sum(1), (1 - t).sum(1)
    has_bg = bg > 0
    return torch.where(has_bg, obj / torch.where(has_bg, bg + eps, torch.ones_like(bg)), torch.ones_like(obj))


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x


class _SegLoss(nn.Module):
    """Shared argument handling: activation, one-hot targets, background, reduction."""

    def __init__(
        self,
        *,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        check_target: bool = True,
    ) -> None:
        super().__init__()
        for name, flag in (
            ("include_background", include_background),
            ("to_onehot_y", to_onehot_y),
            ("sigmoid", sigmoid),
            ("softmax", softmax),
            ("batch", batch),
            ("check_target", check_target),
        ):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be a bool, got {flag!r}")
        if sigmoid and softmax:
            raise ValueError("sigmoid and softmax are mutually exclusive, got both True")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.include_background = include_background
        self.to_onehot_y = to_onehot_y
        self.sigmoid = sigmoid
        self.softmax = softmax
        self.reduction = reduction
        self.smooth_nr = check_number("smooth_nr", smooth_nr, low=0.0)
        self.smooth_dr = check_number("smooth_dr", smooth_dr, low=0.0)
        self.batch = batch
        self.check_target = check_target

    def _target(self, input: Tensor, target: Tensor) -> Tensor:
        """One-hot (or given) float target of the same shape as ``input`` (values checked)."""
        check_seg_input(input, target)
        if target.dim() == input.dim() - 1:
            target = target.unsqueeze(1)
        if target.dim() != input.dim():
            raise ValueError(
                f"target must have shape [B, C or 1, *spatial] matching input "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        n = input.shape[1]
        if self.to_onehot_y:
            if target.shape[1] != 1:
                raise ValueError(
                    f"to_onehot_y=True needs label targets [B, 1, ...], got {tuple(target.shape)}"
                )
            if n == 1:
                if self.check_target:
                    check_target_values(target, None)
                target = target.float()
            else:
                if target.shape[0] != input.shape[0] or target.shape[2:] != input.shape[2:]:
                    raise ValueError(
                        f"label target shape {tuple(target.shape)} does not match input "
                        f"{tuple(input.shape)} (expected [B, 1, *spatial])"
                    )
                if self.check_target:
                    check_target_values(target, n)
                target = F.one_hot(target[:, 0].long(), n).movedim(-1, 1).float()
                return target
        if target.shape != input.shape:
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match input {tuple(input.shape)}"
                " (use to_onehot_y=True for label targets)"
            )
        if self.check_target:
            check_target_values(target, None)
        return target.float()

    def _probs(self, input: Tensor) -> Tensor:
        if self.sigmoid:
            return torch.sigmoid(input)
        if self.softmax:
            if input.shape[1] == 1:
                raise ValueError("softmax=True needs more than one channel, got 1")
            return torch.softmax(input, dim=1)
        return input

    def _prepare(self, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        t = self._target(input, target)
        p = self._probs(input)
        if not self.include_background:
            if p.shape[1] == 1:
                raise ValueError("include_background=False needs more than one channel, got 1")
            p, t = p[:, 1:], t[:, 1:]
        return p, t

    def _sums(self, p: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-(batch, class) sums of ``p*t``, ``p`` and ``t`` (over the batch too if batch)."""
        dims = list(range(2, p.dim()))
        if self.batch:
            dims = [0] + dims
        return (p * t).sum(dims), p.sum(dims), t.sum(dims)

    def extra_repr(self) -> str:
        return (
            f"include_background={self.include_background}, to_onehot_y={self.to_onehot_y}, "
            f"sigmoid={self.sigmoid}, softmax={self.softmax}, reduction={self.reduction!r}"
        )

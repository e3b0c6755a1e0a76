"""Weighted binary cross-entropy (thesis Eq. 7.4) and BCE + IoU (thesis Eq. 7.6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from medkit._checks import check_number
from medkit.losses._base import _reduce, _SegLoss, object_background_ratio

__all__ = ["BCEIoULoss", "WeightedBCELoss"]


class WeightedBCELoss(_SegLoss):
    r"""Weighted binary cross-entropy of thesis Eq. 7.4, on logits.

    .. math::
        \mathcal{L} = -\big(p_{pos}\, t \log \sigma(x) + (1 - t) \log(1 - \sigma(x))\big)

    averaged over pixels. ``p_pos=None`` computes it per call and **per channel** as the sum
    of object pixels over the sum of background pixels of that channel's target, pooled over
    the batch and spatial dimensions (:func:`object_background_ratio` with
    ``channel_dim=1``, the thesis definition applied to each class of a multi-channel
    target; channels are not pooled, so a rare class is not weighted by the frequency of a
    common one); a channel whose target has no background pixel (an all-foreground mask)
    gets the weight ``1``, i.e. plain BCE, instead of an unbounded ratio. A float fixes one
    weight for all channels (e.g. the usual balancing ``n_bg / n_obj``).
    The activation is always the sigmoid (the loss takes logits); ``include_background``
    and one-hot handling are as in :class:`DiceLoss`.

    Args:
        p_pos: positive-class weight, or ``None`` for the object/background ratio.
        **kwargs: ``include_background``, ``to_onehot_y``, ``reduction`` (``"none"`` gives
            per-pixel values ``[B, C, *spatial]``).
    """

    def __init__(self, p_pos: float | None = None, **kwargs: object) -> None:
        kwargs.setdefault("sigmoid", True)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if not self.sigmoid:
            raise ValueError("WeightedBCELoss takes logits: sigmoid must be True")
        self.p_pos = None if p_pos is None else check_number("p_pos", p_pos, low=0.0)

    def pixelwise(self, input: Tensor, target: Tensor) -> Tensor:
        """Unreduced loss ``[B, C', *spatial]`` (after dropping the background if asked)."""
        return self._pixelwise(input, self._target(input, target))

    def _pixelwise(self, input: Tensor, t: Tensor) -> Tensor:
        x = input
        if not self.include_background:
            if x.shape[1] == 1:
                raise ValueError("include_background=False needs more than one channel, got 1")
            x, t = x[:, 1:], t[:, 1:]
        if self.p_pos is None:
            w = object_background_ratio(t, channel_dim=1)  # [C']
            w = w.reshape(1, -1, *([1] * (t.dim() - 2)))
        else:
            w = torch.tensor(self.p_pos)
        w = w.to(x)
        return -(w * t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute the loss."""
        return _reduce(self.pixelwise(input, target), self.reduction)


class BCEIoULoss(WeightedBCELoss):
    r"""``BCE - log(2 IoU / (IoU + 1))`` of thesis Eq. 7.6 (BCE plus log-Dice).

    With the soft IoU of :class:`SoftIoULoss` (:math:`IoU = (X + s_{nr}) / (U + s_{dr})`),
    :math:`2 IoU / (IoU + 1)` is the soft Dice written through the IoU. The BCE term is the
    :class:`WeightedBCELoss` (``p_pos=1.0`` by default: plain BCE) averaged over the pixels of
    each item and class; the sum is formed per item and class, then reduced.

    Args:
        p_pos: weight of the BCE positives (``None``: object/background ratio).
        **kwargs: see :class:`DiceLoss` (``batch=True`` pools the IoU and BCE over the batch).
    """

    def __init__(self, p_pos: float | None = 1.0, **kwargs: object) -> None:
        super().__init__(p_pos=p_pos, **kwargs)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute the loss."""
        t_full = self._target(input, target)
        bce = self._pixelwise(input, t_full)
        dims = list(range(2, bce.dim()))
        if self.batch:
            dims = [0] + dims
        bce = bce.mean(dims)
        p, t = self._probs(input), t_full
        if not self.include_background:
            p, t = p[:, 1:], t[:, 1:]
        inter, ps, ts = self._sums(p, t)
        iou = (inter + self.smooth_nr) / (ps + ts - inter + self.smooth_dr)
        f = bce - torch.log(2 * iou / (iou + 1))
        return _reduce(f, self.reduction)

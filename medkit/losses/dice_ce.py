"""Dice plus cross-entropy (``lambda_dice * Dice + lambda_ce * CE``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from medkit._checks import check_number
from medkit.losses._base import _SegLoss
from medkit.losses.overlap import DiceLoss

__all__ = ["DiceCELoss"]


class DiceCELoss(_SegLoss):
    r"""``lambda_dice * Dice + lambda_ce * CE`` as MONAI's ``DiceCELoss`` (Y-Net loss).

    The cross-entropy always acts on the logits (``softmax`` cross-entropy over channels for
    ``C > 1``, binary cross-entropy with logits for ``C == 1``), independent of the
    activation flags and of ``include_background``, which only affect the Dice term.
    Thesis Eq. 8.3 uses ``lambda_dice = lambda_ce = 1``.

    Args:
        lambda_dice: weight of the Dice term (``>= 0``).
        lambda_ce: weight of the cross-entropy term (``>= 0``).
        ce_weight: optional class weights ``[C]`` for the cross-entropy.
        **kwargs: see :class:`DiceLoss` (``reduction`` ``"mean"`` or ``"sum"``).
    """

    def __init__(
        self,
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        ce_weight: Tensor | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if self.reduction == "none":
            raise ValueError("DiceCELoss supports reduction 'mean' or 'sum', got 'none'")
        self.lambda_dice = check_number("lambda_dice", lambda_dice, low=0.0)
        self.lambda_ce = check_number("lambda_ce", lambda_ce, low=0.0)
        if ce_weight is not None:
            ce_weight = torch.as_tensor(ce_weight, dtype=torch.float32)
            if ce_weight.dim() != 1 or not bool(torch.isfinite(ce_weight).all()) or bool((ce_weight < 0).any()):
                raise ValueError(f"ce_weight must be a 1-D tensor of finite values >= 0, got {ce_weight.tolist()}")
        self.dice = DiceLoss(**kwargs)  # type: ignore[arg-type]
        self.register_buffer("ce_weight", ce_weight, persistent=False)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute the loss."""
        d = self.dice(input, target)  # checks input and target
        if self.ce_weight is not None and self.ce_weight.numel() != input.shape[1]:
            raise ValueError(
                f"ce_weight has {self.ce_weight.numel()} entries, input has {input.shape[1]} channels"
            )
        t = target.unsqueeze(1) if target.dim() == input.dim() - 1 else target
        if input.shape[1] == 1:
            ce = F.binary_cross_entropy_with_logits(
                input, t.float(), reduction=self.reduction
            )
        elif t.shape[1] == 1:
            ce = F.cross_entropy(input, t[:, 0].long(), weight=self.ce_weight, reduction=self.reduction)
        else:
            ce = F.cross_entropy(input, t.float(), weight=self.ce_weight, reduction=self.reduction)
        return self.lambda_dice * d + self.lambda_ce * ce

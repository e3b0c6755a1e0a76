"""Overlap losses: Dice, soft IoU (thesis Eq. 7.5) and focal Tversky."""
from __future__ import annotations

from torch import Tensor

from medkit._checks import check_number
from medkit.losses._base import _reduce, _SegLoss

__all__ = ["DiceLoss", "FocalTverskyLoss", "SoftIoULoss"]


class DiceLoss(_SegLoss):
    r"""Soft Dice loss (Milletari et al., 2016), as MONAI's ``DiceLoss``.

    .. math::
        \mathcal{L} = 1 - \frac{2 \sum p t + s_{nr}}{\sum p + \sum t + s_{dr}}

    per batch item and class, then reduced.

    Args:
        include_background, to_onehot_y, sigmoid, softmax, reduction, smooth_nr, smooth_dr,
        batch: see the module docstring.

    Shapes:
        - input: logits ``[B, C, *spatial]``; target: ``[B, C, *spatial]`` or ``[B, 1, *spatial]``.
        - output: scalar, or ``[B, C]`` for ``reduction="none"``.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute the loss."""
        p, t = self._prepare(input, target)
        inter, ps, ts = self._sums(p, t)
        f = 1.0 - (2.0 * inter + self.smooth_nr) / (ps + ts + self.smooth_dr)
        return _reduce(f, self.reduction)


class SoftIoULoss(_SegLoss):
    r"""Soft IoU (Jaccard) loss of Rahman & Wang (2016), thesis Eq. 7.5.

    .. math::
        X = \sum p t, \quad U = \sum (p + t - p t), \quad
        \mathcal{L} = 1 - \frac{X + s_{nr}}{U + s_{dr}}

    Equals MONAI ``DiceLoss(jaccard=True)``. Arguments as :class:`DiceLoss`.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute the loss."""
        p, t = self._prepare(input, target)
        inter, ps, ts = self._sums(p, t)
        f = 1.0 - (inter + self.smooth_nr) / (ps + ts - inter + self.smooth_dr)
        return _reduce(f, self.reduction)


class FocalTverskyLoss(_SegLoss):
    r"""Focal Tversky loss (Abraham & Khan, 2019).

    .. math::
        TI = \frac{TP + s_{nr}}{TP + \alpha FP + \beta FN + s_{dr}}, \quad
        \mathcal{L} = (1 - TI)^{\gamma}

    with soft counts ``TP = sum p t``, ``FP = sum p (1 - t)``, ``FN = sum (1 - p) t``. With
    ``gamma = 1`` this is MONAI's ``TverskyLoss`` (``alpha`` weighs false positives, ``beta``
    false negatives). The paper's focal exponent ``1 / gamma_paper`` with ``gamma_paper = 4/3``
    is the default ``gamma = 0.75``.

    Args:
        alpha: weight of false positives.
        beta: weight of false negatives.
        gamma: focal exponent (``> 0``).
        **kwargs: see :class:`DiceLoss`.
    """

    def __init__(
        self, alpha: float = 0.3, beta: float = 0.7, gamma: float = 0.75, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.gamma = check_number("gamma", gamma, low=0.0, low_open=True)
        self.alpha = check_number("alpha", alpha, low=0.0)
        self.beta = check_number("beta", beta, low=0.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute the loss."""
        p, t = self._prepare(input, target)
        tp, ps, ts = self._sums(p, t)
        fp = ps - tp
        fn = ts - tp
        ti = (tp + self.smooth_nr) / (tp + self.alpha * fp + self.beta * fn + self.smooth_dr)
        f = (1.0 - ti).clamp_min(0).pow(self.gamma)
        return _reduce(f, self.reduction)

"""Segmentation losses with MONAI semantics.

All losses take **logits** ``input`` of shape ``[B, C, *spatial]`` (channel first) and a
``target`` that is either one-hot/probabilistic ``[B, C, *spatial]`` or integer labels
``[B, 1, *spatial]`` (``[B, *spatial]`` is accepted too) with ``to_onehot_y=True``. The
activation is chosen by flags on the loss, as in MONAI: ``sigmoid=True`` (binary or
multi-label), ``softmax=True`` (mutually exclusive classes) or neither (``input`` already
holds probabilities). ``include_background=False`` drops channel 0 from the overlap terms.
``batch=True`` sums the overlap terms over the batch before dividing (one score per class).
``reduction`` is ``"mean"``, ``"sum"`` or ``"none"`` (``"none"`` returns ``[B, C]``, or
``[C]`` with ``batch=True``; MONAI keeps singleton spatial dims instead).

Checks (once per call, at the boundary): an empty ``input`` (no batch item or no pixel) is an
error; one-hot / probabilistic targets must be finite and lie in ``[0, 1]``; label targets
(``to_onehot_y=True`` with ``C > 1``) must be whole numbers in ``[0, C - 1]`` (a label of
``0.6`` is an error, not class 0). The target check costs one reduction and one host
synchronisation per call; ``check_target=False`` skips it in a loop whose targets are known to
be valid. Arguments (``smooth_nr``, ``gamma``, ``p_pos``...) must be finite and in range.

Families: :class:`DiceLoss`, :class:`DiceCELoss` (``lambda_dice * Dice + lambda_ce * CE``),
:class:`WeightedBCELoss` (thesis Eq. 7.4), :class:`SoftIoULoss` (thesis Eq. 7.5),
:class:`BCEIoULoss` (``BCE - log(2 IoU / (IoU + 1))``, thesis Eq. 7.6) and
:class:`FocalTverskyLoss` (Abraham & Khan, 2019).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medkit._checks import check_number, check_seg_input, check_target_values

__all__ = [
    "DiceLoss",
    "DiceCELoss",
    "WeightedBCELoss",
    "SoftIoULoss",
    "BCEIoULoss",
    "FocalTverskyLoss",
    "object_background_ratio",
]

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

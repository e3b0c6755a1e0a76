"""Segmentation overlap metrics: Dice and IoU (Jaccard) per class and mean.

Functional core (:func:`dice`, :func:`iou`, :func:`confusion_counts`) plus thin stateful
accumulators (:class:`DiceMetric`, :class:`IoUMetric`) that sum pixel counts over batches.

Conventions (MONAI ``DiceMetric`` / ``MeanIoU`` style):

- ``pred`` is either integer labels ``[B, *spatial]`` or float logits/probabilities
  ``[B, C, *spatial]`` (arg-max over channels; with ``C == 1`` the foreground is
  ``pred > threshold``, i.e. a binary problem with classes ``{0, 1}``).
- ``target`` is integer labels ``[B, *spatial]`` or a one-hot ``[B, C, *spatial]`` tensor.
- With equal dimensionality, a floating ``pred`` and floating ``target`` are read as
  channel-first scores and one-hot; otherwise both are label maps.
- A class whose prediction and target are both empty has an undefined score: ``nan``;
  ``nan`` entries are left out of the mean.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "confusion_counts",
    "dice",
    "iou",
    "to_labels",
    "DiceMetric",
    "IoUMetric",
]

_REDUCTIONS = ("mean", "none")


def to_labels(x: Tensor, *, threshold: float = 0.0, label_ndim: int | None = None) -> Tensor:
    """Convert logits/probabilities ``[B, C, ...]`` or labels ``[B, ...]`` to integer labels.

    Args:
        x: integer labels, or floating logits/probabilities with a channel dimension.
        threshold: with a single channel, pixels with ``x > threshold`` are class 1
            (``0.0`` for logits; use ``0.5`` for probabilities).
        label_ndim: dimensionality of a label map; if given, a float tensor with this many
            dimensions is treated as (rounded) labels rather than channel-first scores.

    Returns:
        Long tensor ``[B, ...]``.
    """
    if not torch.is_floating_point(x):
        return x.long()
    if label_ndim is not None and x.dim() == label_ndim:
        return x.round().long()
    if x.dim() < 2:
        raise ValueError(f"score tensor must be [B, C, ...], got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        return (x[:, 0] > threshold).long()
    return x.argmax(dim=1)


def _target_labels(target: Tensor, pred_ndim_labels: int | None) -> Tensor:
    if pred_ndim_labels is not None and target.dim() == pred_ndim_labels + 1:
        # one-hot [B, C, ...]
        if target.shape[1] == 1:
            return (target[:, 0] > 0.5).long()
        return target.argmax(dim=1)
    return target.round().long() if torch.is_floating_point(target) else target.long()


def confusion_counts(
    pred: Tensor,
    target: Tensor,
    num_classes: int | None = None,
    *,
    per_image: bool = False,
    threshold: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class true positives, predicted and target pixel counts.

    Args:
        pred: labels ``[B, *S]`` or scores ``[B, C, *S]``.
        target: labels ``[B, *S]`` or one-hot ``[B, C, *S]``.
        num_classes: number of classes; inferred from score/one-hot channels, otherwise
            ``max(label) + 1``.
        per_image: return ``[B, C]`` counts instead of summing over the batch (``[C]``).
        threshold: binary threshold for single-channel scores.

    Returns:
        ``(intersection, pred_count, target_count)`` as float tensors.
    """
    if torch.is_floating_point(pred) and pred.dim() >= 2 and pred.dim() == target.dim() + 1:
        label_ndim = target.dim()
        channels = pred.shape[1]
    elif (
        pred.dim() == target.dim() - 1
        or not torch.is_floating_point(pred)
        or not torch.is_floating_point(target)
    ):
        label_ndim = pred.dim()
        channels = target.shape[1] if target.dim() == pred.dim() + 1 else None
    else:  # both channel-first scores / one-hot
        label_ndim = pred.dim() - 1
        channels = pred.shape[1]
    if channels == 1:
        channels = 2
    p = to_labels(pred, threshold=threshold, label_ndim=label_ndim)
    t = _target_labels(target, label_ndim)
    if p.shape != t.shape:
        raise ValueError(
            f"pred and target label maps differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}"
        )
    if num_classes is None:
        num_classes = channels if channels is not None else int(max(p.max(), t.max()).item()) + 1
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    for name, lab in (("pred", p), ("target", t)):
        if lab.numel() and (lab.min() < 0 or lab.max() >= num_classes):
            raise ValueError(
                f"{name} labels must lie in [0, {num_classes - 1}], got range "
                f"[{int(lab.min())}, {int(lab.max())}]"
            )
    b = p.shape[0]
    p = p.reshape(b, -1)
    t = t.reshape(b, -1)
    offsets = torch.arange(b, device=p.device).unsqueeze(1) * num_classes
    inter = torch.bincount(
        (p + offsets)[p == t], minlength=b * num_classes
    ).view(b, num_classes)
    pc = torch.bincount((p + offsets).reshape(-1), minlength=b * num_classes).view(b, num_classes)
    tc = torch.bincount((t + offsets).reshape(-1), minlength=b * num_classes).view(b, num_classes)
    inter, pc, tc = inter.double(), pc.double(), tc.double()
    if not per_image:
        inter, pc, tc = inter.sum(0), pc.sum(0), tc.sum(0)
    return inter, pc, tc


def _finish(scores: Tensor, include_background: bool, reduction: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not include_background:
        scores = scores[..., 1:]
    if reduction == "none":
        return scores.float()
    return torch.nanmean(scores).float()


def dice(
    pred: Tensor,
    target: Tensor,
    num_classes: int | None = None,
    *,
    include_background: bool = True,
    reduction: str = "mean",
    per_image: bool = False,
    threshold: float = 0.0,
) -> Tensor:
    r"""Dice coefficient :math:`2|P \cap T| / (|P| + |T|)` per class.

    Args:
        pred: labels ``[B, *S]`` or logits/probabilities ``[B, C, *S]`` (arg-max).
        target: labels ``[B, *S]`` or one-hot ``[B, C, *S]``.
        num_classes: number of classes (inferred when possible).
        include_background: keep class 0 in the result.
        reduction: ``"none"``: per-class tensor ``[C]`` (``[B, C]`` if ``per_image``);
            ``"mean"``: scalar mean over classes (and images), ignoring ``nan``.
        per_image: score every image separately (MONAI ``DiceMetric``) instead of pooling
            pixels over the batch.
        threshold: binary threshold for single-channel scores.

    Returns:
        Float tensor; ``nan`` where a class is absent from both prediction and target.

    Example:
        >>> dice(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 0]]), reduction="none")
        tensor([0.6667, 0.6667])
    """
    inter, pc, tc = confusion_counts(
        pred, target, num_classes, per_image=per_image, threshold=threshold
    )
    denom = pc + tc
    scores = torch.where(denom > 0, 2 * inter / denom.clamp_min(1), torch.full_like(denom, math.nan))
    return _finish(scores, include_background, reduction)


def iou(
    pred: Tensor,
    target: Tensor,
    num_classes: int | None = None,
    *,
    include_background: bool = True,
    reduction: str = "mean",
    per_image: bool = False,
    threshold: float = 0.0,
) -> Tensor:
    r"""Intersection over union :math:`|P \cap T| / |P \cup T|` per class.

    Arguments as in :func:`dice`.

    Example:
        >>> iou(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 0]]), reduction="none")
        tensor([0.5000, 0.5000])
    """
    inter, pc, tc = confusion_counts(
        pred, target, num_classes, per_image=per_image, threshold=threshold
    )
    union = pc + tc - inter
    scores = torch.where(union > 0, inter / union.clamp_min(1), torch.full_like(union, math.nan))
    return _finish(scores, include_background, reduction)


class _OverlapMetric:
    """Accumulates pixel counts over batches; :meth:`compute` gives per-class and mean scores."""

    _kind = "dice"

    def __init__(
        self,
        num_classes: int,
        *,
        include_background: bool = True,
        class_names: list[str] | None = None,
        threshold: float = 0.0,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f"class_names must have num_classes={num_classes} entries, got {len(class_names)}"
            )
        self.num_classes = num_classes
        self.include_background = include_background
        self.class_names = class_names
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        """Clear the accumulated counts."""
        self.inter = torch.zeros(self.num_classes, dtype=torch.float64)
        self.pred_count = torch.zeros(self.num_classes, dtype=torch.float64)
        self.target_count = torch.zeros(self.num_classes, dtype=torch.float64)

    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add one batch (same inputs as :func:`dice`)."""
        i, p, t = confusion_counts(pred, target, self.num_classes, threshold=self.threshold)
        self.inter += i.cpu()
        self.pred_count += p.cpu()
        self.target_count += t.cpu()

    def per_class(self) -> Tensor:
        """Scores ``[C]`` from the accumulated counts (``nan`` for absent classes)."""
        if self._kind == "dice":
            d = self.pred_count + self.target_count
            num = 2 * self.inter
        else:
            d = self.pred_count + self.target_count - self.inter
            num = self.inter
        return torch.where(d > 0, num / d.clamp_min(1), torch.full_like(d, math.nan)).float()

    def compute(self) -> dict[str, float]:
        """Per-class scores keyed by class name (or index) plus ``"mean"``."""
        s = self.per_class()
        names = self.class_names or [str(c) for c in range(self.num_classes)]
        start = 0 if self.include_background else 1
        out = {names[c]: float(s[c]) for c in range(start, self.num_classes)}
        out["mean"] = float(torch.nanmean(s[start:]))
        return out


class DiceMetric(_OverlapMetric):
    """Stateful Dice over many batches (pixel counts pooled over all updates).

    Args:
        num_classes: number of classes.
        include_background: include class 0 in :meth:`compute` and its mean.
        class_names: optional names used as keys of :meth:`compute`.
        threshold: binary threshold for single-channel scores.
    """

    _kind = "dice"


class IoUMetric(_OverlapMetric):
    """Stateful IoU over many batches (arguments as :class:`DiceMetric`)."""

    _kind = "iou"

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

from medkit.losses._base import object_background_ratio
from medkit.losses.bce import BCEIoULoss, WeightedBCELoss
from medkit.losses.dice_ce import DiceCELoss
from medkit.losses.overlap import DiceLoss, FocalTverskyLoss, SoftIoULoss

__all__ = [
    "DiceLoss",
    "DiceCELoss",
    "WeightedBCELoss",
    "SoftIoULoss",
    "BCEIoULoss",
    "FocalTverskyLoss",
    "object_background_ratio",
]

"""The stateful :class:`ImageMetrics` accumulator over image batches."""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from ._common import PathLike, _check_pair
from .fid import fid_from_features
from .improved_precision_recall import improved_precision_recall
from .inception import InceptionFeatures
from .kid import kid_from_features
from .lpips import LPIPS
from .pixel import mae, ssim
from .prd import prd

__all__ = ["ImageMetrics"]


class ImageMetrics:
    """Accumulate image batches and report MAE, SSIM and (optionally) LPIPS, FID, KID, PRD, P/R.

    ``update(pred, target)`` adds per-image MAE/SSIM (and LPIPS when an :class:`LPIPS` module is
    given) and, when a ``feature_extractor`` is given, the features of both image sets;
    ``compute()`` returns a dict of floats. Distribution metrics need at least 2 images per set
    (``k + 1`` for the improved precision/recall, ``prd_clusters`` for PRD) and are skipped
    (absent from the dict) otherwise. ``prd_f_1_8`` / ``prd_f_8`` are the thesis' precision /
    recall (:func:`~sgkit.metrics.image.prd`); ``improved_precision`` / ``improved_recall`` the
    k-NN metric of Kynkäänniemi et al. (2019).

    Args:
        feature_extractor: callable ``[B, 3, H, W] -> [B, D]`` (e.g. :class:`InceptionFeatures`)
            or ``None``.
        inception_weights: local torchvision Inception-v3 weights; used to build the default
            :class:`InceptionFeatures` extractor when ``feature_extractor`` is ``None``. With
            neither, FID/KID/precision/recall are not computed.
        lpips: an :class:`LPIPS` module or ``None``.
        data_range: SSIM data range.
        kid_subset_size: KID subset size.
        kid_subsets: number of KID subsets.
        k: neighbourhood of the improved precision/recall.
        prd_clusters: k-means clusters of PRD (20 in the paper).
        prd_runs: k-means runs averaged by PRD (10 in the paper).
        seed: seed of the KID subsets and the PRD clusterings.
    """

    def __init__(
        self,
        feature_extractor: Optional[Callable[[Tensor], Tensor]] = None,
        *,
        inception_weights: Optional[PathLike] = None,
        lpips: Optional[LPIPS] = None,
        data_range: float = 1.0,
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        k: int = 3,
        prd_clusters: int = 20,
        prd_runs: int = 10,
        seed: int = 0,
    ) -> None:
        if feature_extractor is None and inception_weights is not None:
            feature_extractor = InceptionFeatures(inception_weights)
        self.feature_extractor = feature_extractor
        self.lpips = lpips
        self.data_range = data_range
        self.kid_subset_size = kid_subset_size
        self.kid_subsets = kid_subsets
        self.k = k
        self.prd_clusters = prd_clusters
        self.prd_runs = prd_runs
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget all accumulated batches."""
        self._mae: list[Tensor] = []
        self._ssim: list[Tensor] = []
        self._lpips: list[Tensor] = []
        self._real: list[Tensor] = []
        self._fake: list[Tensor] = []

    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor, mask: Optional[Tensor] = None) -> None:
        """Add generated (``pred``) and reference (``target``) images ``[B, C, H, W]``."""
        _check_pair(pred, target)
        self._mae.append(mae(pred, target, mask=mask, reduction="none").double().cpu())
        win = min(7, pred.size(-1), pred.size(-2))
        win = win if win % 2 == 1 else win - 1
        self._ssim.append(
            ssim(
                pred, target, data_range=self.data_range, win_size=win, mask=mask,
                reduction="none",
            ).cpu()
        )
        if self.lpips is not None:
            self._lpips.append(self.lpips(pred, target).double().cpu())
        if self.feature_extractor is not None:
            self._fake.append(self.feature_extractor(pred).flatten(1).double().cpu())
            self._real.append(self.feature_extractor(target).flatten(1).double().cpu())

    def compute(self) -> dict[str, float]:
        """Return ``mae``, ``ssim`` and, when available, ``lpips``, ``fid``, ``kid_mean``,
        ``kid_std``, ``prd_f_1_8``, ``prd_f_8``, ``improved_precision``, ``improved_recall``."""
        if not self._mae:
            raise RuntimeError("ImageMetrics.compute() called before any update()")
        out = {
            "mae": float(torch.cat(self._mae).nanmean()),
            "ssim": float(torch.cat(self._ssim).nanmean()),
        }
        if self._lpips:
            out["lpips"] = float(torch.cat(self._lpips).mean())
        if self._real:
            real, fake = torch.cat(self._real), torch.cat(self._fake)
            if real.size(0) >= 2:
                out["fid"] = fid_from_features(real, fake)
                out["kid_mean"], out["kid_std"] = kid_from_features(
                    real, fake, subset_size=self.kid_subset_size, num_subsets=self.kid_subsets,
                    seed=self.seed,
                )
            if real.size(0) >= self.prd_clusters:
                res = prd(real, fake, num_clusters=self.prd_clusters, num_runs=self.prd_runs, seed=self.seed)
                out["prd_f_1_8"], out["prd_f_8"] = res.f_1_8, res.f_8
            if real.size(0) > self.k:
                out["improved_precision"], out["improved_recall"] = improved_precision_recall(real, fake, k=self.k)
        return out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(feature_extractor={self.feature_extractor is not None}, "
            f"lpips={self.lpips is not None}, images={sum(len(m) for m in self._mae)})"
        )


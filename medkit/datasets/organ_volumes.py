"""The volume data set of MetaMedSeg: :class:`OrganVolumes`.

A data set is one *organ x modality x zone* combination, as in MetaMedSeg (thesis lines
1540-1560: BRATS alone gives 12 source data sets): a list of volumes, each a stack of 2D slices
``[S, H, W]`` in slice order with a binary mask per slice. Tasks for meta-learning
(:mod:`medkit.meta.tasks`) are drawn from these volumes.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["OrganVolumes"]


class OrganVolumes(Dataset):
    """One segmentation data set made of volumes (stacks of slices in slice order).

    Indexing over all slices gives ``(image [1, H, W] float, mask [H, W] long)`` pairs, so the
    object is also a plain slice-level :class:`torch.utils.data.Dataset`.

    Args:
        name: data set name, e.g. ``"prostate_peripheral"``.
        organ: organ the data set belongs to; data sets sharing an organ (its modalities and
            zones) share the sampling weight ``1/z`` in :func:`medkit.meta.organ_weights`.
        volumes: list of ``(images [S, H, W] float, masks [S, H, W] integer {0, 1})`` pairs, all
            with the same ``H, W``; ``S`` may differ between volumes.
        zone: modality and/or zone descriptor (informative).

    Raises:
        ValueError: for an empty volume list, mismatching shapes or masks outside ``{0, 1}``.
    """

    def __init__(
        self,
        name: str,
        organ: str,
        volumes: Sequence[tuple[Tensor, Tensor]],
        zone: str = "",
    ) -> None:
        if len(volumes) == 0:
            raise ValueError(f"volumes of data set {name!r} must not be empty")
        vols: list[tuple[Tensor, Tensor]] = []
        size: tuple[int, int] | None = None
        for v, (img, msk) in enumerate(volumes):
            img = torch.as_tensor(img, dtype=torch.float32)
            msk = torch.as_tensor(msk).long()
            if img.dim() != 3 or img.shape != msk.shape or img.shape[0] == 0:
                raise ValueError(
                    f"volume {v} of {name!r}: images and masks must both be [S, H, W] with S >= 1, "
                    f"got {tuple(img.shape)} and {tuple(msk.shape)}"
                )
            if size is None:
                size = (int(img.shape[1]), int(img.shape[2]))
            elif tuple(img.shape[1:]) != size:
                raise ValueError(
                    f"volume {v} of {name!r} has slice size {tuple(img.shape[1:])}, expected {size}"
                )
            if msk.numel() and (msk.min() < 0 or msk.max() > 1):
                raise ValueError(
                    f"volume {v} of {name!r}: masks must be binary {{0, 1}}, got range "
                    f"[{int(msk.min())}, {int(msk.max())}]"
                )
            vols.append((img.contiguous(), msk.contiguous()))
        self.name = name
        self.organ = organ
        self.zone = zone
        self.volumes = vols
        self.image_size: tuple[int, int] = size  # type: ignore[assignment]
        self.index: list[tuple[int, int]] = [
            (v, s) for v, (img, _) in enumerate(vols) for s in range(img.shape[0])
        ]

    @property
    def num_volumes(self) -> int:
        """Number of volumes."""
        return len(self.volumes)

    def num_slices(self, volume: int) -> int:
        """Number of slices of volume ``volume``."""
        return int(self.volumes[volume][0].shape[0])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        v, s = self.index[i]
        img, msk = self.volumes[v]
        return img[s].unsqueeze(0), msk[s]

    def take(self, pairs: Iterable[tuple[int, int]]) -> tuple[Tensor, Tensor]:
        """Stack the slices named by ``(volume, slice)`` pairs.

        Returns:
            ``(images [n, 1, H, W], masks [n, H, W])`` in the order given.
        """
        pairs = list(pairs)
        if not pairs:
            raise ValueError("pairs must name at least one (volume, slice)")
        imgs, msks = [], []
        for v, s in pairs:
            if not 0 <= v < self.num_volumes or not 0 <= s < self.num_slices(v):
                raise IndexError(f"(volume, slice)=({v}, {s}) out of range for data set {self.name!r}")
            imgs.append(self.volumes[v][0][s])
            msks.append(self.volumes[v][1][s])
        return torch.stack(imgs).unsqueeze(1), torch.stack(msks)

    def slices(self) -> tuple[Tensor, Tensor]:
        """All slices of all volumes: ``(images [N, 1, H, W], masks [N, H, W])``."""
        imgs = torch.cat([img for img, _ in self.volumes]).unsqueeze(1)
        msks = torch.cat([m for _, m in self.volumes])
        return imgs, msks

    def subset(self, volumes: Sequence[int]) -> OrganVolumes:
        """A data set made of the given volumes (in the given order)."""
        return OrganVolumes(self.name, self.organ, [self.volumes[v] for v in volumes], self.zone)

    def split(self, test_volumes: int = 1, *, seed: int = 0) -> tuple[OrganVolumes, OrganVolumes]:
        """Split by volume into ``(train, test)``, ``test_volumes`` volumes chosen at random.

        Raises:
            ValueError: unless ``1 <= test_volumes < num_volumes``.
        """
        if not 1 <= test_volumes < self.num_volumes:
            raise ValueError(
                f"test_volumes must lie in [1, {self.num_volumes - 1}] for {self.num_volumes} "
                f"volumes, got {test_volumes}"
            )
        perm = np.random.default_rng(seed).permutation(self.num_volumes).tolist()
        return self.subset(sorted(perm[test_volumes:])), self.subset(sorted(perm[:test_volumes]))

    def foreground_fraction(self) -> float:
        """Fraction of mask pixels that are foreground."""
        total = sum(m.numel() for _, m in self.volumes)
        return float(sum(int(m.sum()) for _, m in self.volumes)) / max(total, 1)

    def __repr__(self) -> str:
        sizes = [self.num_slices(v) for v in range(self.num_volumes)]
        return (
            f"OrganVolumes(name={self.name!r}, organ={self.organ!r}, volumes={self.num_volumes}, "
            f"slices={sum(sizes)}, image_size={self.image_size})"
        )

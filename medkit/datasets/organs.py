"""Organ segmentation volumes for MetaMedSeg: a seeded synthetic generator and a Decathlon loader.

A data set (:class:`OrganVolumes`) is one *organ x modality x zone* combination, as in MetaMedSeg
(thesis lines 1540-1560: BRATS alone gives 12 source data sets): a list of volumes, each a stack of
2D slices ``[S, H, W]`` in slice order with a binary mask per slice. Tasks for meta-learning
(:mod:`medkit.meta.tasks`) are drawn from these volumes.

Two sources of volumes:

* :func:`synthetic_organs`: ten synthetic organs (seven source organs, three held-out target
  organs split into four target data sets like Table 7.1), each with its own shape family,
  intensities, modalities and zones. The cross-section changes smoothly from slice to slice (the
  organ grows, drifts, rotates and deforms along the volume), so slices sampled across one
  volume (volumetric tasks) cover the organ's variability. Seeded, vectorised, fast.
* :func:`load_decathlon`: the Medical Segmentation Decathlon NIfTI layout (``dataset.json``,
  ``imagesTr/``, ``labelsTr/``), split into one data set per modality and label, volumes
  normalised with the mean and standard deviation of their non-zero voxels, slices resized with
  :func:`medkit.datasets.oct.resize_pair` (images bilinearly, label maps with nearest neighbour,
  never interpolated) and kept when the object covers at least ``min_pixels`` pixels after resizing.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor
from torch.utils.data import Dataset

from medkit._checks import reading
from medkit._imports import require
from medkit.datasets.oct import resize_pair

__all__ = [
    "OrganVolumes",
    "SyntheticOrgan",
    "SYNTHETIC_ORGANS",
    "SOURCE_ORGANS",
    "TARGET_ORGANS",
    "normalize_volume",
    "synthetic_organ",
    "synthetic_organs",
    "load_decathlon",
]


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

    def subset(self, volumes: Sequence[int]) -> "OrganVolumes":
        """A data set made of the given volumes (in the given order)."""
        return OrganVolumes(self.name, self.organ, [self.volumes[v] for v in volumes], self.zone)

    def split(self, test_volumes: int = 1, *, seed: int = 0) -> tuple["OrganVolumes", "OrganVolumes"]:
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


# --------------------------------------------------------------------------------------------
# shared preprocessing


def normalize_volume(volume: np.ndarray | Tensor, eps: float = 1e-8) -> Tensor:
    """Standardise a volume with the mean and standard deviation of its non-zero voxels.

    MetaMedSeg's volume normalisation (thesis line 1590): ``(x - mean) / std`` over the whole
    volume, statistics from the non-zero voxels (the body, not the air around it). A volume
    without non-zero voxels is returned unchanged. A volume with a NaN or infinite voxel is
    rejected: one such voxel would make the statistics, and so every normalised voxel, NaN.

    Args:
        volume: array of any shape.
        eps: added to the standard deviation.

    Returns:
        Float32 tensor of the same shape.

    Raises:
        ValueError: if the volume holds a non-finite voxel (the message gives their number and
            the first one's index).
    """
    x = torch.as_tensor(np.asarray(volume) if not torch.is_tensor(volume) else volume).float()
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"volume has {int(bad.sum())} non-finite voxel(s) (NaN/inf), the first at index {first}; "
            "normalising it would make every voxel NaN"
        )
    nz = x[x != 0]
    if nz.numel() == 0:
        return x.clone()
    std = nz.std(unbiased=False) if nz.numel() > 1 else torch.tensor(0.0)
    return (x - nz.mean()) / (std + eps)


# --------------------------------------------------------------------------------------------
# synthetic organs


@dataclass(frozen=True)
class SyntheticOrgan:
    """Recipe of one synthetic organ (the analogue of one Decathlon task).

    Args:
        name: organ name.
        family: shape family: ``"blob"``, ``"pair"``, ``"nested"``, ``"twin"``, ``"elongated"``,
            ``"tube"``, ``"vessels"`` or ``"crescent"``.
        labels: names of the label values ``1..n`` (zones/regions); each becomes a data set.
        modalities: ``(modality name, (body, label 1, ..., label n) intensities)`` pairs; each
            modality becomes a data set (the same volumes seen with other contrasts).
        size: typical organ radius as a fraction of the half image width.
        noise: standard deviation of the additive Gaussian noise.
        texture: amplitude of the smooth tissue texture.
        distractors: number of unlabelled structures with organ-like intensity per volume.
    """

    name: str
    family: str
    labels: tuple[str, ...]
    modalities: tuple[tuple[str, tuple[float, ...]], ...]
    size: float = 0.3
    noise: float = 0.08
    texture: float = 0.12
    distractors: int = 2

    def dataset_names(self) -> list[str]:
        """Names of the data sets this organ yields (one per modality and label)."""
        out = []
        for mod, _ in self.modalities:
            for lab in self.labels:
                parts = [self.name]
                if len(self.modalities) > 1:
                    parts.append(mod)
                if len(self.labels) > 1:
                    parts.append(lab)
                out.append("_".join(parts))
        return out


SYNTHETIC_ORGANS: dict[str, SyntheticOrgan] = {
    o.name: o
    for o in (
        # ---- source organs
        SyntheticOrgan(
            "brain", "nested", ("edema", "tumor"),
            (("flair", (0.45, 0.95, 0.7)), ("t1", (0.55, 0.4, 0.9))),
            size=0.38, distractors=1,
        ),
        SyntheticOrgan("hippocampus", "twin", ("anterior", "posterior"), (("t1", (0.35, 0.8, 0.65)),), size=0.22),
        SyntheticOrgan("liver", "blob", ("liver",), (("ct", (0.4, 0.75)),), size=0.45),
        SyntheticOrgan("lung", "pair", ("lung",), (("ct", (0.6, 0.1)),), size=0.36, distractors=1),
        SyntheticOrgan("pancreas", "elongated", ("pancreas",), (("ct", (0.45, 0.65)),), size=0.36, distractors=3),
        SyntheticOrgan("colon", "tube", ("colon",), (("ct", (0.45, 0.85)),), size=0.24),
        SyntheticOrgan("vessel", "vessels", ("vessel",), (("ct", (0.4, 0.9)),), size=0.1, distractors=1),
        # ---- target organs (held out)
        SyntheticOrgan("cardiac", "blob", ("atrium",), (("mri", (0.35, 0.85)),), size=0.32, distractors=2),
        SyntheticOrgan("spleen", "crescent", ("spleen",), (("ct", (0.45, 0.75)),), size=0.36),
        SyntheticOrgan(
            "prostate", "nested", ("peripheral", "transitional"), (("t2", (0.35, 0.8, 0.55)),),
            size=0.34, distractors=1,
        ),
    )
}
"""The synthetic organ recipes, by name."""

SOURCE_ORGANS: tuple[str, ...] = ("brain", "hippocampus", "liver", "lung", "pancreas", "colon", "vessel")
"""Organs used for meta-training / transfer pre-training (11 data sets)."""

TARGET_ORGANS: tuple[str, ...] = ("cardiac", "spleen", "prostate")
"""Held-out organs (4 data sets: cardiac, spleen, prostate_peripheral, prostate_transitional)."""


def _blob(
    X: np.ndarray,
    Y: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    r: np.ndarray,
    aspect: float,
    rot: np.ndarray,
    amps: np.ndarray,
    phases: np.ndarray,
    bend: float = 0.0,
) -> np.ndarray:
    """Star-shaped blob per slice: ``[S, H, W]`` boolean.

    ``cx, cy, r, rot`` are ``[S]``; ``amps`` ``[K]`` harmonic amplitudes (orders 2..K+1) with
    per-slice ``phases`` ``[S, K]``; ``aspect`` stretches the second axis; ``bend`` curves it.
    """
    dx = X[None] - cx[:, None, None]
    dy = Y[None] - cy[:, None, None]
    c = np.cos(rot)[:, None, None]
    s = np.sin(rot)[:, None, None]
    u = c * dx + s * dy
    v = -s * dx + c * dy
    v = (v - bend * u**2) * aspect
    rad = np.hypot(u, v)
    phi = np.arctan2(v, u)
    shape = np.ones_like(rad)
    for k in range(len(amps)):
        shape = shape + amps[k] * np.cos((k + 2) * phi + phases[:, k, None, None])
    return rad < r[:, None, None] * shape


def _label_volume(
    organ: SyntheticOrgan, rng: np.random.Generator, num_slices: int, X: np.ndarray, Y: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Label map ``[S, H, W]`` (values ``0..n``) plus boolean masks of unlabelled distractors."""
    S = num_slices
    t = np.linspace(0.0, 1.0, S)
    gamma = rng.uniform(0.7, 1.4)
    profile = 0.6 + 0.4 * np.sin(np.pi * t**gamma)  # size grows then shrinks: smooth in t

    def traj(c0: float, spread: float) -> np.ndarray:
        return c0 + rng.uniform(-spread, spread) * (t - 0.5) + rng.uniform(-0.03, 0.03) * np.sin(
            2 * np.pi * t + rng.uniform(0, 2 * np.pi)
        )

    def phases(k: int) -> np.ndarray:
        return rng.uniform(0, 2 * np.pi, k)[None, :] + rng.uniform(-1.5, 1.5, k)[None, :] * (t[:, None] - 0.5)

    def amps(k: int, scale: float) -> np.ndarray:
        return rng.uniform(0.3, 1.0, k) * scale / np.arange(1, k + 1)

    size = organ.size * rng.uniform(0.85, 1.15)
    r = size * profile
    rot = rng.uniform(-0.4, 0.4) + rng.uniform(-0.5, 0.5) * (t - 0.5)
    lab = np.zeros((S,) + X.shape, dtype=np.int64)
    fam = organ.family
    if fam == "blob":
        cx, cy = traj(rng.uniform(-0.25, 0.25), 0.2), traj(rng.uniform(-0.2, 0.2), 0.2)
        m = _blob(X, Y, cx, cy, r, rng.uniform(0.8, 1.3), rot, amps(3, 0.18), phases(3))
        lab[m] = 1
    elif fam == "crescent":
        cx, cy = traj(rng.uniform(-0.3, 0.0), 0.2), traj(rng.uniform(-0.2, 0.2), 0.2)
        outer = _blob(X, Y, cx, cy, r, rng.uniform(0.6, 0.8), rot, amps(2, 0.1), phases(2))
        off = 0.55 * r
        inner = _blob(
            X, Y, cx + off * np.cos(rot), cy + off * np.sin(rot), 0.8 * r, 0.8, rot, amps(2, 0.05), phases(2)
        )
        lab[outer & ~inner] = 1
    elif fam == "pair":
        cy = traj(rng.uniform(-0.1, 0.1), 0.1)
        for side in (-1.0, 1.0):
            cx = traj(side * rng.uniform(0.38, 0.45), 0.1)
            m = _blob(X, Y, cx, cy, r, rng.uniform(0.55, 0.7), np.pi / 2 + 0.3 * rot, amps(3, 0.12), phases(3))
            lab[m] = 1
    elif fam == "nested":
        cx, cy = traj(rng.uniform(-0.25, 0.25), 0.15), traj(rng.uniform(-0.25, 0.25), 0.15)
        outer = _blob(X, Y, cx, cy, r, rng.uniform(0.8, 1.2), rot, amps(3, 0.16), phases(3))
        shift = rng.uniform(0.15, 0.35) * r
        ang = rng.uniform(0, 2 * np.pi)
        inner = _blob(
            X, Y, cx + shift * np.cos(ang), cy + shift * np.sin(ang), 0.5 * r * rng.uniform(0.9, 1.1),
            rng.uniform(0.8, 1.2), rot, amps(2, 0.12), phases(2),
        )
        lab[outer] = 1
        lab[inner & outer] = 2
    elif fam == "twin":
        cx, cy = traj(rng.uniform(-0.3, 0.3), 0.15), traj(rng.uniform(-0.2, 0.2), 0.15)
        along = 0.9 * r
        for value, sign in ((1, -1.0), (2, 1.0)):
            m = _blob(
                X, Y, cx + sign * along * np.cos(rot), cy + sign * along * np.sin(rot), r,
                rng.uniform(1.4, 1.8), rot, amps(2, 0.1), phases(2),
            )
            lab[m & (lab == 0)] = value
    elif fam == "elongated":
        cx, cy = traj(rng.uniform(-0.15, 0.15), 0.15), traj(rng.uniform(-0.1, 0.2), 0.15)
        m = _blob(
            X, Y, cx, cy, r, rng.uniform(2.5, 3.5), rot, amps(2, 0.08), phases(2), bend=rng.uniform(-0.8, 0.8)
        )
        lab[m] = 1
    elif fam == "tube":
        for _ in range(rng.integers(1, 3)):
            cx, cy = traj(rng.uniform(-0.45, 0.45), 0.5), traj(rng.uniform(-0.4, 0.4), 0.5)
            outer = _blob(X, Y, cx, cy, r, rng.uniform(0.9, 1.2), rot, amps(2, 0.1), phases(2))
            inner = _blob(X, Y, cx, cy, 0.55 * r, 1.0, rot, amps(1, 0.05), phases(1))
            lab[outer & ~inner] = 1
    elif fam == "vessels":
        for _ in range(rng.integers(3, 6)):
            cx, cy = traj(rng.uniform(-0.5, 0.5), 0.4), traj(rng.uniform(-0.45, 0.45), 0.4)
            rr = r * rng.uniform(0.7, 1.4)
            lab[_blob(X, Y, cx, cy, rr, rng.uniform(0.8, 1.3), rot, amps(1, 0.05), phases(1))] = 1
    else:  # pragma: no cover - recipes are fixed
        raise ValueError(f"unknown shape family {fam!r}")
    distract = []
    for _ in range(organ.distractors):
        cx, cy = traj(rng.uniform(-0.55, 0.55), 0.3), traj(rng.uniform(-0.45, 0.45), 0.3)
        rd = organ.size * rng.uniform(0.4, 0.9) * profile[::-1]
        d = _blob(X, Y, cx, cy, rd, rng.uniform(0.7, 1.5), rot, amps(2, 0.15), phases(2))
        distract.append(d & (lab == 0))
    return lab, distract


def _render(
    organ: SyntheticOrgan,
    lab: np.ndarray,
    distract: list[np.ndarray],
    levels: tuple[float, ...],
    rng: np.random.Generator,
    X: np.ndarray,
    Y: np.ndarray,
    body: np.ndarray,
) -> np.ndarray:
    """Intensity volume ``[S, H, W]`` for one modality (before normalisation)."""
    img = np.zeros(lab.shape, dtype=np.float64)
    img[:, body] = levels[0]
    for value in range(1, len(levels)):
        img[lab == value] = levels[value]
    for d in distract:
        img[d] = float(rng.choice(levels[1:])) + rng.uniform(-0.25, 0.25)
    sigma_px = max(X.shape[0] / 24.0, 1.0)
    tex = ndimage.gaussian_filter(rng.standard_normal(lab.shape), sigma=(1.5, sigma_px, sigma_px))
    tex /= tex.std() + 1e-8
    img = img + organ.texture * tex * body[None]
    img = ndimage.gaussian_filter(img, sigma=(0, 0.6, 0.6))  # partial-volume blur
    img = img + organ.noise * rng.standard_normal(lab.shape)
    img[:, ~body] = 0.0
    return img.astype(np.float32)


def synthetic_organ(
    organ: str | SyntheticOrgan,
    *,
    num_volumes: int = 6,
    num_slices: int = 16,
    image_size: int = 64,
    seed: int = 0,
) -> list[OrganVolumes]:
    """Generate the data sets (one per modality and label) of one synthetic organ.

    The random stream depends on ``seed`` and the organ name only, so an organ's volumes do not
    change when other organs are generated or requested in another order. Data sets of the same
    organ share the underlying volumes (different contrasts / zones of the same anatomy).

    Args:
        organ: a name of :data:`SYNTHETIC_ORGANS` or a :class:`SyntheticOrgan` recipe.
        num_volumes: volumes per data set (``>= 2``: tasks take support and query from
            different volumes).
        num_slices: slices per volume.
        image_size: slice height and width in pixels.
        seed: random seed.

    Returns:
        List of :class:`OrganVolumes`, images normalised per volume with
        :func:`normalize_volume`, masks ``{0, 1}``.
    """
    if isinstance(organ, str):
        if organ not in SYNTHETIC_ORGANS:
            raise ValueError(f"organ must be one of {sorted(SYNTHETIC_ORGANS)}, got {organ!r}")
        organ = SYNTHETIC_ORGANS[organ]
    for name, value, low in (
        ("num_volumes", num_volumes, 2),
        ("num_slices", num_slices, 1),
        ("image_size", image_size, 16),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    rng = np.random.default_rng([seed, zlib.crc32(organ.name.encode())])
    lin = np.linspace(-1.0, 1.0, image_size)
    Y, X = np.meshgrid(lin, lin, indexing="ij")
    per_set: dict[tuple[int, int], list[tuple[Tensor, Tensor]]] = {}
    for _ in range(num_volumes):
        lab, distract = _label_volume(organ, rng, num_slices, X, Y)
        ax, ay = rng.uniform(0.85, 0.95), rng.uniform(0.7, 0.85)
        body = (X / ax) ** 2 + (Y / ay) ** 2 < 1.0
        lab[:, ~body] = 0
        for mi, (_, levels) in enumerate(organ.modalities):
            if len(levels) != len(organ.labels) + 1:
                raise ValueError(
                    f"modality {mi} of organ {organ.name!r} needs {len(organ.labels) + 1} levels, "
                    f"got {len(levels)}"
                )
            jitter = tuple(lv + rng.uniform(-0.05, 0.05) for lv in levels)
            img = normalize_volume(_render(organ, lab, distract, jitter, rng, X, Y, body))
            for li in range(len(organ.labels)):
                mask = torch.from_numpy(lab == li + 1).long()
                per_set.setdefault((mi, li), []).append((img, mask))
    names = organ.dataset_names()
    out = []
    k = 0
    for mi, (mod, _) in enumerate(organ.modalities):
        for li, lab_name in enumerate(organ.labels):
            parts = (
                mod if len(organ.modalities) > 1 else "",
                lab_name if len(organ.labels) > 1 else "",
            )
            zone = "_".join(p for p in parts if p)
            out.append(OrganVolumes(names[k], organ.name, per_set[(mi, li)], zone=zone))
            k += 1
    return out


def synthetic_organs(
    organs: str | Sequence[str] = "source",
    *,
    num_volumes: int = 6,
    num_slices: int = 16,
    image_size: int = 64,
    seed: int = 0,
) -> list[OrganVolumes]:
    """Synthetic organ data sets for meta-training (source) and few-shot evaluation (target).

    Args:
        organs: ``"source"`` (:data:`SOURCE_ORGANS`, 11 data sets), ``"target"``
            (:data:`TARGET_ORGANS`: cardiac, spleen, prostate_peripheral,
            prostate_transitional), ``"all"``, or a list of organ names.
        num_volumes: volumes per data set.
        num_slices: slices per volume.
        image_size: slice size in pixels.
        seed: random seed.

    Returns:
        List of :class:`OrganVolumes` in organ order.

    Example:
        >>> sets = synthetic_organs("target", num_volumes=2, num_slices=4, image_size=32)
        >>> [s.name for s in sets]
        ['cardiac', 'spleen', 'prostate_peripheral', 'prostate_transitional']
    """
    if isinstance(organs, str):
        groups = {"source": SOURCE_ORGANS, "target": TARGET_ORGANS, "all": SOURCE_ORGANS + TARGET_ORGANS}
        if organs not in groups:
            raise ValueError(f"organs must be 'source', 'target', 'all' or a list of names, got {organs!r}")
        names: Sequence[str] = groups[organs]
    else:
        names = list(organs)
    out: list[OrganVolumes] = []
    for name in names:
        out.extend(
            synthetic_organ(
                name, num_volumes=num_volumes, num_slices=num_slices, image_size=image_size, seed=seed
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Medical Segmentation Decathlon


def _clean(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in str(name).strip().lower()).strip("_")


def load_decathlon(
    root: str | Path,
    *,
    image_size: int | tuple[int, int] = 64,
    organ: str | None = None,
    modalities: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    min_pixels: int = 1,
    max_volumes: int | None = None,
    axis: int = 2,
    progress: bool = True,
) -> list[OrganVolumes]:
    """Load one Medical Segmentation Decathlon task as MetaMedSeg data sets.

    Reads ``root/dataset.json`` (keys ``name``, ``modality``, ``labels``, ``training`` with
    ``image``/``label`` paths relative to ``root``, as in the ``imagesTr``/``labelsTr`` layout).
    Every (modality, non-background label) pair becomes one :class:`OrganVolumes` whose ``organ``
    is the task's organ, so a task with ``z`` such pairs gives each the sampling weight ``1/z``.
    Volumes are sliced along ``axis``, normalised per modality with :func:`normalize_volume`,
    resized with :func:`medkit.datasets.oct.resize_pair` (label maps nearest-neighbour), and a
    slice is kept only if its binary mask has at least ``min_pixels`` foreground pixels after
    resizing (MetaMedSeg's per-organ presence threshold). Volumes left without slices are dropped, and so are data sets
    left without volumes.

    Args:
        root: task folder (e.g. ``Task05_Prostate``).
        image_size: output slice size (``int`` for square slices or ``(H, W)``).
        organ: organ name (default: ``dataset.json``'s ``name``, lower-cased).
        modalities: keep only these modality names (as in ``dataset.json``, case-insensitive).
        labels: keep only these label names (case-insensitive).
        min_pixels: presence threshold in pixels (``0`` keeps every slice).
        max_volumes: read at most this many training cases.
        axis: slicing axis of the 3D volume (NIfTI ``x, y, z`` order; ``2`` = axial).
        progress: show a tqdm progress bar.

    Returns:
        List of :class:`OrganVolumes`, named ``organ[_modality][_label]``.

    Raises:
        ImportError: if nibabel is missing.
        FileNotFoundError: if ``dataset.json`` or a listed file is missing.
        ValueError: for a malformed ``dataset.json``, a corrupt NIfTI file, an image with a
            NaN/inf voxel, a label map with non-integral or negative values, or a volume whose
            shape does not fit (each message names the file).
    """
    require("WITH_NIBABEL", "reading Decathlon NIfTI volumes")
    import nibabel as nib
    from tqdm.auto import tqdm

    root = Path(root)
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no dataset.json in {str(root)!r}")
    with reading(meta_path, "Decathlon dataset.json"):
        meta = json.loads(meta_path.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"{str(meta_path)!r} must hold a JSON object, got {type(meta).__name__}")
    for key in ("modality", "labels", "training"):
        if key not in meta:
            raise ValueError(f"dataset.json in {str(root)!r} lacks the key {key!r}")
    if not isinstance(min_pixels, int) or min_pixels < 0:
        raise ValueError(f"min_pixels must be a non-negative int, got {min_pixels!r}")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    organ_name = _clean(organ if organ is not None else meta.get("name", root.name))
    mods = sorted(((int(k), str(v)) for k, v in meta["modality"].items()), key=lambda p: p[0])
    labs = sorted(((int(k), str(v)) for k, v in meta["labels"].items() if int(k) != 0), key=lambda p: p[0])
    if modalities is not None:
        want = {m.lower() for m in modalities}
        unknown = want - {m.lower() for _, m in mods}
        if unknown:
            raise ValueError(f"modalities {sorted(unknown)} not in dataset.json modalities {[m for _, m in mods]}")
        mods = [p for p in mods if p[1].lower() in want]
    if labels is not None:
        want = {lab.lower() for lab in labels}
        unknown = want - {lab.lower() for _, lab in labs}
        if unknown:
            raise ValueError(f"labels {sorted(unknown)} not in dataset.json labels {[lab for _, lab in labs]}")
        labs = [p for p in labs if p[1].lower() in want]
    cases = list(meta["training"])
    if max_volumes is not None:
        cases = cases[:max_volumes]
    sets: dict[tuple[int, int], list[tuple[Tensor, Tensor]]] = {}
    for case in tqdm(cases, desc=f"decathlon {organ_name}", disable=not progress):
        img_path = root / case["image"]
        lab_path = root / case["label"]
        for p in (img_path, lab_path):
            if not p.is_file():
                raise FileNotFoundError(f"listed file {str(p)!r} is missing")
        with reading(img_path, "NIfTI image"):
            image = np.asarray(nib.load(str(img_path)).get_fdata(dtype=np.float32))
        with reading(lab_path, "NIfTI label map"):
            label_raw = np.asarray(nib.load(str(lab_path)).dataobj, dtype=np.float64)
        if not np.isfinite(image).all():
            raise ValueError(
                f"image {str(img_path)!r} has {int((~np.isfinite(image)).sum())} non-finite voxel(s) (NaN/inf)"
            )
        label = np.rint(label_raw)
        if not np.isfinite(label_raw).all() or (label != label_raw).any() or (label < 0).any():
            raise ValueError(f"label map {str(lab_path)!r} must hold non-negative whole numbers (finite)")
        label = label.astype(np.int64)
        if image.ndim == 3:
            image = image[..., None]
        if image.ndim != 4 or image.shape[:3] != label.shape:
            raise ValueError(
                f"image {str(img_path)!r} has shape {image.shape}, label {str(lab_path)!r} {label.shape}: "
                "expected [X, Y, Z(, C)] with matching X, Y, Z"
            )
        if image.shape[3] < len(meta["modality"]):
            raise ValueError(
                f"image {str(img_path)!r} has {image.shape[3]} channels, dataset.json lists "
                f"{len(meta['modality'])} modalities"
            )
        lab_native = torch.from_numpy(np.moveaxis(label, axis, 0).copy())
        for mi, (mod_idx, _) in enumerate(mods):
            vol = normalize_volume(np.moveaxis(image[..., mod_idx], axis, 0))
            img_slices, lab_slices = resize_pair(vol[:, None], lab_native, size)
            img_slices = img_slices[:, 0]
            for li, (lab_val, _) in enumerate(labs):
                mask = (lab_slices == lab_val).long()
                keep = mask.flatten(1).sum(1) >= max(min_pixels, 0)
                if keep.any():
                    sets.setdefault((mi, li), []).append((img_slices[keep], mask[keep]))
    out = []
    for mi, (_, mod_name) in enumerate(mods):
        for li, (_, lab_name) in enumerate(labs):
            if (mi, li) not in sets:
                continue
            parts = [organ_name]
            if len(meta["modality"]) > 1:
                parts.append(_clean(mod_name))
            if len(meta["labels"]) > 2:
                parts.append(_clean(lab_name))
            zone = "_".join(parts[1:])
            out.append(OrganVolumes("_".join(parts), organ_name, sets[(mi, li)], zone=zone))
    return out

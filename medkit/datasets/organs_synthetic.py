"""Seeded synthetic organ data sets: :func:`synthetic_organ` and :func:`synthetic_organs`.

Each organ of :data:`medkit.datasets.organ_recipes.SYNTHETIC_ORGANS` yields one
:class:`~medkit.datasets.organ_volumes.OrganVolumes` per modality and label; slices sampled
across one volume (volumetric tasks) cover the organ's variability. Seeded, vectorised, fast.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from medkit.datasets.organ_recipes import (
    SOURCE_ORGANS,
    SYNTHETIC_ORGANS,
    TARGET_ORGANS,
    SyntheticOrgan,
)
from medkit.datasets.organ_shapes import _label_volume, _render
from medkit.datasets.organ_volumes import OrganVolumes
from medkit.datasets.volume_normalization import normalize_volume

__all__ = ["synthetic_organ", "synthetic_organs"]


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

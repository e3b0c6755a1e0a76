"""Loader of the Medical Segmentation Decathlon as MetaMedSeg data sets: :func:`load_decathlon`.

The NIfTI layout (``dataset.json``, ``imagesTr/``, ``labelsTr/``) is split into one data set per
modality and label, volumes normalised with the mean and standard deviation of their non-zero
voxels, slices resized with :func:`medkit.datasets.slice_resize.resize_pair` (images bilinearly, label maps
with nearest neighbour, never interpolated) and kept when the object covers at least
``min_pixels`` pixels after resizing.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from medkit._checks import reading
from medkit._imports import require
from medkit.datasets.organ_volumes import OrganVolumes
from medkit.datasets.slice_resize import resize_pair
from medkit.datasets.volume_normalization import normalize_volume

__all__ = ["load_decathlon"]


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
    resized with :func:`medkit.datasets.slice_resize.resize_pair` (label maps nearest-neighbour), and a
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
        raise ValueError(  # noqa: TRY004  (a malformed file, not a wrong argument)
            f"{str(meta_path)!r} must hold a JSON object, got {type(meta).__name__}"
        )
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

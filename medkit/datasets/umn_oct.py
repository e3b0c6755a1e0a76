"""The UMN DME fluid data set (Rashno et al., 2017): :class:`UMNOCT` (read from ``UMNDataset.mat``).

Labels are ``0`` background and ``1`` fluid (:data:`medkit.datasets.oct_classes.UMN_CLASSES`);
label maps are resized with nearest-neighbour interpolation (images bilinearly).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from medkit._checks import reading
from medkit.datasets.oct_classes import UMN_CLASSES, UMN_SPLITS
from medkit.datasets.slice_resize import resize_pair

__all__ = ["UMNOCT"]


class UMNOCT(Dataset):
    """UMN DME fluid data set (Rashno et al., 2017) from ``UMNDataset.mat``.

    Assumed format (the file the Y-Net reference code reads): MATLAB cell arrays
    ``AllSubjects`` and ``ManualFluid1`` of shape ``1 x S``; cell ``s`` holds the B-scans of
    subject ``s`` as ``[H, W, B]`` (images, 0..255) and the fluid annotation ``[H, W, B]``
    (``> 0`` is fluid). Subjects 0-18 train, 19-23 validation, 24-28 test
    (:data:`UMN_SPLITS`); labels are ``0`` background, ``1`` fluid.

    Args:
        path: the ``.mat`` file.
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: resize to ``(H, W)`` (images bilinear, labels nearest) or ``None``.
        annotator: ``1`` or ``2`` (``ManualFluid{annotator}``).
    """

    class_names = UMN_CLASSES
    num_classes = 2

    def __init__(
        self,
        path: str | Path,
        split: str = "train",
        *,
        size: tuple[int, int] | None = (224, 224),
        annotator: int = 1,
    ) -> None:
        from scipy.io import loadmat

        if split not in UMN_SPLITS:
            raise ValueError(f"split must be one of {tuple(UMN_SPLITS)}, got {split!r}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"UMN file not found: {path}")
        with reading(path, "UMN file"):
            mat = loadmat(str(path))
        key = f"ManualFluid{annotator}"
        for k in ("AllSubjects", key):
            if k not in mat:
                raise KeyError(f"{path}: missing key {k!r}")
        subjects = np.asarray(mat["AllSubjects"]).reshape(-1)
        masks = np.asarray(mat[key]).reshape(-1)
        imgs, labs = [], []
        for s in UMN_SPLITS[split]:
            if s >= len(subjects):
                break
            with reading(path, "UMN file"):
                im = np.asarray(subjects[s], dtype=np.float64)
                fl = np.nan_to_num(np.asarray(masks[s], dtype=np.float64), nan=0.0)
            if im.ndim == 2:
                im, fl = im[..., None], fl[..., None]
            if im.ndim != 3 or fl.shape != im.shape:
                raise ValueError(
                    f"{str(path)!r}: subject {s}: images {im.shape} and {key} {fl.shape} must both be [H, W, B]"
                )
            if not np.isfinite(im).all():
                raise ValueError(
                    f"{str(path)!r}: subject {s}: images hold {int((~np.isfinite(im)).sum())} non-finite "
                    "pixel(s) (NaN/inf)"
                )
            scale = 255.0 if im.max() > 1.0 else 1.0
            im_t = torch.from_numpy((im / scale).transpose(2, 0, 1).astype(np.float32))[:, None]
            lb_t = torch.from_numpy((fl > 0).transpose(2, 0, 1).astype(np.int64))
            im_t, lb_t = resize_pair(im_t, lb_t, size)
            imgs.append(im_t)
            labs.append(lb_t)
        if not imgs:
            raise ValueError(f"{path}: no subject of split {split!r} (file has {len(subjects)})")
        self.images = torch.cat(imgs)
        self.labels = torch.cat(labs)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]

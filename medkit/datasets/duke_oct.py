"""The Duke DME OCT data set (Chiu et al., 2015): :class:`DukeOCT` and its ``.mat`` reader.

:func:`load_duke_subject` reads one ``Subject_XX.mat``; :func:`duke_subject_to_labels` turns its
boundary annotations into label maps of :data:`medkit.datasets.oct_classes.OCT_CLASSES`. Label
maps are resized with nearest-neighbour interpolation (images bilinearly).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from medkit._checks import reading
from medkit.datasets.oct_classes import DUKE_SPLITS, FLUID, OCT_CLASSES
from medkit.datasets.slice_resize import resize_pair

__all__ = ["DukeOCT", "duke_subject_to_labels", "load_duke_subject"]


def duke_subject_to_labels(
    layers: np.ndarray, fluid: np.ndarray, height: int
) -> np.ndarray:
    """Turn Duke boundary annotations into label maps.

    Args:
        layers: ``[8, W, B]`` boundary rows (MATLAB 1-based: boundary ``k`` at value ``v``
            means row ``v - 1`` (0-based) is the first row below it); ``nan`` or ``0`` where
            not annotated. Boundaries are made non-decreasing (a later boundary above an
            earlier one is moved down to it, as the Y-Net reference preprocessing does).
        fluid: ``[H, W, B]`` fluid annotation (``> 0`` is fluid; ``nan`` is not).
        height: ``H``.

    Returns:
        ``[B, H, W]`` int64 labels: 0 background, 1..7 layers, 8 fluid. Columns without a
        complete annotation are background apart from fluid.
    """
    lay = np.asarray(layers, dtype=np.float64)
    lay = np.where(np.isfinite(lay) & (lay > 0), lay, np.nan)
    valid = np.isfinite(lay).all(axis=0)  # [W, B]
    lay = np.fmax.accumulate(np.nan_to_num(lay, nan=-np.inf), axis=0)
    rows = np.arange(height, dtype=np.float64)[:, None, None, None] + 1.0  # 1-based
    count = (rows >= lay[None]).sum(axis=1)  # [H, W, B] boundaries at or above the row
    lab = np.where((count >= 1) & (count <= 7), count, 0)
    lab = np.where(valid[None], lab, 0)
    fl = np.nan_to_num(np.asarray(fluid, dtype=np.float64), nan=0.0) > 0
    lab = np.where(fl, FLUID, lab)
    return np.ascontiguousarray(lab.transpose(2, 0, 1)).astype(np.int64)


def load_duke_subject(path: str | Path, annotator: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Load the annotated B-scans of one Duke DME subject (``Subject_XX.mat``).

    The file holds ``images`` ``[H, W, 61]``, ``manualLayers{a}`` ``[8, W, 61]`` and
    ``manualFluid{a}`` ``[H, W, 61]`` (``a`` = annotator); only B-scans with a layer
    annotation are kept, and columns are cropped to the annotated range (as the reference
    preprocessing).

    Returns:
        ``(images [B, H, W] float32 in [0, 1], labels [B, H, W] int64)``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        KeyError: if a variable is missing (the message names the file).
        ValueError: for a corrupt file, an image with NaN/inf pixels, or layer / fluid arrays
            whose shape does not match the images (e.g. a layer width that differs from the
            image width); every message names the file. (Some byte-level corruptions inside
            the variable data make ``scipy.io.loadmat`` itself crash the interpreter, which
            cannot be caught from Python.)
    """
    from scipy.io import loadmat

    if annotator not in (1, 2):
        raise ValueError(f"annotator must be 1 or 2, got {annotator!r}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"Duke subject file not found: {str(path)!r}")
    with reading(path, "Duke subject file"):
        mat = loadmat(str(path))
    keys = ("images", f"manualLayers{annotator}", f"manualFluid{annotator}")
    for k in keys:
        if k not in mat:
            raise KeyError(f"{path}: missing key {k!r} (found {sorted(k for k in mat if not k.startswith('__'))})")
    with reading(path, "Duke subject file"):
        images = np.asarray(mat["images"], dtype=np.float64)
        layers = np.asarray(mat[keys[1]], dtype=np.float64)
        fluid = np.asarray(mat[keys[2]], dtype=np.float64)
    if images.ndim == 2:
        images, layers, fluid = images[..., None], layers[..., None], fluid[..., None]
    if images.ndim != 3 or layers.ndim != 3 or layers.shape[0] != 8:
        raise ValueError(
            f"{str(path)!r}: expected images [H, W, B] and {keys[1]} [8, W, B], got "
            f"{images.shape} and {layers.shape}"
        )
    _h, w, nb = images.shape
    if layers.shape[1:] != (w, nb):
        raise ValueError(
            f"{str(path)!r}: {keys[1]} has shape {layers.shape} (width {layers.shape[1]}, "
            f"{layers.shape[2]} B-scans) but images have shape {images.shape} (width {w}, {nb} B-scans)"
        )
    if fluid.shape != images.shape:
        raise ValueError(f"{str(path)!r}: {keys[2]} has shape {fluid.shape}, images {images.shape}")
    if not np.isfinite(images).all():
        raise ValueError(
            f"{str(path)!r}: images hold {int((~np.isfinite(images)).sum())} non-finite pixel(s) (NaN/inf)"
        )
    ann = np.isfinite(layers) & (layers > 0)
    scans = np.where(ann.any(axis=(0, 1)))[0]
    if scans.size == 0:
        raise ValueError(f"{path}: no annotated B-scan in {keys[1]!r}")
    cols = np.where(ann[:, :, scans].any(axis=(0, 2)))[0]
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    labels = duke_subject_to_labels(layers[:, c0:c1, scans], fluid[:, c0:c1, scans], images.shape[0])
    img = images[:, c0:c1, scans].transpose(2, 0, 1)
    scale = 255.0 if img.max() > 1.0 else 1.0
    return (img / scale).astype(np.float32), labels


class DukeOCT(Dataset):
    """Duke DME OCT data set (Chiu et al., 2015) from ``root/Subject_XX.mat`` files.

    Subjects 1-6 train, 7-8 validation, 9-10 test (:data:`DUKE_SPLITS`).

    Args:
        root: directory with ``Subject_01.mat`` ... ``Subject_10.mat``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: resize every B-scan to ``(H, W)`` (the thesis uses ``(224, 224)``);
            ``None`` keeps the size (then all subjects must share it).
        annotator: ``1`` or ``2`` (thesis: expert 1).

    Items are ``(image [1, H, W] float, labels [H, W] long)`` with :data:`OCT_CLASSES`.
    """

    class_names = OCT_CLASSES
    num_classes = len(OCT_CLASSES)

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        size: tuple[int, int] | None = (224, 224),
        annotator: int = 1,
    ) -> None:
        if split not in DUKE_SPLITS:
            raise ValueError(f"split must be one of {tuple(DUKE_SPLITS)}, got {split!r}")
        root = Path(root)
        imgs, labs = [], []
        for s in DUKE_SPLITS[split]:
            path = root / f"Subject_{s:02d}.mat"
            if not path.is_file():
                raise FileNotFoundError(f"Duke subject file not found: {path}")
            im, lb = load_duke_subject(path, annotator)
            im_t, lb_t = resize_pair(torch.from_numpy(im)[:, None], torch.from_numpy(lb), size)
            imgs.append(im_t)
            labs.append(lb_t)
        self.images = torch.cat(imgs)
        self.labels = torch.cat(labs)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]

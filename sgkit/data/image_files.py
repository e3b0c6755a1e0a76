"""Image files of the real-data loaders: read, resize, and cut box-relative instance masks."""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

__all__ = ["box_relative_masks", "read_image"]


def read_image(path: str | os.PathLike, size: int | tuple[int, int] | None = None) -> tuple[Tensor, tuple[int, int]]:
    """Read an RGB image as a float ``[3, H, W]`` tensor in ``[0, 1]`` (optionally resized).

    Args:
        path: the image file.
        size: output side (square) or ``(height, width)``; ``None`` keeps the file's size.

    Returns:
        ``(image, (width, height))`` with the file's original width and height.

    Raises:
        FileNotFoundError: naming the path when the file does not exist.
        ValueError: naming the path when the file cannot be decoded as an image.
    """
    from PIL import Image, UnidentifiedImageError

    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"image file {where!r} does not exist")
    try:
        with Image.open(where) as im:
            im = im.convert("RGB")
            orig = im.size
            if size is not None:
                h, w = (size, size) if isinstance(size, int) else size
                im = im.resize((int(w), int(h)), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{where}: cannot read the image ({exc})") from exc
    return torch.from_numpy(arr).permute(2, 0, 1).float() / 255.0, orig


def box_relative_masks(full: np.ndarray, boxes: np.ndarray, mask_size: int) -> Tensor:
    """Cut full-image binary masks ``[N, H, W]`` to their boxes and resize to ``[N, M, M]``.

    Args:
        full: ``[N, H, W]`` masks (non-zero = object) at the image's resolution.
        boxes: ``[N, 4]`` normalised ``(x0, y0, x1, y1)`` boxes.
        mask_size: side ``M`` of the output masks.

    Returns:
        ``[N, M, M]`` float masks in ``{0, 1}`` (nearest-neighbour sampling at cell centres).
    """
    n, h, w = full.shape
    out = np.zeros((n, mask_size, mask_size), dtype=np.float32)
    centres = (np.arange(mask_size) + 0.5) / mask_size
    for i in range(n):
        x0, y0, x1, y1 = boxes[i]
        xs = np.clip(((x0 + centres * (x1 - x0)) * w).astype(np.int64), 0, w - 1)
        ys = np.clip(((y0 + centres * (y1 - y0)) * h).astype(np.int64), 0, h - 1)
        out[i] = full[i][np.ix_(ys, xs)] != 0
    return torch.from_numpy(out)

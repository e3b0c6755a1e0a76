"""Exact rendering of ShapesWorld layouts: shape masks, rasterisation and painted images.

Boxes are squares whose corners are integers in layout-grid units, stored normalised
(``unit / GRID``, exact in float32). A pixel belongs to a shape when its centre lies inside the
shape (half-open box ``x0 <= x < x1``; circle: inscribed disk; triangle: isosceles, apex at the
top-centre, base on the bottom edge). At ``image_size=64`` (or any multiple) the squares fill
their boxes exactly. Objects are painted in node order on a grey background (later objects over
earlier ones), with no anti-aliasing and no noise.

Box-relative masks (:func:`shape_masks`) sample the shape at the cell centres, as sg2im's mask
targets.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .shapes_vocab import (
    _BACKGROUND,
    _RGB,
    CIRCLE,
    SQUARE,
    TRIANGLE,
    decompose_category,
)

__all__ = ["render_layout", "render_scenes", "shape_masks"]


def shape_masks(size: int) -> np.ndarray:
    """Box-relative amodal masks of the three shapes on a ``size x size`` grid (cell centres).

    Returns:
        bool ``[3, size, size]`` (square, circle, triangle), indexed ``[shape, row, column]``.
    """
    t = (np.arange(size) + 0.5) / size
    u, v = t[None, :], t[:, None]
    square = np.ones((size, size), dtype=bool)
    circle = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    triangle = np.abs(u - 0.5) <= v / 2
    return np.stack([square, np.broadcast_to(circle, (size, size)), np.broadcast_to(triangle, (size, size))])


def _rasterise(shapes: np.ndarray, boxes: np.ndarray, image_size: int) -> np.ndarray:
    """Full-resolution amodal masks ``[K, H, W]`` of ``K`` objects (shape ids, normalised boxes)."""
    k = shapes.shape[0]
    out = np.zeros((k, image_size, image_size), dtype=bool)
    if k == 0:
        return out
    t = ((np.arange(image_size) + 0.5) / image_size).astype(np.float32)
    b = boxes.astype(np.float32)
    w = np.maximum(b[:, 2] - b[:, 0], 1e-12)
    h = np.maximum(b[:, 3] - b[:, 1], 1e-12)
    u = (t[None, :] - b[:, 0:1]) / w[:, None]  # [K, W]
    v = (t[None, :] - b[:, 1:2]) / h[:, None]  # [K, H]
    inu = (u >= 0) & (u < 1)
    inv = (v >= 0) & (v < 1)
    box = inv[:, :, None] & inu[:, None, :]
    sq = shapes == SQUARE
    out[sq] = box[sq]
    ci = np.flatnonzero(shapes == CIRCLE)
    if ci.size:
        du, dv = u[ci] - 0.5, v[ci] - 0.5
        out[ci] = box[ci] & ((dv * dv)[:, :, None] + (du * du)[:, None, :] <= 0.25)
    tr = np.flatnonzero(shapes == TRIANGLE)
    if tr.size:
        out[tr] = box[tr] & (np.abs(u[tr] - 0.5)[:, None, :] <= (v[tr] / 2)[:, :, None])
    return out


def _numpy(x: Any, dtype: type) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, dtype=dtype)


def render_scenes(
    labels: Sequence[np.ndarray | Tensor | Sequence[int]],
    boxes: Sequence[np.ndarray | Tensor | Sequence[Sequence[float]]],
    image_size: int = 64,
    *,
    chunk: int = 256,
    progress: bool = False,
) -> np.ndarray:
    """Render many scenes at once (vectorised): objects painted in order on a grey background.

    Args:
        labels: per scene, ShapesWorld category ids ``[N_i]``.
        boxes: per scene, normalised boxes ``[N_i, 4]``.
        image_size: output side length ``H = W``.
        chunk: scenes rasterised together.
        progress: show a tqdm bar.

    Returns:
        uint8 array ``[S, 3, H, W]`` (divide by 255 for images in ``[0, 1]``).
    """
    if len(labels) != len(boxes):
        raise ValueError(f"boxes: got {len(boxes)} scenes but labels has {len(labels)}")
    if image_size < 1:
        raise ValueError(f"image_size: must be positive, got {image_size}")
    s_total = len(labels)
    out = np.empty((s_total, 3, image_size, image_size), dtype=np.uint8)
    starts = range(0, s_total, chunk)
    for start in tqdm(starts, disable=not progress, desc="render", leave=False):
        stop = min(start + chunk, s_total)
        labs = [_numpy(labels[i], np.int64).reshape(-1) for i in range(start, stop)]
        bxs = [_numpy(boxes[i], np.float64).reshape(-1, 4) for i in range(start, stop)]
        counts = np.array([lab.size for lab in labs], dtype=np.int64)
        for j, (lab, bx) in enumerate(zip(labs, bxs)):
            if lab.size != bx.shape[0]:
                raise ValueError(f"boxes: scene {start + j} has {bx.shape[0]} boxes but {lab.size} labels")
        flat_lab = np.concatenate(labs) if labs else np.zeros(0, np.int64)
        flat_box = np.concatenate(bxs) if bxs else np.zeros((0, 4))
        shape, colour, _ = decompose_category(flat_lab) if flat_lab.size else (flat_lab, flat_lab, flat_lab)
        masks = _rasterise(np.asarray(shape), flat_box, image_size)
        scene_of = np.repeat(np.arange(stop - start), counts)
        rank = np.arange(flat_lab.size) - np.repeat(np.cumsum(counts) - counts, counts)
        top = np.zeros((stop - start, image_size, image_size), dtype=np.int32)
        for r in range(int(counts.max(initial=0))):
            sel = np.flatnonzero(rank == r)
            cur = top[scene_of[sel]]
            top[scene_of[sel]] = np.where(masks[sel], (sel + 1)[:, None, None].astype(np.int32), cur)
        lut = np.concatenate([_BACKGROUND[None], _RGB[np.asarray(colour, dtype=np.int64)]], axis=0)
        out[start:stop] = lut[top].transpose(0, 3, 1, 2)
    return out


def render_layout(
    labels: Tensor | Sequence[int], boxes: Tensor | Sequence[Sequence[float]], image_size: int = 64
) -> Tensor:
    """Render one ShapesWorld layout exactly (the "oracle" image of a scene graph with boxes).

    Args:
        labels: ``[N]`` ShapesWorld category ids, in painting order.
        boxes: ``[N, 4]`` normalised boxes.
        image_size: output side length.

    Returns:
        float image ``[3, H, W]`` in ``[0, 1]``.
    """
    img = render_scenes([labels], [boxes], image_size)[0]
    return torch.from_numpy(img).float().div_(255.0)

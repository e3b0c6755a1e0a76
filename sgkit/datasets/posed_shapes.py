"""ShapesWorld with a pose factor that is not in the scene graph: rotated shapes.

In :class:`~sgkit.datasets.ShapesWorld` a category fixes an object's appearance and its box fixes
its placement, so nothing about an object is left for a pose code to explain.
:class:`PosedShapesWorld` rotates the objects of some shapes (triangles by default) about their
box centre by a per-object angle that appears nowhere in the graph (only as
``data["object"].angle`` for evaluation). The rotated shape is clipped to its box, so boxes,
predicates and edges are those of the plain world. Edit pairs keep every surviving object's angle
(an added object gets a fresh one), so a relationship change must preserve the rotation.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.datasets.shapes import ShapesWorld
from sgkit.datasets.shapes_vocab import SHAPES, decompose_category, object_colors

__all__ = ["PosedShapesWorld", "posed_masks", "render_posed"]

_BACKGROUND = 128.0 / 255.0


def _inside(shape: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Box-relative shape test (``u, v`` in ``[0, 1)`` inside the box) for shape ids ``[K]``
    broadcast against ``u, v`` ``[K, ...]``."""
    sh = shape.reshape((-1,) + (1,) * (u.ndim - 1))
    square = np.ones_like(u, dtype=bool)
    circle = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    triangle = np.abs(u - 0.5) <= v / 2
    return np.where(sh == 0, square, np.where(sh == 1, circle, triangle))


def _rotated_uv(u: np.ndarray, v: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box-relative coordinates of the unrotated shape read at ``(u, v)`` of a shape rotated by
    ``angles`` (radians, counter-clockwise on screen) about the box centre."""
    a = angles.reshape((-1,) + (1,) * (u.ndim - 1))
    du, dv = u - 0.5, v - 0.5
    c, s = np.cos(a), np.sin(a)
    return c * du - s * dv + 0.5, s * du + c * dv + 0.5


def posed_masks(shapes: Sequence[int] | np.ndarray, angles: Sequence[float] | np.ndarray, mask_size: int) -> Tensor:
    """Box-relative masks ``[K, M, M]`` (float 0/1) of shapes rotated by ``angles``."""
    sh = np.asarray(shapes, dtype=np.int64).reshape(-1)
    an = np.asarray(angles, dtype=np.float64).reshape(-1)
    if sh.shape != an.shape:
        raise ValueError(f"angles: expected {sh.size} angles, got {an.size}")
    t = (np.arange(mask_size) + 0.5) / mask_size
    u = np.broadcast_to(t[None, None, :], (sh.size, mask_size, mask_size))
    v = np.broadcast_to(t[None, :, None], (sh.size, mask_size, mask_size))
    ru, rv = _rotated_uv(u, v, an)
    return torch.from_numpy(_inside(sh, ru, rv)).float()


def render_posed(labels: Sequence[int] | np.ndarray | Tensor, boxes: np.ndarray | Tensor,
                 angles: Sequence[float] | np.ndarray | Tensor, image_size: int) -> Tensor:
    """Render one ShapesWorld scene with rotated objects, painted in node order on the grey
    background; every shape is rotated about its box centre and clipped to its box.

    Returns:
        float image ``[3, H, W]`` in ``[0, 1]``.
    """
    lab = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels, dtype=np.int64).reshape(-1)
    bx = np.asarray(boxes.cpu() if isinstance(boxes, Tensor) else boxes, dtype=np.float64).reshape(-1, 4)
    an = np.asarray(angles.cpu() if isinstance(angles, Tensor) else angles, dtype=np.float64).reshape(-1)
    if not lab.size == bx.shape[0] == an.size:
        raise ValueError(f"boxes, angles: expected {lab.size} each, got {bx.shape[0]} boxes and {an.size} angles")
    img = np.full((3, image_size, image_size), _BACKGROUND)
    if lab.size:
        shape = np.asarray(decompose_category(lab)[0])
        colours = np.asarray(object_colors(torch.from_numpy(lab)))  # [K, 3]
        t = (np.arange(image_size) + 0.5) / image_size
        w = np.maximum(bx[:, 2] - bx[:, 0], 1e-12)
        h = np.maximum(bx[:, 3] - bx[:, 1], 1e-12)
        u = ((t[None, :] - bx[:, :1]) / w[:, None])[:, None, :].repeat(image_size, 1)  # [K, H, W]
        v = ((t[None, :] - bx[:, 1:2]) / h[:, None])[:, :, None].repeat(image_size, 2)
        box = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
        ru, rv = _rotated_uv(u, v, an)
        inside = box & _inside(shape, ru, rv)
        for k in range(lab.size):
            img[:, inside[k]] = colours[k][:, None]
    return torch.from_numpy(np.round(img * 255.0) / 255.0).float()


class PosedShapesWorld(ShapesWorld):
    """:class:`~sgkit.datasets.ShapesWorld` whose objects of the shapes ``rotate`` are rotated by
    a per-object angle drawn uniformly from ``[-max_angle, max_angle]`` (module docstring).

    Items carry ``data["object"].angle`` ``[N]`` (radians, 0 for unrotated shapes) and rotated
    box-relative masks; the graph (labels, boxes, edges) is that of the plain world.

    Args:
        num_scenes, image_size, mask_size, seed, progress: as :class:`ShapesWorld`.
        max_angle: largest absolute rotation in radians.
        rotate: names of the shapes that are rotated (of ``SHAPES``).
    """

    def __init__(self, num_scenes: int = 1000, *, image_size: int = 64, mask_size: int = 16, seed: int = 0,
                 progress: bool = True, max_angle: float = math.pi / 2,
                 rotate: Sequence[str] = ("triangle",)) -> None:
        if not isinstance(max_angle, (int, float)) or not 0 <= max_angle <= math.pi or math.isnan(max_angle):
            raise ValueError(f"max_angle: expected a number in [0, pi], got {max_angle!r}")
        bad = [s for s in rotate if s not in SHAPES]
        if bad:
            raise ValueError(f"rotate: expected names of {SHAPES}, got {list(rotate)!r}")
        self.max_angle = float(max_angle)
        self.rotate = tuple(rotate)
        super().__init__(num_scenes, image_size=image_size, mask_size=mask_size, seed=seed, progress=progress)
        rng = np.random.default_rng([int(seed), 7919])
        self._angles = [self._draw_angles(s.shape, rng) for s in self._scenes]

    def _draw_angles(self, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rotated = np.isin(shapes, [SHAPES.index(s) for s in self.rotate])
        return np.where(rotated, rng.uniform(-self.max_angle, self.max_angle, size=shapes.shape), 0.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_scenes}, image_size={self.image_size}, seed={self.seed}, " \
               f"max_angle={self.max_angle:.3g}, rotate={self.rotate})"

    def _block(self, b: int) -> np.ndarray:
        blk = self._blocks.get(b)
        if blk is None:
            lo, hi = b * 256, min((b + 1) * 256, self.num_scenes)
            imgs = [render_posed(self._scenes[i].labels, self._scenes[i].norm_boxes, self._angles[i], self.image_size)
                    for i in range(lo, hi)]
            blk = (torch.stack(imgs) * 255).round().to(torch.uint8).numpy() if imgs else \
                np.zeros((0, 3, self.image_size, self.image_size), dtype=np.uint8)
            self._blocks[b] = blk
        return blk

    def _pose(self, data: HeteroData, shapes: np.ndarray, angles: np.ndarray) -> HeteroData:
        data["object"].angle = torch.from_numpy(angles).float()
        data["object"].mask = posed_masks(shapes, angles, self.mask_size)
        return data

    def __getitem__(self, idx: int) -> HeteroData:
        i = self._check_index(idx)
        return self._pose(super().__getitem__(i), self._scenes[i].shape, self._angles[i])

    def edit_pairs(self, mode: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """:meth:`ShapesWorld.edit_pairs` with rotated objects: the source's angles are drawn
        with ``seed``, every surviving object keeps its angle in the target and an added object
        gets a fresh one; ``info["angles"]`` holds the source angles."""
        pairs = super().edit_pairs(mode, n, seed)
        rng = np.random.default_rng([int(seed), 7919, 1])
        for p in pairs:
            src, tgt = p["source"], p["target"]
            s_shape = np.asarray(decompose_category(src["object"].label.numpy())[0])
            t_shape = np.asarray(decompose_category(tgt["object"].label.numpy())[0])
            a_src = self._draw_angles(s_shape, rng)
            if mode == "removal":
                a_tgt = np.delete(a_src, p["info"]["node"])
            elif mode == "addition":
                a_tgt = np.append(a_src, self._draw_angles(t_shape[-1:], rng))
            else:
                a_tgt = a_src.copy()
            if mode == "replacement":  # keep the angle if both shapes rotate, draw one if only the new one does
                k = p["info"]["node"]
                rotating = [SHAPES.index(s) for s in self.rotate]
                if t_shape[k] not in rotating:
                    a_tgt[k] = 0.0
                elif s_shape[k] not in rotating:
                    a_tgt[k] = float(rng.uniform(-self.max_angle, self.max_angle))
            for g, a, sh in ((src, a_src, s_shape), (tgt, a_tgt, t_shape)):
                g.image = render_posed(g["object"].label, g["object"].box, a, self.image_size)
                self._pose(g, sh, a)
            p["info"] = {**p["info"], "angles": a_src.tolist()}
        return pairs

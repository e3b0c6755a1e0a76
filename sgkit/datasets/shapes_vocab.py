"""The vocabulary of ShapesWorld: object categories, the world's constants and object colours.

A category is ``size x colour x shape``: 3 sizes (``large``, ``medium``, ``small``),
4 colours (``red``, ``green``, ``blue``, ``yellow``) and 3 shapes (``square``, ``circle``,
``triangle``), 36 categories named e.g. ``"large red square"`` with id
``size * 12 + shape * 4 + colour``. :attr:`Vocabulary.object_ranks` is the size index
(large = 0, medium = 1, small = 2), so a hierarchical ordering visits containers before their
contents. With ``hide_colour`` the vocabulary has the 9 categories ``"<size> <shape>"``
(:func:`coarsen_labels`).

The module also holds the world's constants (scene types, edit modes, the layout grid, the
object-count bounds, the scene attribute names), the integer ids of the shapes, colours and sizes,
and the rendered RGB colours of the four colours and of the background.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data import Vocabulary
from sgkit.data.geometry import PREDICATES

__all__ = [
    "ATTRIBUTE_NAMES",
    "COLOURS",
    "EDIT_MODES",
    "GRID",
    "MAX_OBJECTS",
    "MIN_OBJECTS",
    "SCENE_TYPES",
    "SHAPES",
    "SIZES",
    "category_id",
    "coarsen_labels",
    "decompose_category",
    "object_colors",
    "shapes_vocabulary",
]

SHAPES: tuple[str, ...] = ("square", "circle", "triangle")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow")
SIZES: tuple[str, ...] = ("large", "medium", "small")
SCENE_TYPES: tuple[str, ...] = ("nested", "row", "tower", "cluster", "scatter")
EDIT_MODES: tuple[str, ...] = ("relationship", "removal", "replacement", "addition")
GRID: int = 64
"""Layout grid: box corners are integer multiples of ``1 / GRID``."""

SQUARE, CIRCLE, TRIANGLE = 0, 1, 2
RED, GREEN, BLUE, YELLOW = 0, 1, 2, 3
LARGE, MEDIUM, SMALL = 0, 1, 2
MIN_OBJECTS: int = 3
"""Fewest objects of a scene."""
MAX_OBJECTS: int = 10
"""Most objects of a scene."""
ATTRIBUTE_NAMES: tuple[str, ...] = ("scene_type", "dominant_colour", "dominant_shape", "num_objects", "has_containment")
"""Keys of ``data.attributes`` (integer scene attributes, usable as meta-learning task keys)."""
# RGB colours (uint8, so images in [0, 1] are exact multiples of 1 / 255) and the background.
_RGB = np.array([[220, 40, 40], [40, 170, 60], [50, 90, 230], [240, 210, 40]], dtype=np.uint8)
_BACKGROUND = np.array([128, 128, 128], dtype=np.uint8)


def category_id(shape: int, colour: int, size: int) -> int:
    """Category id of a ``(shape, colour, size)`` triple (indices into :data:`SHAPES` etc.)."""
    return int(size) * 12 + int(shape) * 4 + int(colour)


def decompose_category(label: int | np.ndarray | Tensor) -> tuple[Any, Any, Any]:
    """Inverse of :func:`category_id`: ``(shape, colour, size)`` (works element-wise on arrays)."""
    if isinstance(label, Tensor):
        label = label.cpu().numpy()
    lab = np.asarray(label)
    if lab.size and (lab.min() < 0 or lab.max() >= 36):
        raise ValueError(f"label: ShapesWorld category ids lie in [0, 36), got {lab.min()}..{lab.max()}")
    size, rest = np.divmod(lab, 12)
    shape, colour = np.divmod(rest, 4)
    if lab.ndim == 0:
        return int(shape), int(colour), int(size)
    return shape, colour, size


def coarsen_labels(labels: np.ndarray | Tensor) -> Any:
    """Category ids without the colour: ``size * 3 + shape`` (9 classes ``"<size> <shape>"``),
    element-wise on arrays and tensors (a tensor gives a long tensor)."""
    shape, _, size = decompose_category(labels)
    out = size * 3 + shape
    return torch.as_tensor(out, dtype=torch.long) if isinstance(labels, Tensor) else out


def shapes_vocabulary(hide_colour: bool = False) -> Vocabulary:
    """The ShapesWorld vocabulary: 36 categories ``"<size> <colour> <shape>"``, 6 predicates.

    ``object_ranks`` is the size index (large 0, medium 1, small 2); attributes are the colour,
    shape and size words. With ``hide_colour`` the 9 categories ``"<size> <shape>"`` of
    :func:`coarsen_labels`.
    """
    if hide_colour:
        names = [f"{size} {shape}" for size in SIZES for shape in SHAPES]
        ranks = [s for s in range(len(SIZES)) for _ in range(len(SHAPES))]
        return Vocabulary(names, list(PREDICATES), list(COLOURS + SHAPES + SIZES), object_ranks=ranks)
    names = [f"{size} {colour} {shape}" for size in SIZES for shape in SHAPES for colour in COLOURS]
    ranks = [s for s in range(len(SIZES)) for _ in range(len(SHAPES) * len(COLOURS))]
    return Vocabulary(names, list(PREDICATES), list(COLOURS + SHAPES + SIZES), object_ranks=ranks)



def object_colors(data_or_labels: HeteroData | Tensor | Sequence[int]) -> list[tuple[float, float, float]]:
    """Rendered RGB colour (floats in [0, 1]) of every object of a ShapesWorld graph or label list.

    Useful as ``node_colors`` of :func:`sgkit.viz.draw_scene_graph`.
    """
    labels = data_or_labels["object"].label if isinstance(data_or_labels, HeteroData) else data_or_labels
    lab = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels, dtype=np.int64).reshape(-1)
    _, colour, _ = decompose_category(lab)
    return [tuple(float(x) / 255.0 for x in _RGB[c]) for c in np.asarray(colour).tolist()]  # type: ignore[misc]

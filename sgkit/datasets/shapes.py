"""ShapesWorld: a procedural CLEVR-like 2D world of coloured shapes with exact scene graphs.

The world is the embedded default data set of :mod:`sgkit` (SPEC section 2). Every scene is drawn
by a small *scene grammar* with learnable regularities, turned into a scene graph by a fixed
geometric rule, and rendered exactly (no anti-aliasing, no noise), so that images, boxes, masks
and graphs agree pixel for pixel and edited scenes can be rendered as exact targets
(the CLEVR edit study of thesis lines 4088-4100).

**Objects.** A category is ``size x colour x shape``: 3 sizes (``large``, ``medium``, ``small``),
4 colours (``red``, ``green``, ``blue``, ``yellow``) and 3 shapes (``square``, ``circle``,
``triangle``), 36 categories named e.g. ``"large red square"`` with id
``size * 12 + shape * 4 + colour``. :attr:`Vocabulary.object_ranks` is the size index
(large = 0, medium = 1, small = 2), so a hierarchical ordering visits containers before their
contents.

**Geometry.** Scenes are laid out on a 64 x 64 grid of layout units: every box is a square whose
corners are integers in grid units, stored normalised (``unit / 64``, exact in float32). Side
lengths: large 19-25, medium 11-15, small 7-9 units. A pixel belongs to a shape when its centre
lies inside the shape (half-open box ``x0 <= x < x1``; circle: inscribed disk; triangle:
isosceles, apex at the top-centre, base on the bottom edge). At ``image_size=64`` (or any
multiple) the squares fill their boxes exactly.

**Scene grammar.** Five scene types, each with its own object mix, colour palette, co-occurrences
and spatial arrangement:

* ``nested``: one or two large square/circle containers (mostly blue or yellow) each holding 1-3
  medium/small objects of a different colour than the container, plus 0-2 small objects outside;
* ``row``: 3-6 objects of one size in a horizontal line, usually one shape and two alternating
  colours (mostly red/green), plus 0-2 small extras;
* ``tower``: one or two vertical stacks of 2-4 touching objects with non-increasing size upwards,
  squares with a triangle "roof" on top, one colour per tower (mostly yellow/red), plus extras;
* ``cluster``: 4-8 mostly small, mostly circular objects of one dominant colour (mostly green)
  packed around a centre, sometimes with one large "anchor" object of another colour;
* ``scatter``: 3-7 objects at uniform positions, partial overlaps of up to 4 units allowed (so
  some objects are partly occluded): the weakly structured type. Shapes are uniform; colours
  follow a two-colour palette drawn per scene (each object takes a palette colour with
  probability 0.75, else a uniform colour) and sizes are biased to small objects (large 0.2,
  medium 0.35, small 0.45). These weak regularities (added for issue 4; earlier versions drew
  scatter categories uniformly) make a relabelled scatter object detectably less likely than
  a real one, while the type stays the loosest of the five.

Scenes have 3-10 objects. Nodes are ordered by size (large first, stable in grammar order) and
painted in node order: later objects are painted over earlier ones.

**Masks.** ``data["object"].mask`` holds *amodal* (full-shape) box-relative masks of size
``mask_size x mask_size`` (the shape sampled at the cell centres, as sg2im's mask targets);
pixels of an occluded part show the occluder. :meth:`ShapesWorld.instance_masks` gives
full-resolution masks, amodal or visible.

**Predicates** (the COCO set of SG2Im, without ``__in_image__``), computed from boxes with the
rule of sg2im's ``coco.py``; for subject box ``s`` and object box ``o``:

1. ``surrounding`` if ``s`` strictly contains ``o`` (``sx0 < ox0``, ``sy0 < oy0``, ``sx1 > ox1``,
   ``sy1 > oy1``);
2. ``inside`` if ``o`` strictly contains ``s``;
3. otherwise by the angle ``theta = atan2(dy, dx)`` of the centre difference ``d = c_s - c_o``
   (image coordinates, y down), tested in this order: ``left of`` if ``|theta| >= 3 pi / 4``,
   ``above`` if ``theta < -pi / 4``, ``right of`` if ``theta < pi / 4``, else ``below``. The
   sector boundaries (diagonals, frequent on the integer grid) are decided exactly from ``dx``
   and ``dy`` instead of a rounded ``atan2``.

**Edges** (sparse, deterministic given the geometry):

1. containment: every object inside another box is joined to its tightest container (smallest
   box area, then lowest index): ``(content, inside, container)`` if the content is narrower than
   10 grid units (a small object), else ``(container, surrounding, content)``;
2. proximity: for every object ``i`` in node order, its nearest object (by box centre) if closer
   than 29 units and its second nearest if closer than 20 units get the edge
   ``(i, predicate(i, j), j)`` unless the pair is already joined in either direction.

Graphs without edges therefore occur but are rare (all objects far apart).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from sgkit.data import Vocabulary
from sgkit.data.geometry import (
    ABOVE,
    BELOW,
    INSIDE,
    LEFT_OF,
    PREDICATES,
    RIGHT_OF,
    SURROUNDING,
    box_predicates,
)

from ._graph import build_graph, triplets_to_tensors

__all__ = [
    "SHAPES",
    "COLOURS",
    "SIZES",
    "PREDICATES",
    "SCENE_TYPES",
    "EDIT_MODES",
    "GRID",
    "MIN_OBJECTS",
    "MAX_OBJECTS",
    "ATTRIBUTE_NAMES",
    "ShapesWorld",
    "shapes_vocabulary",
    "coarsen_labels",
    "category_id",
    "decompose_category",
    "box_predicates",
    "scene_edges",
    "render_scenes",
    "render_layout",
    "shape_masks",
    "object_colors",
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
_OPPOSITE = {LEFT_OF: RIGHT_OF, RIGHT_OF: LEFT_OF, ABOVE: BELOW, BELOW: ABOVE, INSIDE: SURROUNDING, SURROUNDING: INSIDE}

# Inclusive side-length ranges in grid units per size class.
_SIDE = {LARGE: (19, 25), MEDIUM: (11, 15), SMALL: (7, 9)}
# RGB colours (uint8, so images in [0, 1] are exact multiples of 1 / 255) and the background.
_RGB = np.array([[220, 40, 40], [40, 170, 60], [50, 90, 230], [240, 210, 40]], dtype=np.uint8)
_BACKGROUND = np.array([128, 128, 128], dtype=np.uint8)
_SCENE_TYPE_P = np.full(len(SCENE_TYPES), 1.0 / len(SCENE_TYPES))
_NN_THRESHOLD = 29  # grid units: nearest neighbour edge
_NN2_THRESHOLD = 20  # grid units: second nearest neighbour edge
_SMALL_CONTENT = 10  # grid units: contents narrower than this are subjects of "inside"
MIN_OBJECTS: int = 3
"""Fewest objects of a scene."""
MAX_OBJECTS: int = 10
"""Most objects of a scene."""
ATTRIBUTE_NAMES: tuple[str, ...] = ("scene_type", "dominant_colour", "dominant_shape", "num_objects", "has_containment")
"""Keys of ``data.attributes`` (integer scene attributes, usable as meta-learning task keys)."""
_BLOCK = 256  # scenes rendered together on first access
_SCATTER_SIZE_P = np.array([0.2, 0.35, 0.45])  # large, medium, small objects of "scatter" scenes


# ----------------------------------------------------------------------------- vocabulary
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


# ----------------------------------------------------------------------------- geometry
def scene_edges(boxes: np.ndarray | Tensor) -> list[tuple[int, int, int]]:
    """The edge rule of ShapesWorld (module docstring): containment + 1-2 nearest neighbours.

    Args:
        boxes: ``[N, 4]`` boxes in node (painting) order, normalised (all coordinates <= 1) or in
            grid units.

    Returns:
        ``(subject, predicate, object)`` triplets, containment edges first.
    """
    b = boxes.detach().cpu().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes)
    b = b.astype(np.float64).reshape(-1, 4)
    n = b.shape[0]
    if n < 2:
        return []
    scale = GRID if b.max() <= 1.0 else 1.0  # normalised boxes -> grid units
    b = b * scale
    pred = box_predicates(b)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    triplets: list[tuple[int, int, int]] = []
    joined: set[tuple[int, int]] = set()
    for a in range(n):
        containers = np.flatnonzero(pred[a] == INSIDE)
        if containers.size == 0:
            continue
        c = int(containers[np.lexsort((containers, area[containers]))[0]])
        if b[a, 2] - b[a, 0] < _SMALL_CONTENT:
            triplets.append((a, INSIDE, c))
        else:
            triplets.append((c, SURROUNDING, a))
        joined.add((min(a, c), max(a, c)))
    cx, cy = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]  # doubled centres
    d2 = (cx[:, None] - cx[None, :]) ** 2 + (cy[:, None] - cy[None, :]) ** 2
    np.fill_diagonal(d2, np.inf)
    thresholds = ((2 * _NN_THRESHOLD) ** 2, (2 * _NN2_THRESHOLD) ** 2)
    for i in range(n):
        order = np.argsort(d2[i], kind="stable")[:2]
        for rank, j in enumerate(order.tolist()):
            if j == i or d2[i, j] >= thresholds[rank]:
                continue
            key = (min(i, j), max(i, j))
            if key in joined:
                continue
            joined.add(key)
            triplets.append((i, int(pred[i, j]), j))
    return triplets


# ----------------------------------------------------------------------------- rendering
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


def object_colors(data_or_labels: HeteroData | Tensor | Sequence[int]) -> list[tuple[float, float, float]]:
    """Rendered RGB colour (floats in [0, 1]) of every object of a ShapesWorld graph or label list.

    Useful as ``node_colors`` of :func:`sgkit.viz.draw_scene_graph`.
    """
    labels = data_or_labels["object"].label if isinstance(data_or_labels, HeteroData) else data_or_labels
    lab = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels, dtype=np.int64).reshape(-1)
    _, colour, _ = decompose_category(lab)
    return [tuple(float(x) / 255.0 for x in _RGB[c]) for c in np.asarray(colour).tolist()]  # type: ignore[misc]


# ----------------------------------------------------------------------------- scene grammar
class _Scene:
    """One scene: per-object shape/colour/size ids and integer grid boxes, in node order."""

    __slots__ = ("scene_type", "shape", "colour", "size", "box")

    def __init__(
        self, scene_type: int, shape: np.ndarray, colour: np.ndarray, size: np.ndarray, box: np.ndarray
    ) -> None:
        self.scene_type = int(scene_type)
        self.shape = shape
        self.colour = colour
        self.size = size
        self.box = box  # int64 [N, 4] grid units

    @property
    def num_objects(self) -> int:
        return int(self.shape.shape[0])

    @property
    def labels(self) -> np.ndarray:
        return self.size * 12 + self.shape * 4 + self.colour

    @property
    def norm_boxes(self) -> np.ndarray:
        return self.box.astype(np.float64) / GRID

    def copy(self) -> "_Scene":
        return _Scene(self.scene_type, self.shape.copy(), self.colour.copy(), self.size.copy(), self.box.copy())

    def attributes(self) -> dict[str, int]:
        n = self.num_objects
        colour_counts = np.bincount(self.colour, minlength=len(COLOURS))
        shape_counts = np.bincount(self.shape, minlength=len(SHAPES))
        pred = box_predicates(self.box) if n > 1 else np.zeros((n, n), dtype=np.int64)
        values = (
            self.scene_type,
            int(np.argmax(colour_counts)),
            int(np.argmax(shape_counts)),
            n,
            int(bool((pred == INSIDE).any())),
        )
        return dict(zip(ATTRIBUTE_NAMES, values))


class _Builder:
    """Accumulates objects of one scene while the grammar places them."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.items: list[tuple[int, int, int, tuple[int, int, int, int]]] = []

    def __len__(self) -> int:
        return len(self.items)

    def side(self, size: int) -> int:
        lo, hi = _SIDE[size]
        return int(self.rng.integers(lo, hi + 1))

    def free(self, box: tuple[int, int, int, int], gap: int = 1, skip: Sequence[int] = ()) -> bool:
        """Whether ``box`` keeps ``gap`` units from every placed object (negative: allowed overlap)."""
        x0, y0, x1, y1 = box
        for idx, (_, _, _, (a0, b0, a1, b1)) in enumerate(self.items):
            if idx in skip:
                continue
            if x0 < a1 + gap and a0 < x1 + gap and y0 < b1 + gap and b0 < y1 + gap:
                return False
        return True

    def add(self, shape: int, colour: int, size: int, box: tuple[int, int, int, int]) -> int:
        self.items.append((int(shape), int(colour), int(size), tuple(int(c) for c in box)))  # type: ignore[misc]
        return len(self.items) - 1

    def place(
        self,
        shape: int,
        colour: int,
        size: int,
        region: tuple[int, int, int, int] = (0, 0, GRID, GRID),
        *,
        gap: int = 1,
        tries: int = 30,
        skip: Sequence[int] = (),
        side: int | None = None,
    ) -> tuple[int, int, int, int] | None:
        s = self.side(size) if side is None else side
        rx0, ry0, rx1, ry1 = region
        if rx1 - rx0 < s or ry1 - ry0 < s:
            return None
        for _ in range(tries):
            x0 = int(self.rng.integers(rx0, rx1 - s + 1))
            y0 = int(self.rng.integers(ry0, ry1 - s + 1))
            box = (x0, y0, x0 + s, y0 + s)
            if self.free(box, gap, skip):
                self.add(shape, colour, size, box)
                return box
        return None

    def extras(self, k: int, rng: np.random.Generator) -> None:
        for _ in range(k):
            if len(self) >= MAX_OBJECTS:
                return
            self.place(int(rng.integers(3)), int(rng.integers(4)), SMALL, gap=2)


def _nested(b: _Builder, rng: np.random.Generator) -> None:
    n_cont = 1 if rng.random() < 0.6 else 2
    for _ in range(n_cont):
        shape = SQUARE if rng.random() < 0.55 else CIRCLE
        colour = int(rng.choice(4, p=[0.1, 0.15, 0.45, 0.3]))
        box = b.place(shape, colour, LARGE, (1, 1, GRID - 1, GRID - 1), gap=3)
        if box is None:
            continue
        container = len(b) - 1
        s = box[2] - box[0]
        m = 2 if shape == SQUARE else int(math.ceil(s * (1 - 1 / math.sqrt(2)) / 2)) + 1
        inner = (box[0] + m, box[1] + m, box[2] - m, box[3] - m)
        others = [c for c in range(4) if c != colour]
        content_colour = others[int(rng.integers(3))]
        k = int(rng.integers(1, 4))
        sizes = [MEDIUM] + [SMALL] * (k - 1) if rng.random() < 0.5 else [SMALL] * k
        for size in sizes:
            if len(b) >= MAX_OBJECTS:
                break
            c = content_colour if rng.random() < 0.7 else others[int(rng.integers(3))]
            shp = int(rng.choice(3, p=[0.25, 0.3, 0.45]))
            b.place(shp, c, size, inner, gap=1, skip=(container,))
    b.extras(int(rng.integers(0, 3)), rng)


def _row(b: _Builder, rng: np.random.Generator) -> None:
    size = MEDIUM if rng.random() < 0.6 else SMALL
    s = b.side(size)
    k = int(rng.integers(3, 7))
    k = min(k, (GRID - 4 + 1) // (s + 1))
    same_shape = rng.random() < 0.7
    shape0 = int(rng.integers(3))
    c1 = int(rng.choice(4, p=[0.4, 0.35, 0.1, 0.15]))
    rest = [c for c in range(4) if c != c1]
    c2 = rest[int(rng.integers(3))]
    alternate = rng.random() < 0.8
    max_gap = max(1, (GRID - 4 - k * s) // max(k - 1, 1))
    gap = int(rng.integers(1, max_gap + 1))
    total = k * s + (k - 1) * gap
    x = int(rng.integers(2, GRID - 2 - total + 1))
    yc = int(rng.integers(s // 2 + 3, GRID - s // 2 - 3))
    for i in range(k):
        y0 = yc - s // 2 + int(rng.integers(-1, 2))
        shape = shape0 if same_shape else int(rng.integers(3))
        colour = c2 if (alternate and i % 2) else c1
        b.add(shape, colour, size, (x, y0, x + s, y0 + s))
        x += s + gap
    b.extras(int(rng.integers(0, 3)), rng)


def _tower(b: _Builder, rng: np.random.Generator) -> None:
    n_towers = 1 if rng.random() < 0.6 else 2
    for t in range(n_towers):
        height = int(rng.integers(2, 5))
        size = LARGE if (n_towers == 1 and rng.random() < 0.5) else MEDIUM
        colour = int(rng.choice(4, p=[0.35, 0.1, 0.15, 0.4]))
        one_colour = rng.random() < 0.6
        if n_towers == 1:
            xc = int(rng.integers(20, 45))
        else:
            xc = int(rng.integers(12, 25)) if t == 0 else int(rng.integers(40, 53))
        y1 = int(rng.integers(58, 63))
        start = len(b)
        for level in range(height):
            s = b.side(size)
            y0 = y1 - s
            if y0 < 1 or len(b) >= MAX_OBJECTS:
                break
            x0 = min(max(xc - s // 2 + int(rng.integers(-1, 2)), 1), GRID - 1 - s)
            top = level == height - 1
            shape = int(rng.choice(3, p=[0.2, 0.2, 0.6])) if top else SQUARE
            c = colour if one_colour else int(rng.integers(4))
            box = (x0, y0, x0 + s, y1)
            if not _only_touches(b, box, start):
                break
            b.add(shape, c, size, box)
            y1 = y0
            if size < SMALL and rng.random() < 0.5:
                size += 1
    b.extras(int(rng.integers(0, 3)), rng)


def _only_touches(b: _Builder, box: tuple[int, int, int, int], start: int) -> bool:
    """Whether ``box`` intersects no placed object except (by touching) those of its own tower."""
    x0, y0, x1, y1 = box
    for idx, (_, _, _, (a0, b0, a1, b1)) in enumerate(b.items):
        overlap = x0 < a1 + 1 and a0 < x1 + 1 and y0 < b1 + 1 and b0 < y1 + 1
        if overlap and not (idx >= start and b0 >= y1):
            return False
    return True


def _cluster(b: _Builder, rng: np.random.Generator) -> None:
    dom = int(rng.choice(4, p=[0.15, 0.45, 0.3, 0.1]))
    cx, cy = (int(v) for v in rng.integers(18, 47, size=2))
    k = int(rng.integers(4, 9))
    for _ in range(k):
        size = SMALL if rng.random() < 0.8 else MEDIUM
        shape = CIRCLE if rng.random() < 0.7 else int(rng.choice([SQUARE, TRIANGLE]))
        colour = dom if rng.random() < 0.75 else int(rng.integers(4))
        s = b.side(size)
        for _ in range(30):
            x0 = int(round(rng.normal(cx, 7))) - s // 2
            y0 = int(round(rng.normal(cy, 7))) - s // 2
            box = (x0, y0, x0 + s, y0 + s)
            if 0 <= x0 and 0 <= y0 and x0 + s <= GRID and y0 + s <= GRID and b.free(box, gap=1):
                b.add(shape, colour, size, box)
                break
    if rng.random() < 0.5:
        others = [c for c in range(4) if c != dom]
        b.place(int(rng.choice([SQUARE, CIRCLE])), others[int(rng.integers(3))], LARGE, gap=2)


def _scatter(b: _Builder, rng: np.random.Generator) -> None:
    k = int(rng.integers(3, 8))
    palette = rng.choice(4, size=2, replace=False)  # weak regularity: a two-colour palette ...
    for _ in range(k):  # partial overlaps (occlusion) of up to 4 units are allowed
        colour = int(palette[int(rng.integers(2))]) if rng.random() < 0.75 else int(rng.integers(4))
        size = int(rng.choice(3, p=_SCATTER_SIZE_P))  # ... and a size mix biased to small objects
        b.place(int(rng.integers(3)), colour, size, gap=-4)


_GRAMMAR = (_nested, _row, _tower, _cluster, _scatter)


def _sample_scene(rng: np.random.Generator, scene_type: int | None = None) -> _Scene:
    """Draw one scene from the grammar (redrawn until it has 3-10 objects)."""
    t = int(rng.choice(len(SCENE_TYPES), p=_SCENE_TYPE_P)) if scene_type is None else int(scene_type)
    while True:
        b = _Builder(rng)
        _GRAMMAR[t](b, rng)
        if MIN_OBJECTS <= len(b) <= MAX_OBJECTS:
            break
    arr = np.array([(sh, co, si) for sh, co, si, _ in b.items], dtype=np.int64)
    box = np.array([bx for *_, bx in b.items], dtype=np.int64)
    order = np.argsort(arr[:, 2], kind="stable")
    return _Scene(t, arr[order, 0], arr[order, 1], arr[order, 2], box[order])


# ----------------------------------------------------------------------------- edit pairs
def _without(scene: _Scene, k: int) -> _Scene:
    keep = np.arange(scene.num_objects) != k
    return _Scene(scene.scene_type, scene.shape[keep], scene.colour[keep], scene.size[keep], scene.box[keep])


_Triplets = list[tuple[int, int, int]]


def _edit(
    scene: _Scene, triplets: _Triplets, mode: str, rng: np.random.Generator
) -> tuple[_Scene, _Triplets, dict[str, Any]] | None:
    """One edit of ``scene``: ``(target_scene, target_triplets, info)`` or ``None`` if impossible."""
    n = scene.num_objects
    if mode == "removal":
        if n <= MIN_OBJECTS:
            return None
        k = int(rng.integers(n))
        trip = [(s - (s > k), p, o - (o > k)) for s, p, o in triplets if k not in (s, o)]
        return _without(scene, k), trip, {"node": k, "label": int(scene.labels[k])}
    if mode == "replacement":
        k = int(rng.integers(n))
        tgt = scene.copy()
        old = (int(scene.shape[k]), int(scene.colour[k]))
        choices = [(sh, co) for sh in range(3) for co in range(4) if (sh, co) != old]
        tgt.shape[k], tgt.colour[k] = choices[int(rng.integers(len(choices)))]
        return tgt, list(triplets), {"node": k, "old_label": int(scene.labels[k]), "new_label": int(tgt.labels[k])}
    if mode == "addition":
        if n >= MAX_OBJECTS:
            return None
        b = _Builder(rng)
        for sh, co, si, bx in zip(scene.shape, scene.colour, scene.size, scene.box):
            b.add(sh, co, si, tuple(bx))  # type: ignore[arg-type]
        size = int(rng.choice(3, p=[0.2, 0.4, 0.4]))
        if b.place(int(rng.integers(3)), int(rng.integers(4)), size, gap=1) is None:
            return None
        sh, co, si, bx = b.items[-1]
        tgt = _Scene(
            scene.scene_type,
            np.append(scene.shape, sh),
            np.append(scene.colour, co),
            np.append(scene.size, si),
            np.vstack([scene.box, np.array(bx, dtype=np.int64)[None]]),
        )
        cb = tgt.box[:, :2] + tgt.box[:, 2:]
        d2 = ((cb[:n] - cb[n]) ** 2).sum(1)
        j = int(np.argmin(d2))
        pred = int(box_predicates(tgt.box[[n, j]])[0, 1])
        return tgt, list(triplets) + [(n, pred, j)], {"node": n, "label": int(tgt.labels[n])}
    if mode == "relationship":
        pred_src = box_predicates(scene.box)
        contained = (pred_src == INSIDE).any(0) | (pred_src == INSIDE).any(1)
        labels = scene.labels
        cand = [
            e
            for e, (s, p, o) in enumerate(triplets)
            if p < INSIDE and not contained[s] and not contained[o] and labels[s] != labels[o]
        ]
        rng.shuffle(cand)
        for e in cand:
            s, p, o = triplets[e]
            tgt = scene.copy()
            for a, c in ((s, o), (o, s)):  # move a onto the centre of c
                w = scene.box[a, 2] - scene.box[a, 0]
                c2 = scene.box[c, :2] + scene.box[c, 2:]
                xy = np.clip((c2 - w) // 2, 0, GRID - w)
                tgt.box[a] = [xy[0], xy[1], xy[0] + w, xy[1] + w]
            ok = True
            for a in (s, o):
                for c in range(n):
                    if c != a and _overlap(tgt.box[a], tgt.box[c]):
                        ok = False
            if not ok:
                continue
            pred_tgt = box_predicates(tgt.box)
            if pred_tgt[s, o] != _OPPOSITE[p] or (pred_tgt >= INSIDE).sum() != (pred_src >= INSIDE).sum():
                continue
            trip = [(a, int(pred_tgt[a, c]), c) for a, _, c in triplets]
            changed = [i for i, (x, y) in enumerate(zip(triplets, trip)) if x != y]
            info = {"edge": e, "old_predicate": p, "new_predicate": int(pred_tgt[s, o]), "changed_edges": changed}
            return tgt, trip, info
        return None
    raise ValueError(f"mode: expected one of {EDIT_MODES}, got {mode!r}")


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


# ----------------------------------------------------------------------------- data set
class ShapesWorld(torch.utils.data.Dataset):
    """The CLEVR-like 2D shapes world as a data set of :class:`HeteroData` scene graphs.

    See the module docstring for the grammar, rendering, predicate and edge rules. Scenes are
    drawn sequentially from ``numpy.random.default_rng(seed)``, so the first ``k`` scenes do not
    depend on ``num_scenes``. Images are rendered lazily and vectorised, in blocks of 256
    consecutive scenes the first time an item of the block is requested (so each DataLoader worker
    renders only what it reads), or all at once by :meth:`images`; they are cached as uint8.

    Each item has ``data["object"].label``/``.box``/``.mask``, the relation edges,
    ``data.image`` (float ``[3, H, W]`` in ``[0, 1]``), ``data.scene_type`` (long scalar) and
    ``data.attributes`` (dict of ints: ``scene_type``, ``dominant_colour``, ``dominant_shape``,
    ``num_objects``, ``has_containment``), usable as meta-learning task keys.

    The items are :class:`~sgkit.data.SceneGraph` objects, so a
    :class:`torch_geometric.loader.DataLoader` over the data set gives batches with
    ``batch.image`` of shape ``[B, 3, H, W]`` and ``batch.scene_type`` of shape ``[B]``.

    The world's constants are attributes of the data set (and of the class): ``SHAPES``,
    ``COLOURS``, ``SIZES``, ``PREDICATES``, ``SCENE_TYPES``, ``EDIT_MODES``, ``GRID``,
    ``MIN_OBJECTS``, ``MAX_OBJECTS`` and ``ATTRIBUTE_NAMES`` (the keys of ``data.attributes``);
    ``vocab`` is the :class:`~sgkit.data.Vocabulary` (``num_classes`` / ``num_predicates`` its
    sizes) and ``max_objects`` the largest scene of this data set.

    Args:
        num_scenes: number of scenes.
        image_size: side of the rendered square images.
        mask_size: side of the box-relative masks.
        seed: random seed.
        progress: show tqdm progress bars.
        hide_colour: graph labels without the colour (:func:`coarsen_labels`, 9 categories), so
            an object's colour can only be read from the pixels (as in CLEVR, whose labels omit
            size and material); images, edits and statistics are unchanged.

    Example:
        >>> ds = ShapesWorld(8, seed=0, progress=False)
        >>> data = ds[0]
        >>> data.image.shape, ds.vocab.num_objects, ds.vocab.num_predicates
        (torch.Size([3, 64, 64]), 36, 6)
    """

    SHAPES: tuple[str, ...] = SHAPES
    COLOURS: tuple[str, ...] = COLOURS
    SIZES: tuple[str, ...] = SIZES
    PREDICATES: tuple[str, ...] = PREDICATES
    SCENE_TYPES: tuple[str, ...] = SCENE_TYPES
    EDIT_MODES: tuple[str, ...] = EDIT_MODES
    GRID: int = GRID
    MIN_OBJECTS: int = MIN_OBJECTS
    MAX_OBJECTS: int = MAX_OBJECTS
    ATTRIBUTE_NAMES: tuple[str, ...] = ATTRIBUTE_NAMES
    scene_type_names: tuple[str, ...] = SCENE_TYPES
    edit_modes: tuple[str, ...] = EDIT_MODES

    def __init__(
        self,
        num_scenes: int = 1000,
        *,
        image_size: int = 64,
        mask_size: int = 16,
        seed: int = 0,
        progress: bool = True,
        hide_colour: bool = False,
    ) -> None:
        if not isinstance(num_scenes, (int, np.integer)) or num_scenes < 0:
            raise ValueError(f"num_scenes: expected a non-negative int, got {num_scenes!r}")
        if not isinstance(image_size, (int, np.integer)) or image_size < 8:
            raise ValueError(f"image_size: expected an int >= 8, got {image_size!r}")
        if not isinstance(mask_size, (int, np.integer)) or mask_size < 1:
            raise ValueError(f"mask_size: expected a positive int, got {mask_size!r}")
        self.num_scenes = int(num_scenes)
        self.image_size = int(image_size)
        self.mask_size = int(mask_size)
        self.seed = seed
        self.progress = progress
        self.hide_colour = bool(hide_colour)
        self.vocab = shapes_vocabulary(self.hide_colour)
        rng = np.random.default_rng(seed)
        self._scenes = [_sample_scene(rng) for _ in tqdm(range(self.num_scenes), disable=not progress, desc="scenes")]
        self._triplets = [scene_edges(s.box) for s in self._scenes]
        self._attributes = [s.attributes() for s in self._scenes]
        self._templates = torch.from_numpy(shape_masks(self.mask_size)).float()
        self._images: np.ndarray | None = None
        self._blocks: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.num_scenes

    @property
    def num_classes(self) -> int:
        """Number of object categories (``vocab.num_objects``, 36)."""
        return self.vocab.num_objects

    @property
    def num_predicates(self) -> int:
        """Number of predicates (``vocab.num_predicates``, 6)."""
        return self.vocab.num_predicates

    @property
    def max_objects(self) -> int:
        """Objects of the largest scene of this data set (0 when empty; at most ``MAX_OBJECTS``)."""
        return max((s.num_objects for s in self._scenes), default=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_scenes}, image_size={self.image_size}, seed={self.seed})"

    # ------------------------------------------------------------------ items
    def _graph(
        self,
        scene: _Scene,
        triplets: list[tuple[int, int, int]],
        *,
        masks: bool,
        image: Tensor | None,
        attributes: dict[str, int] | None = None,
    ) -> HeteroData:
        edge_index, edge_label = triplets_to_tensors(triplets)
        labels = coarsen_labels(scene.labels) if self.hide_colour else scene.labels
        data = build_graph(
            torch.from_numpy(labels),
            edge_index,
            edge_label,
            box=torch.from_numpy(scene.norm_boxes).float(),
            mask=self._templates[torch.from_numpy(scene.shape)] if masks else None,
            image=image,
        )
        data.scene_type = torch.tensor(scene.scene_type, dtype=torch.long)
        data.attributes = dict(attributes) if attributes is not None else scene.attributes()
        return data

    def __getitem__(self, idx: int) -> HeteroData:
        idx = self._check_index(idx)
        img = torch.from_numpy(self._image(idx)).float().div_(255.0)
        scene, trip, attrs = self._scenes[idx], self._triplets[idx], self._attributes[idx]
        return self._graph(scene, trip, masks=True, image=img, attributes=attrs)

    def _check_index(self, idx: int) -> int:
        i = int(idx)
        if i < 0:
            i += self.num_scenes
        if not 0 <= i < self.num_scenes:
            raise IndexError(f"idx: {idx} out of range for {self.num_scenes} scenes")
        return i

    def graphs(self, *, masks: bool = False) -> list[HeteroData]:
        """All scene graphs (labels, boxes, edges, ``scene_type``, ``attributes``) without images.

        Args:
            masks: also attach the box-relative masks.
        """
        return [
            self._graph(s, t, masks=masks, image=None, attributes=a)
            for s, t, a in zip(self._scenes, self._triplets, self._attributes)
        ]

    def _block(self, b: int) -> np.ndarray:
        """Rendered uint8 images of block ``b`` (``_BLOCK`` consecutive scenes), cached."""
        blk = self._blocks.get(b)
        if blk is None:
            lo, hi = b * _BLOCK, min((b + 1) * _BLOCK, self.num_scenes)
            scenes = self._scenes[lo:hi]
            blk = render_scenes([s.labels for s in scenes], [s.norm_boxes for s in scenes], self.image_size, chunk=64)
            self._blocks[b] = blk
        return blk

    def _image(self, idx: int) -> np.ndarray:
        if self._images is not None:
            return self._images[idx]
        return self._block(idx // _BLOCK)[idx % _BLOCK]

    def images_uint8(self) -> np.ndarray:
        """All images as a uint8 array ``[S, 3, H, W]`` (rendered once, then cached)."""
        if self._images is None:
            n_blocks = (self.num_scenes + _BLOCK - 1) // _BLOCK
            blocks = [self._block(b) for b in tqdm(range(n_blocks), disable=not self.progress, desc="render")]
            self._images = (
                np.concatenate(blocks)
                if blocks
                else np.zeros((0, 3, self.image_size, self.image_size), dtype=np.uint8)
            )
            self._blocks = {}
        return self._images

    def images(self) -> Tensor:
        """All images as a float tensor ``[S, 3, H, W]`` in ``[0, 1]``."""
        return torch.from_numpy(self.images_uint8()).float().div_(255.0)

    def instance_masks(self, idx: int, *, visible: bool = False) -> Tensor:
        """Full-resolution instance masks of scene ``idx``.

        Args:
            idx: scene index.
            visible: if ``True``, only the pixels where the object is on top (modal masks; they
                partition the non-background pixels); otherwise the full shapes (amodal).

        Returns:
            bool tensor ``[N, H, W]``.
        """
        scene = self._scenes[self._check_index(idx)]
        m = _rasterise(scene.shape, scene.norm_boxes, self.image_size)
        if visible and m.shape[0]:
            top = np.where(m.any(0), m.shape[0] - 1 - np.argmax(m[::-1], axis=0), -1)
            m = top[None] == np.arange(m.shape[0])[:, None, None]
        return torch.from_numpy(np.ascontiguousarray(m))

    def task_indices(self, key: str = "scene_type") -> dict[int, list[int]]:
        """Scene indices grouped by the value of one attribute (meta-learning tasks).

        Args:
            key: an attribute name, e.g. ``"scene_type"`` or ``"dominant_colour"``.
        """
        if self.num_scenes and key not in self._attributes[0]:
            raise ValueError(f"key: unknown attribute {key!r}; expected one of {sorted(self._attributes[0])}")
        groups: dict[int, list[int]] = {}
        for i, a in enumerate(self._attributes):
            groups.setdefault(a[key], []).append(i)
        return dict(sorted(groups.items()))

    # ------------------------------------------------------------- statistics
    def statistics(self) -> dict[str, Any]:
        """Counts of the data set: scene types, objects and edges per scene, predicates, categories.

        Returns:
            dict with ``num_scenes``, ``scene_types`` (name -> count), ``objects_per_scene``
            (n -> count), ``edges_per_scene`` (n -> count), ``predicates`` (name -> count),
            ``categories`` (name -> count), ``shapes``, ``colours``, ``sizes`` (name -> count),
            ``mean_objects``, ``mean_edges``, ``empty_graphs``.
        """
        n_obj = [s.num_objects for s in self._scenes]
        n_edge = [len(t) for t in self._triplets]
        labels = np.concatenate([s.labels for s in self._scenes]) if self._scenes else np.zeros(0, np.int64)
        preds = Counter(p for t in self._triplets for _, p, _ in t)
        cats = np.bincount(labels, minlength=36)
        shape, colour, size = decompose_category(np.arange(36))
        return {
            "num_scenes": self.num_scenes,
            "scene_types": {name: sum(s.scene_type == k for s in self._scenes) for k, name in enumerate(SCENE_TYPES)},
            "objects_per_scene": dict(sorted(Counter(n_obj).items())),
            "edges_per_scene": dict(sorted(Counter(n_edge).items())),
            "predicates": {name: preds.get(k, 0) for k, name in enumerate(PREDICATES)},
            "categories": {shapes_vocabulary().decode_object(k): int(cats[k]) for k in range(36)},
            "shapes": {name: int(cats[shape == k].sum()) for k, name in enumerate(SHAPES)},
            "colours": {name: int(cats[colour == k].sum()) for k, name in enumerate(COLOURS)},
            "sizes": {name: int(cats[size == k].sum()) for k, name in enumerate(SIZES)},
            "mean_objects": float(np.mean(n_obj)) if n_obj else 0.0,
            "mean_edges": float(np.mean(n_edge)) if n_edge else 0.0,
            "empty_graphs": int(sum(e == 0 for e in n_edge)),
        }

    def plot_statistics(self, path: str) -> str:
        """Save bar charts of :meth:`statistics` (scene types, objects per scene, predicates, sizes).

        Returns:
            The path written.
        """
        import os

        from matplotlib.figure import Figure

        stats = self.statistics()
        panels = [
            ("scene types", stats["scene_types"]),
            ("objects per scene", stats["objects_per_scene"]),
            ("edges per scene", stats["edges_per_scene"]),
            ("predicates", stats["predicates"]),
            ("colours", stats["colours"]),
            ("shapes and sizes", {**stats["shapes"], **stats["sizes"]}),
        ]
        fig = Figure(figsize=(12, 6))
        axes = fig.subplots(2, 3)
        for ax, (title, counts) in zip(axes.ravel(), panels):
            ax.bar([str(k) for k in counts], list(counts.values()), color="#4a7ab5")
            ax.set_title(title, fontsize=9)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        fig.suptitle(f"ShapesWorld: {stats['num_scenes']} scenes (seed {self.seed})", fontsize=10)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
        fig.savefig(path, dpi=100)
        return os.fspath(path)

    def plot_examples(self, path: str, n: int = 6, *, indices: Sequence[int] | None = None, ncols: int = 2) -> str:
        """Save a figure of example images next to drawings of their scene graphs.

        Args:
            path: output image file.
            n: number of scenes (the first ``n`` unless ``indices`` is given).
            indices: scene indices to show.
            ncols: scenes per row.

        Returns:
            The path written.
        """
        from sgkit.viz import plot_scene_grid

        idx = list(range(min(n, self.num_scenes))) if indices is None else [self._check_index(i) for i in indices]
        graphs = [self[i] for i in idx]
        titles = [f"#{i} {SCENE_TYPES[int(g.scene_type)]}" for i, g in zip(idx, graphs)]
        return plot_scene_grid(graphs, self.vocab, path, ncols=ncols, titles=titles, node_colors=object_colors)

    # ------------------------------------------------------------- edit pairs
    def edit_pairs(self, mode: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """Paired scenes for image editing (thesis 4088-4100): source, edited graph, exact target.

        Fresh scenes are drawn from the grammar with ``seed`` (independent of this data set's
        scenes) and edited:

        * ``"relationship"``: two objects joined by a directional edge swap their positions
          (box centres), so the edge's predicate flips (``left of`` <-> ``right of``,
          ``above`` <-> ``below``); objects of the same category, objects in containment relations
          and swaps that create overlaps are not used. The target keeps the edge set and recomputes every predicate from the new
          geometry (``info["changed_edges"]`` lists all edges whose predicate changed).
        * ``"removal"``: one object and its edges are removed (scenes with more than 3 objects).
        * ``"replacement"``: one object's shape and/or colour change (same size and box, same edges).
        * ``"addition"``: a new object is placed in free space and appended as the last node, with
          one edge to its nearest object (scenes with fewer than 10 objects).

        Args:
            mode: one of ``"relationship"``, ``"removal"``, ``"replacement"``, ``"addition"``.
            n: number of pairs.
            seed: random seed of the scenes and edits.

        Returns:
            ``n`` dicts ``{"source": HeteroData, "target": HeteroData, "mode": str, "info": dict}``;
            both graphs carry image, boxes, masks, ``scene_type`` and ``attributes``.
        """
        if mode not in EDIT_MODES:
            raise ValueError(f"mode: expected one of {EDIT_MODES}, got {mode!r}")
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n: expected a non-negative int, got {n!r}")
        rng = np.random.default_rng([int(seed), EDIT_MODES.index(mode)])
        found: list[tuple[_Scene, _Triplets, _Scene, _Triplets, dict[str, Any]]] = []
        attempts = 0
        while len(found) < n:
            attempts += 1
            if attempts > 100 * (n + 10):
                raise RuntimeError(f"edit_pairs: could not find {n} {mode!r} edits")  # pragma: no cover
            src = _sample_scene(rng)
            src_trip = scene_edges(src.box)
            res = _edit(src, src_trip, mode, rng)
            if res is not None:
                found.append((src, src_trip, res[0], res[1], res[2]))
        scenes = [f[0] for f in found] + [f[2] for f in found]
        imgs = render_scenes([s.labels for s in scenes], [s.norm_boxes for s in scenes], self.image_size)
        out = []
        for i, (src, src_trip, tgt, tgt_trip, info) in enumerate(found):
            source = self._graph(src, src_trip, masks=True, image=torch.from_numpy(imgs[i]).float().div_(255.0))
            target = self._graph(tgt, tgt_trip, masks=True, image=torch.from_numpy(imgs[n + i]).float().div_(255.0))
            out.append({"source": source, "target": target, "mode": mode, "info": info})
        return out

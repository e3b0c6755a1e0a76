"""The scene grammar of ShapesWorld: the scene record and the five scene types that draw it.

Five scene types, each with its own object mix, colour palette, co-occurrences and spatial
arrangement, laid out on the ``GRID x GRID`` layout grid (side lengths: large 19-25,
medium 11-15, small 7-9 units):

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
  medium 0.35, small 0.45). These weak regularities make a relabelled scatter object
  detectably less likely than a real one, while the type stays the loosest of the five.

Scenes have 3-10 objects. Nodes are ordered by size (large first, stable in grammar order) and
painted in node order: later objects are painted over earlier ones.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sgkit.data.geometry import INSIDE, box_predicates

from .shapes_vocab import (
    ATTRIBUTE_NAMES,
    CIRCLE,
    COLOURS,
    GRID,
    LARGE,
    MAX_OBJECTS,
    MEDIUM,
    MIN_OBJECTS,
    SCENE_TYPES,
    SHAPES,
    SMALL,
    SQUARE,
    TRIANGLE,
)

__all__: list[str] = []

# Inclusive side-length ranges in grid units per size class.
_SIDE = {LARGE: (19, 25), MEDIUM: (11, 15), SMALL: (7, 9)}
_SCENE_TYPE_P = np.full(len(SCENE_TYPES), 1.0 / len(SCENE_TYPES))
_SCATTER_SIZE_P = np.array([0.2, 0.35, 0.45])  # large, medium, small objects of "scatter" scenes


class _Scene:
    """One scene: per-object shape/colour/size ids and integer grid boxes, in node order."""

    __slots__ = ("box", "colour", "scene_type", "shape", "size")

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

    def copy(self) -> _Scene:
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
        m = 2 if shape == SQUARE else math.ceil(s * (1 - 1 / math.sqrt(2)) / 2) + 1
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
            x0 = round(rng.normal(cx, 7)) - s // 2
            y0 = round(rng.normal(cy, 7)) - s // 2
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

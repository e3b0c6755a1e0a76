"""The scene-graph rule of ShapesWorld: predicates and edges computed from the boxes.

**Predicates** (the COCO set of SG2Im, without ``__in_image__``), computed from boxes with the
rule of sg2im's ``coco.py`` (:func:`sgkit.data.geometry.box_predicates`); for subject box ``s``
and object box ``o``:

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

import numpy as np
from torch import Tensor

from sgkit.data.geometry import INSIDE, SURROUNDING, box_predicates

from .shapes_vocab import GRID

__all__ = ["scene_edges"]

_NN_THRESHOLD = 29  # grid units: nearest neighbour edge
_NN2_THRESHOLD = 20  # grid units: second nearest neighbour edge
_SMALL_CONTENT = 10  # grid units: contents narrower than this are subjects of "inside"


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

"""Geometric predicates of boxes: the six relations of sg2im's COCO rule.

``left of``, ``right of``, ``above``, ``below`` come from the angle between the box centres (four
90-degree sectors), ``inside`` / ``surrounding`` from strict containment. ShapesWorld draws its
edges with this rule and the COCO loader builds its geometric scene graphs with it.
"""
from __future__ import annotations

import numpy as np
from torch import Tensor

__all__ = ["ABOVE", "BELOW", "INSIDE", "LEFT_OF", "PREDICATES", "RIGHT_OF", "SURROUNDING", "box_predicates"]

PREDICATES: tuple[str, ...] = ("left of", "right of", "above", "below", "inside", "surrounding")
LEFT_OF, RIGHT_OF, ABOVE, BELOW, INSIDE, SURROUNDING = range(6)


def box_predicates(boxes: np.ndarray | Tensor) -> np.ndarray:
    """Predicate of every ordered pair of boxes by the sg2im COCO rule (module docstring).

    Args:
        boxes: ``[N, 4]`` boxes ``(x0, y0, x1, y1)`` (any consistent unit).

    Returns:
        ``[N, N]`` int array, entry ``[s, o]`` = predicate id of ``(s, ?, o)``; the diagonal is -1.
    """
    b = boxes.detach().cpu().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes)
    b = b.astype(np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = (b[:, k] for k in range(4))
    cx, cy = x0 + x1, y0 + y1  # twice the centre: same angle
    dx = cx[:, None] - cx[None, :]
    dy = cy[:, None] - cy[None, :]
    # The angle sectors of sg2im's rule decided exactly (no atan2 round-off on the diagonals):
    # left of |theta| >= 3pi/4, above [-3pi/4, -pi/4) minus -3pi/4, right of [-pi/4, pi/4), below.
    pred = np.full(dx.shape, BELOW, dtype=np.int64)
    pred[(dx < 0) & (np.abs(dy) <= -dx)] = LEFT_OF
    pred[(dy < 0) & (np.abs(dx) < -dy)] = ABOVE
    pred[((dx > 0) & (-dx <= dy) & (dy < dx)) | ((dx == 0) & (dy == 0))] = RIGHT_OF
    surround = (
        (x0[:, None] < x0[None, :])
        & (y0[:, None] < y0[None, :])
        & (x1[:, None] > x1[None, :])
        & (y1[:, None] > y1[None, :])
    )
    pred[surround.T] = INSIDE
    pred[surround] = SURROUNDING
    np.fill_diagonal(pred, -1)
    return pred

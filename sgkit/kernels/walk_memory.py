"""Memory estimate of the random-walk features, checked before the walks are expanded.

On graphs with cycles the number of walks grows exponentially with the walk length. The feature
dynamic programme merges walks that share their end node and label sequence, so its real size
is only known level by level: :func:`walk_count_bound` gives a cheap upper bound (every walk its
own state) and, where the bound exceeds the budget, the programme checks each level before it
allocates it.
"""
from __future__ import annotations

import numpy as np

from .graph_arrays import GraphArrays

__all__ = ["BYTES_PER_EXTENSION", "BYTES_PER_STATE", "gib", "walk_count_bound"]

# memory model of the dynamic programme (measured with tracemalloc, rounded up): every walk
# extension (state x out-edge) of a level holds about a dozen int64/float64 temporaries while the
# level is built, and every retained (end node, label sequence) state keeps its ids, its value and
# its share of the level's sparse feature matrices.
BYTES_PER_EXTENSION = 128
BYTES_PER_STATE = 96


def gib(n_bytes: float) -> str:
    """A byte count in GiB, 3 significant digits."""
    return f"{n_bytes / 2**30:.3g} GiB"


def walk_count_bound(ga: GraphArrays, src: np.ndarray, dst: np.ndarray, walk_length: int) -> float:
    """Upper bound of the DP's memory in bytes: every walk its own state (float, may be ``inf``)."""
    if ga.num_nodes == 0:
        return 0.0
    w = np.ones(ga.num_nodes, dtype=np.float64)
    outdeg = np.bincount(src, minlength=ga.num_nodes).astype(np.float64)
    total = BYTES_PER_STATE * float(w.sum())
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(1, walk_length):
            total += BYTES_PER_EXTENSION * float(w @ outdeg)
            w = np.bincount(dst, weights=w[src], minlength=ga.num_nodes)
            total += BYTES_PER_STATE * float(w.sum())
            if not np.isfinite(total):
                return float("inf")
    return total

"""Input checks of the PyG layers that need the values of a tensor (a host synchronisation).

The layers check shapes in ``forward`` but not the values of ``edge_index``, so they run without
host synchronisations and compile with ``torch.compile(fullgraph=True)``. Models check the
values once at their boundary (:func:`sgkit.data.validate` for scene graphs); a user calling a
layer directly on untrusted indices calls :func:`check_edge_index` first.
"""
from __future__ import annotations

from torch import Tensor

__all__ = ["check_edge_index"]


def check_edge_index(edge_index: Tensor, num_nodes: int) -> None:
    """Raise if ``edge_index`` is not ``[2, E]`` or a node index lies outside ``[0, num_nodes)``.

    Without the check an index ``>= num_nodes`` fails deep inside the gather/scatter (or, on a
    GPU, as an asynchronous device assert) and a negative one silently wraps around.

    Raises:
        ValueError: naming the offending index and its range.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            "edge_index must have shape [2, E] (row 0 = subject, row 1 = object), got "
            f"edge_index.shape={tuple(edge_index.shape)}"
        )
    if edge_index.numel() == 0:
        return
    lo, hi = int(edge_index.min()), int(edge_index.max())
    if lo < 0 or hi >= num_nodes:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"edge_index values must lie in [0, {num_nodes}) (the number of nodes), "
            f"got node index {bad} (range [{lo}, {hi}])"
        )

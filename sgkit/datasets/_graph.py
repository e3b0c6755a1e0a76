"""Fast construction of trusted scene graphs (the generators' hot path).

:func:`sgkit.data.from_triplets` validates every field, which costs more than generating a
synthetic graph. The generators of this package build graphs whose fields are correct by
construction, so they use :func:`build_graph`, which stores exactly the fields
``from_triplets`` stores (same names, dtypes and shapes) without the checks. The tests check
that both give identical graphs and that every generated graph passes ``validate``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from sgkit.data import EDGE, NODE, SceneGraph

__all__ = ["build_graph"]


def build_graph(
    label: Tensor,
    edge_index: Tensor,
    edge_label: Tensor,
    *,
    box: Tensor | None = None,
    mask: Tensor | None = None,
    image: Tensor | None = None,
) -> SceneGraph:
    """Assemble a scene graph from already-checked tensors.

    Args:
        label: long ``[N]`` category ids.
        edge_index: long ``[2, E]`` (row 0 = subject).
        edge_label: long ``[E]`` predicate ids.
        box: optional float ``[N, 4]`` normalised boxes.
        mask: optional float ``[N, M, M]`` box-relative masks.
        image: optional float ``[3, H, W]`` image.

    Returns:
        The :class:`~sgkit.data.SceneGraph` (same layout as :func:`sgkit.data.from_triplets`).
    """
    data = SceneGraph()
    store = data[NODE]
    store.label = label
    store.num_nodes = int(label.numel())
    if box is not None:
        store.box = box
    if mask is not None:
        store.mask = mask
    rel = data[EDGE]
    rel.edge_index = edge_index
    rel.label = edge_label
    if image is not None:
        data.image = image
    return data


def triplets_to_tensors(triplets: list[tuple[int, int, int]]) -> tuple[Tensor, Tensor]:
    """``(edge_index [2, E], edge_label [E])`` long tensors from ``(s, p, o)`` triplets."""
    if not triplets:
        return torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    t = torch.tensor(triplets, dtype=torch.long)
    return t[:, [0, 2]].t().contiguous(), t[:, 1].contiguous()

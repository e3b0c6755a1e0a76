"""Scene batches: many scene graphs as the flat tensors an image model consumes.

:func:`collate_scenes` concatenates the objects of several :class:`~torch_geometric.data.HeteroData`
scene graphs (edge indices offset per graph, images stacked along a leading graph dimension)
into a :class:`SceneBatch`. Every image model's ``forward`` takes such a batch; a model that needs
more inputs (source images, keep flags, masks) subclasses :class:`SceneBatch` and adds fields.

Graphs are checked by the one validator of the data model, :func:`~sgkit.data.validate`, once at
the model boundary (:func:`check_scenes`); :func:`collate_scenes` itself does no per-graph host
synchronisation unless it is asked to check ids.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from .scene_graph import EDGE, NODE, validate

__all__ = ["SceneBatch", "check_scenes", "collate_scenes"]


@dataclass
class SceneBatch:
    """A batch of scene graphs as flat tensors (objects of all graphs concatenated).

    Attributes:
        labels: ``[O]`` object category ids.
        edge_index: ``[2, E]`` subject/object indices into ``labels`` (offset per graph).
        edge_labels: ``[E]`` predicate ids.
        batch: ``[O]`` graph index of every object.
        num_images: number of graphs ``B``.
        boxes: ``[O, 4]`` normalised ``(x0, y0, x1, y1)`` boxes, or ``None``.
        masks: ``[O, M, M]`` box-relative masks, or ``None``.
        images: ``[B, 3, S, S]`` images in ``[0, 1]``, or ``None``.
    """

    labels: Tensor
    edge_index: Tensor
    edge_labels: Tensor
    batch: Tensor
    num_images: int
    boxes: Tensor | None = None
    masks: Tensor | None = None
    images: Tensor | None = None

    @property
    def num_objects(self) -> int:
        """Number of objects ``O`` in the batch."""
        return self.labels.numel()

    def to(self, device: torch.device | str) -> "SceneBatch":
        """A copy with every tensor field moved to ``device`` (subclass fields included)."""
        moved = {f.name: getattr(self, f.name).to(device)
                 for f in fields(self) if isinstance(getattr(self, f.name), Tensor)}
        return replace(self, **moved)


def check_scenes(
    graphs: Sequence[HeteroData],
    num_objects: int | None = None,
    num_predicates: int | None = None,
    *,
    name: str = "graphs",
) -> None:
    """Validate every graph with :func:`~sgkit.data.validate`, naming the graph on failure.

    Args:
        graphs: scene graphs.
        num_objects: if given, object ids must lie in ``[0, num_objects)``.
        num_predicates: if given, predicate ids must lie in ``[0, num_predicates)``.
        name: the argument name used in messages.

    Raises:
        ValueError: e.g. ``"graphs[3]: object.label: category id 12 out of vocabulary
            (num_classes=12)"``.
    """
    for i, g in enumerate(graphs):
        try:
            validate(g, num_classes=num_objects, num_predicates=num_predicates)
        except ValueError as err:
            raise ValueError(f"{name}[{i}]: {err}") from None


def collate_scenes(
    graphs: Sequence[HeteroData],
    *,
    need_boxes: bool = False,
    need_images: bool = False,
    image_size: int | None = None,
    num_objects: int | None = None,
    num_predicates: int | None = None,
) -> SceneBatch:
    """Concatenate scene graphs into a :class:`SceneBatch` (edge indices offset per graph).

    Args:
        graphs: HeteroData scene graphs (see :mod:`sgkit.data`).
        need_boxes: raise if a graph has no ``box``.
        need_images: raise if a graph has no ``image``.
        image_size: resize images to this square size (area interpolation) when needed.
        num_objects: when given (or ``num_predicates``), validate the graphs first
            (:func:`check_scenes`).
        num_predicates: see ``num_objects``.

    Returns:
        The batch; ``boxes``/``masks``/``images`` are ``None`` unless every graph has them
        (masks also need one common size).

    Raises:
        ValueError: for an empty sequence, a missing field, or an invalid graph, naming it.
    """
    if len(graphs) == 0:
        raise ValueError("graphs must contain at least one scene graph, got an empty sequence")
    if num_objects is not None or num_predicates is not None:
        check_scenes(graphs, num_objects, num_predicates)
    labels, eis, els, batch, boxes, masks, images = [], [], [], [], [], [], []
    offset = 0
    for i, g in enumerate(graphs):
        store = g[NODE]
        if "label" not in store:
            raise ValueError(f"graphs[{i}] has no data['object'].label")
        lab = store.label.view(-1)
        n = lab.numel()
        labels.append(lab)
        batch.append(torch.full((n,), i, dtype=torch.long))
        if EDGE in g.edge_types and "edge_index" in g[EDGE]:
            ei, el = g[EDGE].edge_index, g[EDGE].label.view(-1)
        else:
            ei, el = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
        eis.append(ei + offset)
        els.append(el)
        offset += n
        box = store.box if "box" in store else None
        if box is None and need_boxes:
            raise ValueError(f"graphs[{i}] has no data['object'].box (needed for this call)")
        boxes.append(box)
        masks.append(store.mask if "mask" in store else None)
        img = g.image if "image" in g else None
        if img is None and need_images:
            raise ValueError(f"graphs[{i}] has no image (data.image), needed for training")
        if img is not None:
            img = img.float()
            if img.dim() != 3 or img.shape[0] != 3:
                raise ValueError(f"graphs[{i}].image must have shape [3, H, W], got {tuple(img.shape)}")
            if image_size is not None and tuple(img.shape[-2:]) != (image_size, image_size):
                img = F.interpolate(img.unsqueeze(0), size=(image_size, image_size), mode="area")[0]
        images.append(img)
    cat_boxes = torch.cat([b.float() for b in boxes]) if all(b is not None for b in boxes) else None
    same_mask_size = len({tuple(m.shape[1:]) for m in masks if m is not None}) == 1
    cat_masks = (torch.cat([m.float() for m in masks])
                 if all(m is not None for m in masks) and same_mask_size else None)
    cat_images = torch.stack(images) if all(im is not None for im in images) else None
    return SceneBatch(
        labels=torch.cat(labels).long(), edge_index=torch.cat(eis, dim=1).long(),
        edge_labels=torch.cat(els).long(), batch=torch.cat(batch), num_images=len(graphs),
        boxes=cat_boxes, masks=cat_masks, images=cat_images,
    )

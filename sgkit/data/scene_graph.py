"""The scene-graph type: a PyG :class:`~torch_geometric.data.HeteroData` with one node type.

A scene graph is a directed multigraph whose nodes are object instances with a category and whose
edges are ``(subject, predicate, object)`` triplets. Several predicates may join the same ordered
pair and a triplet may repeat (real Visual Genome data does both), so nothing here deduplicates.

Layout of one graph (see SPEC section 1)::

    data["object"].label        long  [N]        category ids (0-based)
    data["object"].box          float [N, 4]     optional, normalised (x0, y0, x1, y1)
    data["object"].mask         float [N, M, M]  optional, box-relative instance masks
    data["object"].feature      float [N, D]     optional visual features
    data["object"].attribute    long  [N, A]     optional attribute ids
    data[EDGE].edge_index       long  [2, E]     row 0 = subject, row 1 = object
    data[EDGE].label            long  [E]        predicate ids (0-based)
    data.image                  float [3, H, W]  optional
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

__all__ = ["NODE", "EDGE", "from_triplets", "to_triplets", "validate", "num_objects", "num_relations"]

NODE: str = "object"
EDGE: tuple[str, str, str] = ("object", "relation", "object")


def _as_tensor(value: Any, dtype: torch.dtype, name: str) -> Tensor:
    """Convert ``value`` to a ``dtype`` tensor, raising a ValueError naming ``name`` on failure."""
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: cannot convert {value!r} to a {dtype} tensor ({exc})") from exc


def _contains_bool(value: Any) -> bool:
    """Whether a (nested) Python list/tuple holds a ``bool`` (tensors and arrays are checked by dtype)."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_bool(v) for v in value)
    return False


def _as_index_tensor(value: Any, name: str) -> Tensor:
    """Convert integer-valued ``value`` (list, NumPy array, tensor) to a long tensor.

    Integral floats such as ``2.0`` are accepted; booleans, non-integral or non-finite floats and
    anything that is not numeric are rejected.

    Args:
        value: the input.
        name: field name used in error messages.

    Returns:
        A long tensor with the shape of ``value``.

    Raises:
        ValueError: naming ``name`` and the offending dtype or value.
    """
    if _contains_bool(value):
        raise ValueError(f"{name}: expected integer ids, got bool values in {value!r}")
    if isinstance(value, Tensor):
        t = value
    else:
        try:
            t = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{name}: cannot convert {value!r} to an integer tensor ({exc})") from exc
    if t.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer ids, got dtype {t.dtype}")
    if t.is_complex():
        raise ValueError(f"{name}: expected integer ids, got dtype {t.dtype}")
    if t.is_floating_point():
        bad = ~torch.isfinite(t) | (t != torch.round(t))
        if bool(bad.any()):
            pos = [int(i) for i in bad.nonzero()[0]]
            raise ValueError(f"{name}: expected integer values, got {t[tuple(pos)].item()!r} at index {pos}")
    return t.to(torch.long)


def _check_node_rows(t: Tensor, name: str, n: int, shape: str) -> None:
    """Raise a ValueError naming ``name`` unless ``t`` has one row per node."""
    if t.size(0) != n:
        raise ValueError(f"{name}: expected shape {shape} with N = {n} nodes, got {list(t.shape)}")


def from_triplets(
    labels: Sequence[int] | Tensor,
    triplets: Sequence[Sequence[int]] | Tensor,
    *,
    boxes: Sequence[Sequence[float]] | Tensor | None = None,
    masks: Tensor | None = None,
    features: Tensor | None = None,
    image: Tensor | None = None,
) -> HeteroData:
    """Build a scene graph from category ids and ``(subject, predicate, object)`` triplets.

    Inputs may be Python sequences, NumPy arrays or tensors. Nothing is reshaped: ids must be
    integer-valued (integral floats such as ``2.0`` are accepted, booleans are not) and every
    optional field must already have its documented shape.

    Args:
        labels: category id of every node, a 1-D sequence of length ``N``.
        triplets: ``E`` triplets ``(subject_index, predicate_id, object_index)``; may be empty.
            Repeated triplets and several predicates on one ordered pair are kept.
        boxes: optional ``[N, 4]`` normalised boxes ``(x0, y0, x1, y1)`` (an empty sequence is
            accepted when ``N == 0``).
        masks: optional ``[N, M, M]`` box-relative instance masks.
        features: optional ``[N, D]`` node features.
        image: optional ``[3, H, W]`` image.

    Returns:
        The scene graph as :class:`HeteroData`; it passes :func:`validate`.

    Raises:
        ValueError: if a field has the wrong shape, dtype or value (the message names it).
    """
    label = _as_index_tensor(labels, "labels")
    if label.dim() != 1:
        raise ValueError(f"labels: expected shape [N], got {list(label.shape)}")
    n = int(label.numel())
    if isinstance(triplets, (list, tuple)):
        # ragged input would otherwise fail inside torch with a message that hides the culprit
        for k, t in enumerate(triplets):
            if not isinstance(t, (Sequence, Tensor, np.ndarray)) or isinstance(t, str):
                raise ValueError(f"triplets[{k}]: expected (subject, predicate, object), got {t!r}")
        if len({len(t) for t in triplets}) > 1:
            k = next(k for k, t in enumerate(triplets) if len(t) != 3)
            raise ValueError(f"triplets[{k}]: expected (subject, predicate, object), got {triplets[k]!r}")
    trip = _as_index_tensor(triplets, "triplets")
    if trip.numel() == 0 and trip.dim() == 1:
        trip = trip.reshape(0, 3)
    if trip.dim() != 2 or trip.size(1) != 3:
        raise ValueError(f"triplets: expected shape [E, 3], got {list(trip.shape)}")
    data = HeteroData()
    data[NODE].label = label
    data[NODE].num_nodes = n
    data[EDGE].edge_index = trip[:, [0, 2]].t().contiguous()
    data[EDGE].label = trip[:, 1].contiguous()
    if boxes is not None:
        box = _as_tensor(boxes, torch.float, "boxes")
        if n == 0 and box.numel() == 0 and box.dim() == 1:
            box = box.reshape(0, 4)
        if box.dim() != 2 or box.size(1) != 4:
            raise ValueError(f"boxes: expected shape [N, 4], got {list(box.shape)}")
        _check_node_rows(box, "boxes", n, "[N, 4]")
        data[NODE].box = box
    if masks is not None:
        mask = _as_tensor(masks, torch.float, "masks")
        if mask.dim() != 3 or mask.size(1) != mask.size(2):
            raise ValueError(f"masks: expected shape [N, M, M], got {list(mask.shape)}")
        _check_node_rows(mask, "masks", n, "[N, M, M]")
        data[NODE].mask = mask
    if features is not None:
        feat = _as_tensor(features, torch.float, "features")
        if feat.dim() != 2:
            raise ValueError(f"features: expected shape [N, D], got {list(feat.shape)}")
        _check_node_rows(feat, "features", n, "[N, D]")
        data[NODE].feature = feat
    if image is not None:
        data.image = _as_tensor(image, torch.float, "image")
    validate(data)
    return data


def num_objects(data: HeteroData) -> int:
    """Number of object nodes of a scene graph (0 for an empty graph)."""
    store = data[NODE]
    if "label" in store:
        return int(store.label.numel())
    return int(store.num_nodes or 0)


def num_relations(data: HeteroData) -> int:
    """Number of relation edges (triplets) of a scene graph."""
    if EDGE not in data.edge_types:
        return 0
    return int(data[EDGE].edge_index.size(1))


def to_triplets(data: HeteroData) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Inverse of :func:`from_triplets`: category ids and ``(s, p, o)`` triplets as Python lists."""
    labels = data[NODE].label.tolist() if "label" in data[NODE] else []
    if num_relations(data) == 0:
        return labels, []
    ei = data[EDGE].edge_index
    pred = data[EDGE].label
    return labels, [(int(s), int(p), int(o)) for s, p, o in zip(ei[0].tolist(), pred.tolist(), ei[1].tolist())]


def validate(
    data: HeteroData,
    *,
    num_classes: int | None = None,
    num_predicates: int | None = None,
    num_attributes: int | None = None,
    allow_self_loops: bool = True,
) -> None:
    """Check that ``data`` is a well-formed scene graph.

    Empty graphs (0 nodes) and graphs without edges are valid. Self-loops occur in real data
    (e.g. Visual Genome) and are allowed unless ``allow_self_loops=False``.

    Args:
        data: the scene graph.
        num_classes: if given, category ids must be ``< num_classes``.
        num_predicates: if given, predicate ids must be ``< num_predicates``.
        num_attributes: if given, attribute ids must be ``< num_attributes``.
        allow_self_loops: whether an edge may join a node to itself.

    Raises:
        ValueError: naming the offending field and value.
    """
    if not isinstance(data, HeteroData):
        raise ValueError(f"data: expected a torch_geometric HeteroData, got {type(data).__name__}")
    store = data[NODE]
    if "label" not in store:
        raise ValueError("object.label: missing (every scene graph needs node category ids)")
    label = store.label
    if not isinstance(label, Tensor) or label.dtype != torch.long:
        raise ValueError(f"object.label: expected a long tensor, got {getattr(label, 'dtype', type(label))}")
    if label.dim() != 1:
        raise ValueError(f"object.label: expected shape [N], got {list(label.shape)}")
    n = label.numel()
    if store.num_nodes is not None and int(store.num_nodes) != n:
        raise ValueError(f"object.num_nodes: {int(store.num_nodes)} does not match len(object.label) = {n}")
    if n and int(label.min()) < 0:
        raise ValueError(f"object.label: negative category id {int(label.min())}")
    if n and num_classes is not None and int(label.max()) >= num_classes:
        raise ValueError(f"object.label: category id {int(label.max())} out of vocabulary (num_classes={num_classes})")
    for field, ncols in (("box", 4), ("mask", None), ("feature", None)):
        if field not in store:
            continue
        value = store[field]
        if not isinstance(value, Tensor) or not value.is_floating_point():
            raise ValueError(f"object.{field}: expected a float tensor, got {getattr(value, 'dtype', type(value))}")
        if value.dim() == 0:
            raise ValueError(f"object.{field}: expected one row per node, got a scalar {value.item()}")
        if value.size(0) != n:
            raise ValueError(f"object.{field}: has {value.size(0)} rows but the graph has {n} nodes")
        if ncols is not None and (value.dim() != 2 or value.size(1) != ncols):
            raise ValueError(f"object.{field}: expected shape [N, {ncols}], got {list(value.shape)}")
        if field == "mask" and (value.dim() != 3 or value.size(1) != value.size(2)):
            raise ValueError(f"object.mask: expected shape [N, M, M], got {list(value.shape)}")
        if field == "feature" and value.dim() != 2:
            raise ValueError(f"object.feature: expected shape [N, D], got {list(value.shape)}")
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            pos = [int(i) for i in (~finite).nonzero()[0]]
            raise ValueError(
                f"object.{field}: contains non-finite values (first at node {pos[0]}, index {pos}: "
                f"{value[tuple(pos)].item()})"
            )
    if "box" in store and n:
        box = store.box
        bad = (box[:, 0] > box[:, 2]) | (box[:, 1] > box[:, 3])
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise ValueError(f"object.box: inverted box at node {i}: {box[i].tolist()} (need x0 <= x1 and y0 <= y1)")
    if "attribute" in store:
        attr = store.attribute
        if not isinstance(attr, Tensor) or attr.dtype != torch.long:
            raise ValueError(f"object.attribute: expected a long tensor, got {getattr(attr, 'dtype', type(attr))}")
        if attr.dim() not in (1, 2):
            raise ValueError(f"object.attribute: expected shape [N] or [N, A], got {list(attr.shape)}")
        if attr.size(0) != n:
            raise ValueError(f"object.attribute: has {attr.size(0)} rows but the graph has {n} nodes")
        if attr.numel():
            if int(attr.min()) < 0:
                raise ValueError(f"object.attribute: negative attribute id {int(attr.min())}")
            if num_attributes is not None and int(attr.max()) >= num_attributes:
                raise ValueError(
                    f"object.attribute: attribute id {int(attr.max())} out of vocabulary (num_attributes={num_attributes})"
                )
    if EDGE in data.edge_types:
        rel = data[EDGE]
        if "edge_index" not in rel:
            raise ValueError("relation.edge_index: missing (the relation edge store has no edge_index)")
        ei = rel.edge_index
        if not isinstance(ei, Tensor) or ei.dtype != torch.long:
            raise ValueError(f"relation.edge_index: expected a long tensor, got {getattr(ei, 'dtype', type(ei))}")
        if ei.dim() != 2 or ei.size(0) != 2:
            raise ValueError(f"relation.edge_index: expected shape [2, E], got {list(ei.shape)}")
        e = ei.size(1)
        if "label" not in rel:
            raise ValueError("relation.label: missing (every edge needs a predicate id)")
        pred = rel.label
        if not isinstance(pred, Tensor) or pred.dtype != torch.long:
            raise ValueError(f"relation.label: expected a long tensor, got {getattr(pred, 'dtype', type(pred))}")
        if pred.dim() != 1 or pred.numel() != e:
            raise ValueError(f"relation.label: expected shape [{e}] (one predicate per edge), got {list(pred.shape)}")
        if e:
            lo, hi = int(ei.min()), int(ei.max())
            if lo < 0 or hi >= n:
                bad = lo if lo < 0 else hi
                raise ValueError(f"relation.edge_index: node index {bad} out of range for {n} nodes")
            if int(pred.min()) < 0:
                raise ValueError(f"relation.label: negative predicate id {int(pred.min())}")
            if num_predicates is not None and int(pred.max()) >= num_predicates:
                raise ValueError(
                    f"relation.label: predicate id {int(pred.max())} out of vocabulary (num_predicates={num_predicates})"
                )
            if not allow_self_loops:
                loops = ei[0] == ei[1]
                if bool(loops.any()):
                    i = int(loops.nonzero()[0])
                    raise ValueError(f"relation.edge_index: self-loop at edge {i} on node {int(ei[0, i])} (not allowed)")
    if "image" in data and data.image is not None:
        img = data.image
        if not isinstance(img, Tensor) or not img.is_floating_point() or img.dim() != 3 or img.size(0) != 3:
            raise ValueError(f"image: expected a float tensor of shape [3, H, W], got {getattr(img, 'shape', type(img))}")
        finite = torch.isfinite(img)
        if not bool(finite.all()):
            pos = [int(i) for i in (~finite).nonzero()[0]]
            raise ValueError(f"image: contains non-finite values (first at index {pos}: {img[tuple(pos)].item()})")

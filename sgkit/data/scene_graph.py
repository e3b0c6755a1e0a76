"""The scene-graph type: :class:`SceneGraph`, a PyG :class:`~torch_geometric.data.HeteroData` with one node type.

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

**Batching.** Graph-level values (everything stored on the graph itself, such as ``data.image``
or ``data.scene_type``, as opposed to ``data["object"]`` / ``data[EDGE]``) describe one whole
graph. :class:`SceneGraph` tells PyG so (its ``__cat_dim__`` is ``None`` for them), so
:class:`torch_geometric.data.Batch` and :class:`torch_geometric.loader.DataLoader` *stack* them
along a new leading graph dimension: a batch of ``B`` graphs has ``batch.image`` of shape
``[B, 3, H, W]`` while a single graph keeps ``data.image`` of shape ``[3, H, W]``;
``batch.get_example(i)`` / ``batch.to_data_list()`` give the per-graph values back. Node and edge
fields are concatenated as usual (edge indices offset per graph, ``batch["object"].batch`` maps
nodes to graphs). Every constructor of :mod:`sgkit` returns a :class:`SceneGraph`; a plain
:class:`HeteroData` is converted with :meth:`SceneGraph.from_hetero` (it is a valid input
everywhere, only its batching differs).

**Saving.** PyG's storages are not on PyTorch's ``weights_only`` allow-list, so a pickled
:class:`HeteroData` or :class:`SceneGraph` does not load with ``weights_only=True``. Save the
plain-dict form instead: ``torch.save(g.to_dict(), path)`` and
``SceneGraph.from_dict(torch.load(path, weights_only=True))`` (lists of graphs likewise).

**Names and ids.** :func:`from_triplets` and :func:`to_triplets` take an optional
:class:`~sgkit.data.Vocabulary`: with it, categories and predicates may be given (and are
returned) as names.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.data.storage import EdgeStorage, NodeStorage

from ._checks import as_index_tensor
from .vocab import names_to_ids

if TYPE_CHECKING:
    from .vocab import Vocabulary

__all__ = [
    "NODE",
    "EDGE",
    "SceneGraph",
    "from_triplets",
    "to_triplets",
    "validate",
    "num_objects",
    "num_relations",
]

NODE: str = "object"
EDGE: tuple[str, str, str] = ("object", "relation", "object")


class SceneGraph(HeteroData):
    """A scene graph: :class:`HeteroData` whose graph-level tensors batch with a leading graph dimension.

    Identical to :class:`HeteroData` except in :class:`~torch_geometric.data.Batch` /
    :class:`~torch_geometric.loader.DataLoader`: tensors stored on the graph itself
    (``data.image`` ``[3, H, W]``, ``data.scene_type``, any other per-graph tensor) are stacked,
    so a batch of ``B`` graphs has ``batch.image`` of shape ``[B, 3, H, W]``. See the module
    docstring.

    Example:
        >>> from torch_geometric.data import Batch
        >>> g = from_triplets([0, 1], [(0, 0, 1)], image=torch.zeros(3, 4, 4))
        >>> Batch.from_data_list([g, g, g]).image.shape
        torch.Size([3, 3, 4, 4])
    """

    def __cat_dim__(self, key: str, value: Any, store: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Tensor) and store is not None and not isinstance(store, (NodeStorage, EdgeStorage)):
            return None  # graph-level: stack along a new leading dimension
        return super().__cat_dim__(key, value, store, *args, **kwargs)

    @classmethod
    def from_hetero(cls, data: HeteroData) -> SceneGraph:
        """A :class:`SceneGraph` sharing the tensors of a plain :class:`HeteroData`.

        ``data["object"].num_nodes`` is set from the labels when it is missing (PyG needs it to
        offset edge indices in batches); ``data`` itself is not modified.
        """
        if not isinstance(data, HeteroData):
            raise ValueError(f"data: expected a torch_geometric HeteroData, got {type(data).__name__}")
        if isinstance(data, cls):
            return data
        out = cls.from_dict(data.to_dict())
        if NODE in out.node_types and "label" in out[NODE] and "num_nodes" not in out[NODE]:
            out[NODE].num_nodes = int(out[NODE].label.numel())
        return out



def _as_tensor(value: Any, dtype: torch.dtype, name: str) -> Tensor:
    """Convert ``value`` to a ``dtype`` tensor, raising a ValueError naming ``name`` on failure."""
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: cannot convert {value!r} to a {dtype} tensor ({exc})") from exc


def _check_node_rows(t: Tensor, name: str, n: int, shape: str) -> None:
    """Raise a ValueError naming ``name`` unless ``t`` has one row per node."""
    if t.size(0) != n:
        raise ValueError(f"{name}: expected shape {shape} with N = {n} nodes, got {list(t.shape)}")


def from_triplets(
    labels: Sequence[int | str] | Tensor,
    triplets: Sequence[Sequence[int | str]] | Tensor,
    *,
    vocab: Vocabulary | None = None,
    on_unknown: str = "error",
    boxes: Sequence[Sequence[float]] | Tensor | None = None,
    masks: Tensor | None = None,
    features: Tensor | None = None,
    image: Tensor | None = None,
) -> SceneGraph:
    """Build a scene graph from categories and ``(subject, predicate, object)`` triplets.

    Inputs may be Python sequences, NumPy arrays or tensors. Nothing is reshaped: ids must be
    integer-valued (integral floats such as ``2.0`` are accepted up to ``2**24``, booleans are
    not, ``1.7`` is an error, never truncated) and every optional field must already have its
    documented shape.

    Categories and predicates may be given as names when ``vocab`` is given. Within ``labels``
    (and within the predicates of ``triplets``) either every item is a name or every item is an
    id; subjects and objects are always node indices.

    Args:
        labels: category of every node (ids or, with ``vocab``, names), ``N`` items.
        triplets: ``E`` triplets ``(subject_index, predicate, object_index)``; may be empty.
            Repeated triplets and several predicates on one ordered pair are kept.
        vocab: vocabulary used to encode names; ids are then also checked against its sizes.
        on_unknown: for names missing from ``vocab``: ``"error"`` (:class:`KeyError`) or
            ``"add"`` (grow ``vocab``).
        boxes: optional ``[N, 4]`` normalised boxes ``(x0, y0, x1, y1)`` (an empty sequence is
            accepted when ``N == 0``).
        masks: optional ``[N, M, M]`` box-relative instance masks.
        features: optional ``[N, D]`` node features.
        image: optional ``[3, H, W]`` image.

    Returns:
        The :class:`SceneGraph`; it passes :func:`validate`.

    Raises:
        ValueError: if a field has the wrong shape, dtype or value, names are given without a
            vocabulary, or names and ids are mixed (the message names the argument and item).
        KeyError: for a name missing from ``vocab`` with ``on_unknown="error"``.

    Example:
        >>> from sgkit.data import Vocabulary
        >>> vocab = Vocabulary(["man", "horse"], ["riding"])
        >>> g = from_triplets(["man", "horse"], [(0, "riding", 1)], vocab=vocab)
        >>> to_triplets(g, vocab=vocab)
        (['man', 'horse'], [(0, 'riding', 1)])
    """
    labels, triplets = names_to_ids(labels, triplets, vocab, on_unknown)
    label = as_index_tensor(labels, "labels")
    if label.dim() != 1:
        raise ValueError(f"labels: expected shape [N], got {list(label.shape)}")
    n = int(label.numel())
    trip = as_index_tensor(triplets, "triplets")
    if trip.numel() == 0 and trip.dim() == 1:
        trip = trip.reshape(0, 3)
    if trip.dim() != 2 or trip.size(1) != 3:
        raise ValueError(f"triplets: expected shape [E, 3], got {list(trip.shape)}")
    data = SceneGraph()
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
    validate(data, vocab=vocab)
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


def to_triplets(
    data: HeteroData, *, vocab: Vocabulary | None = None
) -> tuple[list[Any], list[tuple[int, Any, int]]]:
    """Inverse of :func:`from_triplets`: categories and ``(s, p, o)`` triplets as Python lists.

    Args:
        data: the scene graph.
        vocab: if given, categories and predicates are returned as names.

    Returns:
        ``(labels, triplets)`` with ids, or names with ``vocab``.

    Raises:
        KeyError: with ``vocab``, for an id outside the vocabulary.
    """
    labels = data[NODE].label.tolist() if "label" in data[NODE] else []
    trips: list[tuple[int, Any, int]] = []
    if num_relations(data):
        ei = data[EDGE].edge_index
        pred = data[EDGE].label
        trips = [(int(s), int(p), int(o)) for s, p, o in zip(ei[0].tolist(), pred.tolist(), ei[1].tolist())]
    if vocab is not None:
        labels = [vocab.decode_object(c) for c in labels]
        trips = [(s, vocab.decode_predicate(p), o) for s, p, o in trips]
    return labels, trips


def validate(
    data: HeteroData,
    *,
    vocab: Vocabulary | None = None,
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
        vocab: if given, ids must lie in it (its sizes are the defaults of the three limits below).
        num_classes: if given, category ids must be ``< num_classes``.
        num_predicates: if given, predicate ids must be ``< num_predicates``.
        num_attributes: if given, attribute ids must be ``< num_attributes``.
        allow_self_loops: whether an edge may join a node to itself.

    Raises:
        ValueError: naming the offending field and value.
    """
    if not isinstance(data, HeteroData):
        raise ValueError(f"data: expected a torch_geometric HeteroData, got {type(data).__name__}")
    if vocab is not None:
        num_classes = vocab.num_objects if num_classes is None else num_classes
        num_predicates = vocab.num_predicates if num_predicates is None else num_predicates
        if num_attributes is None and vocab.num_attributes:
            num_attributes = vocab.num_attributes
    store = data[NODE]
    if "label" not in store:
        raise ValueError("object.label: missing (every scene graph needs node category ids)")
    label = store.label
    if not isinstance(label, Tensor) or label.dtype != torch.long:
        raise ValueError(f"object.label: expected a long tensor, got {getattr(label, 'dtype', type(label))}")
    if label.dim() != 1:
        raise ValueError(f"object.label: expected shape [N], got {list(label.shape)}")
    n = label.numel()
    if "num_nodes" in store and store["num_nodes"] is not None and int(store["num_nodes"]) != n:
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
            got = f"{img.dtype} {list(img.shape)}" if isinstance(img, Tensor) else type(img).__name__
            raise ValueError(f"image: expected a float tensor of shape [3, H, W], got {got}")
        if img.size(1) == 0 or img.size(2) == 0:
            raise ValueError(f"image: expected a height and width >= 1, got shape {list(img.shape)}")
        finite = torch.isfinite(img)
        if not bool(finite.all()):
            pos = [int(i) for i in (~finite).nonzero()[0]]
            raise ValueError(f"image: contains non-finite values (first at index {pos}: {img[tuple(pos)].item()})")

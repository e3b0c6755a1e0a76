"""Scene-graph edits for image manipulation and the plan that turns an edit into keep flags.

The four edits of semantic image manipulation (remove a node, replace its category, change a
predicate, add a node related to an anchor) each return a **new** graph; the input is never
modified. Every edited graph records in ``data["object"].src_index`` (long ``[N]``) which node of
the *original* source graph each node came from (``-1`` for an added node); chained edits keep
pointing at the original source. Node-level tensors (``box``, ``mask``, ``feature``, ...) follow
their nodes; an added node gets zero rows (a zero box marks "unknown, to be predicted"). The
graph-level ``image`` is dropped from edited graphs, since it no longer shows them.

:func:`plan_edit` compares a source graph with an edited graph and returns an :class:`EditPlan`:
per edited node the flags ``keep_box`` (the box enters the graph encoder and the layout),
``keep_feature`` (the visual feature of its source crop is used) and ``keep_image`` (its source
image region is left visible), following the four modes:

============= ========================== ========= ============= ============
mode          node                       keep_box  keep_feature  keep_image
============= ========================== ========= ============= ============
unchanged     every other node           1         1             1
removal       deleted; its source box goes to ``hidden_boxes``
replacement   category changed           1 [#c]_   0             0
relationship  endpoint of a changed edge 0         1             0
addition      ``src_index == -1``        0 [#g]_   0             0
============= ========================== ========= ============= ============

.. [#c] 0 with ``replace_box="combine"`` (the layout then uses the source box centre with the
   predicted size).
.. [#g] 1 with ``addition_box="given"`` (the added node's stored box is used as is).

Which endpoints of a changed edge move is ``relation_mask``: ``"subject"``, ``"object"`` or
``"both"`` (ShapesWorld relationship edits move both). ShapesWorld edit pairs are turned into
edits and plans by :mod:`sgkit.data.edit_pairs`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from .scene_graph import EDGE, NODE
from .vocab import UnknownNameError

__all__ = [
    "EDIT_MODES",
    "EditPlan",
    "add_node",
    "change_predicate",
    "plan_edit",
    "remove_node",
    "replace_node",
]

EDIT_MODES: tuple[str, ...] = ("relationship", "removal", "replacement", "addition")


def _num_nodes(graph: HeteroData) -> int:
    if not isinstance(graph, HeteroData):
        raise ValueError(f"graph: expected a torch_geometric HeteroData, got {type(graph).__name__}")
    if "label" not in graph[NODE]:
        raise ValueError("graph: object.label is missing")
    return int(graph[NODE].label.numel())


def _edges(graph: HeteroData) -> tuple[Tensor, Tensor]:
    if EDGE in graph.edge_types and "edge_index" in graph[EDGE]:
        return graph[EDGE].edge_index, graph[EDGE].label.view(-1)
    return torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long)


def _index(value: Any, name: str, size: int, what: str) -> int:
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an int {what} index, got {name}={value!r}")
    if not -size <= value < size:
        raise ValueError(f"{name}: {what} index {value} out of range for a graph with {size} {what}s")
    return value % size


def _category(value: Any, name: str, vocab: Any, kind: str) -> int:
    """Resolve a category/predicate given as id or name (names need ``vocab``)."""
    limit = None
    if vocab is not None:
        limit = vocab.num_objects if kind == "object" else vocab.num_predicates
    if isinstance(value, str):
        if vocab is None:
            raise ValueError(f"{name}: the name {value!r} needs a vocabulary (pass vocab=...)")
        try:
            return vocab.encode_object(value) if kind == "object" else vocab.encode_predicate(value)
        except UnknownNameError:
            raise ValueError(f"{name}: unknown {kind} name {value!r}") from None
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an int id or a name, got {name}={value!r}")
    if value < 0 or (limit is not None and value >= limit):
        raise ValueError(f"{name}: {kind} id {value} out of range [0, {limit if limit is not None else 'inf'})")
    return value


def _rebuild(graph: HeteroData, rows: Tensor, edge_index: Tensor, edge_rows: Tensor,
             new_edge_label: Tensor) -> HeteroData:
    """A copy of ``graph`` whose node ``i`` is row ``rows[i]`` of the input (``-1``: zero row) and
    whose edges are ``edge_index`` with per-edge tensors taken from ``edge_rows`` (``-1``: new)."""
    n = _num_nodes(graph)
    out = graph.clone()
    if "image" in out:
        del out.image
    src = graph[NODE].src_index if "src_index" in graph[NODE] else torch.arange(n)
    store, old = out[NODE], graph[NODE]
    for key in list(old.keys()):
        value = old[key]
        if key == "num_nodes" or not isinstance(value, Tensor) or value.dim() == 0 or value.size(0) != n:
            continue
        new = value.new_zeros((rows.numel(),) + tuple(value.shape[1:]))
        ok = rows >= 0
        new[ok] = value[rows[ok]]
        store[key] = new
    store.src_index = torch.where(rows >= 0, src[rows.clamp(min=0)], torch.full_like(rows, -1))
    store.num_nodes = int(rows.numel())
    _, old_label = _edges(graph)
    e = old_label.numel()
    rel = out[EDGE]
    if EDGE in graph.edge_types:
        for key in list(graph[EDGE].keys()):
            value = graph[EDGE][key]
            if key in ("edge_index", "label") or not isinstance(value, Tensor) or value.dim() == 0:
                continue
            if value.size(0) == e:
                new = value.new_zeros((edge_rows.numel(),) + tuple(value.shape[1:]))
                ok = edge_rows >= 0
                new[ok] = value[edge_rows[ok]]
                rel[key] = new
    rel.edge_index = edge_index.long()
    rel.label = new_edge_label.long()
    return out


def remove_node(graph: HeteroData, node: int) -> HeteroData:
    """Delete ``node`` and every edge touching it.

    Raises:
        ValueError: if ``node`` is not a node index of ``graph``.
    """
    n = _num_nodes(graph)
    k = _index(node, "node", n, "node")
    ei, el = _edges(graph)
    keep_e = (ei[0] != k) & (ei[1] != k)
    new_ei = ei[:, keep_e]
    new_ei = new_ei - (new_ei > k).long()
    rows = torch.cat([torch.arange(k), torch.arange(k + 1, n)])
    return _rebuild(graph, rows, new_ei, keep_e.nonzero().view(-1), el[keep_e])


def replace_node(graph: HeteroData, node: int, label: int | str, *, vocab: Any = None) -> HeteroData:
    """Change the category of ``node`` to ``label`` (an id, or a name with ``vocab``); box and
    edges are kept.

    Raises:
        ValueError: for a bad node index or an unknown category (naming the argument and value).
    """
    n = _num_nodes(graph)
    k = _index(node, "node", n, "node")
    c = _category(label, "label", vocab, "object")
    ei, el = _edges(graph)
    out = _rebuild(graph, torch.arange(n), ei.clone(), torch.arange(el.numel()), el.clone())
    out[NODE].label[k] = c
    return out


def change_predicate(graph: HeteroData, edge: int, predicate: int | str, *, vocab: Any = None) -> HeteroData:
    """Set the predicate of edge ``edge`` to ``predicate`` (an id, or a name with ``vocab``).

    Raises:
        ValueError: for a bad edge index or an unknown predicate (naming the argument and value).
    """
    n = _num_nodes(graph)
    ei, el = _edges(graph)
    j = _index(edge, "edge", el.numel(), "edge")
    p = _category(predicate, "predicate", vocab, "predicate")
    new_el = el.clone()
    new_el[j] = p
    return _rebuild(graph, torch.arange(n), ei.clone(), torch.arange(el.numel()), new_el)


def add_node(
    graph: HeteroData,
    label: int | str,
    anchor: int,
    predicate: int | str,
    *,
    as_subject: bool = True,
    box: Tensor | None = None,
    vocab: Any = None,
) -> HeteroData:
    """Append a node of category ``label`` joined to ``anchor`` by one edge.

    Args:
        graph: the scene graph.
        label: category of the new node (id, or name with ``vocab``).
        anchor: the existing node the new edge joins.
        predicate: predicate of the new edge (id, or name with ``vocab``).
        as_subject: the new node is the edge's subject (else its object).
        box: optional ``[4]`` box of the new node; default all zeros (unknown: predicted).
        vocab: vocabulary for names and id ranges.

    Raises:
        ValueError: for a bad anchor, category, predicate or box.
    """
    n = _num_nodes(graph)
    a = _index(anchor, "anchor", n, "node")
    c = _category(label, "label", vocab, "object")
    p = _category(predicate, "predicate", vocab, "predicate")
    ei, el = _edges(graph)
    pair = torch.tensor([[n], [a]]) if as_subject else torch.tensor([[a], [n]])
    out = _rebuild(graph, torch.cat([torch.arange(n), torch.tensor([-1])]), torch.cat([ei, pair], 1),
                   torch.cat([torch.arange(el.numel()), torch.tensor([-1])]), torch.cat([el, torch.tensor([p])]))
    out[NODE].label[n] = c
    if box is not None:
        b = torch.as_tensor(box, dtype=torch.float32).view(-1)
        if b.numel() != 4 or not torch.isfinite(b).all() or (b[2:] < b[:2]).any():
            raise ValueError(f"box: expected 4 finite values x0 <= x1, y0 <= y1, got box={b.tolist()}")
        if "box" not in out[NODE]:
            raise ValueError("box: the graph has no object.box to extend")
        out[NODE].box[n] = b.to(out[NODE].box.dtype)
    return out


@dataclass
class EditPlan:
    """Keep flags of one edit (see the module docstring for the table).

    Attributes:
        keep_box: ``[N]`` bool per edited node.
        keep_feature: ``[N]`` bool per edited node.
        keep_image: ``[N]`` bool per edited node (``False``: its source region is masked).
        combine_box: ``[N]`` bool: lay out at the source box centre with the predicted size.
        src_index: ``[N]`` source node of every edited node (``-1`` new).
        hidden_boxes: ``[K, 4]`` source boxes of removed nodes (masked in the source image).
        modes: the edit modes found (a subset of :data:`EDIT_MODES`, in that order).
        changed: ``[N]`` bool: the nodes the edit concerns.
    """

    keep_box: Tensor
    keep_feature: Tensor
    keep_image: Tensor
    combine_box: Tensor
    src_index: Tensor
    hidden_boxes: Tensor
    modes: tuple[str, ...] = field(default_factory=tuple)
    changed: Tensor | None = None

    @property
    def mode(self) -> str:
        """The single mode of the edit, ``"none"`` or ``"mixed"``."""
        return self.modes[0] if len(self.modes) == 1 else ("none" if not self.modes else "mixed")


def _triples(ei: Tensor, el: Tensor, names: Tensor) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for (s, o), p in zip(ei.t().tolist(), el.tolist()):
        out.setdefault((int(names[s]), int(names[o])), []).append(int(p))
    return out


def plan_edit(
    source: HeteroData,
    edited: HeteroData,
    *,
    relation_mask: str = "both",
    replace_box: str = "source",
    addition_box: str = "predicted",
    overrides: Mapping[str, Tensor] | None = None,
) -> EditPlan:
    """Per-node keep flags of the edit ``source -> edited`` (a pure function).

    The node correspondence is ``edited["object"].src_index`` (set by the edit functions);
    without it the graphs must have the same number of nodes and nodes correspond by position.

    Args:
        source: the source graph (boxes needed for removals).
        edited: the edited graph.
        relation_mask: which endpoints of a changed edge move: ``"subject"``, ``"object"``,
            ``"both"``.
        replace_box: ``"source"`` (keep the box) or ``"combine"``.
        addition_box: ``"predicted"`` or ``"given"`` (use the added node's stored box).
        overrides: optional ``{"keep_box"|"keep_feature"|"keep_image": [N] bool}`` replacing the
            computed flags.

    Raises:
        ValueError: for an unknown option value, a missing or out-of-range correspondence.
    """
    for name, value, allowed in (("relation_mask", relation_mask, ("subject", "object", "both")),
                                 ("replace_box", replace_box, ("source", "combine")),
                                 ("addition_box", addition_box, ("predicted", "given"))):
        if value not in allowed:
            raise ValueError(f"{name}: expected one of {allowed}, got {name}={value!r}")
    n_src, n = _num_nodes(source), _num_nodes(edited)
    if "src_index" in edited[NODE]:
        src = edited[NODE].src_index.view(-1).long()
        if src.numel() != n:
            raise ValueError(f"edited: object.src_index has {src.numel()} entries for {n} nodes")
    elif n == n_src:
        src = torch.arange(n)
    else:
        raise ValueError(f"edited: has {n} nodes, source has {n_src}, and no object.src_index to match them")
    if src.numel() and (int(src.max()) >= n_src or int(src.min()) < -1):
        raise ValueError(f"edited: object.src_index values must lie in [-1, {n_src}), got {src.tolist()}")
    new = src < 0
    keep_box, keep_feat, keep_img = ~new, ~new, ~new
    combine = torch.zeros(n, dtype=torch.bool)
    modes: list[str] = []
    # replacement: same source node, other category
    src_labels = source[NODE].label.view(-1)
    replaced = ~new & (edited[NODE].label.view(-1) != src_labels[src.clamp(min=0)])
    if replaced.any():
        keep_feat = keep_feat & ~replaced
        keep_img = keep_img & ~replaced
        if replace_box == "combine":
            keep_box = keep_box & ~replaced
            combine = replaced.clone()
    # relationship: triples between kept nodes whose predicate changed
    moved = torch.zeros(n, dtype=torch.bool)
    s_ei, s_el = _edges(source)
    e_ei, e_el = _edges(edited)
    before = _triples(s_ei, s_el, torch.arange(n_src))
    after = _triples(e_ei, e_el, src)
    for (s, o), preds in after.items():
        if s < 0 or o < 0 or (s, o) not in before or sorted(before[(s, o)]) == sorted(preds):
            continue
        ends = {"subject": [s], "object": [o], "both": [s, o]}[relation_mask]
        for v in ends:
            moved |= src == v
    if moved.any():
        keep_box = keep_box & ~moved
        keep_img = keep_img & ~moved
    removed = torch.ones(n_src, dtype=torch.bool)
    removed[src[~new]] = False
    if removed.any():
        if "box" not in source[NODE]:
            raise ValueError("source: object.box is needed to mask removed nodes")
        hidden = source[NODE].box[removed].float()
    else:
        hidden = torch.zeros(0, 4)
    if new.any() and addition_box == "given":
        keep_box = keep_box | new
    for mode, flag in (("relationship", moved.any()), ("removal", removed.any()),
                       ("replacement", replaced.any()), ("addition", new.any())):
        if flag:
            modes.append(mode)
    plan = EditPlan(keep_box=keep_box, keep_feature=keep_feat, keep_image=keep_img, combine_box=combine,
                    src_index=src, hidden_boxes=hidden, modes=tuple(modes), changed=replaced | moved | new)
    for key, value in (overrides or {}).items():
        if key not in ("keep_box", "keep_feature", "keep_image"):
            raise ValueError(f"overrides: unknown flag {key!r} (keep_box, keep_feature, keep_image)")
        v = torch.as_tensor(value, dtype=torch.bool).view(-1)
        if v.numel() != n:
            raise ValueError(f"overrides[{key!r}]: expected {n} flags, got {v.numel()}")
        setattr(plan, key, v)
    return plan


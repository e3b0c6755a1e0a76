"""ShapesWorld-style edit pairs as graph edits and edit plans.

An edit pair is a dict ``{"source": HeteroData, "target": HeteroData, "mode": str, "info": dict}``
as returned by ``ShapesWorld.edit_pairs``: the exact source and target scenes of one edit and
what changed (``info``). :func:`edit_from_pair` rebuilds the edited graph from the source with
the edit functions of :mod:`sgkit.data.edits` (so it records ``src_index``), and
:func:`plan_pair` gives its :class:`~sgkit.data.edits.EditPlan`.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch_geometric.data import HeteroData

from .edits import (
    EDIT_MODES,
    EditPlan,
    _edges,
    add_node,
    change_predicate,
    plan_edit,
    remove_node,
    replace_node,
)
from .scene_graph import NODE

__all__ = ["edit_from_pair", "plan_pair"]


def edit_from_pair(pair: Mapping[str, Any]) -> HeteroData:
    """The edited graph of a ShapesWorld edit pair (``ShapesWorld.edit_pairs``), built from its
    source with the edit functions so that it carries ``src_index``.

    Removal and replacement apply to ``info["node"]`` (the new label is read from the target
    graph, so pairs with coarsened labels work too); an addition takes the new node's label,
    its edge and its target box (used with ``addition_box="given"``); a relationship change sets
    the target predicate of every edge in ``info["changed_edges"]`` (boxes stay the source ones).

    Raises:
        ValueError: for an unknown mode.
    """
    source, target, mode, info = pair["source"], pair["target"], pair["mode"], pair["info"]
    if mode == "removal":
        return remove_node(source, info["node"])
    if mode == "replacement":
        return replace_node(source, info["node"], int(target[NODE].label[info["node"]]))
    if mode == "addition":
        k = info["node"]
        ei, el = _edges(target)
        j = int(((ei[0] == k) | (ei[1] == k)).nonzero()[0, 0])
        s, o = ei[:, j].tolist()
        return add_node(source, int(target[NODE].label[k]), o if s == k else s, int(el[j]), as_subject=s == k,
                        box=target[NODE].box[k])
    if mode == "relationship":
        out = source
        _, t_el = _edges(target)
        for j in info["changed_edges"]:
            out = change_predicate(out, j, int(t_el[j]))
        return out
    raise ValueError(f"pair['mode']: expected one of {EDIT_MODES}, got {mode!r}")


def plan_pair(pair: Mapping[str, Any], **policy: Any) -> EditPlan:
    """:func:`plan_edit` of a ShapesWorld-style edit pair (:func:`edit_from_pair`); for a
    relationship change exactly the two endpoints of the swapped edge (``info["edge"]``) move,
    although other edges touching them change predicate too."""
    source = pair["source"]
    plan = plan_edit(source, edit_from_pair(pair), **policy)
    if pair["mode"] == "relationship":
        ei, _ = _edges(source)
        moved = torch.zeros(plan.src_index.numel(), dtype=torch.bool)
        for v in ei[:, pair["info"]["edge"]].tolist():
            moved |= plan.src_index == v
        plan.keep_box, plan.keep_image = ~moved, ~moved
        plan.changed = moved
    return plan

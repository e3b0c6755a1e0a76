"""Reading and writing scene graphs: sg2im JSON and the VG-SGG h5 + dicts format."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch_geometric.data import HeteroData

from .scene_graph import NODE, from_triplets, to_triplets
from .visual_genome import load_vg_sgg_h5  # noqa: F401  (re-export: the VG-SGG reader lives there)
from .vocab import Vocabulary

__all__ = ["load_sg2im_json", "save_sg2im_json", "load_vg_sgg_h5"]


# prefixes of from_triplets / validate messages -> the sg2im JSON field they come from
_JSON_FIELD = {
    "labels": "objects",
    "object.label": "objects",
    "object.num_nodes": "objects",
    "triplets": "relationships",
    "relation.edge_index": "relationships",
    "relation.label": "relationships",
    "boxes": "boxes",
    "object.box": "boxes",
}


def _json_index(value: Any, where: str) -> int:
    """A node index read from JSON: an int (or an integral float), never a bool or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected an integer node index, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{where}: expected an integer node index, got {value!r}")
    return int(value)


def _check_sg2im_graph(sg: Any, where: str) -> None:
    """Structural checks of one sg2im graph, before any name is encoded."""
    if not isinstance(sg, Mapping):
        raise ValueError(f"{where}: expected an object with 'objects' and 'relationships', got {type(sg).__name__}")
    if "objects" not in sg:
        raise ValueError(f"{where}.objects: missing")
    objs = sg["objects"]
    if not isinstance(objs, list):
        raise ValueError(f"{where}.objects: expected a list of names, got {type(objs).__name__}")
    for i, o in enumerate(objs):
        if not isinstance(o, str):
            raise ValueError(f"{where}.objects[{i}]: expected a name (string), got {o!r}")
    rels = sg.get("relationships", [])
    if not isinstance(rels, list):
        raise ValueError(f"{where}.relationships: expected a list of [s, predicate, o], got {type(rels).__name__}")
    for j, r in enumerate(rels):
        if not isinstance(r, list) or len(r) != 3:
            raise ValueError(f"{where}.relationships: expected [s, predicate, o], got {r!r} at position {j}")
        if not isinstance(r[1], str):
            raise ValueError(f"{where}.relationships[{j}]: expected a predicate name (string), got {r[1]!r}")
        _json_index(r[0], f"{where}.relationships[{j}]")
        _json_index(r[2], f"{where}.relationships[{j}]")


def load_sg2im_json(
    path: str | os.PathLike,
    vocab: Vocabulary | None = None,
    *,
    on_unknown: str = "error",
    mapping: Mapping[str, str] | None = None,
) -> tuple[list[HeteroData], Vocabulary]:
    """Read an sg2im scene-graph JSON file.

    The format is a list of ``{"objects": [name, ...], "relationships": [[s, "predicate", o], ...]}``
    (google/sg2im ``scene_graphs/``); an optional ``"boxes"`` list of normalised
    ``[x0, y0, x1, y1]`` per object is read too. Repeated triplets and several predicates on one
    ordered pair are kept as they are.

    Args:
        path: the JSON file.
        vocab: vocabulary to encode names with. If ``None``, one is built from the names seen in
            the file (ids in order of first appearance).
        on_unknown: with a given ``vocab``, ``"error"`` raises :class:`KeyError` naming an unknown
            name; ``"add"`` appends it to the vocabulary.
        mapping: optional synonyms ``{unknown name: known name}``.

    Returns:
        ``(graphs, vocab)``.

    Raises:
        ValueError: for a malformed graph, as ``"{path}[{k}].{field}: ..."`` where ``k`` is the
            graph's position in the file and ``field`` the JSON field (``objects``,
            ``relationships`` or ``boxes``); e.g. a non-integer or out-of-range node index.
        KeyError: for an unknown name with ``on_unknown="error"``.
    """
    where = os.fspath(path)
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list of scene graphs, got {type(raw).__name__}")
    for k, sg in enumerate(raw):
        _check_sg2im_graph(sg, f"{where}[{k}]")
    if vocab is None:
        objs = [o for sg in raw for o in sg["objects"]]
        preds = [r[1] for sg in raw for r in sg.get("relationships", [])]
        vocab = Vocabulary.from_names(objs, preds)
    graphs = []
    for k, sg in enumerate(raw):
        labels = [vocab.encode_object(o, on_unknown=on_unknown, mapping=mapping) for o in sg["objects"]]
        trips = [
            (int(r[0]), vocab.encode_predicate(r[1], on_unknown=on_unknown, mapping=mapping), int(r[2]))
            for r in sg.get("relationships", [])
        ]
        try:
            graphs.append(from_triplets(labels, trips, boxes=sg.get("boxes")))
        except ValueError as exc:
            msg = str(exc)
            prefix, _, rest = msg.partition(": ")
            head, bracket, index = prefix.partition("[")
            field = _JSON_FIELD.get(head)
            if field is None:
                raise ValueError(f"{where}[{k}]: {msg}") from exc
            note = f" ({prefix})" if "." in head else ""  # validate()'s field name, for reference
            raise ValueError(f"{where}[{k}].{field}{bracket}{index}: {rest}{note}") from exc
    return graphs, vocab


def save_sg2im_json(graphs: Sequence[HeteroData], path: str | os.PathLike, vocab: Vocabulary) -> None:
    """Write scene graphs in the sg2im JSON format (boxes included when every graph has them)."""
    out: list[dict[str, Any]] = []
    for data in graphs:
        labels, trips = to_triplets(data)
        item: dict[str, Any] = {
            "objects": [vocab.decode_object(c) for c in labels],
            "relationships": [[s, vocab.decode_predicate(p), o] for s, p, o in trips],
        }
        if "box" in data[NODE]:
            item["boxes"] = [[round(float(v), 6) for v in b] for b in data[NODE].box.tolist()]
        out.append(item)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)

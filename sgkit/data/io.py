"""Reading and writing scene graphs: sg2im JSON and the VG-SGG h5 + dicts format."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from torch_geometric.data import HeteroData

from ._checks import as_graph_list, check_max_graphs, read_json
from .scene_graph import NODE, from_triplets, to_triplets, validate
from .visual_genome import load_vg_sgg_h5  # noqa: F401  (re-export: the VG-SGG reader lives there)
from .vocab import UnknownNameError, Vocabulary

__all__ = ["load_sg2im_json", "load_sg2im_json_files", "save_sg2im_json", "load_vg_sgg_h5"]


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


def _json_index(value: Any, where: str) -> int | float:
    """A node index read from JSON: an int (or an integral float), never a bool or a string.

    Integral floats are returned unchanged, so that :func:`from_triplets` applies its float rules
    (a float beyond ``2**24`` is an error naming the value as written).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected an integer node index, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{where}: expected an integer node index, got {value!r}")
    return value


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


def _encode(encode: Any, name: str, where: str, on_unknown: str, mapping: Mapping[str, str] | None) -> int:
    """Id of ``name``; an unknown name raises an error naming the file position and the fixes."""
    try:
        return encode(name, on_unknown=on_unknown, mapping=mapping)
    except KeyError as exc:
        raise UnknownNameError(
            f"{where}: {exc}, or load every file at once with load_sg2im_json_files(paths) so that one "
            "vocabulary holds every name"
        ) from None


def _read_sg2im(path: str | os.PathLike, max_graphs: int | None) -> list[Any]:
    """The checked list of raw sg2im graphs of one file."""
    where = os.fspath(path)
    raw = read_json(path)
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list of scene graphs, got {type(raw).__name__}")
    if max_graphs is not None:
        raw = raw[:max_graphs]
    for k, sg in enumerate(raw):
        _check_sg2im_graph(sg, f"{where}[{k}]")
    return raw


def _sg2im_graphs(
    raw: list[Any], where: str, vocab: Vocabulary, on_unknown: str, mapping: Mapping[str, str] | None
) -> list[HeteroData]:
    """Scene graphs of checked raw sg2im graphs, names encoded with ``vocab``."""
    graphs = []
    for k, sg in enumerate(raw):
        at = f"{where}[{k}]"
        labels = [
            _encode(vocab.encode_object, o, f"{at}.objects[{i}]", on_unknown, mapping)
            for i, o in enumerate(sg["objects"])
        ]
        trips = [
            (_json_index(r[0], at), _encode(vocab.encode_predicate, r[1], f"{at}.relationships[{j}]", on_unknown, mapping),
             _json_index(r[2], at))
            for j, r in enumerate(sg.get("relationships", []))
        ]
        try:
            graph = from_triplets(labels, trips, boxes=sg.get("boxes"))
        except ValueError as exc:
            msg = str(exc)
            prefix, _, rest = msg.partition(": ")
            head, bracket, index = prefix.partition("[")
            field = _JSON_FIELD.get(head)
            if field is None:
                raise ValueError(f"{at}: {msg}") from exc
            note = f" ({prefix})" if "." in head else ""  # validate()'s field name, for reference
            raise ValueError(f"{at}.{field}{bracket}{index}: {rest}{note}") from exc
        graph.vocab = vocab  # the ids' meaning: MMD refuses sets encoded with different vocabularies
        graphs.append(graph)
    return graphs


def _check_on_unknown(on_unknown: str) -> None:
    if on_unknown not in ("error", "add"):
        raise ValueError(f"on_unknown: expected 'error' or 'add', got {on_unknown!r}")


def load_sg2im_json(
    path: str | os.PathLike,
    vocab: Vocabulary | None = None,
    *,
    on_unknown: str = "error",
    mapping: Mapping[str, str] | None = None,
    max_graphs: int | None = None,
) -> tuple[list[HeteroData], Vocabulary]:
    """Read an sg2im scene-graph JSON file.

    The format is a list of ``{"objects": [name, ...], "relationships": [[s, "predicate", o], ...]}``
    (google/sg2im ``scene_graphs/``); an optional ``"boxes"`` list of normalised
    ``[x0, y0, x1, y1]`` per object is read too. Repeated triplets and several predicates on one
    ordered pair are kept as they are. To read several files into one vocabulary use
    :func:`load_sg2im_json_files`.

    Args:
        path: the JSON file.
        vocab: vocabulary to encode names with. If ``None``, one is built from the names seen in
            the file (ids in order of first appearance).
        on_unknown: with a given ``vocab``, ``"error"`` raises :class:`KeyError` naming an unknown
            name; ``"add"`` appends it to the vocabulary (in place).
        mapping: optional synonyms ``{unknown name: known name}``.
        max_graphs: read at most this many graphs (``None``: all; negative counts are an error).

    Returns:
        ``(graphs, vocab)``.

    Raises:
        ValueError: for an empty, binary or malformed file (``"{path}: ..."``) or a malformed
            graph, as ``"{path}[{k}].{field}: ..."`` where ``k`` is the graph's position in the
            file and ``field`` the JSON field (``objects``, ``relationships`` or ``boxes``); e.g. a
            non-integer or out-of-range node index.
        KeyError: for an unknown name with ``on_unknown="error"``; the message names the file
            position and the fixes (``on_unknown="add"``, :func:`load_sg2im_json_files`).
    """
    _check_on_unknown(on_unknown)
    raw = _read_sg2im(path, check_max_graphs(max_graphs))
    if vocab is None:
        vocab = _vocab_of([raw])
    return _sg2im_graphs(raw, os.fspath(path), vocab, on_unknown, mapping), vocab


def _vocab_of(raws: Sequence[list[Any]]) -> Vocabulary:
    objs = [o for raw in raws for sg in raw for o in sg["objects"]]
    preds = [r[1] for raw in raws for sg in raw for r in sg.get("relationships", [])]
    return Vocabulary.from_names(objs, preds)


def load_sg2im_json_files(
    paths: Sequence[str | os.PathLike],
    vocab: Vocabulary | None = None,
    *,
    on_unknown: str = "error",
    mapping: Mapping[str, str] | None = None,
    max_graphs: int | None = None,
) -> tuple[list[list[HeteroData]], Vocabulary]:
    """Read several sg2im JSON files (e.g. train / val / test) into one vocabulary.

    Every file is read and checked before any graph is built. Without ``vocab`` one vocabulary is
    built from the names of all files (ids in order of first appearance, files in the given order).

    Args:
        paths: the JSON files.
        vocab: vocabulary to encode names with (see :func:`load_sg2im_json`).
        on_unknown: ``"error"`` or ``"add"`` (see :func:`load_sg2im_json`).
        mapping: optional synonyms ``{unknown name: known name}``.
        max_graphs: read at most this many graphs per file (``None``: all).

    Returns:
        ``(graphs_per_file, vocab)``: one list of graphs per path, in the order of ``paths``.

    Raises:
        ValueError: as :func:`load_sg2im_json`, naming the file; for a single path given as a
            string instead of a list.
        KeyError: as :func:`load_sg2im_json`.

    Example:
        >>> import json, os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for name, objs in (("a.json", ["man", "horse"]), ("b.json", ["sky"])):
        ...     with open(os.path.join(folder, name), "w") as fh:
        ...         json.dump([{"objects": objs, "relationships": []}], fh)
        >>> (a, b), vocab = load_sg2im_json_files([os.path.join(folder, n) for n in ("a.json", "b.json")])
        >>> vocab.objects
        ['man', 'horse', 'sky']
    """
    if isinstance(paths, (str, bytes, os.PathLike)) or not isinstance(paths, Sequence):
        raise ValueError(f"paths: expected a list of JSON file paths, got {paths!r}; for one file use load_sg2im_json")
    _check_on_unknown(on_unknown)
    max_graphs = check_max_graphs(max_graphs)
    raws = [_read_sg2im(p, max_graphs) for p in paths]
    if vocab is None:
        vocab = _vocab_of(raws)
    return [_sg2im_graphs(raw, os.fspath(p), vocab, on_unknown, mapping) for raw, p in zip(raws, paths)], vocab


def save_sg2im_json(graphs: Sequence[HeteroData], path: str | os.PathLike, vocab: Vocabulary) -> None:
    """Write scene graphs in the sg2im JSON format (boxes included when a graph has them).

    The file is written atomically (a temporary file in the same folder, then renamed).

    Raises:
        ValueError: for a single graph instead of a list or an invalid graph, e.g. an id outside
            ``vocab`` (naming its position).
    """
    graphs = as_graph_list(graphs)
    out: list[dict[str, Any]] = []
    for k, data in enumerate(graphs):
        try:
            validate(data, vocab=vocab)
        except ValueError as exc:
            raise ValueError(f"graphs[{k}]: {exc}") from exc
        labels, trips = to_triplets(data, vocab=vocab)
        item: dict[str, Any] = {"objects": labels, "relationships": [list(t) for t in trips]}
        if "box" in data[NODE]:
            item["boxes"] = [[round(float(v), 6) for v in b] for b in data[NODE].box.tolist()]
        out.append(item)
    where = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=os.path.dirname(os.path.abspath(where)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
        os.replace(tmp, where)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise

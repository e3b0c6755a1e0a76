"""Scene-graph files the command line reads and writes: sg2im JSON, VG-SGG h5, networkx JSON.

The networkx JSON format is one object ``{"format": "sgkit.networkx/1", "objects": [names],
"predicates": [names], "graphs": [node-link graphs]}``; each graph is networkx node-link data
(``{"directed": true, "multigraph": true, "nodes": [...], "links": [...]}``, readable with
``networkx.node_link_graph(g, edges="links")``) whose nodes carry the category id ``label``, its
``name`` and, when known, the ``box``, and whose links carry the predicate id ``label``, its
``predicate`` name and the edge position ``eid``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

FORMATS = ("sg2im", "vg-h5", "networkx")


class UsageError(ValueError):
    """A bad argument (not bad file content): exit status 2 for every command."""

NX_FORMAT = "sgkit.networkx/1"

__all__ = [
    "FORMATS", "UsageError", "add_input_arguments", "detect_format", "guarded", "load_graphs", "load_input", "save_graphs", "set_threads",
]


def detect_format(path: str, fmt: str | None = None) -> str:
    """The format of ``path``: ``fmt`` when given, else from the extension and content."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(f"--format: expected one of {list(FORMATS)}, got {fmt!r}")
        return fmt
    ext = os.path.splitext(path)[1].lower()
    if ext in (".h5", ".hdf5"):
        return "vg-h5"
    if ext != ".json":
        raise UsageError(f"{path}: cannot tell the format from the extension {ext!r}; pass --format {'|'.join(FORMATS)}")
    if not os.path.exists(path):
        return "sg2im"  # an output file: sg2im is the default
    with open(path, encoding="utf-8") as fh:
        head = fh.read(4096).lstrip()
    return "networkx" if head.startswith("{") and NX_FORMAT in head else "sg2im"


def _load_networkx(path: str) -> tuple[list, Any]:
    import networkx as nx

    from sgkit.data import Vocabulary, from_networkx, validate

    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    if not isinstance(raw, dict) or raw.get("format") != NX_FORMAT:
        raise ValueError(f"{path}: not an sgkit networkx JSON file (expected \"format\": {NX_FORMAT!r})")
    for key in ("objects", "predicates", "graphs"):
        if not isinstance(raw.get(key), list):
            raise ValueError(f"{path}: field {key!r} must be a list")
    vocab = Vocabulary.from_names(raw["objects"], raw["predicates"])
    graphs = []
    for k, g in enumerate(raw["graphs"]):
        try:
            graph = nx.MultiDiGraph()
            for node in g["nodes"]:
                graph.add_node(node["id"], **{a: node[a] for a in ("label", "box") if a in node})
            for link in g["links"]:
                graph.add_edge(link["source"], link["target"], **{a: link[a] for a in ("label", "eid") if a in link})
            data = from_networkx(graph)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: graphs[{k}]: {exc}") from exc
        try:
            validate(data, num_classes=vocab.num_objects, num_predicates=vocab.num_predicates)
        except ValueError as exc:
            raise ValueError(f"{path}: graphs[{k}]: {exc}") from exc
        graphs.append(data)
    return graphs, vocab


def _save_networkx(graphs: Sequence[Any], path: str, vocab: Any) -> None:
    from sgkit.data import NODE, to_triplets

    out = []
    for data in graphs:
        labels, trips = to_triplets(data)
        boxes = data[NODE].box.tolist() if "box" in data[NODE] else None
        nodes = []
        for i, c in enumerate(labels):
            node: dict[str, Any] = {"id": i, "label": int(c), "name": vocab.decode_object(c)}
            if boxes is not None:
                node["box"] = [round(float(v), 6) for v in boxes[i]]
            nodes.append(node)
        links = [
            {"source": s, "target": o, "key": k, "label": int(p), "predicate": vocab.decode_predicate(p), "eid": k}
            for k, (s, p, o) in enumerate(trips)
        ]
        out.append({"directed": True, "multigraph": True, "graph": {}, "nodes": nodes, "links": links})
    doc = {"format": NX_FORMAT, "objects": vocab.objects, "predicates": vocab.predicates, "graphs": out}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)


def load_graphs(path: str, fmt: str | None = None, *, dicts: str | None = None, split: str = "train",
                max_graphs: int | None = None) -> tuple[list, Any]:
    """Read ``(graphs, vocab)`` from a scene-graph file of any supported format."""
    from sgkit.data import load_sg2im_json, load_vg_sgg_h5

    fmt = detect_format(path, fmt)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input: no such file {path!r}")
    if fmt == "vg-h5":
        if dicts is None:
            raise UsageError(f"--dicts: a VG-SGG h5 file ({path}) needs its VG-SGG-dicts-with-attri.json")
        graphs, vocab = load_vg_sgg_h5(path, dicts, split=split, max_graphs=max_graphs)
    elif fmt == "networkx":
        graphs, vocab = _load_networkx(path)
    else:
        graphs, vocab = load_sg2im_json(path)
    if max_graphs is not None:
        graphs = graphs[:max_graphs]
    return graphs, vocab


def save_graphs(graphs: Sequence[Any], path: str, vocab: Any, fmt: str | None = None) -> str:
    """Write graphs as sg2im JSON or networkx JSON (chosen by ``fmt``, default sg2im); returns the format."""
    from sgkit.data import save_sg2im_json

    fmt = fmt or "sg2im"
    if fmt not in ("sg2im", "networkx"):
        raise ValueError(f"--to: expected 'sg2im' or 'networkx', got {fmt!r} (VG-SGG h5 is read-only)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if fmt == "networkx":
        _save_networkx(graphs, path, vocab)
    else:
        save_sg2im_json(graphs, path, vocab)
    return fmt


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    """``input``, ``--format``, ``--dicts``, ``--split`` and ``--max-graphs``."""
    p.add_argument("input", help="scene-graph file: sg2im JSON, networkx JSON (sgkit) or VG-SGG h5")
    p.add_argument("--format", choices=FORMATS, default=None, help="input format (default: from the extension and content)")
    p.add_argument("--dicts", default=None, help="VG-SGG-dicts-with-attri.json (needed for VG-SGG h5 input)")
    p.add_argument("--split", choices=("train", "test"), default="train", help="VG-SGG h5 split (default train)")
    p.add_argument("--max-graphs", type=int, default=None, help="read at most this many graphs")


def load_input(args: argparse.Namespace) -> tuple[list, Any]:
    """``load_graphs`` with the arguments of :func:`add_input_arguments`."""
    if args.max_graphs is not None and args.max_graphs < 1:
        raise UsageError(f"--max-graphs: must be at least 1, got {args.max_graphs}")
    return load_graphs(args.input, args.format, dicts=args.dicts, split=args.split, max_graphs=args.max_graphs)


def guarded(name: str, fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: expected errors become ``sgkit NAME: error: ...`` on stderr and status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (OSError, ValueError, KeyError, ImportError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"sgkit {name}: error: {msg}", file=sys.stderr)
            return 2

    return run


def set_threads(threads: int | None) -> None:
    """Set torch's intra-op threads for this command (``None`` or 0 keeps torch's default)."""
    if threads is not None and threads < 0:
        raise ValueError(f"--threads: must be >= 0, got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)

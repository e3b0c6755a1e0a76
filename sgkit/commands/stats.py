"""``sgkit stats``: data-set statistics of a scene-graph file, as text, JSON and figures."""
from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ._io import add_input_arguments, guarded, load_input

__all__ = ["register", "dataset_statistics"]


def dataset_statistics(graphs: list, vocab: Any, top: int = 10) -> dict[str, Any]:
    """Counts, graph sizes and the ``top`` most frequent categories and predicates (with shares)."""
    import numpy as np

    from sgkit.data import to_triplets
    from sgkit.metrics import object_occurrence, relationship_occurrence

    sizes = np.array([[len(lab), len(tr)] for lab, tr in map(to_triplets, graphs)], dtype=float).reshape(-1, 2)

    def ranked(p: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
        order = np.argsort(-p, kind="stable")[:top]
        return [{"name": names[i], "share": float(p[i])} for i in order if p[i] > 0]

    out: dict[str, Any] = {
        "num_graphs": len(graphs),
        "num_objects": int(sizes[:, 0].sum()),
        "num_relations": int(sizes[:, 1].sum()),
        "vocabulary": {"categories": vocab.num_objects, "predicates": vocab.num_predicates},
    }
    for col, what in enumerate(("objects", "relations")):
        v = sizes[:, col]
        out[f"{what}_per_graph"] = (
            {"mean": float(v.mean()), "min": int(v.min()), "max": int(v.max()), "median": float(np.median(v))}
            if len(v) else {}
        )
    if graphs:
        out["top_categories"] = ranked(object_occurrence(graphs, vocab.num_objects), vocab.objects)
        out["top_predicates"] = ranked(relationship_occurrence(graphs, vocab.num_predicates), vocab.predicates)
    return out


def _run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise ValueError(f"--top: must be at least 1, got {args.top}")
    graphs, vocab = load_input(args)
    st = dataset_statistics(graphs, vocab, args.top)
    if args.json:
        print(json.dumps(st))
    else:
        o, r = st["objects_per_graph"], st["relations_per_graph"]
        print(f"{args.input}: {st['num_graphs']} graphs, {st['num_objects']} objects, {st['num_relations']} relations")
        if graphs:
            print(f"objects per graph: mean {o['mean']:.2f}, median {o['median']:g}, min {o['min']}, max {o['max']}")
            print(f"relations per graph: mean {r['mean']:.2f}, median {r['median']:g}, min {r['min']}, max {r['max']}")
            print("top categories: " + ", ".join(f"{c['name']} {c['share']:.3f}" for c in st["top_categories"]))
            print("top predicates: " + ", ".join(f"{c['name']} {c['share']:.3f}" for c in st["top_predicates"]))
    if args.out:
        from sgkit.viz import plot_cooccurrence_matrix, plot_dataset_statistics

        if not graphs:
            raise ValueError(f"input: {args.input} holds no graphs to draw statistics of")
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "stats.json"), "w", encoding="utf-8") as fh:
            json.dump(st, fh, indent=1)
        plot_dataset_statistics(graphs, vocab, top=args.top).savefig(os.path.join(args.out, "statistics.png"), dpi=120,
                                                                       bbox_inches="tight")
        plot_cooccurrence_matrix(graphs, vocab, top=max(args.top, 20)).savefig(
            os.path.join(args.out, "cooccurrence.png"), dpi=120, bbox_inches="tight")
        if not args.json:
            print(f"wrote {args.out}/stats.json, statistics.png, cooccurrence.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit stats``."""
    p = sub.add_parser(
        "stats", help="data-set statistics (graph sizes, frequent categories and predicates) and figures",
        description="Print statistics of a scene-graph file; with --out also write stats.json, statistics.png "
        "(graph sizes, most frequent categories and predicates) and cooccurrence.png.",
    )
    add_input_arguments(p)
    p.add_argument("--out", default=None, help="folder for stats.json and the figures")
    p.add_argument("--top", type=int, default=10, help="how many frequent categories / predicates to list (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=guarded("stats", _run))

"""``sgkit validate``: check a scene-graph file and report the first problem of every bad graph."""
from __future__ import annotations

import argparse
import json

from ._io import UsageError, add_input_arguments, guarded, load_input

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    import sys

    from sgkit.data import validate

    try:
        graphs, vocab = load_input(args)
    except UsageError:
        raise
    except (ValueError, KeyError) as exc:  # the file is readable but its content is not a valid scene-graph set
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"sgkit validate: invalid: {msg}", file=sys.stderr)
        return 1
    problems = []
    for k, g in enumerate(graphs):
        try:
            validate(g, num_classes=vocab.num_objects, num_predicates=vocab.num_predicates,
                     allow_self_loops=not args.no_self_loops)
        except ValueError as exc:
            problems.append(f"{args.input}[{k}]: {exc}")
    nodes = sum(int(g["object"].num_nodes) for g in graphs)
    edges = sum(int(g["object", "relation", "object"].edge_index.size(1)) for g in graphs)
    if args.json:
        print(json.dumps({"valid": not problems, "num_graphs": len(graphs), "num_objects": nodes,
                          "num_relations": edges, "problems": problems}))
    else:
        for line in problems:
            print(f"sgkit validate: invalid: {line}", file=sys.stderr)
        status = "OK" if not problems else f"{len(problems)} invalid"
        print(f"{args.input}: {status}: {len(graphs)} graphs, {nodes} objects, {edges} relations, "
              f"{vocab.num_objects} categories, {vocab.num_predicates} predicates")
    return 1 if problems else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit validate``."""
    p = sub.add_parser(
        "validate", help="check a scene-graph file (exit 0 valid, 1 invalid, 2 unreadable)",
        description="Read a scene-graph file and check every graph. Exit status 0 when all are valid, 1 when "
        "some graph is invalid (each problem is printed with the graph's position), 2 when the file "
        "cannot be read.",
    )
    add_input_arguments(p)
    p.add_argument("--no-self-loops", action="store_true", help="treat an edge from a node to itself as invalid")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=guarded("validate", _run))

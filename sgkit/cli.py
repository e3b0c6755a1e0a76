"""The ``sgkit`` console script.

``sgkit mmd GENERATED REFERENCE`` reads two sg2im scene-graph JSON files and prints the two MMDs
of the thesis (x 1e3): ``MMD_G`` with the random-walk graph kernel ("graph", ``mode="usggen"``
by default like the Python API: the published evaluation code) and ``MMD_N`` with the object-set
kernel ("node", categories present in both graphs). Names are encoded with one vocabulary built from the reference
file (names only in the generated file are appended).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sgkit`` command."""
    parser = argparse.ArgumentParser(prog="sgkit", description="Scene-graph toolkit command line.")
    parser.add_argument("--version", action="version", version=f"sgkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("mmd", help="MMD (x1e3) between generated and reference scene graphs (sg2im JSON)")
    p.add_argument("generated", help="sg2im JSON file of generated scene graphs")
    p.add_argument("reference", help="sg2im JSON file of reference (test) scene graphs")
    p.add_argument("--walk-length", type=int, default=3, help="random-walk length in nodes (default 3)")
    p.add_argument(
        "--mode", choices=("usggen", "thesis"), default="usggen",
        help="random-walk kernel mode (default usggen, as the Python API: the published evaluation code, "
        "comparable with the published tables; thesis: the text's literal formula)",
    )
    p.add_argument(
        "--max-memory-gib", type=float, default=2.0,
        help="memory budget of the random-walk features in GiB (default 2); exceeding it exits with status 2",
    )
    p.add_argument("--estimator", choices=("unbiased", "biased"), default="unbiased")
    p.add_argument("--max-graphs", type=int, default=None, help="random subset of at most this many graphs per file")
    p.add_argument("--seed", type=int, default=0, help="seed of the random subset")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    from sgkit.commands import register_all

    register_all(sub)
    return parser


def _version() -> str:
    from sgkit import __version__

    return __version__


def _subset(graphs: list, k: int | None, seed: int) -> list:
    if k is None or len(graphs) <= k:
        return graphs
    import numpy as np

    idx = np.random.default_rng(seed).choice(len(graphs), size=k, replace=False)
    return [graphs[i] for i in sorted(idx)]


def _cmd_mmd(args: argparse.Namespace) -> int:
    from sgkit.data import load_sg2im_json
    from sgkit.kernels import ObjectSetKernel, RandomWalkKernel
    from sgkit.metrics import mmd

    def load(path: str, *vocab_args: object, **kwargs: object) -> tuple[list, object]:
        try:
            return load_sg2im_json(path, *vocab_args, **kwargs)
        except ValueError as exc:  # e.g. json.JSONDecodeError: say which of the two files
            if str(path) in str(exc):
                raise
            raise ValueError(f"{path}: {exc}") from exc

    if not args.max_memory_gib > 0:
        raise ValueError(f"--max-memory-gib: must be positive, got {args.max_memory_gib}")
    reference, vocab = load(args.reference)
    generated, _ = load(args.generated, vocab, on_unknown="add")
    generated = _subset(generated, args.max_graphs, args.seed)
    reference = _subset(reference, args.max_graphs, args.seed + 1)
    walk = RandomWalkKernel(walk_length=args.walk_length, mode=args.mode, max_memory=args.max_memory_gib * 2**30)
    graph = mmd(generated, reference, walk, args.estimator)
    node = mmd(generated, reference, ObjectSetKernel(), args.estimator)
    result = {
        "mmd_graph_x1e3": graph * 1e3,
        "mmd_node_x1e3": node * 1e3,
        "num_generated": len(generated),
        "num_reference": len(reference),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"generated: {len(generated)} graphs, reference: {len(reference)} graphs ({args.estimator} estimator)")
        print(f"MMD graph (random walk, {args.mode}, p={args.walk_length}) x1e3: {graph * 1e3:.4f}")
        print(f"MMD node (object set) x1e3: {node * 1e3:.4f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sgkit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if getattr(args, "func", None) is not None:  # subcommands of sgkit.commands
        return args.func(args)
    if args.command == "mmd":
        if args.max_graphs is not None and args.max_graphs < 2:
            parser.error(f"--max-graphs: must be at least 2, got {args.max_graphs}")
        try:
            return _cmd_mmd(args)
        except (OSError, ValueError, KeyError, MemoryError) as exc:
            print(f"sgkit mmd: error: {exc}", file=sys.stderr)
            return 2
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

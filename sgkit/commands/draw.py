"""``sgkit draw``: a figure of scene graphs from a file (graph drawings, images when present)."""
from __future__ import annotations

import argparse

from ._io import add_input_arguments, guarded, load_input

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from sgkit.viz import plot_scene_grid

    graphs, vocab = load_input(args)
    if not graphs:
        raise ValueError(f"input: {args.input} holds no graphs to draw")
    index = args.index if args.index else list(range(min(args.num, len(graphs))))
    for i in index:
        if not 0 <= i < len(graphs):
            raise ValueError(f"--index: {i} is out of range for {args.input} with {len(graphs)} graphs")
    if args.ncols < 1:
        raise ValueError(f"--ncols: must be at least 1, got {args.ncols}")
    path = plot_scene_grid([graphs[i] for i in index], vocab, args.output, ncols=args.ncols,
                           titles=[f"{args.input} [{i}]" if args.long_titles else f"graph {i}" for i in index])
    print(f"wrote {path} ({len(index)} graphs)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit draw``."""
    p = sub.add_parser("draw", help="draw scene graphs of a file into an image (.png, .pdf, .svg)",
                       description="Draw scene graphs (object names in boxes, predicates on the arrows) into one figure.")
    add_input_arguments(p)
    p.add_argument("output", help="image file to write (.png, .pdf or .svg)")
    p.add_argument("--index", type=int, nargs="+", default=None, help="positions of the graphs to draw (default: the first --num)")
    p.add_argument("--num", type=int, default=4, help="how many graphs to draw without --index (default 4)")
    p.add_argument("--ncols", type=int, default=2, help="graphs per row (default 2)")
    p.add_argument("--long-titles", action="store_true", help="title every panel with the file name and position")
    p.set_defaults(func=guarded("draw", _run))

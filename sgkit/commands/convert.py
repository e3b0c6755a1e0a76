"""``sgkit convert``: between sg2im JSON, VG-SGG h5 (read) and networkx JSON."""
from __future__ import annotations

import argparse

from ._io import add_input_arguments, guarded, load_input, save_graphs

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    graphs, vocab = load_input(args)
    fmt = save_graphs(graphs, args.output, vocab, args.to)
    print(f"wrote {len(graphs)} graphs to {args.output} ({fmt})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit convert``."""
    p = sub.add_parser(
        "convert", help="convert scene graphs between sg2im JSON, VG-SGG h5 (input only) and networkx JSON",
        description="Read scene graphs in one format and write them in another. Names are kept; boxes are "
        "kept when every graph has them.",
    )
    add_input_arguments(p)
    p.add_argument("output", help="output file (.json)")
    p.add_argument("--to", choices=("sg2im", "networkx"), default="sg2im", help="output format (default sg2im)")
    p.set_defaults(func=guarded("convert", _run))

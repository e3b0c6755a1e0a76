"""``sgkit demo``: the end-to-end scene-graph pipeline of :mod:`sgkit.demo`."""
from __future__ import annotations

import argparse

from ._io import guarded

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from sgkit import demo

    argv = ["--out", args.out, "--seed", str(args.seed), "--threads", str(args.threads)]
    if args.quick:
        argv.append("--quick")
    if args.epochs is not None:
        argv += ["--epochs", str(args.epochs)]
    if args.quiet:
        argv.append("--no-progress")
    demo.main(argv)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit demo``."""
    p = sub.add_parser(
        "demo", help="run the end-to-end demo on the embedded ShapesWorld data (report.md and figures)",
        description="Train SceneGraphGen and GraphRNN on ShapesWorld, evaluate them (MMD, anomaly AUROC) and "
        "draw figures; writes OUT/report.md, OUT/results.json and OUT/*.png.",
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--quick", action="store_true", help="smoke-test budget (about a minute)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, training and sampling (default 0)")
    p.add_argument("--epochs", type=int, default=None, help="override the number of training epochs")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a busy machine more threads slow training down; "
                   "results change only by float rounding)")
    p.add_argument("--quiet", action="store_true", help="hide progress bars")
    p.set_defaults(func=guarded("demo", _run))

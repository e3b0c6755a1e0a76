"""End-to-end scene-graph pipeline on the embedded ShapesWorld data (``make demo``).

``python -m sgkit.demo --out runs/demo [--quick]`` runs, in order, the stages listed in
:data:`STAGES`, each a function ``stage(cfg, ctx) -> None`` that reads and extends the shared
context dict ``ctx``:

1. ``data``: generate a ShapesWorld split, print its statistics, draw example images next to
   their scene graphs;
2. ``train``: train :class:`~sgkit.models.SceneGraphGen` and :class:`~sgkit.models.GraphRNN`
   (random node order) briefly, save checkpoints and loss curves;
3. ``sample``: sample graphs from both models and from the trivial "marginal" baseline;
4. ``evaluate``: MMD_node (object-set kernel) and MMD_graph (random-walk kernel) x 1e3 against
   held-out graphs (thesis Table 10.1, left), NLL anomaly detection with AUROC per corruption
   level (Fig. 10.6), data-set statistics (Fig. 10.10-10.11), completions of a partial graph
   (Fig. 10.7);
5. ``report``: ``results.json`` and ``report.md`` with all figures.

More stages (e.g. image generation from the sampled graphs) are added by inserting a
``(name, function)`` pair into :data:`STAGES` (or passing ``stages=`` to :func:`run`).
The budget of the default run (1,500 training scenes, 25 epochs with the learning rate decayed by
0.92 per epoch, one torch thread) takes about 90 s of CPU time, well under the 10 minutes allowed
on 2 cores; ``--quick`` is a smoke-test budget.

Anomaly scores: besides the thesis' whole-graph NLL, whose AUROC on ShapesWorld is
limited by the spread of NLL over graph sizes (3-10 nodes), the demo reports the NLL per node and
the *size-standardised* NLL of :mod:`sgkit.models.anomaly` (NLL relative to the model's own
samples of the same size), its headline score (``results["auroc_size"]``).

The stages live in modules named after what they hold: :mod:`sgkit.demo_generation` (data,
training, sampling, the marginal baseline), :mod:`sgkit.demo_evaluation` (metrics and their
figures), :mod:`sgkit.demo_image` (the SG2Im stage) and :mod:`sgkit.demo_report`
(``results.json`` and ``report.md``); :mod:`sgkit.demo_config` holds :class:`DemoConfig`. This
module holds the pipeline (:data:`STAGES`, :func:`run`) and the command line (:func:`main`), and
re-exports the stages.
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from sgkit.demo_config import DemoConfig
from sgkit.demo_config import log as _log
from sgkit.demo_evaluation import stage_evaluate
from sgkit.demo_generation import (
    sample_marginal_graphs,
    stage_data,
    stage_sample,
    stage_train,
)
from sgkit.demo_image import stage_images
from sgkit.demo_report import stage_report

__all__ = [
    "STAGES",
    "DemoConfig",
    "main",
    "run",
    "sample_marginal_graphs",
    "stage_data",
    "stage_evaluate",
    "stage_images",
    "stage_report",
    "stage_sample",
    "stage_train",
]


STAGES: list[tuple[str, Callable[[DemoConfig, dict[str, Any]], None]]] = [
    ("data", stage_data),
    ("train", stage_train),
    ("sample", stage_sample),
    ("evaluate", stage_evaluate),
    ("images", stage_images),
    ("report", stage_report),
]
"""The pipeline: ``(name, stage(cfg, ctx))`` pairs run in order by :func:`run`."""


Stage = Callable[[DemoConfig, dict[str, Any]], None]


def run(cfg: DemoConfig, stages: Sequence[tuple[str, Stage]] | None = None) -> dict[str, Any]:
    """Run the pipeline stages in order and return the results dict (also in ``results.json``).

    Args:
        cfg: the budget and settings.
        stages: the stages to run (default :data:`STAGES`).

    Returns:
        The ``results`` dict of the context.
    """
    os.makedirs(cfg.out, exist_ok=True)
    ctx: dict[str, Any] = {"results": {}, "figures": {}, "t0": time.perf_counter()}
    for name, stage in stages if stages is not None else STAGES:
        t0 = time.perf_counter()
        _log(f"stage '{name}'")
        stage(cfg, ctx)
        _log(f"stage '{name}' done in {time.perf_counter() - t0:.1f} s")
    return ctx["results"]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: ``python -m sgkit.demo --out runs/demo [--quick] [--seed S]``."""
    parser = argparse.ArgumentParser(prog="python -m sgkit.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--quick", action="store_true", help="smoke-test budget (about a minute)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the number of training epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = {
        "out": args.out, "seed": args.seed, "threads": args.threads, "progress": not args.no_progress
    }
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    cfg = DemoConfig.quick(**kwargs) if args.quick else DemoConfig(**kwargs)
    torch.set_num_threads(max(1, int(cfg.threads)))  # the command's setting; run() leaves threads alone
    return run(cfg)


if __name__ == "__main__":  # pragma: no cover
    main()

"""The report stage of the demo pipeline (:func:`stage_report`): ``results.json`` and ``report.md``.

``report.md`` holds the tables of generation quality (MMD), anomaly detection (AUROC) and, when
the image stage ran, image generation, followed by every figure recorded in ``ctx["figures"]``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from typing import Any

from sgkit.demo_config import DemoConfig, log

__all__ = ["stage_report"]


def stage_report(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Write ``results.json`` and ``report.md``."""
    res = ctx["results"]
    res["config"] = {k: v for k, v in asdict(cfg).items() if k != "progress"}
    res["seconds"] = time.perf_counter() - ctx["t0"]
    with open(os.path.join(cfg.out, "results.json"), "w") as fh:
        json.dump(res, fh, indent=2, default=float)
    lines = [
        "# sgkit demo: scene-graph generation on ShapesWorld",
        "",
        (f"{cfg.num_train} training and {cfg.num_test} held-out ShapesWorld scenes; SceneGraphGen and GraphRNN "
         f"trained for {cfg.epochs} epochs ({cfg.ordering} node order, model sizes {cfg.model_kwargs}); "
         f"{cfg.num_samples} graphs sampled from each. Total run time {res['seconds']:.0f} s."),
        "",
        "## Generation quality (thesis Table 10.1, left): MMD x 1e3 against held-out graphs (lower is better)",
        "",
        ("| model | MMD_node (object set) | MMD_graph (random walk, 3 nodes) | MMD_graph, thesis formula "
         "| MMD_graph, thesis formula, walks of 2 nodes |"),
        "|---|---|---|---|---|",
    ]

    def row(label: str, r: dict[str, Any]) -> str:
        cols = ("mmd_node", "mmd_graph", "mmd_graph_thesis", "mmd_graph_p2")
        return f"| {label} | " + " | ".join(f"{r[c]:.3f}" if c in r else "-" for c in cols) + " |"

    for name in ("SceneGraphGen", "GraphRNN", "marginal"):
        if name in res and "mmd_node" in res[name]:
            lines.append(row(name, res[name]))
    if "reference" in res and "mmd_node" in res["reference"]:
        lines.append(row("held-out vs held-out (noise floor)", res["reference"]))
    lines += [
        "",
        ("MMD_node and MMD_graph are the published metrics (the published evaluation code's kernels: "
         "object-set kernel over the categories present in both graphs, random-walk kernel "
         '`RandomWalkKernel()` with `mode="usggen"` and walks of 3 nodes, unbiased estimator), the defaults '
         "of every entry point. The thesis-formula columns use the literal eq. 10.6-10.9 (only complete walks "
         "count): on sparse graphs few 3-node walks exist, so that column is nearly flat. Values near 0 may "
         "be negative (unbiased estimator)."),
    ]
    if "auroc" in res:
        lines += [
            "",
            "## Anomaly detection (thesis Fig. 10.6): AUROC of NLL, clean vs corrupted held-out graphs",
            "",
            ("Scores: *size-standardised* NLL, `(NLL - mu_N) / sigma_N` with `mu_N`, `sigma_N` the mean and "
             "standard deviation of the model's NLL of its own samples with the same number of nodes "
             "(`sgkit.models.anomaly.standardize_nll`; the headline score); NLL of the whole graph (the thesis' "
             "score; on ShapesWorld its spread over graph sizes of 3-10 nodes hides most of the increase caused by "
             "corruption); NLL per node."),
            "",
            ("| corrupted labels | SceneGraphGen, size-std. | GraphRNN, size-std. | SceneGraphGen, whole graph "
             "| GraphRNN, whole graph | SceneGraphGen, per node | GraphRNN, per node |"),
            "|---|---|---|---|---|---|---|",
        ]
        for level, v in res["auroc"].items():
            lines.append(
                f"| {float(level):.0%} | {res['auroc_size'][level]:.3f} | {res['GraphRNN_auroc_size'][level]:.3f} | "
                f"{v:.3f} | {res['GraphRNN_auroc'][level]:.3f} | "
                f"{res['auroc_per_node'][level]:.3f} | {res['GraphRNN_auroc_per_node'][level]:.3f} |"
            )
    if "sg2im" in res:
        r = res["sg2im"]
        lines += [
            "",
            "## Image generation (SG2Im, short CPU budget)",
            "",
            "| metric | value |",
            "|---|---|",
        ] + [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in r.items()]
        lines += [
            "",
            ("`object_check`: fraction of generated objects whose median colour inside the ground-truth mask is "
             "nearest to their category's colour (`sgkit.models.sg2im`)."),
        ]
    lines += ["", "## Figures", ""]
    for title, path in ctx["figures"].items():
        lines += [f"### {title}", "", f"![{title}]({os.path.relpath(path, cfg.out)})", ""]
    path = os.path.join(cfg.out, "report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    log(f"wrote {path} and results.json ({res['seconds']:.0f} s in total)")

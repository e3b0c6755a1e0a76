"""The evaluation stage of the demo pipeline (:func:`stage_evaluate`).

In order: MMD_node (object-set kernel) and MMD_graph (random-walk kernel) x 1e3 of each model's
samples against held-out graphs (thesis Table 10.1, left); NLL anomaly detection with AUROC per
corruption level and a histogram of the size-standardised NLL (Fig. 10.6); data-set statistics
of the SceneGraphGen samples (Fig. 10.10-10.11); sampled graphs and completions of a partial
graph (Fig. 10.3, 10.7). Numbers go to ``ctx["results"]``, figure paths to ``ctx["figures"]``.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from sgkit.data.scene_graph import EDGE, NODE, from_triplets
from sgkit.demo_config import DemoConfig, log

__all__ = ["stage_evaluate"]


def stage_evaluate(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """MMDs, anomaly detection, data-set statistics and completions.

    Args:
        cfg: the budget and settings.
        ctx: the pipeline context; reads ``vocab``, ``test``, ``models`` and ``samples``, extends
            ``results`` and ``figures``.
    """
    _evaluate_mmd(ctx)
    _evaluate_anomaly(cfg, ctx)
    _dataset_statistics(cfg, ctx)
    _samples_and_completions(cfg, ctx)


def _evaluate_mmd(ctx: dict[str, Any]) -> None:
    """MMD x 1e3 of every sample set (and of half the held-out graphs) against the held-out graphs."""
    from sgkit.kernels import ObjectSetKernel, RandomWalkKernel
    from sgkit.metrics import mmd

    test, res = ctx["test"], ctx["results"]
    half = len(test) // 2
    res.setdefault("reference", {})
    rows = list(ctx["samples"].items()) + [("test_vs_test", test[:half])]
    for name, graphs in rows:
        reference = test[half:] if name == "test_vs_test" else test
        m_node = 1e3 * mmd(graphs, reference, ObjectSetKernel())
        m_graph = 1e3 * mmd(graphs, reference, RandomWalkKernel())  # usggen: the published numbers
        m_graph_t = 1e3 * mmd(graphs, reference, RandomWalkKernel(mode="thesis"))
        m_graph2 = 1e3 * mmd(graphs, reference, RandomWalkKernel(walk_length=2, mode="thesis"))
        target = res["reference"] if name == "test_vs_test" else res.setdefault(name, {})
        target.update(
            {"mmd_node": m_node, "mmd_graph": m_graph, "mmd_graph_thesis": m_graph_t, "mmd_graph_p2": m_graph2}
        )
        log(
            f"MMD x1e3 vs held-out graphs  {name:>14s}: node {m_node:8.3f}   graph {m_graph:8.3f}   "
            f"graph (thesis formula) {m_graph_t:8.3f}   graph (walks of 2 nodes) {m_graph2:8.3f}"
        )


def _evaluate_anomaly(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """AUROC of clean vs corrupted held-out graphs (three NLL scores, both models) and its histogram."""
    from sgkit.data.corrupt import corrupt
    from sgkit.models import nll_auroc
    from sgkit.models.anomaly import nll_size_statistics, standardize_nll
    from sgkit.viz import plot_score_histograms

    vocab, test, res, figs = ctx["vocab"], ctx["test"], ctx["results"], ctx["figures"]
    C, R = vocab.num_objects, vocab.num_predicates
    sgg, grnn = ctx["models"]["SceneGraphGen"], ctx["models"]["GraphRNN"]
    sizes = torch.tensor([float(g[NODE].label.numel()) for g in test])
    clean = {name: m.nll(test, ordering=cfg.ordering, seed=cfg.seed) for name, m in ctx["models"].items()}
    # size-standardised score: NLL relative to the model's own samples of the same size
    size_stats = {
        name: nll_size_statistics(
            m, num_samples=cfg.num_samples, sample_seed=cfg.seed + 2, ordering=cfg.ordering, seed=cfg.seed + 3
        )
        for name, m in ctx["models"].items()
    }
    zscore = lambda name, nll: standardize_nll(nll, sizes.long(), *size_stats[name])
    clean_nll = clean["SceneGraphGen"]
    nll_levels = {"clean": zscore("SceneGraphGen", clean_nll)}  # the headline score is drawn
    for prefix in ("", "GraphRNN_"):
        for key in ("auroc", "auroc_per_node", "auroc_size"):
            res[prefix + key] = {}
    for level in cfg.corruption_levels:
        bad = corrupt(test, level, num_classes=C, num_predicates=R, seed=cfg.seed + 1)
        for name, m in (("SceneGraphGen", sgg), ("GraphRNN", grnn)):
            bad_nll = m.nll(bad, ordering=cfg.ordering, seed=cfg.seed)
            prefix = "" if name == "SceneGraphGen" else "GraphRNN_"
            res[prefix + "auroc"][str(level)] = nll_auroc(clean[name], bad_nll)
            res[prefix + "auroc_per_node"][str(level)] = nll_auroc(clean[name] / sizes, bad_nll / sizes)
            res[prefix + "auroc_size"][str(level)] = nll_auroc(zscore(name, clean[name]), zscore(name, bad_nll))
            if name == "SceneGraphGen":
                nll_levels[str(level)] = zscore(name, bad_nll)
        lv = str(level)
        log(
            f"anomaly detection, {int(100 * level)}% corrupted: AUROC SceneGraphGen size-standardised NLL "
            f"{res['auroc_size'][lv]:.3f} (whole-graph NLL {res['auroc'][lv]:.3f}, per node "
            f"{res['auroc_per_node'][lv]:.3f}), GraphRNN {res['GraphRNN_auroc_size'][lv]:.3f} "
            f"({res['GraphRNN_auroc'][lv]:.3f}, {res['GraphRNN_auroc_per_node'][lv]:.3f})"
        )
    res["nll_clean_mean"] = float(clean_nll.mean())
    path = os.path.join(cfg.out, "nll_histograms.png")
    plot_score_histograms(
        {k if k == "clean" else f"{float(k):.0%} corrupted": v for k, v in nll_levels.items()},
        auroc={f"{float(k):.0%} corrupted": v for k, v in res["auroc_size"].items()},
        xlabel="size-standardised NLL (z-score against the model's samples of the same size)",
        title="SceneGraphGen: held-out graphs, clean and corrupted",
    ).savefig(path, dpi=100, bbox_inches="tight")
    figs["Size-standardised NLL of clean and corrupted held-out graphs (SceneGraphGen)"] = path


def _dataset_statistics(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Occurrence, co-occurrence and instance-count figures of the SceneGraphGen samples vs held-out."""
    from sgkit.metrics import (
        instance_count_kl,
        plot_instance_count_kl,
        plot_object_occurrence,
        plot_relationship_occurrence,
    )
    from sgkit.viz import plot_cooccurrence_matrix

    vocab, test, res, figs = ctx["vocab"], ctx["test"], ctx["results"], ctx["figures"]
    C, R = vocab.num_objects, vocab.num_predicates
    gen = ctx["samples"]["SceneGraphGen"]
    out = cfg.out
    plot_object_occurrence(gen, test, C, names=vocab.objects, path=os.path.join(out, "object_occurrence.png"))
    plot_relationship_occurrence(gen, test, R, names=vocab.predicates, path=os.path.join(out, "relationship_occurrence.png"))
    plot_cooccurrence_matrix(gen, vocab, reference=test, labels=("SceneGraphGen samples", "held-out")).savefig(
        os.path.join(out, "cooccurrence.png"), dpi=120, bbox_inches="tight"
    )
    plot_instance_count_kl(gen, test, C, names=vocab.objects, path=os.path.join(out, "instance_count_kl.png"))
    for k, f in (
        ("Object occurrence, generated vs held-out", "object_occurrence.png"),
        ("Relationship occurrence, generated vs held-out", "relationship_occurrence.png"),
        ("Object co-occurrence", "cooccurrence.png"),
        ("KL divergence of instance counts per category", "instance_count_kl.png"),
    ):
        figs[k] = os.path.join(out, f)
    kl = instance_count_kl(gen, test, C)
    res["SceneGraphGen"]["instance_count_kl_mean"] = float(np.mean(kl))
    log(f"data-set statistics: mean instance-count KL (generated || held-out) {float(np.mean(kl)):.4f}")


def _samples_and_completions(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Figures of SceneGraphGen samples and of five completions of a held-out graph's first triplet."""
    from sgkit.viz import plot_scene_grid

    vocab, test, figs = ctx["vocab"], ctx["test"], ctx["figures"]
    sgg = ctx["models"]["SceneGraphGen"]
    gen = ctx["samples"]["SceneGraphGen"]
    out = cfg.out
    figs["Graphs sampled from SceneGraphGen"] = plot_scene_grid(
        gen[:6], vocab, os.path.join(out, "samples_scenegraphgen.png"), ncols=3
    )
    partial = next(g for g in test if EDGE in g.edge_types and g[EDGE].edge_index.size(1) > 0)
    s, o = (int(v) for v in partial[EDGE].edge_index[:, 0])
    p = int(partial[EDGE].label[0])
    labels = partial[NODE].label
    prefix = from_triplets([int(labels[s]), int(labels[o])], [(0, p, 1)])
    done = sgg.complete(prefix, 5, generator=torch.Generator().manual_seed(cfg.seed))
    names = f"{vocab.decode_object(int(labels[s]))} - {vocab.decode_predicate(p)} - {vocab.decode_object(int(labels[o]))}"
    figs[f"Completions of the partial graph '{names}'"] = plot_scene_grid(
        [prefix] + done, vocab, os.path.join(out, "completions.png"), ncols=3,
        titles=["partial graph"] + [f"completion {k + 1}" for k in range(len(done))],
    )
    log(f"completed the partial graph '{names}' 5 times")

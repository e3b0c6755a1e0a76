"""The graph stages of the demo pipeline: data, training, sampling, and the marginal baseline.

* :func:`stage_data`: a ShapesWorld split, its statistics and a figure of example scenes;
* :func:`stage_train`: :class:`~sgkit.models.SceneGraphGen` and :class:`~sgkit.models.GraphRNN`
  trained briefly, their checkpoints and a figure of the loss curves;
* :func:`stage_sample`: graphs sampled from both models and from :func:`sample_marginal_graphs`,
  the trivial baseline with labels drawn from the marginal frequencies.

Each stage is a function ``stage(cfg, ctx) -> None`` run by :func:`sgkit.demo.run`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from sgkit.data.scene_graph import EDGE, NODE, from_triplets
from sgkit.demo_config import DemoConfig, log

__all__ = ["sample_marginal_graphs", "stage_data", "stage_sample", "stage_train"]


def sample_marginal_graphs(
    graphs: Sequence[HeteroData], n: int, *, num_classes: int, num_predicates: int, seed: int = 0
) -> list[HeteroData]:
    """Trivial baseline: graphs of the right size with labels drawn from marginal frequencies.

    Each sample copies the node and edge counts ``(N, E)`` of a uniformly drawn reference graph,
    draws ``N`` categories i.i.d. from the category frequencies, ``E`` distinct ordered pairs of
    distinct nodes uniformly, and their predicates i.i.d. from the predicate frequencies.

    Args:
        graphs: reference (training) graphs.
        n: number of graphs to sample.
        num_classes: number of categories.
        num_predicates: number of predicates.
        seed: random seed.

    Returns:
        ``n`` scene graphs.
    """
    if len(graphs) == 0:
        raise ValueError("graphs: empty reference set")
    rng = np.random.default_rng(seed)
    labels = np.concatenate([g[NODE].label.numpy() for g in graphs])
    preds = np.concatenate([g[EDGE].label.numpy() for g in graphs if EDGE in g.edge_types] or [np.zeros(0, int)])
    p_node = np.bincount(labels, minlength=num_classes) / max(labels.size, 1)
    if preds.size:
        p_pred = np.bincount(preds, minlength=num_predicates) / preds.size
    else:
        p_pred = np.full(num_predicates, 1.0 / num_predicates)
    sizes = [
        (int(g[NODE].label.numel()), int(g[EDGE].edge_index.size(1)) if EDGE in g.edge_types else 0) for g in graphs
    ]
    out = []
    for _ in range(n):
        nn_, ne = sizes[int(rng.integers(len(sizes)))]
        lab = rng.choice(num_classes, size=nn_, p=p_node)
        pairs = [(s, o) for s in range(nn_) for o in range(nn_) if s != o]
        ne = min(ne, len(pairs))
        chosen = rng.choice(len(pairs), size=ne, replace=False) if ne else []
        trips = [(pairs[k][0], int(rng.choice(num_predicates, p=p_pred)), pairs[k][1]) for k in chosen]
        out.append(from_triplets(lab.tolist(), trips))
    return out


def stage_data(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Generate the ShapesWorld split, print statistics, draw example scenes."""
    from sgkit.datasets import ShapesWorld
    from sgkit.viz import plot_scene_grid

    ds = ShapesWorld(cfg.num_train + cfg.num_test, seed=cfg.seed, progress=cfg.progress)
    graphs = ds.graphs()
    ctx["dataset"] = ds
    ctx["vocab"] = ds.vocab
    ctx["train"] = graphs[: cfg.num_train]
    ctx["test"] = graphs[cfg.num_train :]
    stats = ds.statistics()
    ctx["results"]["data"] = {
        "num_train": cfg.num_train,
        "num_test": cfg.num_test,
        "num_classes": ds.vocab.num_objects,
        "num_predicates": ds.vocab.num_predicates,
        "mean_objects": stats["mean_objects"],
        "mean_edges": stats["mean_edges"],
        "scene_types": stats["scene_types"],
        "predicates": stats["predicates"],
    }
    log(
        f"ShapesWorld: {len(graphs)} scenes ({cfg.num_train} train / {cfg.num_test} test), "
        f"{ds.vocab.num_objects} categories, {ds.vocab.num_predicates} predicates, "
        f"{stats['mean_objects']:.2f} objects and {stats['mean_edges']:.2f} edges per scene"
    )
    log(f"  scene types: {stats['scene_types']}")
    log(f"  predicates:  {stats['predicates']}")
    examples = [ds[i] for i in range(6)]
    names = ds.scene_type_names
    titles = [f"scene {i}: {names[int(g.scene_type)]}" for i, g in enumerate(examples)]
    path = plot_scene_grid(examples, ds.vocab, os.path.join(cfg.out, "examples.png"), ncols=2, titles=titles)
    ctx["figures"]["Example scenes (image with boxes, scene graph)"] = path
    log(f"  wrote {path}")


def stage_train(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Train SceneGraphGen and GraphRNN on the training graphs."""
    from sgkit.models import GraphRNN, SceneGraphGen

    vocab = ctx["vocab"]
    models = {}
    for cls in (SceneGraphGen, GraphRNN):
        model = cls(vocab.num_objects, vocab.num_predicates, vocab=vocab, seed=cfg.seed, **cfg.model_kwargs)
        n_params = sum(p.numel() for p in model.parameters())
        log(f"training {cls.__name__} ({n_params} parameters) for {cfg.epochs} epochs on {len(ctx['train'])} graphs")
        t0 = time.perf_counter()
        model.fit(
            ctx["train"],
            ordering=cfg.ordering,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            lr_decay=cfg.lr_decay,
            lr_decay_steps=-(-len(ctx["train"]) // cfg.batch_size),
            seed=cfg.seed,
            progress=cfg.progress,
        )
        secs = time.perf_counter() - t0
        path = os.path.join(cfg.out, f"{cls.__name__.lower()}.pt")
        model.save(path)
        log(f"  {cls.__name__}: final loss {model.history_[-1]['loss']:.3f} nats/graph in {secs:.0f} s, saved {path}")
        ctx["results"].setdefault(cls.__name__, {})["train_seconds"] = secs
        ctx["results"][cls.__name__]["final_loss"] = model.history_[-1]["loss"]
        models[cls.__name__] = model
    ctx["models"] = models
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    for name, model in models.items():
        ax.plot([h["loss"] for h in model.history_], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("NLL per graph (nats)")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(cfg.out, "training_loss.png")
    fig.savefig(path, dpi=100)
    ctx["figures"]["Training loss"] = path


def stage_sample(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Sample graphs from both models and from the marginal baseline."""
    vocab = ctx["vocab"]
    samples = {}
    for name, model in ctx["models"].items():
        t0 = time.perf_counter()
        samples[name] = model.sample(cfg.num_samples, generator=torch.Generator().manual_seed(cfg.seed))
        secs = time.perf_counter() - t0
        mean_n = np.mean([g[NODE].label.numel() for g in samples[name]])
        log(f"sampled {cfg.num_samples} graphs from {name} in {secs:.1f} s ({mean_n:.2f} nodes on average)")
        ctx["results"][name]["sample_graphs_per_second"] = cfg.num_samples / secs
    samples["marginal"] = sample_marginal_graphs(
        ctx["train"], cfg.num_samples, num_classes=vocab.num_objects, num_predicates=vocab.num_predicates, seed=cfg.seed
    )
    ctx["samples"] = samples

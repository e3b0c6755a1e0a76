"""The image stage of ``make demo``: a small SG2Im trained in about a minute and a half.

:func:`demo_stage` pre-trains the layout part, trains a small SG2Im on ShapesWorld scenes and
writes image grids and metrics; :func:`stage_images` is the pipeline stage of
``python -m sgkit.demo`` that calls it after the graph stages.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch_geometric.data import HeteroData

from sgkit.data import EDGE, NODE
from sgkit.data.batch import collate_scenes
from sgkit.demo_config import DemoConfig, log
from sgkit.metrics.object_check import category_colours, evaluate_generation
from sgkit.models import SG2Im, SG2ImConfig
from sgkit.viz import plot_generation, save_image_grid

__all__ = ["demo_stage", "stage_images"]


def _infer_sizes(scenes: Sequence[HeteroData]) -> tuple[int, int]:
    vocab = getattr(scenes, "vocab", None)
    if vocab is not None:
        return vocab.num_objects, vocab.num_predicates
    c = p = 0
    for g in scenes:
        if g[NODE].label.numel():
            c = max(c, int(g[NODE].label.max()) + 1)
        if EDGE in g.edge_types and g[EDGE].label.numel():
            p = max(p, int(g[EDGE].label.max()) + 1)
    return max(c, 1), max(p, 1)


def demo_stage(
    train_scenes: Sequence[HeteroData],
    out_dir: str | os.PathLike,
    graphs_for_generation: Sequence[HeteroData] | None = None,
    *,
    steps: int = 300,
    decoder: str = "crn",
    batch_size: int = 16,
    test_scenes: Sequence[HeteroData] | None = None,
    time_budget: float | None = 90.0,
    seed: int = 0,
    progress: bool = True,
    layout_steps: int = 1000,
    layout_graphs: Sequence[HeteroData] | None = None,
) -> dict[str, Any]:
    """Short image-generation stage for demos (about 1-2 minutes on a laptop CPU).

    Pre-trains the layout part without images (:meth:`SG2Im.fit_layout`, at most a quarter of
    ``time_budget`` and 20 s, early stopping on the last tenth of the layout graphs), then trains
    a small SG2Im (``"{decoder}-small"`` preset) on ``train_scenes`` and writes PNG
    grids to ``out_dir``: ``sg2im_ground_truth.png``, ``sg2im_gt_boxes.png`` (generated with the
    ground-truth boxes), ``sg2im_predicted_layout.png`` and, when ``graphs_for_generation`` is
    given, ``sg2im_generated_graphs.png``.

    Args:
        train_scenes: scenes with images and boxes (e.g. a ``ShapesWorld`` dataset).
        out_dir: output folder.
        graphs_for_generation: optional graphs without images (e.g. sampled by SceneGraphGen).
        steps: maximum training steps.
        decoder: ``"crn"`` or ``"spade"``.
        batch_size: training batch size.
        test_scenes: scenes to evaluate on (default: the last 16 scenes of ``train_scenes``,
            held out from training when there are at least 32 scenes).
        time_budget: stop training after this many seconds.
        seed: random seed.
        progress: show progress bars.
        layout_steps: layout pre-training steps (0: none, SG2Im as published).
        layout_graphs: graphs with boxes (no images needed) for the layout pre-training;
            default: the training scenes, plus, when ``train_scenes`` is a
            :class:`~sgkit.datasets.ShapesWorld`, 5,000 fresh graphs of another seed (about
            4 s to make; with only a few hundred graphs the layout over-fits).

    Returns:
        Metrics of :func:`evaluate_generation` plus ``steps`` (done), ``layout_steps`` (done),
        ``box_l1_median_box`` (the L1 of always predicting the median training box),
        ``seconds`` (both phases) and ``files``.
    """
    return _demo_stage(train_scenes, out_dir, graphs_for_generation, steps=steps,
                       decoder=decoder, batch_size=batch_size, test_scenes=test_scenes,
                       time_budget=time_budget, seed=seed, progress=progress,
                       layout_steps=layout_steps, layout_graphs=layout_graphs)


def _demo_stage(
    train_scenes: Sequence[HeteroData],
    out_dir: str | os.PathLike,
    graphs_for_generation: Sequence[HeteroData] | None,
    *,
    steps: int,
    decoder: str,
    batch_size: int,
    test_scenes: Sequence[HeteroData] | None,
    time_budget: float | None,
    seed: int,
    progress: bool,
    layout_steps: int,
    layout_graphs: Sequence[HeteroData] | None,
) -> dict[str, Any]:
    import time

    if decoder not in ("crn", "spade"):
        raise ValueError(f"decoder must be 'crn' or 'spade', got decoder={decoder!r}")
    if not isinstance(layout_steps, int) or layout_steps < 0:
        raise ValueError(
            f"layout_steps must be a non-negative int, got layout_steps={layout_steps!r}")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    num_objects, num_predicates = _infer_sizes(train_scenes)
    scenes = [train_scenes[i] for i in range(len(train_scenes))]
    torch.manual_seed(seed)
    config = SG2ImConfig.preset(f"{decoder}-small", num_objects, num_predicates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SG2Im(config, vocab=getattr(train_scenes, "vocab", None))
    if test_scenes is not None:
        test = list(test_scenes)
    elif len(scenes) >= 32:  # hold out the last 16 scenes
        scenes, test = scenes[:-16], scenes[-16:]
    else:
        test = scenes[-16:]
    t0 = time.monotonic()
    if layout_steps > 0:
        if layout_graphs is not None:
            lay = list(layout_graphs)
        else:
            lay = list(scenes)
            from sgkit.datasets import ShapesWorld

            if isinstance(train_scenes, ShapesWorld):  # graphs are cheap, images are not
                base = train_scenes.seed if isinstance(train_scenes.seed, int) else seed
                lay = ShapesWorld(5000, seed=base + 10_000, progress=False).graphs() + lay
        n_val = len(lay) // 10 if len(lay) >= 64 else 0
        lay_train, lay_val = (lay[:-n_val], lay[-n_val:]) if n_val else (lay, None)
        lay_budget = (None if time_budget is None
                      else max(min(20.0, 0.25 * time_budget) - (time.monotonic() - t0), 1.0))
        model.fit_layout(lay_train, steps=layout_steps, batch_size=64, lr=5e-3, seed=seed,
                         progress=progress, time_budget=lay_budget, val_graphs=lay_val,
                         mask_loss=False)
    remaining = None if time_budget is None else max(time_budget - (time.monotonic() - t0), 1.0)
    model.fit(scenes, steps=steps, batch_size=batch_size, seed=seed, progress=progress,
              time_budget=remaining)
    seconds = time.monotonic() - t0
    colours = category_colours(scenes, num_objects)
    metrics: dict[str, Any] = evaluate_generation(model, test, colours, seed=seed)
    shown = test[:8]
    real = collate_scenes(shown, image_size=config.image_size).images
    assert real is not None
    gt_boxes = model.generate(shown, use_boxes=True, seed=seed)
    predicted = model.generate(shown, use_boxes=False, seed=seed)
    files = [
        save_image_grid(real, os.path.join(out_dir, "sg2im_ground_truth.png")),
        save_image_grid(gt_boxes, os.path.join(out_dir, "sg2im_gt_boxes.png")),  # type: ignore[arg-type]
        save_image_grid(predicted, os.path.join(out_dir, "sg2im_predicted_layout.png")),  # type: ignore[arg-type]
        plot_generation(shown[:6], {"real image": real[:6], "generated, true boxes": gt_boxes[:6],  # type: ignore[index]
                                    "generated, predicted layout": predicted[:6]},  # type: ignore[index]
                        os.path.join(out_dir, "sg2im_scenes.png"), vocab=getattr(train_scenes, "vocab", None)),
    ]
    if graphs_for_generation:
        files.append(save_image_grid(
            model.generate(list(graphs_for_generation)[:16], seed=seed),  # type: ignore[arg-type]
            os.path.join(out_dir, "sg2im_generated_graphs.png")))
    train_boxes = collate_scenes(scenes, need_boxes=True).boxes
    test_boxes = collate_scenes(test, need_boxes=True).boxes
    assert train_boxes is not None and test_boxes is not None
    metrics.update(steps=len(model.history), layout_steps=len(model.layout_history),
                   box_l1_median_box=float((test_boxes - train_boxes.median(dim=0).values)
                                           .abs().mean()),
                   seconds=seconds, files=files)
    return metrics


def stage_images(cfg: DemoConfig, ctx: dict[str, Any]) -> None:
    """Short SG2Im stage: images from ground-truth graphs and from SceneGraphGen samples."""
    if cfg.image_steps <= 0:
        log("image stage skipped (image_steps=0)")
        return
    from sgkit.datasets import ShapesWorld

    ds = ctx["dataset"]
    n_img = min(cfg.image_scenes, cfg.num_train)
    scenes = [ds[i] for i in range(n_img)]
    # Layout pre-training needs graphs only: the training graphs not used as image scenes (the
    # stage holds out the last image scenes for evaluation) plus fresh graphs of another seed.
    layout_graphs = list(ctx["train"][n_img:]) + ShapesWorld(5000, seed=cfg.seed + 7919, progress=False).graphs()
    sampled = ctx.get("samples", {}).get("SceneGraphGen")
    res = demo_stage(
        scenes,
        cfg.out,
        graphs_for_generation=list(sampled[:16]) if sampled else None,
        steps=cfg.image_steps,
        time_budget=cfg.image_seconds,
        layout_graphs=layout_graphs,
        seed=cfg.seed,
        progress=cfg.progress,
    )
    ctx["results"]["sg2im"] = {k: v for k, v in res.items() if isinstance(v, (int, float, str))}
    for title, name in (
        ("SG2Im: ground-truth images", "sg2im_ground_truth.png"),
        ("SG2Im: generated with ground-truth boxes", "sg2im_gt_boxes.png"),
        ("SG2Im: generated from graphs with the predicted layout", "sg2im_predicted_layout.png"),
        ("SG2Im: generated from graphs sampled by SceneGraphGen", "sg2im_generated_graphs.png"),
    ):
        path = os.path.join(cfg.out, name)
        if os.path.exists(path):
            ctx["figures"][title] = path
    log(f"SG2Im: {ctx['results']['sg2im']}")

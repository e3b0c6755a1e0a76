"""Scene graph -> image on ShapesWorld: SG2Im with CRN and SPADE decoders (thesis ch. 11, app. A-B).

Trains two small 64 x 64 SG2Im models (``crn-small`` and ``spade-small`` presets) on ShapesWorld
scenes. These are the thesis architecture with CPU-sized channel counts (32-dimensional
embeddings and GCN, 3 GCN layers, narrow decoders and discriminators) and loss weights changed
for that CPU budget, so they do *not* reproduce thesis Table B.1: a box weight of 1 (CRN) / 5
(SPADE) instead of 10 / 50, because with a 32-dimensional GCN the box loss otherwise dominates
the shared object features and the objects' colours are not learned; an extra mask loss
(weight 1; the thesis has none) to learn object shapes in few steps; and Adam learning rate
1e-3 instead of 1e-4 for the short runs. The GAN, auxiliary, image L1, perceptual and
feature-matching weights are those of Table B.1. The full-size ``crn-64`` and ``spade-64``
presets of :data:`sgkit.models.sg2im.PRESETS` carry the Table B.1 weights unchanged (and the
appendix A/B sizes). The script writes, to ``--out``:

- ``ground_truth.png``: real test images;
- ``{crn,spade}_gt_boxes.png``: generated from the ground-truth graphs with ground-truth boxes;
- ``{crn,spade}_predicted_layout.png``: generated from the graphs alone (predicted layout);
- ``{crn,spade}_sampled_graphs.png``: generated from graphs sampled by SceneGraphGen (if
  available);
- ``losses.png`` and ``results.json`` with MAE, SSIM and ``object_check`` per decoder.

``object_check`` is the fraction of test objects whose mean generated colour inside their
ground-truth region is nearest to their category's colour (ShapesWorld categories are
size x colour x shape); objects occluded in the real image are excluded. It is computed for
generation with ground-truth boxes (``object_check``) and from the predicted layout
(``object_check_predicted``, which also needs the objects at roughly the right places). Its
ceiling for a given layout, ``object_check_ceiling_*``, is the check on exact ShapesWorld
renderings at the predicted boxes (a perfect decoder): ``..._median_box`` puts every object at
the median training box, ``..._after_layout_pretraining`` and ``..._predicted`` use the
predicted boxes before and after the image training.

Before the image training, the layout part (embeddings, GCN, box head) is pre-trained without
images by :meth:`~sgkit.models.sg2im.SG2Im.fit_layout` on many extra ShapesWorld graphs (graphs
are cheap, images are not; full: 20,000 graphs, ``--quick``: 6,000), with early stopping on 300
held-out graphs; one pre-training serves both decoders (their layout parts have the same size).
``--layout-steps 0`` switches it off (SG2Im as published). Image training then stops at a step
count or a wall-clock budget (full: 320 s per decoder, ``--quick``: 40 s), whichever comes first,
so on a loaded machine fewer steps run. ``box_l1`` (predicted vs ground-truth boxes) is reported
with the L1 of always predicting the median training box (``box_l1_median_box_baseline``) and
after the layout pre-training (``box_l1_after_layout_pretraining``): a graph fixes relative
positions only, so absolute boxes stay uncertain and ``object_check_predicted`` stays lower than
``object_check``.

Usage::

    python examples/scene_graph_to_image.py --out runs/scene_graph_to_image --quick [--vg DIR | --coco DIR]

``--vg DIR`` (VG-SGG h5 + dicts, ``image_data.json``, ``VG_100K/``; 3-10 objects per image) or
``--coco DIR`` (``annotations/instances_{train,val}2017.json`` [+ ``stuff_*``], ``train2017/``,
``val2017/``; SG2Im's filters, 3-8 objects) trains and evaluates on the real images instead of
ShapesWorld. There the object check compares each region with its category's mean colour in the
training images (a weak proxy), and the layout pre-training on extra ShapesWorld graphs is off.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import torch

from sgkit.datasets import ShapesWorld
from sgkit.datasets.shapes import object_colors, render_scenes
from sgkit.data.batch import collate_scenes
from sgkit.metrics.object_check import evaluate_generation, object_check
from sgkit.models import SG2Im, SG2ImConfig
from sgkit.viz import save_image_grid


def _layout_ceiling(boxes: torch.Tensor, scenes: list, colours: torch.Tensor) -> float:
    """``object_check`` of exact renderings at ``boxes`` (a perfect decoder on that layout): the
    ceiling of ``object_check_predicted`` for this layout."""
    b = collate_scenes(scenes)
    counts = torch.bincount(b.batch, minlength=len(scenes)).tolist()
    labels = [t.numpy() for t in b.labels.split(counts)]
    per_scene = [t.detach().cpu().clamp(0, 1).numpy() for t in boxes.split(counts)]
    images = torch.from_numpy(render_scenes(labels, per_scene, scenes[0].image.shape[-1])) / 255.0
    real = collate_scenes(scenes).images
    return float(object_check(images, scenes, colours, reference=real))


def _plot_losses(histories: dict[str, list[dict[str, float]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(histories), figsize=(5 * len(histories), 3.5), squeeze=False)
    for ax, (name, hist) in zip(axes[0], histories.items()):
        for key in ("image_l1", "box", "mask"):
            vals = torch.tensor([h.get(key, float("nan")) for h in hist])
            if len(vals) > 10:
                vals = torch.nn.functional.avg_pool1d(vals.view(1, 1, -1), 10, 1).flatten()
            ax.plot(vals.numpy(), label=key)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(f"SG2Im-{name} generator losses (weighted)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _sample_graphs(train_graphs: list, vocab, n: int, budget_epochs: int, seed: int,
                   progress: bool) -> list | None:
    try:
        from sgkit.models import SceneGraphGen
    except ImportError:
        print("SceneGraphGen is not available: skipping the grid from sampled graphs")
        return None
    t0 = time.monotonic()
    model = SceneGraphGen(vocab.num_objects, vocab.num_predicates, vocab=vocab, max_nodes=10,
                          hidden_dim=64, num_layers=2, seed=seed)
    model.fit(train_graphs, epochs=budget_epochs, batch_size=64, seed=seed, progress=progress)
    graphs = model.sample(n, generator=torch.Generator().manual_seed(seed))
    print(f"SceneGraphGen: trained {budget_epochs} epochs and sampled {n} graphs in "
          f"{time.monotonic() - t0:.0f} s")
    return graphs


def _real_scenes(vg: str | None, coco: str | None, num_train: int, num_test: int, seed: int) -> tuple[list, object, int]:
    """Training + held-out scenes (64 x 64 images) of Visual Genome or COCO, the vocabulary, the held-out count."""
    from sgkit.data.coco import load_coco_folder
    from sgkit.data.visual_genome import load_vg_folder

    if vg is not None:
        kw = dict(with_images=True, image_size=64, min_nodes=3, max_nodes=10)
        train, vocab = load_vg_folder(vg, "train", max_graphs=3 * num_train, **kw)
        test, _ = load_vg_folder(vg, "test", max_graphs=3 * num_test, **kw)
    else:
        kw = dict(image_size=64, min_objects=3, max_objects=8, seed=seed)
        train, vocab = load_coco_folder(coco, "train2017", max_images=num_train, **kw)
        test, _ = load_coco_folder(coco, "val2017", max_images=num_test, **kw)
    train, test = train[:num_train], test[:num_test]
    if len(train) < 2 or not test:
        raise ValueError(f"{vg or coco}: need at least 2 training and 1 held-out scene, got {len(train)} and {len(test)}")
    return train + test, vocab, len(test)


def _category_colours(scenes: list, num_objects: int) -> torch.Tensor:
    """Mean colour of every category inside its boxes (grey for categories never seen)."""
    sums, counts = torch.full((num_objects, 3), 0.5), torch.zeros(num_objects)
    for g in scenes:
        _, h, w = g.image.shape
        for label, (x0, y0, x1, y1) in zip(g["object"].label.tolist(), g["object"].box.tolist()):
            region = g.image[:, int(y0 * h) : max(int(y0 * h) + 1, int(y1 * h)), int(x0 * w) : max(int(x0 * w) + 1, int(x1 * w))]
            sums[label] = sums[label] * (counts[label] > 0) + region.mean((1, 2))
            counts[label] += 1
    return sums / counts.clamp(min=1).unsqueeze(1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/scene_graph_to_image")
    parser.add_argument("--quick", action="store_true", help="about 2 minutes instead of 15")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; 0 = torch's default of one per core). Small models "
                        "on a busy machine run fastest with 1 thread; other counts change results only by "
                        "float rounding (reductions summed in another order)")
    parser.add_argument("--vgg-weights", default=None,
                        help="local torchvision VGG16 weights for the SPADE perceptual loss")
    parser.add_argument("--decoders", default="crn,spade")
    parser.add_argument("--layout-steps", type=int, default=None,
                        help="layout pre-training steps (default 1500 quick / 6000 full; 0 = off)")
    parser.add_argument("--no-progress", action="store_true")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--vg", metavar="DIR", help="Visual Genome folder (VG-SGG h5 + dicts, image_data.json, VG_100K/)")
    data.add_argument("--coco", metavar="DIR", help="COCO folder (annotations/, train2017/, val2017/)")
    args = parser.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    if args.quick:
        num_scenes, num_test, steps, budget, batch_size, sgg_epochs = 600, 32, 600, 40.0, 8, 3
        layout_graphs, layout_steps, layout_budget = 6000, 1500, 20.0
    else:
        num_scenes, num_test, steps, budget, batch_size, sgg_epochs = 3000, 64, 5000, 320.0, 8, 4
        layout_graphs, layout_steps, layout_budget = 20000, 6000, 150.0
    real = args.vg is not None or args.coco is not None
    if args.layout_steps is not None:
        layout_steps = args.layout_steps
    elif real:
        layout_steps = 0  # the pre-training graphs are ShapesWorld's
    t_start = time.monotonic()
    if real:
        scenes, vocab, num_test = _real_scenes(args.vg, args.coco, num_scenes - num_test, num_test, args.seed)
        graphs_all = scenes
        colours = _category_colours(scenes[:-num_test], vocab.num_objects)
    else:
        ds = ShapesWorld(num_scenes, seed=args.seed, progress=progress)
        scenes = [ds[i] for i in range(len(ds))]
        graphs_all = ds.graphs()
        vocab = ds.vocab
        colours = torch.tensor(object_colors(list(range(vocab.num_objects))))
    train, test = scenes[:-num_test], scenes[-num_test:]
    shown = test[:8]
    real = collate_scenes(shown).images
    files = [save_image_grid(real, os.path.join(args.out, "ground_truth.png"))]

    sampled = _sample_graphs([g for g in graphs_all[:-num_test]], vocab, 8, sgg_epochs,
                             args.seed, progress)

    # context for box_l1: always predicting the training set's median box
    train_boxes = collate_scenes(train, need_boxes=True).boxes
    test_boxes = collate_scenes(test, need_boxes=True).boxes
    baseline_box_l1 = float((test_boxes - train_boxes.median(dim=0).values).abs().mean())
    results: dict = {"num_train": len(train), "num_test": len(test), "quick": args.quick,
                     "box_l1_median_box_baseline": baseline_box_l1,
                     "object_check_ceiling_median_box": _layout_ceiling(
                         train_boxes.median(dim=0).values.expand_as(test_boxes), test, colours)}
    histories: dict[str, list[dict[str, float]]] = {}
    layout_state = None
    if layout_steps > 0:
        # image-free layout pre-training on extra graphs (another seed: disjoint from the test set)
        t0 = time.monotonic()
        extra = ShapesWorld(layout_graphs + 300, seed=args.seed + 10_000, progress=False).graphs()
        layout_train, layout_val = extra[:-300] + [g for g in graphs_all[:-num_test]], extra[-300:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pre = SG2Im(SG2ImConfig.preset(f"{args.decoders.split(',')[0]}-small",
                                           vocab.num_objects, vocab.num_predicates))
        pre.fit_layout(layout_train, steps=layout_steps, batch_size=64, lr=5e-3, seed=args.seed,
                       progress=progress, time_budget=layout_budget, val_graphs=layout_val,
                       eval_every=100)
        layout_state = pre.layout_state_dict()
        box_l1 = float((pre.predict_boxes(test) - test_boxes).abs().mean())
        results["layout_pretraining"] = {
            "graphs": len(layout_train), "steps": len(pre.layout_history),
            "seconds": round(time.monotonic() - t0, 1),
            "best_val_box_l1": min(h["box_l1"] for h in pre.layout_val_history),
        }
        results["box_l1_after_layout_pretraining"] = box_l1
        results["object_check_ceiling_after_layout_pretraining"] = _layout_ceiling(
            pre.predict_boxes(test), test, colours)
        print(f"layout pre-training: {len(pre.layout_history)} steps on {len(layout_train)} "
              "graphs, "
              f"test box_l1 {box_l1:.4f} (median box {baseline_box_l1:.4f})")
    for decoder in args.decoders.split(","):
        overrides = {}
        if decoder == "spade" and args.vgg_weights:
            overrides["vgg_weights"] = args.vgg_weights
        config = SG2ImConfig.preset(f"{decoder}-small", vocab.num_objects, vocab.num_predicates,
                                    **overrides)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = SG2Im(config, vocab=vocab)
        for w in caught:
            print(f"note ({decoder}): {w.message}")
        if layout_state is not None:
            model.load_layout_state_dict(layout_state)
        t0 = time.monotonic()
        model.fit(train, steps=steps, batch_size=batch_size, seed=args.seed, progress=progress,
                  time_budget=budget, checkpoint_path=os.path.join(args.out, f"sg2im_{decoder}.pt"))
        seconds = time.monotonic() - t0
        metrics = evaluate_generation(model, test, colours, seed=args.seed)
        metrics["object_check_ceiling_predicted"] = _layout_ceiling(
            model.predict_boxes(test), test, colours)
        metrics.update(steps=len(model.history), train_seconds=round(seconds, 1),
                       perceptual_enabled=model.perceptual_enabled,
                       parameters=sum(p.numel() for p in model.generator.parameters()))
        results[decoder] = metrics
        histories[decoder] = model.history
        print(f"{decoder}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in metrics.items()))
        files.append(save_image_grid(model.generate(shown, use_boxes=True, seed=args.seed),
                                     os.path.join(args.out, f"{decoder}_gt_boxes.png")))
        files.append(save_image_grid(model.generate(shown, use_boxes=False, seed=args.seed),
                                     os.path.join(args.out, f"{decoder}_predicted_layout.png")))
        if sampled is not None:
            files.append(save_image_grid(model.generate(sampled, seed=args.seed),
                                         os.path.join(args.out, f"{decoder}_sampled_graphs.png")))
    _plot_losses(histories, os.path.join(args.out, "losses.png"))
    results["sampled_graphs_grid"] = sampled is not None
    results["seconds"] = round(time.monotonic() - t_start, 1)
    results["files"] = [os.path.basename(f) for f in files] + ["losses.png"]
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    print(json.dumps({k: results[k] for k in results if k in ("crn", "spade")}, indent=2))
    return results


if __name__ == "__main__":
    main()

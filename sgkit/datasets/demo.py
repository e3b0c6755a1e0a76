"""Demo of the embedded data: example figures and statistics (``python -m sgkit.datasets``).

Writes ``shapes_examples.png`` (one example scene per scene type: image next to its graph),
``shapes_statistics.png`` (bar charts of :meth:`ShapesWorld.statistics`), ``shapes_edits.png`` (one edit pair per mode), ``vg_like_examples.png`` and ``statistics.json``
into ``--out`` and prints the ShapesWorld statistics.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from typing import Any

from .shapes import ShapesWorld
from .shapes_vocab import EDIT_MODES, SCENE_TYPES, object_colors
from .vg_like import vg150_vocabulary, vg_like_graphs

__all__ = ["run_demo", "main"]


def run_demo(out: str, *, num_scenes: int = 1000, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Write the demo figures and statistics into ``out`` and return the statistics.

    Args:
        out: output folder (created).
        num_scenes: size of the ShapesWorld sample the statistics are computed on.
        seed: random seed.
        progress: show progress bars.

    Returns:
        ``{"shapes": ShapesWorld.statistics(), "timing_s": {...}, "files": [...]}``.
    """
    from sgkit.viz import plot_scene_grid

    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    world = ShapesWorld(num_scenes, seed=seed, progress=progress)
    world.images_uint8()
    t_world = time.perf_counter() - t0
    tasks = world.task_indices("scene_type")
    examples = [v[0] for v in tasks.values()]
    files = [
        world.plot_examples(os.path.join(out, "shapes_examples.png"), indices=examples, ncols=len(examples)),
        world.plot_statistics(os.path.join(out, "shapes_statistics.png")),
    ]
    graphs, titles = [], []
    for mode in EDIT_MODES:
        pair = world.edit_pairs(mode, 1, seed=seed)[0]
        graphs += [pair["source"], pair["target"]]
        titles += [f"{mode}: source", f"{mode}: target"]
    files.append(
        plot_scene_grid(graphs, world.vocab, os.path.join(out, "shapes_edits.png"), ncols=2, titles=titles,
                        node_colors=object_colors)
    )
    t0 = time.perf_counter()
    vg = vg_like_graphs(1000, seed=seed)
    t_vg = time.perf_counter() - t0
    files.append(plot_scene_grid(vg[:4], vg150_vocabulary(), os.path.join(out, "vg_like_examples.png"), ncols=2))
    stats = {
        "shapes": world.statistics(),
        "scene_type_examples": dict(zip(SCENE_TYPES, examples)),
        "timing_s": {f"shapes_world_{num_scenes}_with_images": t_world, "vg_like_1000": t_vg},
        "files": files,
    }
    with open(os.path.join(out, "statistics.json"), "w", encoding="utf-8") as fh:
        json.dump(stats, fh, indent=2)
    return stats


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point: ``python -m sgkit.datasets --out DIR [--num-scenes N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/datasets_demo", help="output folder")
    parser.add_argument("--num-scenes", type=int, default=1000, help="ShapesWorld scenes for the statistics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    stats = run_demo(args.out, num_scenes=args.num_scenes, seed=args.seed, progress=not args.quiet)
    s = stats["shapes"]
    print(f"ShapesWorld: {s['num_scenes']} scenes, {s['mean_objects']:.2f} objects and {s['mean_edges']:.2f} edges "
          f"per scene, {s['empty_graphs']} without edges")
    for key in ("scene_types", "objects_per_scene", "predicates", "shapes", "colours", "sizes"):
        print(f"  {key}: {s[key]}")
    print(f"  timing (s): {stats['timing_s']}")
    print("wrote " + ", ".join(stats["files"]) + f", {os.path.join(args.out, 'statistics.json')}")

"""ShapesWorld generation throughput: 10,000 scenes with 64 x 64 images, goal under 30 s.

One run (``rounds=1, iterations=1``: the case takes seconds) of what building the default sgkit
data set costs: sampling the scenes from the grammar (labels, boxes, relation triplets, scene
attributes) with ``ShapesWorld(...)`` and rendering every image with ``images_uint8()``.
``extra_info`` records ``scenes_per_s``, the sampling and rendering seconds, and
``under_goal`` (whether the whole generation took less than ``GOAL_S`` seconds).

Run: ``.venv/bin/python -m pytest benchmarks/test_datasets.py --benchmark -q``
"""
from __future__ import annotations

import time

import pytest

from sgkit.datasets import ShapesWorld

NUM_SCENES = 10_000
IMAGE_SIZE = 64
GOAL_S = 30.0


def generate_shapes_world(num_scenes: int, image_size: int = IMAGE_SIZE, seed: int = 0) -> dict[str, float]:
    """Sample ``num_scenes`` ShapesWorld scenes and render all their images.

    Args:
        num_scenes: number of scenes.
        image_size: side of the square images.
        seed: random seed of the data set.

    Returns:
        ``{"sample_s", "render_s", "total_s", "num_images"}``: seconds spent sampling scenes,
        rendering images, both together, and the number of rendered images (a check that the
        work was done).
    """
    t0 = time.perf_counter()
    world = ShapesWorld(num_scenes, image_size=image_size, seed=seed, progress=False)
    t1 = time.perf_counter()
    images = world.images_uint8()
    t2 = time.perf_counter()
    if images.shape != (num_scenes, 3, image_size, image_size):
        raise RuntimeError(f"images: expected shape {(num_scenes, 3, image_size, image_size)}, got {images.shape}")
    return {"sample_s": t1 - t0, "render_s": t2 - t1, "total_s": t2 - t0, "num_images": float(images.shape[0])}


@pytest.mark.benchmark_case
def test_shapesworld_generation(benchmark) -> None:
    benchmark.group = "shapesworld"
    out = benchmark.pedantic(generate_shapes_world, args=(NUM_SCENES,), rounds=1, iterations=1)
    assert out["num_images"] == NUM_SCENES
    benchmark.extra_info["num_scenes"] = NUM_SCENES
    benchmark.extra_info["image_size"] = IMAGE_SIZE
    benchmark.extra_info["sample_s"] = out["sample_s"]
    benchmark.extra_info["render_s"] = out["render_s"]
    benchmark.extra_info["scenes_per_s"] = NUM_SCENES / out["total_s"]
    benchmark.extra_info["goal_s"] = GOAL_S
    benchmark.extra_info["under_goal"] = bool(out["total_s"] < GOAL_S)

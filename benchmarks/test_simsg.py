"""SIMSG benchmarks (run with ``pytest benchmarks/test_simsg.py --benchmark``).

- ``simsg-manipulate``: :meth:`SIMSG.manipulate` on 64 ShapesWorld edits (16 per mode) in one
  batched call against a Python loop of 64 single-edit calls (the baseline).
- ``simsg-train-step``: one SIMSG training step (generator with ``z_I`` encoder and the masked
  image branch, both discriminators) against the same step of SG2Im, both at the ``crn-small``
  sizes, 64 x 64, batch 16: the overhead of the image branch and ``z_I``.
"""
from __future__ import annotations

import warnings

import pytest

from sgkit.data import collate_scenes
from sgkit.datasets import ShapesWorld


@pytest.fixture(scope="module")
def edits():
    from sgkit.models import SIMSG, SIMSGConfig

    world = ShapesWorld(0, image_size=64, progress=False)
    pairs = [p for m in world.EDIT_MODES for p in world.edit_pairs(m, 16, seed=0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SIMSG(SIMSGConfig.preset("crn-small", 36, 6), seed=0)
    return model, pairs


def test_batched_equals_loop(edits) -> None:
    model, pairs = edits
    a = model.manipulate_pairs(pairs[:8], seed=0, batch_size=64).image
    b = model.manipulate_pairs(pairs[:8], seed=0, batch_size=1).image
    assert a.shape == b.shape == (8, 3, 64, 64)


@pytest.mark.benchmark(group="simsg-manipulate")
def test_bench_manipulate_batched_64(benchmark, edits) -> None:
    model, pairs = edits
    benchmark.pedantic(model.manipulate_pairs, args=(pairs,), kwargs=dict(batch_size=64), rounds=3, iterations=1)


@pytest.mark.benchmark(group="simsg-manipulate")
def test_bench_manipulate_loop_of_single_edits(benchmark, edits) -> None:
    model, pairs = edits

    def loop() -> list:
        return [model.manipulate_pairs([p], batch_size=1).image for p in pairs]

    benchmark.pedantic(loop, rounds=3, iterations=1)


@pytest.fixture(scope="module")
def scenes16():
    ds = ShapesWorld(16, seed=0, progress=False)
    return [ds[i] for i in range(16)]


@pytest.mark.benchmark(group="simsg-train-step")
def test_bench_train_step_simsg_crn(benchmark, scenes16) -> None:
    from sgkit.models import SIMSG, SIMSGConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SIMSG(SIMSGConfig.preset("crn-small", 36, 6), seed=0)
    batch = model.collate(scenes16)
    model.train_step(batch)
    benchmark.pedantic(model.train_step, args=(batch,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="simsg-train-step")
def test_bench_train_step_sg2im_crn(benchmark, scenes16) -> None:
    from sgkit.models import SG2Im, SG2ImConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SG2Im(SG2ImConfig.preset("crn-small", 36, 6), seed=0)
    batch = collate_scenes(scenes16, need_boxes=True, need_images=True)
    model.train_step(batch)
    benchmark.pedantic(model.train_step, args=(batch,), rounds=5, iterations=1)

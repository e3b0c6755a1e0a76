"""SG2Im benchmarks (run with ``pytest benchmarks/test_sg2im_model.py --benchmark``).

- ``sg2im-crops``: object crops with :func:`torchvision.ops.roi_align` (ours) against the
  SG2Im-style crop (per-object copy of its image, affine sampling grid, ``grid_sample``).
- ``sg2im-train-step``: one training step (generator + both discriminators) of the small CRN
  and SPADE presets on a batch of 8 ShapesWorld scenes.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sgkit.nn.discriminators import crop_boxes


def _sg2im_style_crop(images: torch.Tensor, boxes: torch.Tensor, batch: torch.Tensor,
                      size: int) -> torch.Tensor:
    """Baseline: expand each object's image and bilinearly sample a size x size grid in its box."""
    O = boxes.shape[0]
    x0, y0, x1, y1 = boxes.unbind(1)
    t = (torch.arange(size, dtype=boxes.dtype) + 0.5) / size
    xs = x0.view(O, 1) + t.view(1, size) * (x1 - x0).view(O, 1)
    ys = y0.view(O, 1) + t.view(1, size) * (y1 - y0).view(O, 1)
    grid = torch.stack([xs.view(O, 1, size).expand(O, size, size),
                        ys.view(O, size, 1).expand(O, size, size)], dim=-1) * 2 - 1
    return F.grid_sample(images[batch], grid, mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def crop_inputs():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(32, 3, 64, 64, generator=g)
    O = 32 * 8
    xy = torch.rand(O, 2, generator=g) * 0.6
    wh = 0.1 + torch.rand(O, 2, generator=g) * 0.3
    boxes = torch.cat([xy, xy + wh], 1)
    batch = torch.arange(32).repeat_interleave(8)
    return images, boxes, batch


def test_crops_agree(crop_inputs) -> None:
    images, boxes, batch = crop_inputs
    # both sample the bin centres bilinearly (roi_align with sampling_ratio=1); they differ only
    # within half a pixel of the image border (roi_align clamps, grid_sample pads with zeros)
    a = crop_boxes(images, boxes, batch, 32)
    b = _sg2im_style_crop(images, boxes, batch, 32)
    differ = (a - b).abs() > 1e-4
    assert a.shape == b.shape and float(differ.float().mean()) < 1e-3


@pytest.mark.benchmark(group="sg2im-crops")
def test_bench_crops_roi_align(benchmark, crop_inputs) -> None:
    images, boxes, batch = crop_inputs
    benchmark(crop_boxes, images, boxes, batch, 32)


@pytest.mark.benchmark(group="sg2im-crops")
def test_bench_crops_sg2im_grid_sample(benchmark, crop_inputs) -> None:
    images, boxes, batch = crop_inputs
    benchmark(_sg2im_style_crop, images, boxes, batch, 32)


@pytest.fixture(scope="module")
def scene_batch():
    from sgkit.datasets import ShapesWorld
    from sgkit.data.batch import collate_scenes

    ds = ShapesWorld(8, seed=0, progress=False)
    return collate_scenes([ds[i] for i in range(8)], need_boxes=True, need_images=True)


def _train_step_bench(benchmark, preset: str, batch) -> None:
    import warnings

    from sgkit.models import SG2Im, SG2ImConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SG2Im(SG2ImConfig.preset(preset, 36, 6))
    model.train_step(batch)
    benchmark.pedantic(model.train_step, args=(batch,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="sg2im-train-step")
def test_bench_train_step_crn_small(benchmark, scene_batch) -> None:
    _train_step_bench(benchmark, "crn-small", scene_batch)


@pytest.mark.benchmark(group="sg2im-train-step")
def test_bench_train_step_spade_small(benchmark, scene_batch) -> None:
    _train_step_bench(benchmark, "spade-small", scene_batch)

"""SG2Im benchmarks (run with ``pytest benchmarks/test_sg2im_model.py --benchmark``).

- ``sg2im-crops``: object crops (256 boxes from 32 64x64 RGB images) with
  :func:`sgkit.nn.crop_boxes` (RoIAlign bin-centre sampling; on CPU one ``grid_sample`` call on
  the images) against the SG2Im-style crop (per-object copy of its image, affine sampling grid,
  ``grid_sample``); ``sg2im-crops-fwd-bwd``: the same with the backward pass to the images, as in
  the discriminator's training step.
- ``sg2im-train-step``: one training step (generator + both discriminators) of the small CRN
  and SPADE presets on a batch of 8 ShapesWorld scenes.
- ``sg2im-step-64``: the step of each preset (``crn-64``, ``spade-64``, ``crn-small``,
  ``spade-small``) at 64x64, batch 16, five contenders timed in alternation in the same run
  (median of the rounds, ratios in ``extra_info``): ``published`` (the reference step computed
  with the published code's layout, crop and refinement-decoder operations,
  ``benchmarks/published_sg2im.py``; the baseline of the ``*_vs_published`` ratios),
  ``reference`` (the step written out below:
  discriminator weight gradients computed and discarded in the generator update, Adam per
  tensor), ``default`` (``train_step``: discriminators frozen during the generator update, the
  same arithmetic), ``fast`` (``set_step_options(fused_adam=True, channels_last=True,
  reuse_real_features=True, fused_decoder=True, grid_sample_crops=True)``: equal up to rounding)
  and ``fast_bf16`` (also
  ``bf16_autocast=True``: bfloat16 convolutions, losses equal to about 1e-2). The timed value of
  the group is the ``fast_bf16`` step. One torch thread.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from published_sg2im import published_ops, sg2im_style_crop, sg2im_style_masks_to_layout
from sgkit.nn import masks_to_layout
from sgkit.nn.discriminators import crop_boxes


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
    b = sg2im_style_crop(images, boxes, batch, 32)
    differ = (a - b).abs() > 1e-4
    assert a.shape == b.shape and float(differ.float().mean()) < 1e-3


def test_published_layout_equals_ours() -> None:
    """The published layout ([O, D, H, W] warps summed per image) equals masks_to_layout."""
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(20, 8, generator=g, dtype=torch.double)
    xy = torch.rand(20, 2, generator=g, dtype=torch.double) * 0.5
    boxes = torch.cat([xy, xy + 0.3], 1)
    masks = torch.rand(20, 16, 16, generator=g, dtype=torch.double)
    batch = torch.arange(4).repeat_interleave(5)
    torch.testing.assert_close(sg2im_style_masks_to_layout(feats, boxes, masks, batch, 4, 32),
                               masks_to_layout(feats, boxes, masks, batch, 4, 32))


@pytest.mark.benchmark(group="sg2im-crops")
def test_bench_crops_sgkit(benchmark, crop_inputs) -> None:
    images, boxes, batch = crop_inputs
    benchmark(crop_boxes, images, boxes, batch, 32)


@pytest.mark.benchmark(group="sg2im-crops")
def test_bench_crops_sg2im_grid_sample(benchmark, crop_inputs) -> None:
    images, boxes, batch = crop_inputs
    benchmark(sg2im_style_crop, images, boxes, batch, 32)


def _crop_fwd_bwd(crop, images: torch.Tensor, boxes: torch.Tensor, batch: torch.Tensor):
    weights = torch.rand(boxes.shape[0], images.shape[1], 32, 32, generator=torch.Generator().manual_seed(1))

    def run() -> None:
        x = images.detach().requires_grad_(True)
        (crop(x, boxes, batch, 32) * weights).sum().backward()

    return run


@pytest.mark.benchmark(group="sg2im-crops-fwd-bwd")
def test_bench_crops_fwd_bwd_sgkit(benchmark, crop_inputs) -> None:
    benchmark(_crop_fwd_bwd(crop_boxes, *crop_inputs))


@pytest.mark.benchmark(group="sg2im-crops-fwd-bwd")
def test_bench_crops_fwd_bwd_sg2im_grid_sample(benchmark, crop_inputs) -> None:
    benchmark(_crop_fwd_bwd(sg2im_style_crop, *crop_inputs))


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


STEP_PRESETS = ["crn-small", "spade-small", "crn-64", "spade-64"]
STEP_ROUNDS = {"crn-small": 5, "spade-small": 5, "crn-64": 2, "spade-64": 2}
STEP_OPTIONS = {
    "published": None,
    "reference": None,
    "default": {},
    "fast": dict(fused_adam=True, channels_last=True, reuse_real_features=True, fused_decoder=True,
                 grid_sample_crops=True),
    "fast_bf16": dict(fused_adam=True, channels_last=True, reuse_real_features=True, fused_decoder=True,
                      grid_sample_crops=True, bf16_autocast=True),
}


@pytest.fixture(scope="module")
def scenes64():
    from sgkit.datasets import ShapesWorld

    ds = ShapesWorld(16, seed=0, progress=False)
    return [ds[i] for i in range(16)]


def _reference_step(model, batch) -> None:
    """The training step without the optimisations (discriminators not frozen in the generator update)."""
    batch = batch.to(next(model.parameters()).device)
    from sgkit.models.trainer import backward_step

    model.train()
    opts = model.configure_optimizers()
    out = model.forward_train(batch)
    g_terms = model.generator_losses(batch, out)
    backward_step(g_terms["total"], g_terms, [opts["generator"]], module=model)
    d_terms = model.discriminator_losses(batch, out["image"])
    stepped = [opts[k] for k, t in (("img_discriminator", "d_img"), ("obj_discriminator", "d_obj")) if t in d_terms]
    backward_step(torch.stack(list(d_terms.values())).sum(), d_terms, stepped,
                  zero=[opts["img_discriminator"], opts["obj_discriminator"]], module=model)


@pytest.mark.parametrize("preset", STEP_PRESETS)
@pytest.mark.benchmark(group="sg2im-step-64")
def test_bench_step_64(benchmark, scenes64, preset) -> None:
    import statistics
    import time
    import warnings

    from sgkit.models import SG2Im, SG2ImConfig

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {k: SG2Im(SG2ImConfig.preset(preset, 36, 6), seed=0) for k in STEP_OPTIONS}
    for k, options in STEP_OPTIONS.items():
        if options:
            models[k].set_step_options(**options)
    batch = models["reference"].collate(scenes64)
    assert batch.images.shape == (16, 3, 64, 64)
    def published(m=models["published"]) -> None:
        with published_ops():
            _reference_step(m, batch)

    steps = {k: (lambda m=m: _reference_step(m, batch)) if k == "reference" else (lambda m=m: m.train_step(batch))
             for k, m in models.items()}
    steps["published"] = published
    # first steps from the same weights on the same batch: the same losses (bf16: to 2e-2)
    firsts = {k: fn() for k, fn in steps.items()}
    for k in ("fast", "fast_bf16"):
        rtol = 2e-2 if k == "fast_bf16" else 1e-4
        for term, v in firsts["default"].items():
            assert abs(firsts[k][term] - v) <= rtol * max(1.0, abs(v)), (k, term, firsts[k][term], v)
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(STEP_ROUNDS[preset]):
        for k, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    benchmark.pedantic(steps["fast_bf16"], rounds=1, iterations=1)
    for k, v in med.items():
        benchmark.extra_info[f"{k}_s"] = v
        benchmark.extra_info[f"{k}_speedup"] = med["reference"] / v
        benchmark.extra_info[f"{k}_vs_published"] = med["published"] / v

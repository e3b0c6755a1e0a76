"""The shared training loop: sampling, budgets, callbacks and the non-finite guard."""
from __future__ import annotations

import pytest
import torch

from sgkit.datasets import ShapesWorld
from sgkit.models import NonFiniteError, SG2Im, SG2ImConfig, Trainer
from sgkit.models.trainer import backward_step, check_finite


def _collect(trainer: Trainer, n: int) -> list[list[int]]:
    seen: list[list[int]] = []
    trainer.run(n, lambda idx, step: seen.append(idx) or {"total": 0.0})
    return seen


def test_steps_walk_permutations_across_epochs() -> None:
    gen = torch.Generator().manual_seed(0)
    batches = _collect(Trainer(steps=5, batch_size=4, generator=gen, progress=False), 10)
    flat = [i for b in batches for i in b]
    assert [len(b) for b in batches] == [4] * 5
    assert sorted(flat[:10]) == list(range(10))  # the first 10 draws are one permutation
    ref = torch.Generator().manual_seed(0)
    assert flat[:10] == torch.randperm(10, generator=ref).tolist()


def test_epochs_cover_every_item_once_per_epoch() -> None:
    started: list[int] = []
    trainer = Trainer(epochs=3, batch_size=4, generator=torch.Generator().manual_seed(1), progress=False,
                      on_epoch_start=started.append)
    batches = _collect(trainer, 10)
    assert started == [0, 1, 2] and [len(b) for b in batches] == [4, 4, 2] * 3
    for e in range(3):
        assert sorted(i for b in batches[3 * e:3 * e + 3] for i in b) == list(range(10))


def test_replacement_and_argument_checks() -> None:
    batches = _collect(Trainer(steps=50, batch_size=3, generator=torch.Generator().manual_seed(2),
                               replacement=True, progress=False), 4)
    assert any(len(set(b)) < 3 for b in batches)  # repeats happen with replacement
    with pytest.raises(ValueError, match="give exactly one of steps and epochs"):
        Trainer(steps=1, epochs=1, batch_size=1, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"batch_size must be a positive int, got batch_size=0"):
        Trainer(steps=1, batch_size=0, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"time_budget must be a positive number of seconds"):
        Trainer(steps=1, batch_size=1, generator=torch.Generator(), time_budget=-1)


def test_non_finite_step_raises_with_step_or_is_skipped() -> None:
    def step_fn(idx, step):
        if step == 3:
            raise NonFiniteError("loss term 'image_l1' is nan")
        return {"total": 1.0}

    with pytest.raises(NonFiniteError, match=r"train step 3: loss term 'image_l1' is nan"):
        Trainer(steps=5, batch_size=1, generator=torch.Generator(), progress=False).run(2, step_fn)
    res = Trainer(steps=5, batch_size=1, generator=torch.Generator(), progress=False,
                  skip_nonfinite=True).run(2, step_fn)
    assert (res.steps, res.skipped) == (4, 1)


def test_backward_step_checks_before_changing_weights() -> None:
    lin = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    before = [p.detach().clone() for p in lin.parameters()]
    x = torch.tensor([[1.0, float("nan")]])
    loss = lin(x).sum()
    with pytest.raises(NonFiniteError, match="loss term 'mse' is nan"):
        backward_step(loss, {"mse": loss}, [opt], module=lin)
    finite = (lin.weight * torch.tensor([[1.0, 0.0]])).sum() * torch.tensor(float("inf"))
    with pytest.raises(NonFiniteError):
        backward_step(finite, {"x": finite}, [opt], module=lin)
    assert all(torch.equal(a, b) for a, b in zip(before, lin.parameters()))
    check_finite({"a": torch.tensor(1.0)})  # finite terms pass


def test_time_budget_stops_and_says_so() -> None:
    import time

    res = Trainer(steps=1000, batch_size=1, generator=torch.Generator(), progress=False,
                  time_budget=0.05).run(3, lambda idx, step: time.sleep(0.01) or {"total": 0.0})
    assert res.stopped == "time_budget" and 1 <= res.steps < 1000


def _tiny_config() -> SG2ImConfig:
    return SG2ImConfig(
        num_objects=36, num_predicates=6, image_size=32, embedding_dim=16, gconv_dim=16,
        gconv_hidden_dim=32, gconv_layers=2, head_hidden_dim=16, mask_size=16, layout_noise_dim=2,
        decoder_dims=(16, 8, 8), d_img_dims=(8, 16), d_obj_dims=(8, 16), crop_size=8, lr=2e-3)


def test_nan_pixel_stops_training_and_keeps_the_last_good_checkpoint(tmp_path) -> None:
    ds = ShapesWorld(6, seed=1, progress=False)
    scenes = [ds[i] for i in range(len(ds))]
    model = SG2Im(_tiny_config(), seed=0)
    ck = tmp_path / "ck.pt"
    model.fit(scenes, steps=2, batch_size=2, progress=False, checkpoint_path=ck)
    good = ck.read_bytes()
    weights = {k: v.detach().clone() for k, v in model.named_parameters()}
    poisoned = scenes[0].clone()
    poisoned.image = poisoned.image.clone()
    poisoned.image[0, 3, 3] = float("nan")
    # validate() refuses the NaN pixel at the boundary, naming the graph
    with pytest.raises(ValueError, match=r"scenes\[0\]: image: contains non-finite values"):
        model.fit([poisoned] + scenes[1:], steps=2, batch_size=2, progress=False, checkpoint_path=ck)
    # a NaN that appears inside training (here: through the batch after validation) stops the step
    model.collate = lambda graphs: _poison(SG2Im.collate(model, graphs))  # type: ignore[method-assign]
    with pytest.raises(NonFiniteError, match=r"SG2Im-crn step 1: loss term 'image_l1' is nan"):
        model.fit(scenes, steps=3, batch_size=2, progress=False, checkpoint_path=ck, checkpoint_every=1)
    assert ck.read_bytes() == good
    for k, v in model.named_parameters():  # no weight changed (batch-norm statistics may have)
        assert torch.equal(v, weights[k]), k
    model.fit(scenes, steps=3, batch_size=2, progress=False, skip_nonfinite=True)
    assert model.skipped_steps == 3


def _poison(batch):
    batch.images = batch.images.clone()
    batch.images[0, 0, 0, 0] = float("nan")
    return batch


@pytest.mark.parametrize("decoder", ["crn", "spade"])
def test_step_options_keep_the_losses_of_the_reference_step(decoder: str) -> None:
    from dataclasses import replace

    ds = ShapesWorld(4, seed=2, progress=False)
    scenes = [ds[i] for i in range(4)]
    cfg = _tiny_config()
    if decoder == "spade":  # feature matching on: the real-image pass is shared with the D step
        cfg = replace(cfg, decoder="spade", d_num_scales=2, gan_mode="hinge", feature_matching_weight=1.0,
                      spade_hidden_dim=8)
    ref = SG2Im(cfg, seed=3)
    fast = SG2Im(cfg, seed=3).set_step_options(channels_last=True, reuse_real_features=True)
    batch = ref.collate(scenes)
    a = ref.train_step(batch)
    b = fast.train_step(batch)
    assert set(a) == set(b)
    for k in a:
        assert abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])), k


@pytest.mark.parametrize("decoder", ["crn", "spade"])
def test_fused_decoder_and_grid_sample_crops_keep_the_losses(decoder: str) -> None:
    """The fp32 speed options together: the first step's losses equal the default step's to 1e-4;
    the next ones drift with the rounding differences (as with the other options alone), to 1e-3."""
    from dataclasses import replace

    ds = ShapesWorld(4, seed=2, progress=False)
    scenes = [ds[i] for i in range(4)]
    cfg = _tiny_config()
    if decoder == "spade":
        cfg = replace(cfg, decoder="spade", d_num_scales=2, gan_mode="hinge", feature_matching_weight=1.0,
                      spade_hidden_dim=8)
    ref = SG2Im(cfg, seed=3)
    fast = SG2Im(cfg, seed=3).set_step_options(fused_adam=True, channels_last=True, reuse_real_features=True,
                                               fused_decoder=True, grid_sample_crops=True)
    assert fast.obj_discriminator.crop_method == "auto"
    assert fast.generator.decoder.fused is True
    batch = ref.collate(scenes)
    for step in range(3):
        a = ref.train_step(batch)
        b = fast.train_step(batch)
        assert set(a) == set(b)
        for k in a:
            rtol = 1e-4 if step == 0 else 1e-3
            assert abs(a[k] - b[k]) <= rtol * max(1.0, abs(a[k])), (step, k, a[k], b[k])
    fast.set_step_options(fused_adam=True)
    assert fast.obj_discriminator.crop_method == "roi_align"
    assert getattr(fast.generator.decoder, "fused", False) is False

import subprocess
import sys

import pytest
import torch

from sgkit.datasets import ShapesWorld
from sgkit.models import MIGS, MIGS_VARIANTS, SG2Im, SG2ImConfig
from sgkit.models.migs import NETWORKS


def tiny_config(**kw) -> SG2ImConfig:
    base = dict(
        decoder="crn", image_size=16, embedding_dim=8, gconv_dim=8, gconv_hidden_dim=16,
        gconv_layers=1, head_hidden_dim=8, mask_size=8, layout_noise_dim=2,
        decoder_dims=(8, 8), d_img_dims=(8, 8), d_obj_dims=(8, 8), crop_size=8, mask_weight=1.0, lr=2e-3,
    )
    base.update(kw)
    return SG2ImConfig(num_objects=36, num_predicates=6, **base)


@pytest.fixture(scope="module")
def tasks() -> dict:
    ds = ShapesWorld(18, image_size=16, mask_size=8, seed=5, progress=False)
    g = [ds[i] for i in range(len(ds))]
    return {"a": g[:6], "b": g[6:12], "c": g[12:]}


def float_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def perturbed_states(meta: MIGS, scales: list) -> list:
    """Inner states = meta state + scale * (a fixed pattern); integer buffers set to 7 + l."""
    out = []
    for l, s in enumerate(scales):
        states = {}
        for name in NETWORKS:
            st = {}
            for k, v in getattr(meta, name).state_dict().items():
                if torch.is_floating_point(v):
                    pattern = torch.linspace(-1, 1, v.numel()).view_as(v)
                    st[k] = v + s * pattern
                else:
                    st[k] = torch.full_like(v, 7 + l)
            states[name] = st
        out.append(states)
    return out


@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_outer_update_matches_hand_computation_with_buffers_averaged(beta):
    meta = MIGS(tiny_config(), seed=0, tasks_per_step=3)
    before = {n: float_state(getattr(meta, n)) for n in NETWORKS}
    states = perturbed_states(meta, [0.1, -0.4, 0.9])
    meta.outer_update(states, beta)
    mean_scale = (0.1 - 0.4 + 0.9) / 3
    checked_buffers = 0
    for name in NETWORKS:
        after = getattr(meta, name).state_dict()
        for k, v0 in before[name].items():
            if torch.is_floating_point(v0):
                pattern = torch.linspace(-1, 1, v0.numel()).view_as(v0)
                # theta + beta * (1/L) sum_l (theta_l - theta) = theta + beta * mean_scale * pattern
                expected = v0 + beta * mean_scale * pattern
                torch.testing.assert_close(after[k], expected, rtol=1e-5, atol=1e-6)
                checked_buffers += "running_mean" in k or "running_var" in k
            else:  # integer buffers come from the last inner model
                assert int(after[k].flatten()[0]) == 9, k
    assert checked_buffers > 0  # the model has batch-norm statistics and they were interpolated


def test_published_outer_step_copies_the_inner_model():
    meta = MIGS.variant("published", tiny_config(), seed=0)
    states = perturbed_states(meta, [0.25])
    meta.outer_update(states, meta.meta_lr_at(0, 10))
    for name in NETWORKS:
        after = getattr(meta, name).state_dict()
        for k, v in states[0][name].items():
            assert torch.equal(after[k], v), (name, k)


def test_last_buffers_mode_interpolates_parameters_only():
    meta = MIGS(tiny_config(), seed=0, meta_buffers="last")
    before = {n: float_state(getattr(meta, n)) for n in NETWORKS}
    states = perturbed_states(meta, [0.2, 0.6])
    meta.outer_update(states, 0.5)
    for name in NETWORKS:
        net = getattr(meta, name)
        params = {k for k, _ in net.named_parameters()}
        after = net.state_dict()
        for k, v0 in before[name].items():
            if k in params:
                pattern = torch.linspace(-1, 1, v0.numel()).view_as(v0)
                torch.testing.assert_close(after[k], v0 + 0.5 * 0.4 * pattern, rtol=1e-5, atol=1e-6)
            else:
                assert torch.equal(after[k], states[-1][name][k]), k


@pytest.mark.parametrize("variant,beta,num_tasks", [("published", 1.0, 1), ("reptile", 0.5, 2)])
def test_meta_step_equals_hand_reptile_on_real_inner_runs(tasks, variant, beta, num_tasks):
    kw = dict(inner_steps=2, batch_size=3, tasks_per_step=num_tasks)
    hand_model = MIGS.variant(variant, tiny_config(), seed=1, reset_inner_optimizer=True, **kw)
    model = MIGS.variant(variant, tiny_config(), seed=1, reset_inner_optimizer=True, **kw)
    chosen = [tasks["a"], tasks["c"]][:num_tasks]
    theta = {n: float_state(getattr(hand_model, n)) for n in NETWORKS}
    inner = [hand_model.inner_adapt(t, seed=11 + j) for j, t in enumerate(chosen)]
    model.meta_step(chosen, beta, seed=11)
    moved = 0
    for name in NETWORKS:
        after = getattr(model, name).state_dict()
        for k, v0 in theta[name].items():
            if not torch.is_floating_point(v0):
                assert torch.equal(after[k], inner[-1][name][k])
                continue
            expected = v0 + beta * sum(s[name][k] - v0 for s in inner) / len(inner)
            torch.testing.assert_close(after[k], expected, rtol=1e-5, atol=1e-6)
            moved += not torch.equal(after[k], v0)
    assert moved > 0


def test_batch_norm_statistics_follow_training_and_are_not_reset(tasks):
    model = MIGS.variant("published", tiny_config(), seed=0, inner_steps=2, batch_size=3)
    bn = [k for k in model.generator.state_dict() if k.endswith("running_mean")]
    assert bn
    initial = {k: model.generator.state_dict()[k].clone() for k in bn}
    model.meta_train(tasks, outer_steps=2, seed=0, progress=False)
    inner = model.inner_model.generator.state_dict()
    for k in bn:  # beta = 1, L = 1: the meta statistics are the last inner run's, not the initial zeros
        assert torch.equal(model.generator.state_dict()[k], inner[k])
        assert not torch.equal(model.generator.state_dict()[k], initial[k])
    # the next inner run starts from them
    model.inner_model.load_state_dict(model.state_dict())
    assert torch.equal(model.inner_model.generator.state_dict()[bn[0]], model.generator.state_dict()[bn[0]])


def test_every_task_is_sampled_including_the_last(tasks):
    model = MIGS(tiny_config(), seed=0, inner_steps=1, batch_size=2, tasks_per_step=1)
    model.meta_train(tasks, outer_steps=3, seed=4, progress=False)
    assert sorted(t for h in model.meta_history for t in h["tasks"]) == ["a", "b", "c"]
    two = MIGS(tiny_config(), seed=0, inner_steps=1, batch_size=2, tasks_per_step=2)
    two.meta_train({"x": tasks["a"], "last": tasks["b"]}, outer_steps=1, seed=0, progress=False)
    assert sorted(two.meta_history[0]["tasks"]) == ["last", "x"]
    assert two.generator_updates == 2


def test_meta_lr_schedule_of_the_variants(tasks):
    reptile = MIGS.variant("reptile", tiny_config(), seed=0, inner_steps=1, batch_size=2, tasks_per_step=2)
    assert reptile.meta_lr_at(0, 5) == pytest.approx(1.0) and reptile.meta_lr_at(4, 5) == pytest.approx(0.1)
    assert reptile.meta_lr_at(2, 5) == pytest.approx(0.55)
    reptile.meta_train(tasks, outer_steps=3, seed=0, progress=False)
    assert [h["meta_lr"] for h in reptile.meta_history] == pytest.approx([1.0, 0.55, 0.1])
    assert reptile.reset_inner_optimizer and MIGS_VARIANTS["reptile"]["tasks_per_step"] == 4
    published = MIGS.variant("reference", tiny_config(), seed=0)
    assert published.settings() == MIGS.variant("published", tiny_config(), seed=0).settings()
    assert published.meta_lr_at(7, 9) == 1.0 and published.tasks_per_step == 1
    assert published.reset_inner_optimizer is False


def test_inner_optimizer_state_persists_only_when_asked(tasks):
    keep = MIGS(tiny_config(), seed=0, inner_steps=1, batch_size=2, reset_inner_optimizer=False)
    keep.meta_train(tasks, outer_steps=2, seed=0, progress=False)
    opt = keep.inner_model._optimizers["generator"]
    assert max(int(s["step"]) for s in opt.state.values()) == 2  # one Adam across both outer steps
    fresh = MIGS(tiny_config(), seed=0, inner_steps=1, batch_size=2, reset_inner_optimizer=True)
    fresh.meta_train(tasks, outer_steps=2, seed=0, progress=False)
    opt = fresh.inner_model._optimizers["generator"]
    assert max(int(s["step"]) for s in opt.state.values()) == 1


def test_adapt_returns_a_fine_tuned_sg2im_and_leaves_the_meta_model_alone(tasks):
    model = MIGS(tiny_config(), seed=0, inner_steps=1, batch_size=2)
    model.meta_train(tasks, outer_steps=1, seed=0, progress=False)
    before = float_state(model)
    history = [dict(h) for h in model.meta_history]
    adapted = model.adapt(tasks["b"][:3], steps=2, batch_size=2, seed=0)
    assert type(adapted) is SG2Im
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model.meta_history == history
    changed = [k for k, v in adapted.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("generator.") for k in changed)


def test_meta_training_is_deterministic_under_a_seed(tasks):
    def run(seed):
        m = MIGS.variant("reptile", tiny_config(), seed=0, inner_steps=1, batch_size=2, tasks_per_step=2)
        m.meta_train(tasks, outer_steps=2, seed=seed, progress=False)
        return m

    a, b, c = run(3), run(3), run(4)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())
    assert [h["tasks"] for h in a.meta_history] == [h["tasks"] for h in b.meta_history]


def test_checkpoint_round_trip_keeps_settings_and_history(tasks, tmp_path):
    model = MIGS.variant("reptile", tiny_config(), seed=0, inner_steps=1, batch_size=2, tasks_per_step=2)
    model.meta_train(tasks, outer_steps=1, seed=0, progress=False)
    path = model.save(tmp_path / "migs.pt")
    loaded = MIGS.load(path)
    assert loaded.settings() == model.settings()
    assert loaded.meta_history == model.meta_history
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


def test_bad_settings_and_inputs_name_the_argument(tasks):
    with pytest.raises(ValueError, match="inner_steps must be a positive int, got inner_steps=0"):
        MIGS(tiny_config(), inner_steps=0)
    with pytest.raises(ValueError, match="meta_lr must be a positive finite number"):
        MIGS(tiny_config(), meta_lr=float("nan"))
    with pytest.raises(ValueError, match="meta_buffers must be 'average' or 'last', got meta_buffers='reset'"):
        MIGS(tiny_config(), meta_buffers="reset")
    with pytest.raises(ValueError, match="variant must be one of .* got variant='maml'"):
        MIGS.variant("maml", tiny_config())
    model = MIGS(tiny_config(), tasks_per_step=4, inner_steps=1)
    with pytest.raises(ValueError, match="tasks_per_step=4 exceeds the 3 training tasks"):
        model.meta_train(tasks, outer_steps=1, progress=False)
    with pytest.raises(ValueError, match="tasks must hold at least one training task"):
        model.meta_train({}, outer_steps=1, progress=False)
    with pytest.raises(ValueError, match="inner_states must hold the state of at least one task"):
        model.outer_update([], 1.0)


def test_importing_sgkit_does_not_import_fedkit():
    code = "import sys, sgkit, sgkit.models, sgkit.models.migs; print(any(m.startswith('fedkit') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

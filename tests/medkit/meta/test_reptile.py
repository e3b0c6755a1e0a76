"""The MetaMedSeg update rule: hand-computed values, the shared fedkit weighting, no reference defects."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fedkit.aggregation import flatten_params, inverse_distance_weights
from medkit.datasets.organs import OrganVolumes
from medkit.meta.reptile import Reptile, reptile_update, reptile_weights
from medkit.meta.tasks import Task, TaskSampler

THETA = torch.tensor([0.0, 0.0])
TASKS = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # squared distances 1, 4, 2


def test_idw_weights_are_normalised_inverse_squared_distances() -> None:
    w = reptile_weights(THETA, TASKS, "idw", eps=1e-12)
    expected = torch.tensor([1.0, 1 / 4, 1 / 2]) / 1.75  # = [4/7, 1/7, 2/7]
    torch.testing.assert_close(w, expected)
    # the shared fedkit implementation, squared Euclidean distance to the meta-parameters
    torch.testing.assert_close(w, inverse_distance_weights(TASKS, THETA, metric="sqeuclidean", eps=1e-12))
    # NOT the reference code's (1 - w) / sum(1 - w) of normalised distances
    d = torch.tensor([1.0, 4.0, 2.0])
    wd = d / d.sum()
    defective = (1 - wd) / (1 - wd).sum()  # [3/7, 3/14, 5/14]
    assert not torch.allclose(w, defective, atol=1e-3)
    # a task equal to the meta-model dominates
    w0 = reptile_weights(THETA, torch.tensor([[0.0, 0.0], [1.0, 1.0]]), "idw")
    assert w0[0] > 0.999


def test_aw_weights_are_uniform() -> None:
    torch.testing.assert_close(reptile_weights(THETA, TASKS, "aw"), torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match="rule"):
        reptile_weights(THETA, TASKS, "inverse")


def test_update_equals_formula_hand_computed() -> None:
    theta = torch.tensor([1.0, -1.0])
    tasks = torch.tensor([[2.0, -1.0], [1.0, 1.0], [3.0, 0.0]])
    # AW, beta = 0.5: mean delta = ([1,0] + [0,2] + [2,1]) / 3 = [1, 1]
    torch.testing.assert_close(reptile_update(theta, tasks, rule="aw", beta=0.5), torch.tensor([1.5, -0.5]))
    # IDW: squared distances 1, 4, 5 -> w = [1, 1/4, 1/5] / 1.45
    w = torch.tensor([1.0, 0.25, 0.2]) / 1.45
    delta = w[0] * torch.tensor([1.0, 0.0]) + w[1] * torch.tensor([0.0, 2.0]) + w[2] * torch.tensor([2.0, 1.0])
    expected = theta + 0.3 * delta
    got = reptile_update(theta, tasks, rule="idw", beta=0.3, eps=1e-12)
    torch.testing.assert_close(got, expected)
    # hand value: delta = [(1 + 0.4) / 1.45, (0.5 + 0.2) / 1.45]
    torch.testing.assert_close(got, torch.tensor([1.0 + 0.3 * 1.4 / 1.45, -1.0 + 0.3 * 0.7 / 1.45]))
    # the reference code's defect (running sum multiplied by every later weight) differs
    running = torch.zeros(2)
    for k in range(3):
        running = (running + (tasks[k] - theta)) * w[k]
    assert not torch.allclose(theta + 0.3 * running, expected, atol=1e-3)


def _toy_sets() -> list[OrganVolumes]:
    g = torch.Generator().manual_seed(0)
    sets = []
    for name in ("a", "b"):
        vols = []
        for _ in range(2):
            img = torch.randn(4, 6, 6, generator=g)
            vols.append((img, (img > 0.3).long()))
        sets.append(OrganVolumes(name, name, vols))
    return sets


def _mse_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    return ((logits[:, 0] - masks.float()) ** 2).mean()


@pytest.mark.parametrize("rule", ["aw", "idw"])
def test_meta_step_on_toy_model_equals_formula(rule: str) -> None:
    """One inner SGD step per task: theta_l = theta - lr * grad, computed independently."""
    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 1)
    theta0 = flatten_params(model).clone()
    sampler = TaskSampler(_toy_sets(), shots=3, seed=0)
    tasks: list[Task] = sampler.sample(2)
    lr, beta = 0.1, 0.7
    meta = Reptile(model, rule=rule, beta=beta, inner_steps=1, inner_lr=lr, optimizer="sgd", loss=_mse_loss)
    expected_tasks = []
    for task in tasks:
        w = theta0[0].clone().requires_grad_(True)
        b = theta0[1].clone().requires_grad_(True)
        loss = ((w * task.support_images[:, 0] + b - task.support_masks.float()) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, (w, b))
        expected_tasks.append(torch.stack([w - lr * gw, b - lr * gb]).detach())
    tp = torch.stack(expected_tasks)
    d = ((tp - theta0) ** 2).sum(1)
    weights = torch.full((2,), 0.5) if rule == "aw" else (1 / d) / (1 / d).sum()
    expected = theta0 + beta * (weights[:, None] * (tp - theta0)).sum(0)
    stats = meta.meta_step(tasks)
    torch.testing.assert_close(flatten_params(model), expected, rtol=1e-5, atol=1e-6)
    assert stats["beta"] == beta
    assert stats["w_max"] == pytest.approx(float(weights.max()), rel=1e-4)


def test_fit_history_beta_schedule_and_progress() -> None:
    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 3, padding=1)
    before = copy.deepcopy(model.state_dict())
    meta = Reptile(model, rule="idw", beta=1.0, beta_final=0.2, inner_steps=2, tasks_per_epoch=3)
    hist = meta.fit(TaskSampler(_toy_sets(), shots=3, seed=1), meta_epochs=3, progress=False)
    assert [h["beta"] for h in hist] == pytest.approx([1.0, 0.6, 0.2])
    assert len(meta.history) == 3 and all(0 < h["w_max"] <= 1 for h in hist)
    assert not torch.equal(before["weight"], model.state_dict()["weight"])
    assert "rule='idw'" in repr(meta)


def test_default_loss_follows_the_model_channels() -> None:
    from medkit.losses import BCEIoULoss, DiceCELoss
    from medkit.nn import UNet

    two = Reptile(UNet(1, 2, base_channels=2, depth=1, norm="instance"), inner_steps=1, tasks_per_epoch=2)
    assert isinstance(two.loss, DiceCELoss)
    assert isinstance(Reptile(nn.Conv2d(1, 1, 1)).loss, BCEIoULoss)
    hist = two.fit(TaskSampler(_toy_sets(), shots=2, seed=0), meta_epochs=1, progress=False)
    assert 0.0 <= hist[0]["query_iou"] <= 1.0


def test_reptile_validation() -> None:
    model = nn.Conv2d(1, 1, 1)
    with pytest.raises(ValueError, match="rule"):
        Reptile(model, rule="weighted")
    with pytest.raises(ValueError, match="inner_steps"):
        Reptile(model, inner_steps=0)
    with pytest.raises(ValueError, match="optimizer"):
        Reptile(model, optimizer="lbfgs")
    with pytest.raises(ValueError, match="meta_epochs"):
        Reptile(model).fit(TaskSampler(_toy_sets(), shots=2), 0)


def test_inner_step_decay_follows_steplr() -> None:
    """``inner_gamma`` multiplies the inner learning rate every ``inner_step_size`` inner epochs."""
    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 1)
    task = TaskSampler(_toy_sets(), shots=3, seed=0).sample(1)[0]

    def adapted(steps: int, gamma: float, step_size: int) -> torch.Tensor:
        meta = Reptile(
            copy.deepcopy(model), inner_steps=steps, inner_lr=0.1, optimizer="sgd", loss=_mse_loss,
            inner_gamma=gamma, inner_step_size=step_size,
        )
        return meta.adapt(task)[0]

    # a vanishing gamma freezes the learner after the first decay
    torch.testing.assert_close(adapted(3, 1e-9, 1), adapted(1, 1.0, 2), rtol=0, atol=1e-6)
    torch.testing.assert_close(adapted(3, 1e-9, 2), adapted(2, 1.0, 2), rtol=0, atol=1e-6)
    assert not torch.allclose(adapted(3, 1.0, 1), adapted(1, 1.0, 1), atol=1e-4)
    # the default keeps the learning rate constant
    assert Reptile(nn.Conv2d(1, 1, 1)).inner_gamma == 1.0


def test_inner_decay_validation() -> None:
    model = nn.Conv2d(1, 1, 1)
    with pytest.raises(ValueError, match="inner_gamma"):
        Reptile(model, inner_gamma=0.0)
    with pytest.raises(ValueError, match="inner_gamma"):
        Reptile(model, inner_gamma=1.5)
    with pytest.raises(ValueError, match="inner_step_size"):
        Reptile(model, inner_step_size=0)

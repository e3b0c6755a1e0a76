"""MetaMedSeg meta-update: one flattened weighted update (fedkit.server_update) vs a per-tensor loop.

Both compute ``theta + beta * sum_l w_l (theta_l - theta)`` with IDW weights for L = 5 task models
of a U-Net (base 16, depth 4, about 7.8M parameters); the baseline loops over the state-dict
tensors as the reference code does (with the weighting done correctly).
"""
from __future__ import annotations

import pytest
import torch

from fedkit.aggregation import flatten_params
from medkit.meta.reptile import reptile_update
from medkit.nn import UNet

L = 5


@pytest.fixture(scope="module")
def states() -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    torch.manual_seed(0)
    net = UNet(1, 1, base_channels=16, depth=4, norm="instance")
    theta = {k: v.detach().clone() for k, v in net.state_dict().items()}
    tasks = [{k: v + 0.01 * (i + 1) * torch.randn_like(v) for k, v in theta.items()} for i in range(L)]
    return theta, tasks


def _loop_update(theta: dict[str, torch.Tensor], tasks: list[dict[str, torch.Tensor]], beta: float) -> dict[str, torch.Tensor]:
    dist = torch.stack([sum(((t[k] - theta[k]) ** 2).sum() for k in theta) for t in tasks])
    w = (1 / dist) / (1 / dist).sum()
    return {k: theta[k] + beta * sum(w[i] * (tasks[i][k] - theta[k]) for i in range(L)) for k in theta}


def _flat_update(theta: dict[str, torch.Tensor], tasks: list[dict[str, torch.Tensor]], beta: float) -> torch.Tensor:
    t = flatten_params(theta)
    return reptile_update(t, torch.stack([flatten_params(s) for s in tasks]), rule="idw", beta=beta, eps=1e-30)


def test_agree(states) -> None:
    theta, tasks = states
    flat = _flat_update(theta, tasks, 0.5)
    loop = flatten_params(_loop_update(theta, tasks, 0.5))
    torch.testing.assert_close(flat, loop, rtol=1e-4, atol=1e-6)


@pytest.mark.benchmark(group="metamedseg-idw-update")
def test_flattened_server_update(benchmark, states) -> None:
    theta, tasks = states
    benchmark(_flat_update, theta, tasks, 0.5)


@pytest.mark.benchmark(group="metamedseg-idw-update")
def test_per_tensor_loop_baseline(benchmark, states) -> None:
    theta, tasks = states
    benchmark(_loop_update, theta, tasks, 0.5)

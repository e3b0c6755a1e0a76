"""MetaMedSeg meta-update: the flattened weighted update (fedkit.server_update) vs a per-tensor loop.

Both compute ``theta + beta * sum_l w_l (theta_l - theta)`` with IDW weights for L = 5 task models
of a U-Net (base 16, depth 4, about 1.9M parameters) and start from the task models' state dicts,
as :class:`medkit.meta.Reptile` does after adapting to each task. Contenders:

* ``test_per_tensor_loop_baseline``: loops over the state-dict tensors as the reference code does
  (with the weighting done correctly);
* ``test_flattened_update``: what :meth:`medkit.meta.Reptile.meta_step` runs: every task model
  flattened into a row of one ``[L, P]`` matrix that is reused across meta-epochs
  (``flatten_params(..., out=row)``), then :func:`medkit.meta.reptile_update` (IDW weights and
  the one fused ``server_update``);
* ``test_flattened_update_fresh_stack``: the same with a fresh ``torch.stack`` of freshly
  flattened rows every call (the earlier implementation: the allocation of new pages dominates).

``test_ratios`` times all three back to back in one test and reports ``loop / flattened``.
"""
from __future__ import annotations

import time

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


_BUF: dict[str, torch.Tensor] = {}


def _flat_update(theta: dict[str, torch.Tensor], tasks: list[dict[str, torch.Tensor]], beta: float) -> torch.Tensor:
    t = flatten_params(theta)
    buf = _BUF.get("rows")
    if buf is None or buf.shape != (L, t.numel()):
        buf = _BUF["rows"] = torch.empty(L, t.numel())
    for row, s in zip(buf, tasks):
        flatten_params(s, out=row)
    return reptile_update(t, buf, rule="idw", beta=beta, eps=1e-30)


def _flat_update_fresh(theta: dict[str, torch.Tensor], tasks: list[dict[str, torch.Tensor]], beta: float) -> torch.Tensor:
    t = flatten_params(theta)
    return reptile_update(t, torch.stack([flatten_params(s) for s in tasks]), rule="idw", beta=beta, eps=1e-30)


def test_agree(states) -> None:
    theta, tasks = states
    loop = flatten_params(_loop_update(theta, tasks, 0.5))
    torch.testing.assert_close(_flat_update(theta, tasks, 0.5), loop, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(_flat_update_fresh(theta, tasks, 0.5), loop, rtol=1e-4, atol=1e-6)


@pytest.mark.benchmark(group="metamedseg-idw-update")
def test_flattened_update(benchmark, states) -> None:
    theta, tasks = states
    benchmark(_flat_update, theta, tasks, 0.5)


@pytest.mark.benchmark(group="metamedseg-idw-update")
def test_flattened_update_fresh_stack(benchmark, states) -> None:
    theta, tasks = states
    benchmark(_flat_update_fresh, theta, tasks, 0.5)


@pytest.mark.benchmark(group="metamedseg-idw-update")
def test_per_tensor_loop_baseline(benchmark, states) -> None:
    theta, tasks = states
    benchmark(_loop_update, theta, tasks, 0.5)


def _median_s(fn, *args, repeat: int = 15) -> float:
    fn(*args)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


@pytest.mark.benchmark(group="metamedseg-idw-ratios")
def test_ratios(benchmark, states) -> None:
    theta, tasks = states

    def run() -> dict[str, float]:
        fns = {"loop": _loop_update, "flat": _flat_update, "fresh": _flat_update_fresh}
        return {k: _median_s(f, theta, tasks, 0.5) for k, f in fns.items()}

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({f"{k}_s": v for k, v in out.items()})
    benchmark.extra_info["loop_over_flat"] = out["loop"] / out["flat"]
    benchmark.extra_info["loop_over_fresh"] = out["loop"] / out["fresh"]
    print(f"\nMetaMedSeg IDW update (median s): loop {out['loop']:.4f}, flattened {out['flat']:.4f}, "
          f"fresh stack {out['fresh']:.4f}; loop/flattened {out['loop'] / out['flat']:.2f}x, "
          f"loop/fresh {out['loop'] / out['fresh']:.2f}x")

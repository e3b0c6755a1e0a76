"""Rounds per second of the built-in simulator (vectorised, loop, automatic choice) vs Flower.

LeNet-5 on the 5,000 MLX MNIST images split IID among 100 clients (all take part in a round)
or 1,000 clients (10 % take part): 100 local trainings per round, 1 local epoch, batch 32.
Each case runs a few rounds only. Flower's time per round is measured inside its strategy
(``configure_train`` to the end of ``aggregate_train``, Ray start-up excluded); the reported
``rounds_per_s`` of every contender is in ``extra_info``. ``test_builtin_paths`` runs the loop,
the vectorised path and ``vectorized="auto"`` back to back in one test and reports the ratios
``vmap_over_loop`` and ``auto_over_best`` (speed of the automatic choice relative to the faster
of the two paths: 1.0 when it picks the faster one).

Run: ``.venv/bin/python -m pytest benchmarks/test_fedkit.py --benchmark -q``
"""
from __future__ import annotations

import time

import pytest
import torch

from fedkit.datasets import federated_mnist5k
from fedkit.models import LeNet
from fedkit.simulate import Simulator
from fedkit.strategies import FedAvg

ROUNDS = 3
CASES = {100: 1.0, 1000: 0.1}  # clients -> participation
_DATA: dict[int, object] = {}


def _data(m: int):
    if m not in _DATA:
        _DATA[m] = federated_mnist5k("iid", num_clients=m, seed=0)
    return _DATA[m]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return LeNet(1, 10, 28)


def _builtin(m: int, vectorized: bool | str) -> float:
    sim = Simulator(_model(), _data(m), lr=0.05, batch_size=32, vectorized=vectorized, progress=False)
    t = time.perf_counter()
    sim.run(FedAvg(), ROUNDS, participation=CASES[m], eval_every=10**6)
    return ROUNDS / (time.perf_counter() - t)


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_vectorized(benchmark, m):
    benchmark.group = f"fedkit-{m}-clients"
    out = benchmark.pedantic(_builtin, args=(m, True), rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_loop(benchmark, m):
    benchmark.group = f"fedkit-{m}-clients"
    out = benchmark.pedantic(_builtin, args=(m, False), rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_auto(benchmark, m):
    benchmark.group = f"fedkit-{m}-clients"
    out = benchmark.pedantic(_builtin, args=(m, "auto"), rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_paths(benchmark, m):
    benchmark.group = f"fedkit-paths-{m}-clients"

    def run() -> dict[str, float]:
        return {name: _builtin(m, v) for name, v in (("loop", False), ("vmap", True), ("auto", "auto"))}

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    picked = Simulator(_model(), _data(m), batch_size=32, progress=False).vectorized
    benchmark.extra_info.update({f"{k}_rounds_per_s": v for k, v in out.items()})
    benchmark.extra_info["auto_picks"] = "vmap" if picked else "loop"
    benchmark.extra_info["vmap_over_loop"] = out["vmap"] / out["loop"]
    benchmark.extra_info["auto_over_best"] = out["auto"] / max(out["vmap"], out["loop"])
    print(f"\nfedkit {m} clients: rounds/s loop {out['loop']:.3f}, vmap {out['vmap']:.3f}, "
          f"auto ({benchmark.extra_info['auto_picks']}) {out['auto']:.3f}; vmap/loop "
          f"{benchmark.extra_info['vmap_over_loop']:.2f}, auto/best {benchmark.extra_info['auto_over_best']:.2f}")


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_flower_simulation(benchmark, m):
    from fedkit.flower import run_flower_simulation

    benchmark.group = f"fedkit-{m}-clients"
    box: dict = {}

    def run() -> float:
        run_flower_simulation(lambda: LeNet(1, 10, 28), _data(m), FedAvg(), ROUNDS, initial_model=_model(),
                              fraction_train=CASES[m], num_cpus=2, strategy_out=box, lr=0.05, batch_size=32)
        secs = box["strategy"].round_seconds
        return len(secs) / sum(secs.values())

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out

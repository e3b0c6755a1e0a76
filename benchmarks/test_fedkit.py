"""Rounds per second of the built-in simulator (vectorised, loop) vs a Flower simulation.

LeNet-5 on the 5,000 MLX MNIST images split IID among 100 clients (all take part in a round)
or 1,000 clients (10 % take part): 100 local trainings per round, 1 local epoch, batch 32.
Each case runs a few rounds only. Flower's time per round is measured inside its strategy
(``configure_train`` to the end of ``aggregate_train``, Ray start-up excluded); the reported
``rounds_per_s`` of every contender is in ``extra_info``.

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


def _builtin(m: int, vectorized: bool) -> float:
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

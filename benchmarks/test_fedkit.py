"""Rounds per second of the built-in simulator (vectorised, loop, automatic choice) vs Flower.

LeNet-5 on the 5,000 MLX MNIST images split IID among 100 clients (all take part in a round)
or 1,000 clients (10 % take part): 100 local trainings per round, 1 local epoch, batch 32.
Each case runs a few rounds only. Flower's time per round is measured inside its strategy
(``configure_train`` to the end of ``aggregate_train``, Ray start-up excluded); the reported
``rounds_per_s`` of every contender is in ``extra_info``. ``test_builtin_paths`` runs the loop,
the vectorised path and ``vectorized="auto"`` interleaved round by round in one test (one
untimed warm-up round each, then the median of ``PATH_ROUNDS`` rounds, so a change in the
machine's load hits all three alike) and reports the ratios
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
PATH_ROUNDS = 7  # timed rounds of test_builtin_paths, after one untimed warm-up round per path
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
    # the data set is built outside the timed region by each test (_data is cached): the first
    # contender of a case would otherwise pay for partitioning the pool
    sim = Simulator(_model(), _data(m), lr=0.05, batch_size=32, vectorized=vectorized, progress=False)
    t = time.perf_counter()
    sim.run(FedAvg(), ROUNDS, participation=CASES[m], eval_every=10**6)
    return ROUNDS / (time.perf_counter() - t)


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_vectorized(benchmark, m):
    benchmark.group = f"fedkit-{m}-clients"
    _data(m)
    out = benchmark.pedantic(_builtin, args=(m, True), rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_loop(benchmark, m):
    benchmark.group = f"fedkit-{m}-clients"
    _data(m)
    out = benchmark.pedantic(_builtin, args=(m, False), rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_auto(benchmark, m):
    benchmark.group = f"fedkit-{m}-clients"
    _data(m)
    out = benchmark.pedantic(_builtin, args=(m, "auto"), rounds=1, iterations=1)
    benchmark.extra_info["rounds_per_s"] = out


def _round_seconds(m: int, vectorized: bool | str, round_key: int) -> float:
    sim = _SIMS.get((m, vectorized))
    if sim is None:
        sim = _SIMS[(m, vectorized)] = Simulator(_model(), _data(m), lr=0.05, batch_size=32, vectorized=vectorized,
                                                 progress=False)
    t = time.perf_counter()
    sim.run(FedAvg(), 1, participation=CASES[m], eval_every=10**6)
    return time.perf_counter() - t


_SIMS: dict = {}


@pytest.mark.benchmark_case
@pytest.mark.parametrize("m", list(CASES))
def test_builtin_paths(benchmark, m):
    """Loop, vmap and auto interleaved round by round (median of ROUNDS): robust to load changes."""
    benchmark.group = f"fedkit-paths-{m}-clients"
    paths = (("loop", False), ("vmap", True), ("auto", "auto"))
    _data(m)

    for name, v in paths:  # warm-up: first-round allocations, vmap tracing, auto's choice
        _round_seconds(m, v, -1)

    def run() -> dict[str, float]:
        times: dict[str, list[float]] = {name: [] for name, _ in paths}
        for r in range(PATH_ROUNDS):
            for name, v in paths:
                times[name].append(_round_seconds(m, v, r))
        return {name: 1.0 / sorted(ts)[len(ts) // 2] for name, ts in times.items()}

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    picked = _SIMS[(m, "auto")].vectorized
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

"""Scene-graph generation throughput: batched vs one-graph-at-a-time (SceneGraphGen / GraphRNN).

Groups (each compares contenders side by side in the same run; the baseline is the
one-graph-at-a-time use of the same model):

- ``generation-sampling``: ``model.sample(N)`` with all ``N`` graphs advancing together vs
  ``N`` calls of ``model.sample(1)``; ShapesWorld-sized graphs (model briefly fitted on ShapesWorld,
  so it stops after 3-10 nodes like the data).
- ``generation-training``: one training epoch over the same graphs with batches of 64 vs batches
  of a single graph.

``extra_info`` records graphs per second. Run with
``python -m pytest benchmarks/test_generation.py --benchmark -q``.
"""
from __future__ import annotations

import pytest
import torch

from sgkit.datasets import ShapesWorld
from sgkit.models import GraphRNN, SceneGraphGen

N_SAMPLE = 500
N_TRAIN = 256
SIZES = dict(max_nodes=10, hidden_dim=64, num_layers=2, node_embedding_dim=32, mlp_hidden_dim=64)


@pytest.fixture(scope="module")
def graphs():
    return ShapesWorld(N_TRAIN, seed=0, progress=False).graphs()


@pytest.fixture(scope="module")
def models(graphs):
    torch.set_num_threads(1)
    out = {}
    for cls in (SceneGraphGen, GraphRNN):
        m = cls(36, 6, **SIZES)
        m.fit(graphs, epochs=4, batch_size=32, lr=3e-3, progress=False)
        out[cls.__name__] = m
    return out


def _one_at_a_time(model, n):
    gen = torch.Generator().manual_seed(0)
    return [model.sample(1, generator=gen)[0] for _ in range(n)]


@pytest.mark.parametrize("name", ["SceneGraphGen", "GraphRNN"])
@pytest.mark.benchmark(group="generation-sampling")
def test_sample_batched(benchmark, models, name):
    model = models[name]
    out = benchmark.pedantic(
        lambda: model.sample(N_SAMPLE, generator=torch.Generator().manual_seed(0), batch_size=N_SAMPLE),
        rounds=3,
        iterations=1,
    )
    assert len(out) == N_SAMPLE
    benchmark.extra_info["graphs_per_second"] = N_SAMPLE / benchmark.stats.stats.mean
    benchmark.extra_info["mean_nodes"] = sum(int(g["object"].label.numel()) for g in out) / N_SAMPLE


@pytest.mark.parametrize("name", ["SceneGraphGen", "GraphRNN"])
@pytest.mark.benchmark(group="generation-sampling")
def test_sample_one_at_a_time(benchmark, models, name):
    model = models[name]
    out = benchmark.pedantic(lambda: _one_at_a_time(model, N_SAMPLE), rounds=1, iterations=1)
    assert len(out) == N_SAMPLE
    benchmark.extra_info["graphs_per_second"] = N_SAMPLE / benchmark.stats.stats.mean


@pytest.mark.parametrize("batch_size", [64, 1], ids=["batched64", "one_at_a_time"])
@pytest.mark.benchmark(group="generation-training")
def test_train_epoch(benchmark, graphs, batch_size):
    torch.set_num_threads(1)
    model = SceneGraphGen(36, 6, **SIZES)
    benchmark.pedantic(
        lambda: model.fit(graphs, epochs=1, batch_size=batch_size, progress=False), rounds=1, iterations=1
    )
    benchmark.extra_info["graphs_per_second"] = len(graphs) / benchmark.stats.stats.mean

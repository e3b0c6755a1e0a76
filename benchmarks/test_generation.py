"""Scene-graph generation throughput: batched vs one-graph-at-a-time (SceneGraphGen / GraphRNN).

Groups (each compares contenders side by side in the same run; the baseline is the
one-graph-at-a-time use of the same model):

- ``generation-sampling``: ``model.sample(N)`` with all ``N`` graphs advancing together vs
  ``N`` calls of ``model.sample(1)``; ShapesWorld-sized graphs (model briefly fitted on ShapesWorld,
  so it stops after 3-10 nodes like the data).
- ``generation-training``: one training epoch over the same graphs with batches of 64 vs batches
  of a single graph.
- ``generation-training-vg``: training throughput at the thesis sizes (embeddings 64/8, 4-layer
  GRUs of 128, batch 256) on VG-like graphs (150 categories, 50 predicates, 3-25 nodes):
  ``model.fit`` (all graphs of a batch and all edge sequences of a graph together, packed steps)
  vs ``_reference_epoch``, a plain one-graph-at-a-time implementation of the same model written
  here for comparison only (history GRUs over one graph, then the edge GRUs node by node, one
  backward pass per graph, one Adam step per 256 graphs), and vs ``published``: the execution
  strategy of the published SceneGraphGen / GraphRNN code (``benchmarks/published_sgg.py``:
  graphs padded to ``max_nodes``, ``nn.GRU`` over packed node sequences, edge GRUs over the whole
  padded width). Tests check that all three compute the same loss. ``test_train_vg_vs_published``
  times ``model.fit`` and the published strategy in alternation (three epochs each after a warm-up
  epoch, medians) with one and with two torch threads; the one-graph-at-a-time epoch runs once,
  on one thread.

``extra_info`` records graphs per second. Run with
``python -m pytest benchmarks/test_generation.py --benchmark -q``.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as Fn
from published_sgg import published_batch, published_epoch, published_nll, train_epoch

from sgkit.data import encode_graph
from sgkit.datasets import ShapesWorld, vg_like_graphs
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


# ----------------------------------------------------------------------------- VG-like, thesis sizes
N_VG = 512
VG_BATCH = 256
THESIS = dict(max_nodes=25, node_embedding_dim=64, edge_embedding_dim=8, hidden_dim=128, num_layers=4)


@pytest.fixture(scope="module")
def vg_graphs():
    return vg_like_graphs(N_VG, seed=0)


def _tokens(model, seq):
    """Edge-token matrices (predicate id or "no edge") of one sequence."""
    tok = model.tokens
    return [torch.where(m == 0, torch.full_like(m, tok.no_edge), m - 1) for m in (seq.to_edges, seq.from_edges)]


def _reference_nll(model, seq):
    """-log p(sequence) without the first-node prior, one graph, edge GRUs run node by node."""
    tok, n = model.tokens, seq.num_nodes
    nodes = seq.nodes
    to, frm = _tokens(model, seq)
    width = model.width
    row_to = torch.full((n, width), tok.edge_pad, dtype=torch.long)
    row_from = torch.full((n, width), tok.edge_pad, dtype=torch.long)
    for i in range(1, n):
        row_to[i, :i] = to[i, :i]
        row_from[i, :i] = frm[i, :i]
    emb_n, emb_e = model.node_embedding, model.edge_embedding
    x = torch.cat([emb_n(nodes), emb_e(row_to).flatten(1), emb_e(row_from).flatten(1)], 1).unsqueeze(0)
    rnn = isinstance(model, GraphRNN)
    if rnn:
        hist, _ = model.graph_history(x, None)
        node_state = to_state = from_state = hist[0]
    else:
        node_state = model.node_history(x, None)[0][0]
        to_state = model.to_history(x, None)[0][0]
        from_state = model.from_history(x, None)[0][0]
    logp = model._node_log_probs(model.node_mlp(node_state), torch.arange(n))
    target = torch.cat([nodes[1:], torch.tensor([tok.node_eos])])
    nll = -logp.gather(1, target[:, None]).sum()
    sos = torch.tensor([tok.edge_sos])
    for i in range(1, n):
        prev_to = torch.cat([sos, to[i, : i - 1]])
        prev_from = torch.cat([sos, frm[i, : i - 1]])
        if rnn:
            h = model._init_state(model.edge_init, to_state[i - 1 : i])
            out, _ = model.edge_gru(torch.cat([emb_e(prev_to), emb_e(prev_from)], 1).unsqueeze(0), h)
            out_to = out_from = out[0]
        else:
            base = torch.cat([emb_e(prev_to), emb_e(prev_from), emb_n(nodes[i]).expand(i, -1), emb_n(nodes[:i])], 1)
            h_to = model._init_state(model.to_init, to_state[i - 1 : i])
            h_from = model._init_state(model.from_init, from_state[i - 1 : i])
            out_to = model.to_edge_gru(base.unsqueeze(0), h_to)[0][0]
            x_from = torch.cat([base, emb_e(to[i, :i])], 1).unsqueeze(0)
            out_from = model.from_edge_gru(x_from, h_from)[0][0]
        lt = Fn.log_softmax(model.to_edge_head(out_to), -1).gather(1, to[i, :i, None]).sum()
        lf = Fn.log_softmax(model.from_edge_head(out_from), -1).gather(1, frm[i, :i, None]).sum()
        nll = nll - lt - lf
    return nll


def _reference_backward(model, seqs):
    """One backward pass per graph (the one-graph-at-a-time strategy)."""
    for seq in seqs:
        (_reference_nll(model, seq) / len(seqs)).backward()


def _reference_epoch(model, graphs, seed=0):
    """One epoch of the one-graph-at-a-time training: random orders, Adam, gradient clipping 5."""
    train_epoch(model, graphs, VG_BATCH, _reference_backward, seed)


@pytest.mark.parametrize("name", ["SceneGraphGen", "GraphRNN"])
def test_reference_matches_model(vg_graphs, name):
    """The reference computes the model's teacher-forced loss (so the timings compare the same maths)."""
    from sgkit.data import collate_sequences

    torch.set_num_threads(1)
    cls = {"SceneGraphGen": SceneGraphGen, "GraphRNN": GraphRNN}[name]
    model = cls(150, 50, **THESIS)
    seqs = [encode_graph(g) for g in vg_graphs[:6]]
    with torch.no_grad():
        fast = model.sequence_nll(collate_sequences(seqs, num_classes=150, num_predicates=50))
        ref = torch.stack([_reference_nll(model, s) for s in seqs])
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ["SceneGraphGen", "GraphRNN"])
def test_published_strategy_matches_model(vg_graphs, name):
    """The published code's padded strategy computes the model's summed teacher-forced loss."""
    from sgkit.data import collate_sequences

    torch.set_num_threads(1)
    cls = {"SceneGraphGen": SceneGraphGen, "GraphRNN": GraphRNN}[name]
    model = cls(150, 50, **THESIS)
    seqs = [encode_graph(g) for g in vg_graphs[:6]]
    with torch.no_grad():
        fast = model.sequence_nll(collate_sequences(seqs, num_classes=150, num_predicates=50)).sum()
        pub = published_nll(model, published_batch(model, seqs))
    torch.testing.assert_close(pub, fast, rtol=1e-5, atol=1e-3)


VG_ROUNDS = 3


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["SceneGraphGen", "GraphRNN"])
@pytest.mark.benchmark(group="generation-training-vg")
def test_train_vg_vs_published(benchmark, vg_graphs, name, threads):
    import statistics
    import time

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cls = {"SceneGraphGen": SceneGraphGen, "GraphRNN": GraphRNN}[name]
        models = {k: cls(150, 50, **THESIS) for k in ("batched", "published")}
        epochs = {
            "batched": lambda: models["batched"].fit(vg_graphs, epochs=1, batch_size=VG_BATCH, progress=False),
            "published": lambda: published_epoch(models["published"], vg_graphs, VG_BATCH),
        }
        for fn in epochs.values():  # warm-up
            fn()
        times: dict[str, list[float]] = {k: [] for k in epochs}
        for _ in range(VG_ROUNDS):
            for k, fn in epochs.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        benchmark.pedantic(epochs["batched"], rounds=1, iterations=1)
    finally:
        torch.set_num_threads(before)
    for k, v in med.items():
        benchmark.extra_info[f"{k}_graphs_per_second"] = len(vg_graphs) / v
    benchmark.extra_info["batched_vs_published"] = med["published"] / med["batched"]
    benchmark.extra_info["threads"] = threads
    benchmark.extra_info["mean_nodes"] = sum(int(g["object"].label.numel()) for g in vg_graphs) / len(vg_graphs)


@pytest.mark.parametrize("name", ["SceneGraphGen", "GraphRNN"])
@pytest.mark.benchmark(group="generation-training-vg")
def test_train_vg_one_graph_at_a_time(benchmark, vg_graphs, name):
    torch.set_num_threads(1)
    cls = {"SceneGraphGen": SceneGraphGen, "GraphRNN": GraphRNN}[name]
    model = cls(150, 50, **THESIS)
    graphs = vg_graphs[:VG_BATCH]
    benchmark.pedantic(lambda: _reference_epoch(model, graphs), rounds=1, iterations=1)
    benchmark.extra_info["graphs_per_second"] = len(graphs) / benchmark.stats.stats.mean

"""SceneGraphGen, and the interface it shares with GraphRNN (parametrised over both)."""
import itertools
import math

import pytest
import torch

from sgkit.data import Vocabulary, from_triplets, to_triplets
from sgkit.data.orderings import random_ordering
from sgkit.data.sequence import GraphSequence, collate_sequences, decode_sequence, encode_graph
from sgkit.models import GraphRNN, SceneGraphGen

SMALL = dict(hidden_dim=16, num_layers=2, node_embedding_dim=8, edge_embedding_dim=4, mlp_hidden_dim=16)
MODELS = [SceneGraphGen, GraphRNN]



def _toy_graphs():
    return [
        from_triplets([0, 1], [(0, 0, 1)]),
        from_triplets([2, 2, 2], []),
        from_triplets([0, 1, 2], [(0, 0, 1), (2, 1, 0)]),
    ]


def _all_sequences(C: int, R: int, max_nodes: int):
    """Every sequence of 1..max_nodes nodes over C categories and R predicates (+ no edge)."""
    for n in range(1, max_nodes + 1):
        pairs = [(i, j) for i in range(n) for j in range(i)]
        for labels in itertools.product(range(C), repeat=n):
            for edges in itertools.product(range(R + 1), repeat=2 * len(pairs)):
                to = torch.zeros(n, n, dtype=torch.long)
                frm = torch.zeros(n, n, dtype=torch.long)
                for k, (i, j) in enumerate(pairs):
                    to[i, j], frm[i, j] = edges[2 * k], edges[2 * k + 1]
                yield GraphSequence(torch.tensor(labels), to, frm)


def _key(g):
    labels, trips = to_triplets(g)
    return tuple(labels), tuple(sorted(trips))


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("max_nodes", [2, 3])
def test_probabilities_of_all_graphs_sum_to_one(cls, max_nodes):
    C, R = 2, 1
    model = cls(C, R, max_nodes=max_nodes, **SMALL)
    model.fit([from_triplets([0, 1], [(0, 0, 1)]), from_triplets([1], [])], epochs=2, batch_size=2, progress=False)
    graphs = [decode_sequence(s) for s in _all_sequences(C, R, max_nodes)]
    assert len(graphs) == (2 + 16 if max_nodes == 2 else 2 + 16 + 512)
    nll = model.nll(graphs, ordering="identity")
    assert torch.isfinite(nll).all()
    total = torch.logsumexp(-nll.double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("cls", MODELS)
def test_teacher_forced_nll_equals_stepwise_nll(cls):
    torch.manual_seed(0)
    model = cls(4, 3, max_nodes=5, seed=1, **SMALL)
    gen = torch.Generator().manual_seed(0)
    graphs = [
        from_triplets([0, 1, 3, 2, 1], [(0, 2, 1), (4, 0, 2), (3, 1, 0), (1, 2, 4)]),  # N == max_nodes
        from_triplets([3], []),
        from_triplets([2, 2, 0], [(2, 1, 0), (0, 0, 2)]),
    ]
    perms = [random_ordering(g, generator=gen) for g in graphs]
    seqs = [encode_graph(g, p) for g, p in zip(graphs, perms)]
    batch = collate_sequences(seqs, num_classes=4, num_predicates=3)
    teacher = model.sequence_nll(batch).detach() - model.first_node_prior.log()[batch.nodes[:, 0]]
    for k, seq in enumerate(seqs):
        _, logp = model._rollout(1, generator=None, max_nodes=5, prefix=seq, prefix_is_complete=True)
        assert float(teacher[k]) == pytest.approx(float(-logp[0]), rel=1e-5, abs=1e-4)
    # nll() with the identity order on the permuted graphs is the same quantity
    permuted = [decode_sequence(s) for s in seqs]
    assert torch.allclose(model.nll(permuted, ordering="identity"), teacher.detach(), atol=1e-4)


@pytest.mark.parametrize("cls", MODELS)
def test_sampling_matches_the_model_distribution(cls):
    C, R = 2, 1
    model = cls(C, R, max_nodes=2, **SMALL)
    model.fit([from_triplets([0, 1], [(1, 0, 0)]), from_triplets([0], [])] * 4, epochs=5, batch_size=8, lr=1e-2, progress=False)
    graphs = [decode_sequence(s) for s in _all_sequences(C, R, 2)]
    exact = dict(zip(map(_key, graphs), model.nll(graphs, ordering="identity").neg().exp().tolist()))
    n = 4000
    samples = model.sample(n, generator=torch.Generator().manual_seed(0), batch_size=1000)
    counts = {}
    for g in samples:
        counts[_key(g)] = counts.get(_key(g), 0) + 1
    assert set(counts) <= set(exact)
    tv = 0.5 * sum(abs(counts.get(k, 0) / n - p) for k, p in exact.items())
    assert tv < 0.06


@pytest.mark.parametrize("cls", MODELS)
def test_samples_never_contain_special_tokens(cls):
    model = cls(3, 2, max_nodes=6, **SMALL)  # untrained: every token is likely
    graphs = model.sample(200, generator=torch.Generator().manual_seed(0), batch_size=64)
    sizes = set()
    for g in graphs:
        labels, trips = to_triplets(g)
        sizes.add(len(labels))
        assert 1 <= len(labels) <= 6
        assert all(0 <= c < 3 for c in labels)
        assert all(0 <= p < 2 and s != o for s, p, o in trips)
    assert len(sizes) > 2
    short = model.sample(50, generator=torch.Generator().manual_seed(1), max_nodes=2)
    assert max(len(to_triplets(g)[0]) for g in short) <= 2
    assert model.sample(0) == []


@pytest.mark.parametrize("cls", MODELS)
def test_sampling_is_reproducible(cls):
    model = cls(3, 2, max_nodes=5, **SMALL)
    a = model.sample(20, generator=torch.Generator().manual_seed(7))
    b = model.sample(20, generator=torch.Generator().manual_seed(7))
    assert [_key(g) for g in a] == [_key(g) for g in b]


@pytest.mark.parametrize("cls", MODELS)
def test_fit_learns_a_toy_distribution(cls):
    graphs = [from_triplets([0, 1], [(0, 0, 1)]), from_triplets([2, 2, 2], [])] * 16
    model = cls(3, 2, max_nodes=4, hidden_dim=32, num_layers=1, node_embedding_dim=8, edge_embedding_dim=4)
    model.fit(graphs, epochs=30, batch_size=32, lr=1e-2, progress=False, seed=0)
    assert model.history_[-1]["loss"] < 0.5 * model.history_[0]["loss"]
    samples = model.sample(200, generator=torch.Generator().manual_seed(0))
    canon = lambda g: (  # noqa: E731 - isomorphism-invariant key
        tuple(sorted(to_triplets(g)[0])),
        tuple(sorted((to_triplets(g)[0][s], p, to_triplets(g)[0][o]) for s, p, o in to_triplets(g)[1])),
    )
    good = {canon(graphs[0]), canon(graphs[1])}
    assert sum(canon(g) in good for g in samples) / len(samples) > 0.8
    odd = from_triplets([0, 2, 1], [(1, 1, 2)])
    assert float(model.nll([odd]).max()) > float(model.nll(graphs[:2]).max()) + 3.0
    # the first-node prior is the empirical first-node frequency (random order) + pseudo-count
    counts = torch.tensor([0.5, 0.5, 1.0]) * 16 * 30 + 0.5
    assert torch.allclose(model.first_node_prior, counts / counts.sum(), atol=0.03)


@pytest.mark.parametrize("cls", MODELS)
def test_nll_over_several_orderings(cls):
    model = cls(3, 2, max_nodes=5, **SMALL)
    g = [from_triplets([0, 1, 2], [(0, 1, 1)])]
    one = torch.stack([model.nll(g, ordering="random", seed=s) for s in range(1)])
    assert torch.isfinite(one).all()
    runs = []
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        seq = encode_graph(g[0], random_ordering(g[0], generator=gen))
        runs.append(model.nll([decode_sequence(seq)], ordering="identity"))
    expected = -(torch.logsumexp(-torch.cat(runs), 0) - math.log(4))
    assert float(model.nll(g, ordering="random", num_orderings=4, seed=3)) == pytest.approx(float(expected), abs=1e-4)


@pytest.mark.parametrize("cls", MODELS)
def test_complete_keeps_the_partial_graph(cls):
    model = cls(3, 2, max_nodes=6, **SMALL)
    partial = from_triplets([2, 0], [(0, 1, 1)])
    out = model.complete(partial, 30, generator=torch.Generator().manual_seed(0))
    assert len(out) == 30
    grew = 0
    for g in out:
        labels, trips = to_triplets(g)
        assert labels[:2] == [2, 0] and len(labels) <= 6
        assert [t for t in trips if t[0] < 2 and t[2] < 2] == [(0, 1, 1)]
        grew += len(labels) > 2
    assert grew > 0
    capped = model.complete(partial, 10, generator=torch.Generator().manual_seed(0), max_nodes=3)
    assert max(len(to_triplets(g)[0]) for g in capped) <= 3


@pytest.mark.parametrize("cls", MODELS)
def test_save_load_round_trip(cls, tmp_path):
    vocab = Vocabulary(["a", "b", "c"], ["on", "near"], object_ranks=[0, 1, 1])
    model = cls(3, 2, vocab=vocab, max_nodes=5, **SMALL)
    graphs = _toy_graphs()
    model.fit(graphs, epochs=2, batch_size=2, ordering="hierarchical", progress=False)
    path = tmp_path / "model.pt"
    model.save(path)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "sgkit.checkpoint/1"
    assert raw["model"] == cls.__name__ and raw["config"]["max_nodes"] == 5
    loaded = cls.load(path)
    assert loaded.vocab == vocab and loaded.hparams == model.hparams
    assert loaded.ordering_ == "hierarchical" and loaded.history_ == model.history_
    assert torch.equal(loaded.first_node_prior, model.first_node_prior)
    assert torch.allclose(loaded.nll(graphs, seed=1), model.nll(graphs, seed=1))
    a = loaded.sample(10, generator=torch.Generator().manual_seed(2))
    b = model.sample(10, generator=torch.Generator().manual_seed(2))
    assert [_key(g) for g in a] == [_key(g) for g in b]
    other = GraphRNN if cls is SceneGraphGen else SceneGraphGen
    with pytest.raises(ValueError, match=f"holds a {cls.__name__} checkpoint, not a"):
        other.load(path)
    torch.save({"x": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="is not an sgkit checkpoint"):
        cls.load(tmp_path / "bad.pt")


@pytest.mark.parametrize("cls", MODELS)
def test_bad_input_errors(cls):
    model = cls(3, 2, max_nodes=4, **SMALL)
    with pytest.raises(ValueError, match="graphs: empty set of graphs"):
        model.fit([], progress=False)
    with pytest.raises(ValueError, match=r"graphs\[1\]: object.label: category id 5 out of vocabulary \(num_classes=3\)"):
        model.fit([from_triplets([0], []), from_triplets([5], [])], progress=False)
    with pytest.raises(ValueError, match=r"graphs\[0\]: relation.label: predicate id 2 out of vocabulary"):
        model.nll([from_triplets([0, 1], [(0, 2, 1)])])
    with pytest.raises(ValueError, match=r"graphs\[0\]: has 5 nodes, more than max_nodes=4"):
        model.nll([from_triplets([0] * 5, [])])
    with pytest.raises(ValueError, match=r"graphs\[0\]: empty graph \(0 nodes\)"):
        model.nll([from_triplets([], [])])
    with pytest.raises(ValueError, match=r"max_nodes: expected an integer in \[1, 4\]"):
        model.sample(3, max_nodes=5)
    with pytest.raises(ValueError, match="partial_graph: empty set|partial_graph\\[0\\]: has 5 nodes"):
        model.complete(from_triplets([0] * 5, []), 2)
    with pytest.raises(ValueError, match="unknown ordering 'dfs'"):
        model.fit(_toy_graphs(), ordering="dfs", progress=False)
    with pytest.raises(ValueError, match="'hierarchical' needs object_ranks"):
        model.fit(_toy_graphs(), ordering="hierarchical", progress=False)
    with pytest.raises(ValueError, match="num_classes: expected a positive integer, got 0"):
        cls(0, 2)
    with pytest.raises(ValueError, match="vocab: has 2 objects and 1 predicates"):
        cls(3, 2, vocab=Vocabulary(["a", "b"], ["on"]))


def test_from_edges_are_conditioned_on_to_edges_and_nodes():
    model = SceneGraphGen(3, 2, max_nodes=4, **SMALL)
    state = model._edge_init(torch.randn(2, 16), torch.randn(2, 16))
    cur, nj = torch.tensor([0, 0]), torch.tensor([1, 1])
    sos = torch.tensor([3, 3])
    a, _ = model._edge_step_from(state, cur, nj, sos, sos, torch.tensor([0, 0]))
    b, _ = model._edge_step_from(state, cur, nj, sos, sos, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)  # from-edge sees the to-edge just generated
    c, _ = model._edge_step_to(state, torch.tensor([2, 2]), nj, sos, sos)
    d, _ = model._edge_step_to(state, cur, nj, sos, sos)
    assert not torch.allclose(c, d)  # node-aware


def test_default_sizes_follow_the_thesis():
    model = SceneGraphGen(150, 50, max_nodes=25)
    h = model.hparams
    assert (h["node_embedding_dim"], h["edge_embedding_dim"], h["hidden_dim"], h["num_layers"]) == (64, 8, 128, 4)
    assert model.node_history.gru.num_layers == 4 and model.to_edge_gru.gru.hidden_size == 128
    assert model.history_input_dim == 64 + 2 * 24 * 8
    assert "num_classes=150" in repr(model)


def test_fast_graph_building_matches_decode_sequence():
    from sgkit.data.sequence import uncollate_sequences

    model = SceneGraphGen(4, 3, max_nodes=6, **SMALL)
    batch, _ = model._rollout(64, generator=torch.Generator().manual_seed(0), max_nodes=6)
    fast = model._to_graphs(batch)
    slow = [decode_sequence(s) for s in uncollate_sequences(batch)]
    assert [to_triplets(g) for g in fast] == [to_triplets(g) for g in slow]
    assert sum(len(to_triplets(g)[1]) for g in fast) > 20
    for g in fast:
        assert g["object"].num_nodes == g["object"].label.numel()
        assert g["object", "relation", "object"].edge_index.dtype == torch.long


@pytest.mark.parametrize("cls", MODELS)
def test_argument_validation(cls):
    model = cls(3, 2, max_nodes=4, **SMALL)
    graphs = _toy_graphs()
    partial = from_triplets([0, 1], [(0, 0, 1)])
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match=rf"n: expected a non-negative integer, got {bad!r}"):
            model.complete(partial, bad)
    assert model.complete(partial, 0) == []
    with pytest.raises(ValueError, match=r"batch_size: expected a positive integer, got 0"):
        model.nll(graphs, batch_size=0)
    cases = [
        (dict(lr_decay_steps=0), r"lr_decay_steps: expected a positive integer, got 0"),
        (dict(lr=0.0), r"lr: expected a finite number > 0, got 0.0"),
        (dict(lr=-1e-3), r"lr: expected a finite number > 0, got -0.001"),
        (dict(lr=float("nan")), r"lr: expected a finite number > 0, got nan"),
        (dict(lr_decay=0.0), r"lr_decay: expected a finite number > 0, got 0.0"),
        (dict(epochs=0), r"epochs: expected a positive integer, got 0"),
        (dict(batch_size=0), r"batch_size: expected a positive integer, got 0"),
        (dict(grad_clip=-1.0), r"grad_clip: expected a finite number > 0, got -1.0"),
    ]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for kwargs, msg in cases:
        with pytest.raises(ValueError, match=msg):
            model.fit(graphs, progress=False, **kwargs)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.ordering_ is None and model.history_ == []


@pytest.mark.parametrize("cls", MODELS)
def test_callable_ordering_is_the_default_of_nll(cls, tmp_path):
    """A callable ordering of ``fit`` stays the default of ``nll`` in memory; checkpoints store
    only names, so a loaded model asks for it explicitly instead of silently using "random"."""
    calls = []

    def reverse(data, *, generator=None):
        calls.append(1)
        return torch.arange(data["object"].num_nodes - 1, -1, -1)

    model = cls(3, 2, max_nodes=4, **SMALL)
    graphs = _toy_graphs()
    model.fit(graphs, epochs=1, batch_size=2, ordering=reverse, progress=False)
    assert model.ordering_ is reverse
    calls.clear()
    default = model.nll(graphs)
    assert len(calls) == len(graphs)
    torch.testing.assert_close(default, model.nll(graphs, ordering=reverse))
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = cls.load(path)
    assert loaded.ordering_ is None
    with pytest.raises(ValueError, match=r"ordering: this model was trained with a custom callable ordering"):
        loaded.nll(graphs)
    torch.testing.assert_close(loaded.nll(graphs, ordering=reverse), default)
    # refitting with a named ordering clears the flag
    loaded.fit(graphs, epochs=1, batch_size=2, ordering="identity", progress=False)
    assert loaded.ordering_ == "identity"
    loaded.nll(graphs)


def test_sizes_from_the_vocabulary_and_max_nodes_from_the_data():
    from sgkit.datasets import ShapesWorld
    from sgkit.models import SG2ImConfig

    ds = ShapesWorld(30, seed=2, progress=False)
    graphs = ds.graphs()
    model = SceneGraphGen(vocab=ds.vocab, **SMALL)
    assert (model.num_classes, model.num_predicates) == (ds.vocab.num_objects, ds.vocab.num_predicates)
    with pytest.raises(ValueError, match=r"max_nodes: the model has no networks yet; call fit"):
        model.sample(2)
    model.fit(graphs, epochs=1, batch_size=8, progress=False)
    assert model.max_nodes == max(g["object"].num_nodes for g in graphs) == model.hparams["max_nodes"]
    assert len(model.sample(3, generator=torch.Generator().manual_seed(0))) == 3
    with pytest.raises(ValueError, match=r"num_classes and num_predicates: give both, or a vocabulary"):
        SceneGraphGen(max_nodes=4)
    cfg = SG2ImConfig.preset("crn-small", vocab=ds.vocab)
    assert (cfg.num_objects, cfg.num_predicates) == (ds.vocab.num_objects, ds.vocab.num_predicates)


@pytest.mark.parametrize("cls", MODELS)
def test_a_single_graph_where_a_list_is_expected(cls):
    model = cls(3, 2, max_nodes=4, **SMALL)
    g = _toy_graphs()[0]
    for call in (lambda: model.nll(g), lambda: model.fit(g, progress=False)):
        with pytest.raises(ValueError, match=r"graphs: expected a sequence of scene graphs, got a single"):
            call()

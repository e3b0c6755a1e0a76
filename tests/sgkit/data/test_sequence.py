import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgkit.data import from_triplets, to_triplets
from sgkit.data.orderings import bfs_ordering, hierarchical_ordering, identity_ordering, random_ordering
from sgkit.data.sequence import (
    GraphSequence,
    SequenceTokens,
    collate_sequences,
    decode_sequence,
    encode_graph,
    encode_xf,
    uncollate_sequences,
)

C, R = 5, 3
RANKS = [2, 0, 1, 0, 2]


@st.composite
def simple_graphs(draw):
    """Scene graphs without multi-edges and self-loops (what the sequence form holds)."""
    n = draw(st.integers(0, 7))
    labels = draw(st.lists(st.integers(0, C - 1), min_size=n, max_size=n))
    pairs = [(s, o) for s in range(n) for o in range(n) if s != o]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=12)) if pairs else []
    trips = [(s, draw(st.integers(0, R - 1)), o) for s, o in chosen]
    return from_triplets(labels, trips)


ORDERINGS = {
    "identity": identity_ordering,
    "random": random_ordering,
    "bfs": bfs_ordering,
    "hierarchical": lambda g, seed: hierarchical_ordering(g, object_ranks=RANKS, seed=seed),
}


@settings(max_examples=40, deadline=None)
@given(g=simple_graphs(), seed=st.integers(0, 1000))
def test_round_trip_exact_for_every_ordering(g, seed):
    labels, trips = to_triplets(g)
    for name, fn in ORDERINGS.items():
        perm = fn(g, seed=seed)
        seq = encode_graph(g, perm, multi_edge="error", self_loops="error", num_classes=C, num_predicates=R)
        h = decode_sequence(seq)
        h_labels, h_trips = to_triplets(h)
        assert h_labels == [labels[k] for k in perm.tolist()], name
        # map the decoded triplets back to the original node ids
        p = perm.tolist()
        assert sorted((p[s], r, p[o]) for s, r, o in h_trips) == sorted(trips), name
        # the inverse direction: encoding the decoded graph in its stored order gives the same sequence
        assert encode_graph(h) == seq, name
        # collation is exactly invertible too
        batch = collate_sequences([seq, seq], num_classes=C, num_predicates=R)
        assert uncollate_sequences(batch) == [seq, seq], name


def test_encode_hand_computed_example():
    g = from_triplets([5, 7, 9], [(0, 2, 1), (2, 0, 0), (1, 1, 2)])
    seq = encode_graph(g, torch.tensor([2, 0, 1]))
    assert seq.nodes.tolist() == [9, 5, 7]
    assert seq.to_edges.tolist() == [[0, 0, 0], [1, 0, 0], [0, 3, 0]]
    assert seq.from_edges.tolist() == [[0, 0, 0], [0, 0, 0], [2, 0, 0]]
    batch = collate_sequences([seq], num_classes=10, num_predicates=3)
    tok = batch.tokens
    assert (tok.node_eos, tok.node_pad, tok.no_edge, tok.edge_sos, tok.edge_pad) == (10, 11, 3, 4, 5)
    assert batch.nodes.tolist() == [[9, 5, 7]]
    assert batch.to_edges[0].tolist() == [[5, 5, 5], [0, 5, 5], [3, 2, 5]]
    assert batch.from_edges[0].tolist() == [[5, 5, 5], [3, 5, 5], [1, 3, 5]]
    assert batch.lengths.tolist() == [3]


def test_collate_pads_shorter_graphs():
    a = encode_graph(from_triplets([1], []))
    b = encode_graph(from_triplets([0, 2], [(1, 0, 0)]))
    batch = collate_sequences([a, b], num_classes=3, num_predicates=1)
    assert batch.nodes.tolist() == [[1, 4], [0, 2]]
    assert batch.to_edges[0].eq(3).all() and batch.from_edges[0].eq(3).all()
    assert batch.to_edges[1].tolist() == [[3, 3], [1, 3]]  # no edge 0 -> 1
    assert batch.from_edges[1].tolist() == [[3, 3], [0, 3]]  # edge 1 -> 0 with predicate 0
    assert uncollate_sequences(batch) == [a, b]


def test_multi_edges_reduced_like_to_xf():
    g = from_triplets([0, 1], [(0, 1, 1), (0, 2, 1), (1, 0, 0)])
    assert encode_graph(g, multi_edge="last").to_edges[1, 0] == 3
    assert encode_graph(g, multi_edge="first").to_edges[1, 0] == 2
    assert encode_graph(g).to_edges[1, 0] == 3  # default "last"
    with pytest.raises(ValueError, match="several predicates"):
        encode_graph(g, multi_edge="error")


def test_self_loops():
    g = from_triplets([0, 1], [(1, 2, 1), (0, 0, 1)])
    seq = encode_graph(g)
    assert to_triplets(decode_sequence(seq))[1] == [(0, 0, 1)]
    with pytest.raises(ValueError, match="self-loop on node 1"):
        encode_graph(g, self_loops="error")


def test_bad_inputs():
    g = from_triplets([0, 7], [(0, 4, 1)])
    with pytest.raises(ValueError, match=r"category id 7 out of vocabulary \(num_classes=5\)"):
        encode_graph(g, num_classes=5)
    with pytest.raises(ValueError, match=r"predicate id 4 out of vocabulary \(num_predicates=3\)"):
        encode_graph(g, num_predicates=3)
    with pytest.raises(ValueError, match=r"perm: expected a permutation of range\(2\)"):
        encode_graph(g, torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="cannot collate an empty list"):
        collate_sequences([], num_classes=2, num_predicates=1)
    bad = GraphSequence(torch.tensor([0, 1]), torch.tensor([[0, 1], [0, 0]]), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="to_edges: must be strictly lower triangular"):
        decode_sequence(bad)
    with pytest.raises(ValueError, match="category id out of range"):
        collate_sequences([encode_graph(g)], num_classes=5, num_predicates=5)
    with pytest.raises(ValueError, match="self_loops: expected 'drop' or 'error'"):
        encode_xf(torch.tensor([0]), torch.zeros(1, 1, dtype=torch.long), self_loops="keep")


def test_tokens():
    t = SequenceTokens(4, 2)
    assert (t.node_eos, t.node_pad, t.no_edge, t.edge_sos, t.edge_pad) == (4, 5, 2, 3, 4)


SEQ = GraphSequence(torch.tensor([0, 1]), torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: encode_xf(torch.tensor([0.0, 1.5]), torch.zeros(2, 2, dtype=torch.long)), r"X\[1\]: expected an integer id, got 1\.5"),
        (lambda: encode_xf(torch.tensor([0, 1]), torch.tensor([[0, -2], [0, 0]])), r"F\[0, 1\]: expected 0 \(no edge\) or predicate \+ 1, got -2"),
        (lambda: collate_sequences(SEQ, num_classes=3, num_predicates=2), r"seqs: expected a list of GraphSequence, got GraphSequence; wrap one in a list"),
        (lambda: collate_sequences([SEQ, "x"], num_classes=3, num_predicates=2), r"seqs\[1\]: expected a GraphSequence, got str"),
        (lambda: collate_sequences([SEQ], num_classes=3.0, num_predicates=2), r"num_classes: expected an int >= 1, got 3\.0"),
        (lambda: collate_sequences([SEQ], num_classes=3, num_predicates=0), r"num_predicates: expected an int >= 1, got 0"),
        (lambda: decode_sequence("seq"), r"seq: expected a GraphSequence, got str"),
        (lambda: decode_sequence(GraphSequence(torch.tensor([0.5]), torch.zeros(1, 1), torch.zeros(1, 1))), r"seq\.nodes\[0\]: expected an integer id, got 0\.5"),
    ],
)
def test_bad_inputs_name_argument_and_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()

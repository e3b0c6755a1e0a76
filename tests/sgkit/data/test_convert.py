import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgkit.data import (
    EDGE,
    NODE,
    from_dgl,
    from_grakel,
    from_networkx,
    from_triplets,
    from_xf,
    load_sg2im_json,
    reduce_multi_edges,
    to_dgl,
    to_grakel,
    to_networkx,
    to_triplets,
    to_xf,
)


@st.composite
def scene_graphs(draw, max_nodes=6, multi=True):
    n = draw(st.integers(0, max_nodes))
    labels = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    if n == 0:
        return from_triplets([], [])
    trip = st.tuples(st.integers(0, n - 1), st.integers(0, 3), st.integers(0, n - 1))
    trips = draw(st.lists(trip, max_size=10))
    if not multi:
        trips = list({(s, o): (s, p, o) for s, p, o in trips}.values())
    return from_triplets(labels, trips)


@settings(max_examples=60, deadline=None)
@given(scene_graphs())
def test_networkx_round_trip_is_lossless(g):
    h = from_networkx(to_networkx(g))
    assert to_triplets(h) == to_triplets(g)


@settings(max_examples=60, deadline=None)
@given(scene_graphs(multi=False))
def test_xf_and_grakel_round_trips_without_multi_edges(g):
    labels, trips = to_triplets(g)
    expected = (labels, sorted(trips, key=lambda t: (t[0], t[2])))
    assert to_triplets(from_xf(*to_xf(g))) == expected
    assert to_triplets(from_grakel(to_grakel(g))) == expected


@settings(max_examples=40, deadline=None)
@given(scene_graphs())
def test_dgl_round_trip(g):
    assert to_triplets(from_dgl(to_dgl(g))) == to_triplets(g)


def test_networkx_keeps_boxes_and_matches_networkx_counts():
    g = from_triplets([1, 2], [(0, 3, 1), (0, 3, 1), (0, 4, 1)], boxes=[[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]])
    nxg = to_networkx(g)
    assert isinstance(nxg, nx.MultiDiGraph)
    assert nxg.number_of_edges(0, 1) == 3
    assert torch.allclose(from_networkx(nxg)[NODE].box, g[NODE].box)
    with pytest.raises(ValueError, match="node 'a': missing 'label' attribute"):
        bad = nx.DiGraph()
        bad.add_node("a")
        from_networkx(bad)


def test_xf_matrix_convention_and_multi_edge_policies():
    g = from_triplets([5, 6, 7], [(0, 2, 1), (0, 4, 1), (2, 0, 0)])
    with pytest.raises(ValueError, match=r"ordered pair \(0, 1\) has several predicates \(2 and 4\)"):
        to_xf(g)
    x, f = to_xf(g, multi_edge="last")
    assert x.tolist() == [5, 6, 7]
    assert f.tolist() == [[0, 5, 0], [0, 0, 0], [1, 0, 0]]  # predicate p stored as p + 1
    assert to_xf(g, multi_edge="first")[1][0, 1] == 3
    assert reduce_multi_edges(g, "last") == {(0, 1): 4, (2, 0): 0}
    with pytest.raises(ValueError, match="multi_edge: expected one of"):
        to_xf(g, multi_edge="max")
    with pytest.raises(ValueError, match=r"F: expected shape \[3, 3\] for 3 nodes, got \[2, 2\]"):
        from_xf(x, torch.zeros(2, 2, dtype=torch.long))


def test_grakel_graph_reduces_multi_edges_like_xf(shared_data):
    graphs, _ = load_sg2im_json(shared_data / "sg2im_examples" / "figure_5_vg.json")
    for g in graphs:
        gk = to_grakel(g, multi_edge="last")
        x, f = to_xf(g, multi_edge="last")
        edge_labels = gk.get_labels(purpose="dictionary", label_type="edge")
        assert edge_labels == {(int(s), int(o)): int(f[s, o]) - 1 for s, o in f.nonzero().tolist()}
        assert gk.get_labels(purpose="dictionary", label_type="vertex") == dict(enumerate(x.tolist()))


def test_dgl_keeps_boxes():
    g = from_triplets([1, 2], [(1, 0, 0)], boxes=[[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]])
    dg = to_dgl(g)
    assert dg.num_nodes("object") == 2 and dg.num_edges(("object", "relation", "object")) == 1
    assert torch.equal(from_dgl(dg)[NODE].box, g[NODE].box)


def test_networkx_round_trip_keeps_masks_features_attributes_and_image():
    gen = torch.Generator().manual_seed(0)
    g = from_triplets(
        [2, 0, 2],
        [(0, 1, 1), (2, 0, 1)],
        boxes=[[0.0, 0.0, 0.5, 0.5], [0.1, 0.2, 0.9, 0.8], [0.5, 0.5, 1.0, 1.0]],
        masks=torch.rand(3, 4, 4, generator=gen),
        features=torch.randn(3, 5, generator=gen),
        image=torch.rand(3, 8, 8, generator=gen),
    )
    g[NODE].attribute = torch.tensor([[1, 0], [0, 2], [3, 1]])
    nxg = to_networkx(g)
    assert torch.equal(nxg.nodes[1]["feature"], g[NODE].feature[1])
    h = from_networkx(nxg)
    for key in ("label", "box", "mask", "feature", "attribute"):
        assert torch.equal(h[NODE][key], g[NODE][key]), key
    assert torch.equal(h.image, g.image)
    assert torch.equal(h[EDGE].edge_index, g[EDGE].edge_index)
    # a field that only some nodes carry is not restored
    del nxg.nodes[0]["mask"]
    assert "mask" not in from_networkx(nxg)[NODE]


# --------------------------------------------------------------------------- names and bad input
def test_networkx_with_names():
    from sgkit.data import Vocabulary

    vocab = Vocabulary(["man", "horse"], ["riding", "near"])
    g = from_triplets([0, 1, 1], [(0, 0, 1), (2, 1, 0)])
    nxg = to_networkx(g, vocab=vocab)
    assert [a["label"] for _, a in nxg.nodes(data=True)] == ["man", "horse", "horse"]
    assert sorted(a["label"] for _, _, a in nxg.edges(data=True)) == ["near", "riding"]
    back = from_networkx(nxg, vocab=vocab)
    assert to_triplets(back) == to_triplets(g)
    h = nx.DiGraph()
    h.add_node("a", label="man")
    h.add_node("b", label="horse")
    h.add_edge("a", "b", label="riding")
    assert to_triplets(from_networkx(h, vocab=vocab), vocab=vocab) == (["man", "horse"], [(0, "riding", 1)])
    with pytest.raises(ValueError, match=r"node 'a': label: got the name 'man' but no vocabulary; pass vocab="):
        from_networkx(h)
    h.nodes["b"]["label"] = 1
    with pytest.raises(ValueError, match=r"node 'b': label: got the id 1 among names"):
        from_networkx(h, vocab=vocab)
    h.nodes["b"]["label"] = "tree"
    with pytest.raises(KeyError, match=r"networkx graph: labels\[1\]: unknown object name 'tree'"):
        from_networkx(h, vocab=vocab)


@pytest.mark.parametrize(
    "node_label, edge_label, match",
    [
        (1.7, 0, r"node 'y': label: expected an integer id, got 1\.7 \(non-integral values are never truncated\)"),
        (True, 0, r"node 'y': label: expected an integer id, got the bool True"),
        (None, 0, r"node 'y': label: expected an integer id, got NoneType None"),
        (1, 0.5, r"edge \('x', 'y'\): label: expected an integer id, got 0\.5"),
        (1, 2**64, r"edge \('x', 'y'\): label: id 18446744073709551616 does not fit"),
    ],
)
def test_from_networkx_never_truncates(node_label, edge_label, match):
    g = nx.MultiDiGraph()
    g.add_node("x", label=0)
    g.add_node("y", label=node_label)
    g.add_edge("x", "y", label=edge_label)
    with pytest.raises(ValueError, match=match):
        from_networkx(g)
    with pytest.raises(ValueError, match=r"g: expected a networkx graph, got list"):
        from_networkx([])


@pytest.mark.parametrize(
    "x, f, match",
    [
        ([0.0, 1.5], torch.zeros(2, 2), r"X\[1\]: expected an integer id, got 1\.5"),
        ([0, 1], torch.tensor([[0.0, 2.5], [0.0, 0.0]]), r"F\[0\]\[1\]: expected an integer id, got 2\.5"),
        ([0, 1], torch.tensor([[0, -1], [0, 0]]), r"F\[0, 1\]: expected 0 \(no edge\) or predicate \+ 1, got -1"),
        ([[0, 1]], torch.zeros(2, 2), r"X: expected shape \[N\], got \[1, 2\]"),
    ],
)
def test_from_xf_rejects_non_integral_and_negative_entries(x, f, match):
    with pytest.raises(ValueError, match=match):
        from_xf(x, f)


def test_from_grakel_rejects_float_labels():
    from grakel import Graph

    g = Graph({0: {1: 1.0}, 1: {}}, node_labels={0: 0, 1: 2.5}, edge_labels={(0, 1): 1}, graph_format="dictionary")
    with pytest.raises(ValueError, match=r"labels\[1\]: expected an integer id, got 2\.5"):
        from_grakel(g)

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, HeteroData
from torch_geometric.loader import DataLoader

from sgkit.data import EDGE, NODE, SceneGraph, from_triplets, num_objects, num_relations, to_triplets, validate


def test_from_triplets_layout_and_round_trip():
    labels = [3, 1, 3]
    trips = [(0, 2, 1), (1, 0, 2), (0, 2, 1), (0, 5, 1), (2, 1, 2)]  # repeat, multi-edge, self-loop
    data = from_triplets(labels, trips)
    assert data[NODE].label.tolist() == labels
    assert data[EDGE].edge_index.tolist() == [[0, 1, 0, 0, 2], [1, 2, 1, 1, 2]]
    assert data[EDGE].label.tolist() == [2, 0, 2, 5, 1]
    assert data[NODE].label.dtype == torch.long
    assert to_triplets(data) == (labels, trips)
    assert num_objects(data) == 3 and num_relations(data) == 5


def test_empty_graph_and_graph_without_edges_are_valid():
    empty = from_triplets([], [])
    assert num_objects(empty) == 0 and num_relations(empty) == 0
    assert to_triplets(empty) == ([], [])
    lonely = from_triplets([4, 4], [])
    validate(lonely, num_classes=5, num_predicates=1)
    assert to_triplets(lonely) == ([4, 4], [])


def test_optional_fields_are_stored():
    boxes = [[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]]
    masks = torch.rand(2, 16, 16)
    feats = torch.randn(2, 7)
    image = torch.rand(3, 8, 8)
    data = from_triplets([0, 1], [(0, 0, 1)], boxes=boxes, masks=masks, features=feats, image=image)
    assert torch.allclose(data[NODE].box, torch.tensor(boxes))
    assert torch.equal(data[NODE].mask, masks)
    assert torch.equal(data[NODE].feature, feats)
    assert torch.equal(data.image, image)


def _graph() -> HeteroData:
    return from_triplets([0, 1, 2], [(0, 1, 1), (1, 0, 2)], boxes=[[0, 0, 0.5, 0.5]] * 3)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d[EDGE].__setattr__("edge_index", torch.tensor([[0, 3], [1, 2]])), r"relation\.edge_index: node index 3 out of range for 3 nodes"),
        (lambda d: d[EDGE].__setattr__("edge_index", torch.tensor([[0, -1], [1, 2]])), r"relation\.edge_index: node index -1"),
        (lambda d: d[NODE].__setattr__("label", torch.tensor([0, -2, 1])), r"object\.label: negative category id -2"),
        (lambda d: d[EDGE].__setattr__("label", torch.tensor([0, -1])), r"relation\.label: negative predicate id -1"),
        (lambda d: d[NODE].__setattr__("label", torch.tensor([0.0, 1.0, 2.0])), r"object\.label: expected a long tensor"),
        (lambda d: d[EDGE].__setattr__("edge_index", torch.tensor([[0.0, 1.0], [1.0, 2.0]])), r"relation\.edge_index: expected a long tensor"),
        (lambda d: d[EDGE].__setattr__("edge_index", torch.tensor([[0, 1, 1], [1, 2, 0], [0, 0, 0]])), r"relation\.edge_index: expected shape \[2, E\]"),
        (lambda d: d[EDGE].__setattr__("label", torch.tensor([0, 1, 1])), r"relation\.label: expected shape \[2\]"),
        (lambda d: d[NODE].__setattr__("box", torch.tensor([[0, 0, 0.5, 0.5]] * 2)), r"object\.box: has 2 rows but the graph has 3 nodes"),
        (lambda d: d[NODE].__setattr__("box", torch.tensor([[0, 0, 0.5, 0.5], [0.6, 0.0, 0.4, 1.0], [0, 0, 1, 1]])), r"object\.box: inverted box at node 1"),
        (lambda d: d[NODE].__setattr__("box", torch.tensor([[0, 0, 0.5, float("nan")]] * 3)), r"object\.box: contains non-finite values"),
        (lambda d: d[NODE].__setattr__("box", torch.tensor([[0, 0, 0.5]] * 3)), r"object\.box: expected shape \[N, 4\]"),
        (lambda d: d[NODE].__setattr__("mask", torch.zeros(3, 4)), r"object\.mask: expected shape \[N, M, M\]"),
        (lambda d: d[NODE].__setattr__("num_nodes", 5), r"object\.num_nodes: 5 does not match"),
        (lambda d: d.__setattr__("image", torch.zeros(1, 4, 4)), r"image: expected a float tensor of shape \[3, H, W\]"),
    ],
)
def test_validate_errors_name_field_and_value(mutate, match):
    data = _graph()
    mutate(data)
    with pytest.raises(ValueError, match=match):
        validate(data)


def test_validate_vocabulary_bounds_and_self_loops():
    data = from_triplets([0, 7], [(0, 4, 1), (1, 2, 1)])
    with pytest.raises(ValueError, match=r"object\.label: category id 7 out of vocabulary \(num_classes=5\)"):
        validate(data, num_classes=5)
    with pytest.raises(ValueError, match=r"relation\.label: predicate id 4 out of vocabulary \(num_predicates=3\)"):
        validate(data, num_predicates=3)
    with pytest.raises(ValueError, match=r"relation\.edge_index: self-loop at edge 1 on node 1"):
        validate(data, allow_self_loops=False)
    validate(data, num_classes=8, num_predicates=5)


def test_validate_rejects_missing_labels_and_wrong_type():
    with pytest.raises(ValueError, match=r"object\.label: missing"):
        validate(HeteroData())
    with pytest.raises(ValueError, match=r"data: expected a torch_geometric HeteroData, got dict"):
        validate({})
    with pytest.raises(ValueError, match=r"triplets\[0\]: expected \(subject, predicate, object\), got \(0, 1\)"):
        from_triplets([0, 1], [(0, 1), (1, 0)])
    with pytest.raises(ValueError, match=r"triplets: expected shape \[E, 3\], got \[2, 2\]"):
        from_triplets([0, 1], torch.tensor([(0, 1), (1, 0)]))


def test_batching_with_pyg_keeps_boxes_masks_images():
    graphs = [
        from_triplets([0, 1], [(0, 0, 1)], boxes=torch.tensor([[0.1, 0.1, 0.9, 0.9]] * 2),
                      masks=torch.ones(2, 16, 16), image=torch.zeros(3, 8, 8)),
        from_triplets([2, 2, 3], [(2, 1, 0), (1, 1, 2)], boxes=torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 3),
                      masks=torch.zeros(3, 16, 16), image=torch.ones(3, 8, 8)),
    ]
    batch = Batch.from_data_list(graphs)
    assert batch[NODE].label.tolist() == [0, 1, 2, 2, 3]
    assert batch[NODE].batch.tolist() == [0, 0, 1, 1, 1]
    # edge indices are offset by the node counts of earlier graphs
    assert batch[EDGE].edge_index.tolist() == [[0, 4, 3], [1, 2, 4]]
    assert batch[NODE].box.shape == (5, 4) and batch[NODE].mask.shape == (5, 16, 16)
    assert batch.image.shape == (2, 3, 8, 8) and batch.image[1].mean() == 1.0 and batch.image[0].mean() == 0.0
    loader = DataLoader(graphs, batch_size=2)
    (b,) = list(loader)
    assert b.num_graphs == 2 and torch.equal(b[EDGE].label, batch[EDGE].label)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": [[0, 1], [2, 3]]}, r"labels: expected shape \[N\], got \[2, 2\]"),
        ({"labels": 3}, r"labels: expected shape \[N\], got \[\]"),
        ({"labels": [0.5, 1]}, r"labels\[0\]: expected an integer id, got 0\.5 \(non-integral values are never truncated\)"),
        ({"labels": [0, float("nan")]}, r"labels\[1\]: expected an integer id, got nan"),
        ({"labels": [True, 1]}, r"labels\[0\]: expected an integer id, got the bool True"),
        ({"labels": torch.tensor([True, False])}, r"labels: expected integer ids, got a tensor of dtype torch\.bool"),
        ({"labels": ["a", "b"]}, r"labels\[0\]: got the name 'a' but no vocabulary; pass vocab="),
        ({"triplets": [(0, 1, 1), (0, 1)]}, r"triplets\[1\]: expected \(subject, predicate, object\), got \(0, 1\)"),
        ({"triplets": [(0, 1, 1), 5]}, r"triplets\[1\]: expected \(subject, predicate, object\), got 5"),
        ({"triplets": [(0, 1.5, 1)]}, r"triplets\[0\]\[1\]: expected an integer id, got 1\.5"),
        ({"triplets": [(0, True, 1)]}, r"triplets\[0\]\[1\]: expected an integer id, got the bool True"),
        ({"boxes": [0, 0, 1, 1, 0, 0, 1, 1]}, r"boxes: expected shape \[N, 4\], got \[8\]"),
        ({"boxes": [[0, 0, 1, 1]]}, r"boxes: expected shape \[N, 4\] with N = 2 nodes, got \[1, 4\]"),
        ({"boxes": [[0, 0, 1], [0, 0, 1]]}, r"boxes: expected shape \[N, 4\], got \[2, 3\]"),
        ({"masks": torch.zeros(2, 4, 5)}, r"masks: expected shape \[N, M, M\], got \[2, 4, 5\]"),
        ({"masks": torch.zeros(2, 16)}, r"masks: expected shape \[N, M, M\], got \[2, 16\]"),
        ({"masks": torch.zeros(3, 4, 4)}, r"masks: expected shape \[N, M, M\] with N = 2 nodes, got \[3, 4, 4\]"),
        ({"features": torch.zeros(2)}, r"features: expected shape \[N, D\], got \[2\]"),
        ({"features": torch.zeros(1, 7)}, r"features: expected shape \[N, D\] with N = 2 nodes, got \[1, 7\]"),
    ],
)
def test_from_triplets_rejects_instead_of_reshaping_or_truncating(kwargs, match):
    args = {"labels": [0, 1], "triplets": [(0, 0, 1)], **kwargs}
    with pytest.raises(ValueError, match=match):
        from_triplets(args.pop("labels"), args.pop("triplets"), **args)


def test_from_triplets_accepts_numpy_tensors_and_integral_floats():
    import numpy as np

    ref = from_triplets([2, 0, 1], [(0, 1, 2), (2, 0, 0)], boxes=[[0, 0, 1, 1]] * 3)
    for labels, trips in [
        (np.array([2, 0, 1], dtype=np.int32), np.array([[0, 1, 2], [2, 0, 0]], dtype=np.int64)),
        (torch.tensor([2, 0, 1], dtype=torch.int16), torch.tensor([[0, 1, 2], [2, 0, 0]])),
        ([2.0, 0.0, 1.0], [(0.0, 1.0, 2.0), (2, 0, 0)]),
        ([np.int64(2), np.int64(0), np.int64(1)], [(np.int64(0), 1, 2), (2, 0, 0)]),
    ]:
        data = from_triplets(labels, trips, boxes=np.array([[0, 0, 1, 1]] * 3))
        assert data[NODE].label.dtype == torch.long and data[EDGE].edge_index.dtype == torch.long
        assert to_triplets(data) == to_triplets(ref)
        assert torch.equal(data[NODE].box, ref[NODE].box)
    # an empty graph may come with an empty box list (e.g. from JSON) and empty triplet tensors
    empty = from_triplets([], torch.zeros(0, 3, dtype=torch.long), boxes=[])
    assert empty[NODE].box.shape == (0, 4) and num_relations(empty) == 0


def _drop_edge_index(d: HeteroData) -> None:
    del d[EDGE].edge_index


@pytest.mark.parametrize(
    "mutate, match",
    [
        (_drop_edge_index, r"relation\.edge_index: missing"),
        (lambda d: d.__setattr__("image", torch.full((3, 4, 4), float("nan"))), r"image: contains non-finite values \(first at index \[0, 0, 0\]: nan\)"),
        (lambda d: d.__setattr__("image", torch.zeros(3, 4, 4).index_fill_(2, torch.tensor([3]), float("inf"))), r"image: contains non-finite values \(first at index \[0, 0, 3\]: inf\)"),
        (lambda d: d[NODE].__setattr__("mask", torch.zeros(3, 4, 5)), r"object\.mask: expected shape \[N, M, M\], got \[3, 4, 5\]"),
        (lambda d: d[NODE].__setattr__("mask", torch.zeros(2, 4, 4)), r"object\.mask: has 2 rows but the graph has 3 nodes"),
        (lambda d: d[NODE].__setattr__("feature", torch.zeros(4, 5)), r"object\.feature: has 4 rows but the graph has 3 nodes"),
        (lambda d: d[NODE].__setattr__("feature", torch.zeros(3, 2, 2)), r"object\.feature: expected shape \[N, D\], got \[3, 2, 2\]"),
        (lambda d: d[NODE].__setattr__("box", torch.tensor([[0, 0, 1, 1]] * 3)), r"object\.box: expected a float tensor, got torch\.int64"),
        (lambda d: d[NODE].__setattr__("box", torch.tensor([[0, 0, 1, 1], [0, 0, 1, float("inf")], [0, 0, 1, 1]])), r"object\.box: contains non-finite values \(first at node 1, index \[1, 3\]: inf\)"),
        (lambda d: d[NODE].__setattr__("feature", torch.tensor([[0.0, 1.0], [1.0, 1.0], [float("nan"), 0.0]])), r"object\.feature: contains non-finite values \(first at node 2, index \[2, 0\]: nan\)"),
        (lambda d: d[NODE].__setattr__("mask", torch.zeros(3, 4, 4).index_fill_(0, torch.tensor([1]), float("-inf"))), r"object\.mask: contains non-finite values \(first at node 1, index \[1, 0, 0\]: -inf\)"),
        (lambda d: d[NODE].__setattr__("attribute", torch.tensor([[0.0], [1.0], [2.0]])), r"object\.attribute: expected a long tensor, got torch\.float32"),
        (lambda d: d[NODE].__setattr__("attribute", torch.tensor([[0], [1]])), r"object\.attribute: has 2 rows but the graph has 3 nodes"),
        (lambda d: d[NODE].__setattr__("attribute", torch.tensor([[0, 1], [1, -3], [2, 0]])), r"object\.attribute: negative attribute id -3"),
        (lambda d: d[NODE].__setattr__("attribute", torch.zeros(3, 1, 1, dtype=torch.long)), r"object\.attribute: expected shape \[N\] or \[N, A\], got \[3, 1, 1\]"),
    ],
)
def test_validate_new_checks_name_field_and_value(mutate, match):
    data = _graph()
    validate(data)  # the unmodified graph is valid, so the error below comes from the mutation
    mutate(data)
    with pytest.raises(ValueError, match=match):
        validate(data)


def test_validate_attribute_vocabulary_bound():
    data = _graph()
    data[NODE].attribute = torch.tensor([[0, 1], [4, 2], [3, 3]])
    validate(data)
    validate(data, num_attributes=5)
    with pytest.raises(ValueError, match=r"object\.attribute: attribute id 4 out of vocabulary \(num_attributes=4\)"):
        validate(data, num_attributes=4)


# --------------------------------------------------------------------------- names in, names out
VOCAB_NAMES = (["man", "horse", "sky"], ["riding", "under"])


def _vocab():
    from sgkit.data import Vocabulary

    return Vocabulary(*VOCAB_NAMES)


def test_from_triplets_with_names_and_to_triplets_with_names():
    vocab = _vocab()
    g = from_triplets(["man", "horse", "sky"], [(0, "riding", 1), (1, "under", 2)], vocab=vocab)
    assert g[NODE].label.tolist() == [0, 1, 2] and g[EDGE].label.tolist() == [0, 1]
    assert to_triplets(g, vocab=vocab) == (["man", "horse", "sky"], [(0, "riding", 1), (1, "under", 2)])
    assert to_triplets(g) == ([0, 1, 2], [(0, 0, 1), (1, 1, 2)])
    # ids with a vocabulary, and names for one field with ids for the other, are fine
    assert torch.equal(from_triplets([0, 1], [(0, "riding", 1)], vocab=vocab)[EDGE].label, torch.tensor([0]))
    assert torch.equal(from_triplets(np.array(["sky", "man"]), [(0, 1, 1)], vocab=vocab)[NODE].label, torch.tensor([2, 0]))


def test_unknown_names_error_or_grow_the_vocabulary():
    from sgkit.data import UnknownNameError

    vocab = _vocab()
    with pytest.raises(UnknownNameError, match=r"labels\[1\]: unknown object name 'tree' .*pass on_unknown=\"add\""):
        from_triplets(["man", "tree"], [], vocab=vocab)
    with pytest.raises(KeyError, match=r"triplets\[0\]\[1\]: unknown predicate name 'on'"):
        from_triplets(["man", "sky"], [(0, "on", 1)], vocab=vocab)
    g = from_triplets(["man", "tree"], [(0, "on", 1)], vocab=vocab, on_unknown="add")
    assert vocab.objects[-1] == "tree" and vocab.predicates[-1] == "on"
    assert to_triplets(g, vocab=vocab) == (["man", "tree"], [(0, "on", 1)])


@pytest.mark.parametrize(
    "labels, triplets, with_vocab, match",
    [
        (["man", "horse"], [(0, "riding", 1)], False,
         r"labels\[0\]: got the name 'man' but no vocabulary; pass vocab= .*Vocabulary\.encode"),
        ([0, 1], [(0, "riding", 1)], False, r"triplets\[0\]\[1\]: got the name 'riding' but no vocabulary; pass vocab="),
        (["man", 1], [], True, r"labels\[1\]: got the id 1 among names \(labels\[0\] is 'man'\)"),
        ([0, "horse"], [], True, r"labels\[1\]: got the name 'horse' among ids \(labels\[0\] is 0\)"),
        (["man", "horse"], [(0, "riding", 1), (1, 0, 0)], True, r"triplets\[1\]\[1\]: got the id 0 among names"),
        (["man", "horse"], [(0, "riding", "horse")], True,
         r"triplets\[0\]\[2\]: expected the object's node index \(a position in labels\), got the name 'horse'"),
        (["man", "horse"], [("man", "riding", 1)], True, r"triplets\[0\]\[0\]: expected the subject's node index"),
        ([0, 5], [], True, r"object\.label: category id 5 out of vocabulary \(num_classes=3\)"),
        ([0, 1], [(0, 7, 1)], True, r"relation\.label: predicate id 7 out of vocabulary \(num_predicates=2\)"),
        ("man", [], True, r"labels\[0\]: expected an integer id, got the name 'm'|labels: "),
    ],
)
def test_names_errors_name_the_item(labels, triplets, with_vocab, match):
    with pytest.raises(ValueError, match=match):
        from_triplets(labels, triplets, vocab=_vocab() if with_vocab else None)


def test_to_triplets_with_a_vocabulary_too_small():
    g = from_triplets([0, 4], [])
    with pytest.raises(KeyError, match="object id 4 out of range"):
        to_triplets(g, vocab=_vocab())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_names_round_trip_property(data):
    """Random graphs given by names come back as the same names (and the ids the vocabulary gives)."""
    vocab = _vocab()
    n = data.draw(st.integers(0, 6))
    labels = data.draw(st.lists(st.sampled_from(VOCAB_NAMES[0]), min_size=n, max_size=n))
    trips = data.draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.sampled_from(VOCAB_NAMES[1]),
                                         st.integers(0, max(n - 1, 0))), max_size=8 if n else 0))
    g = from_triplets(labels, trips, vocab=vocab)
    assert to_triplets(g, vocab=vocab) == (labels, trips)
    assert g[NODE].label.tolist() == [vocab.encode_object(o) for o in labels]


# --------------------------------------------------------------------------- batching of graph-level tensors
def test_dataloader_stacks_graph_level_tensors_and_concatenates_node_fields():
    graphs = []
    for k in range(8):
        g = from_triplets([k % 3] * (k % 3 + 1), [(0, 1, 0)], boxes=torch.full((k % 3 + 1, 4), 0.5),
                          image=torch.full((3, 5, 7), float(k)))
        g.scene_type = torch.tensor(k)
        g.embedding = torch.full((4,), float(k))
        graphs.append(g)
    batch = next(iter(DataLoader(graphs, batch_size=8)))
    assert batch.image.shape == (8, 3, 5, 7)
    assert batch.image.mean(dim=(1, 2, 3)).tolist() == [float(k) for k in range(8)]
    assert batch.scene_type.tolist() == list(range(8)) and batch.embedding.shape == (8, 4)
    sizes = [k % 3 + 1 for k in range(8)]
    assert batch[NODE].box.shape == (sum(sizes), 4) and batch[NODE].batch.bincount().tolist() == sizes
    for k in (0, 5):
        one = batch.get_example(k)
        assert one.image.shape == (3, 5, 7) and torch.equal(one.image, graphs[k].image)
        assert torch.equal(one.embedding, graphs[k].embedding)
    assert [d.image.shape for d in batch.to_data_list()] == [(3, 5, 7)] * 8
    assert graphs[0].image.shape == (3, 5, 7)  # a single graph keeps its own shape


def test_plain_heterodata_converts_to_scene_graph():
    h = HeteroData()
    h[NODE].label = torch.tensor([0, 1])
    h[EDGE].edge_index = torch.tensor([[0], [1]])
    h[EDGE].label = torch.tensor([0])
    h.image = torch.zeros(3, 4, 4)
    g = SceneGraph.from_hetero(h)
    assert isinstance(g, SceneGraph) and g[NODE].label is h[NODE].label
    assert Batch.from_data_list([g, g]).image.shape == (2, 3, 4, 4)
    assert "num_nodes" not in h[NODE] and g[NODE].num_nodes == 2
    h[NODE].num_nodes = 2
    assert Batch.from_data_list([h, h]).image.shape == (6, 4, 4)  # plain HeteroData: PyG's default
    with pytest.raises(ValueError, match="data: expected a torch_geometric HeteroData, got dict"):
        SceneGraph.from_hetero({})


def test_save_and_load_with_weights_only(tmp_path):
    g = from_triplets([0, 2], [(0, 1, 1)], boxes=[[0, 0, 0.5, 0.5], [0.2, 0.2, 1, 1]], image=torch.rand(3, 4, 4))
    g.attributes = {"scene_type": 2}
    torch.save([g.to_dict(), g.to_dict()], tmp_path / "g.pt")
    back = [SceneGraph.from_dict(d) for d in torch.load(tmp_path / "g.pt", weights_only=True)]
    assert isinstance(back[0], SceneGraph) and back[0].attributes == {"scene_type": 2}
    assert to_triplets(back[1]) == to_triplets(g) and torch.equal(back[0].image, g.image)
    assert torch.equal(back[0][NODE].box, g[NODE].box)
    validate(back[0])


# --------------------------------------------------------------------------- bad input (data model)
def _raw(label=None, edge_index=None, edge_label=None, box=None, image=None) -> HeteroData:
    """A graph built without from_triplets (so without its checks)."""
    h = HeteroData()
    h[NODE].label = torch.tensor([0, 1]) if label is None else label
    h[EDGE].edge_index = torch.tensor([[0], [1]]) if edge_index is None else edge_index
    h[EDGE].label = torch.tensor([0]) if edge_label is None else edge_label
    if box is not None:
        h[NODE].box = box
    if image is not None:
        h.image = image
    return h


@pytest.mark.parametrize(
    "graph, match",
    [
        (_raw(label=torch.tensor([0.0, 1.7])), r"object\.label: expected a long tensor, got torch\.float32"),
        (_raw(edge_index=torch.tensor([[0.0], [1.7]])), r"relation\.edge_index: expected a long tensor, got torch\.float32"),
        (_raw(edge_label=torch.tensor([0.5])), r"relation\.label: expected a long tensor, got torch\.float32"),
        (_raw(box=torch.tensor([[0, 0, 1, 1], [0, 0, float("nan"), 1]])), r"object\.box: contains non-finite values \(first at node 1"),
        (_raw(box=torch.tensor([[0, 0, 1, 1], [0, 0, float("inf"), 1]])), r"object\.box: contains non-finite values"),
        (_raw(image=torch.zeros(3, 4, 0)), r"image: expected a height and width >= 1, got shape \[3, 4, 0\]"),
        (_raw(image=torch.zeros(3, 0, 4)), r"image: expected a height and width >= 1, got shape \[3, 0, 4\]"),
        (_raw(image=torch.zeros(1, 4, 4)), r"image: expected a float tensor of shape \[3, H, W\], got torch\.float32 \[1, 4, 4\]"),
        (_raw(image=torch.zeros(3, 4, 4, dtype=torch.uint8)), r"image: expected a float tensor of shape \[3, H, W\], got torch\.uint8"),
        (_raw(image=torch.full((3, 2, 2), float("nan"))), r"image: contains non-finite values"),
        (_raw(label=torch.tensor([0, -(2**63)])), r"object\.label: negative category id -9223372036854775808"),
    ],
)
def test_validate_rejects_graphs_that_skipped_from_triplets(graph, match):
    with pytest.raises(ValueError, match=match):
        validate(graph)


@pytest.mark.parametrize(
    "labels, triplets, kwargs, match",
    [
        ([1.7, 0], [], {}, r"labels\[0\]: expected an integer id, got 1\.7"),
        ([0, 1], [(0, 0, 1.7)], {}, r"triplets\[0\]\[2\]: expected an integer id, got 1\.7"),
        ([16777217.0], [], {}, r"labels\[0\]: expected an integer id, got the float 16777217\.0"),
        ([2**63], [], {}, r"labels\[0\]: id 9223372036854775808 does not fit in a 64-bit integer"),
        ([0, 1], [(0, 2**64, 1)], {}, r"triplets\[0\]\[1\]: id 18446744073709551616 does not fit"),
        ([0], [], {"boxes": [[0, 0, float("nan"), 1]]}, r"object\.box: contains non-finite values"),
        ([0], [], {"boxes": [[0, 0, 1, float("inf")]]}, r"object\.box: contains non-finite values"),
        ([0], [], {"image": torch.zeros(3, 8, 0)}, r"image: expected a height and width >= 1"),
        ([0], [], {"boxes": [[0.5, 0, 0.1, 1]]}, r"object\.box: inverted box at node 0"),
    ],
)
def test_from_triplets_regressions(labels, triplets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        from_triplets(labels, triplets, **kwargs)


def test_integral_floats_are_accepted_exactly():
    g = from_triplets([3.0, 16777216.0], [(0.0, 2.0, 1.0)])
    assert g[NODE].label.tolist() == [3, 16777216] and to_triplets(g)[1] == [(0, 2, 1)]


_ANY = st.one_of(st.integers(-3, 6), st.floats(-2, 6), st.booleans(), st.sampled_from(["man", "x"]), st.none())


@settings(max_examples=200, deadline=None)
@given(st.lists(_ANY, max_size=5), st.lists(st.lists(_ANY, min_size=2, max_size=4), max_size=4))
def test_from_triplets_property_valid_graph_or_clear_error(labels, triplets):
    """Arbitrary labels and triplets: a graph that validates and round-trips exactly, or a clear error."""
    vocab = _vocab()
    try:
        g = from_triplets(labels, triplets, vocab=vocab)
    except KeyError as exc:
        assert re.match(r"(labels|triplets)\[\d+\](\[1\])?: unknown", str(exc)), str(exc)
        return
    except ValueError as exc:
        assert re.match(r"(labels|triplets|object\.label|relation\.(label|edge_index))(\[\d+\])*: ", str(exc)), str(exc)
        return
    validate(g, vocab=vocab)
    out_labels, out_trips = to_triplets(g)
    assert out_labels == [vocab.encode_object(v) if isinstance(v, str) else int(v) for v in labels]
    for (s, p, o), t in zip(out_trips, triplets):
        assert (s, o) == (int(t[0]), int(t[2])) and p == (vocab.encode_predicate(t[1]) if isinstance(t[1], str) else int(t[1]))
        assert not any(isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()) for v in t)

import pytest
import torch
from torch_geometric.data import Batch, HeteroData
from torch_geometric.loader import DataLoader

from sgkit.data import EDGE, NODE, from_triplets, num_objects, num_relations, to_triplets, validate


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
    assert batch.image.view(-1, 3, 8, 8)[1].mean() == 1.0
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

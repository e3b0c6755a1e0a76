import json
import re

import h5py
import numpy as np
import pytest
import torch

from sgkit.data import NODE, Vocabulary, load_sg2im_json, load_vg_sgg_h5, save_sg2im_json, to_triplets, validate

FILES = ["figure_5_coco.json", "figure_5_vg.json", "figure_6_sheep.json", "figure_6_street.json"]


@pytest.mark.parametrize("name", FILES)
def test_load_all_real_sg2im_examples(shared_data, name):
    path = shared_data / "sg2im_examples" / name
    raw = json.loads(path.read_text())
    raw = raw if isinstance(raw, list) else [raw]
    graphs, vocab = load_sg2im_json(path)
    assert len(graphs) == len(raw)
    for g, sg in zip(graphs, raw):
        validate(g, num_classes=vocab.num_objects, num_predicates=vocab.num_predicates)
        labels, trips = to_triplets(g)
        assert [vocab.decode_object(c) for c in labels] == sg["objects"]
        assert [[s, vocab.decode_predicate(p), o] for s, p, o in trips] == sg["relationships"]


def test_repeated_triplets_and_multi_predicates_are_kept(shared_data):
    graphs, vocab = load_sg2im_json(shared_data / "sg2im_examples" / "figure_5_vg.json")
    _, trips = to_triplets(graphs[0])
    eating = vocab.encode_predicate("eating")
    assert trips.count((3, eating, 4)) == 2  # repeated triple
    _, trips = to_triplets(graphs[2])
    on_pair = [p for s, p, o in trips if (s, o) == (0, 1)]
    assert sorted(vocab.decode_predicate(p) for p in on_pair) == ["on top of", "standing on"]


def test_vg150_vocabulary_rejects_names_outside_it(shared_data):
    vg = Vocabulary.from_vg_sgg_dicts(shared_data / "vg150" / "VG-SGG-dicts-with-attri.json")
    with pytest.raises(KeyError, match="unknown object name 'sky'"):
        load_sg2im_json(shared_data / "sg2im_examples" / "figure_5_vg.json", vocab=vg)
    graphs, grown = load_sg2im_json(shared_data / "sg2im_examples" / "figure_5_vg.json", vocab=vg, on_unknown="add")
    assert grown.num_objects > 150 and "cloud" in grown.objects


def test_sg2im_json_round_trip(tmp_path, shared_data):
    graphs, vocab = load_sg2im_json(shared_data / "sg2im_examples" / "figure_6_street.json")
    out = tmp_path / "out.json"
    save_sg2im_json(graphs, out, vocab)
    again, vocab2 = load_sg2im_json(out, vocab=vocab)
    assert [to_triplets(g) for g in again] == [to_triplets(g) for g in graphs]
    assert json.loads(out.read_text()) == json.loads((shared_data / "sg2im_examples" / "figure_6_street.json").read_text())


def test_sg2im_json_with_boxes_round_trip(tmp_path):
    from sgkit.data import from_triplets

    vocab = Vocabulary(["a", "b"], ["p"])
    g = from_triplets([0, 1], [(0, 0, 1)], boxes=[[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 1.0, 1.0]])
    save_sg2im_json([g], tmp_path / "x.json", vocab)
    (h,), _ = load_sg2im_json(tmp_path / "x.json", vocab=vocab)
    assert torch.allclose(h[NODE].box, g[NODE].box)


def test_sg2im_json_bad_relationship(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([{"objects": ["a", "b"], "relationships": [[0, "p"]]}]))
    with pytest.raises(ValueError, match=r"bad\.json\[0\]\.relationships: expected \[s, predicate, o\]"):
        load_sg2im_json(p)
    p.write_text(json.dumps([{"relationships": []}]))
    with pytest.raises(ValueError, match=r"\[0\]\.objects: missing"):
        load_sg2im_json(p)


def test_vg_sgg_h5_fixture(tmp_path, shared_data):
    """A tiny VG-SGG h5 written here: 3 images (train, test, train), 1-based labels/predicates."""
    h5 = tmp_path / "VG-SGG.h5"
    with h5py.File(h5, "w") as f:
        f["split"] = np.array([0, 2, 0])
        f["img_to_first_box"] = np.array([0, 2, -1])
        f["img_to_last_box"] = np.array([1, 2, -1])
        f["img_to_first_rel"] = np.array([0, -1, -1])
        f["img_to_last_rel"] = np.array([0, -1, -1])
        f["labels"] = np.array([[78], [1], [5]])  # 78 = 'man' in VG150 (1-based)
        f["boxes_1024"] = np.array([[512, 512, 200, 100], [100, 100, 50, 50], [10, 10, 4, 4]])
        f["relationships"] = np.array([[0, 1]])
        f["predicates"] = np.array([[31]])
    dicts = shared_data / "vg150" / "VG-SGG-dicts-with-attri.json"
    graphs, vocab = load_vg_sgg_h5(h5, dicts, split="train")
    assert len(graphs) == 2
    labels, trips = to_triplets(graphs[0])
    assert labels == [77, 0] and trips == [(0, 30, 1)]
    assert vocab.decode_object(77) == "man"
    assert torch.allclose(graphs[0][NODE].box[0], torch.tensor([412, 462, 612, 562]) / 1024.0)
    assert to_triplets(graphs[1]) == ([], [])
    test_graphs, _ = load_vg_sgg_h5(h5, dicts, split="test")
    assert to_triplets(test_graphs[0]) == ([4], [])
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', got 'val'"):
        load_vg_sgg_h5(h5, dicts, split="val")


GOOD = {"objects": ["a", "b"], "relationships": [[0, "p", 1]]}


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"objects": ["a", "b"], "relationships": [[0, "p", 1.5]]}, r"\[1\]\.relationships\[0\]: expected an integer node index, got 1\.5"),
        ({"objects": ["a", "b"], "relationships": [[0, "p", 1], ["x", "p", 1]]}, r"\[1\]\.relationships\[1\]: expected an integer node index, got 'x'"),
        ({"objects": ["a", "b"], "relationships": [[True, "p", 1]]}, r"\[1\]\.relationships\[0\]: expected an integer node index, got True"),
        ({"objects": ["a", "b"], "relationships": [[0, "p", 5]]}, r"\[1\]\.relationships: node index 5 out of range for 2 nodes"),
        ({"objects": ["a", "b"], "relationships": [[0, 3, 1]]}, r"\[1\]\.relationships\[0\]: expected a predicate name \(string\), got 3"),
        ({"objects": ["a", 7]}, r"\[1\]\.objects\[1\]: expected a name \(string\), got 7"),
        ({"objects": "ab"}, r"\[1\]\.objects: expected a list of names, got str"),
        ({"objects": ["a", "b"], "boxes": [0, 0, 1, 1, 0, 0, 1, 1]}, r"\[1\]\.boxes: expected shape \[N, 4\], got \[8\]"),
        ({"objects": ["a", "b"], "boxes": [[0, 0, 1, 1]]}, r"\[1\]\.boxes: expected shape \[N, 4\] with N = 2 nodes, got \[1, 4\]"),
        ({"objects": ["a", "b"], "boxes": [[0, 0, 1, 1], [1, 0, 0, 1]]}, r"\[1\]\.boxes: inverted box at node 1"),
        (["a", "b"], r"\[1\]: expected an object with 'objects' and 'relationships', got list"),
    ],
)
def test_sg2im_json_errors_name_path_graph_and_field(tmp_path, bad, match):
    p = tmp_path / "broken.json"
    p.write_text(json.dumps([GOOD, bad]))
    with pytest.raises(ValueError, match=re.escape(str(p)) + match):
        load_sg2im_json(p)
    # the same graph alone is reported at index 0, and the good graph alone loads
    p.write_text(json.dumps([bad, GOOD]))
    with pytest.raises(ValueError, match=re.escape(str(p)) + match.replace(r"\[1\]", r"\[0\]", 1)):
        load_sg2im_json(p)
    p.write_text(json.dumps([GOOD]))
    (g,), _ = load_sg2im_json(p)
    assert to_triplets(g) == ([0, 1], [(0, 0, 1)])


def test_sg2im_json_accepts_integral_float_indices(tmp_path):
    p = tmp_path / "floats.json"
    p.write_text(json.dumps([{"objects": ["a", "b"], "relationships": [[1.0, "p", 0.0]]}]))
    (g,), _ = load_sg2im_json(p)
    assert to_triplets(g) == ([0, 1], [(1, 0, 0)])

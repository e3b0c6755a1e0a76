import json
import re

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- several files, one vocabulary
def _write(path, graphs):
    path.write_text(json.dumps(graphs))
    return path


def test_multi_file_loader_builds_one_vocabulary(tmp_path):
    from sgkit.data import load_sg2im_json_files

    a = _write(tmp_path / "train.json", [{"objects": ["man", "horse"], "relationships": [[0, "riding", 1]]}])
    b = _write(tmp_path / "val.json", [{"objects": ["sky", "man"], "relationships": [[1, "under", 0]]},
                                       {"objects": ["horse"], "relationships": []}])
    (ga, gb), vocab = load_sg2im_json_files([a, b])
    assert vocab.objects == ["man", "horse", "sky"] and vocab.predicates == ["riding", "under"]
    assert [len(ga), len(gb)] == [1, 2]
    assert to_triplets(gb[0], vocab=vocab) == (["sky", "man"], [(1, "under", 0)])
    assert to_triplets(gb[0]) == ([2, 0], [(1, 1, 0)])
    (only,), _ = load_sg2im_json_files([b], vocab=vocab, max_graphs=1)
    assert len(only) == 1
    with pytest.raises(ValueError, match=r"paths: expected a list of JSON file paths, got '.*train\.json'; for one file use load_sg2im_json"):
        load_sg2im_json_files(str(a))


def test_sharing_a_vocabulary_across_files_names_the_fix(tmp_path):
    from sgkit.data import UnknownNameError

    a = _write(tmp_path / "a.json", [{"objects": ["man"], "relationships": []}])
    b = _write(tmp_path / "b.json", [{"objects": ["man", "sky"], "relationships": [[0, "under", 1]]}])
    _, vocab = load_sg2im_json(a)
    with pytest.raises(UnknownNameError) as info:
        load_sg2im_json(b, vocab=vocab)
    msg = str(info.value)
    assert msg.startswith(f"{b}[0].objects[1]: unknown object name 'sky'")
    assert 'on_unknown="add"' in msg and "load_sg2im_json_files(paths)" in msg
    assert isinstance(info.value, KeyError)
    (g,), vocab2 = load_sg2im_json(b, vocab=vocab, on_unknown="add")
    assert vocab2 is vocab and vocab.objects == ["man", "sky"] and vocab.predicates == ["under"]
    assert to_triplets(g, vocab=vocab) == (["man", "sky"], [(0, "under", 1)])


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r": empty file, expected JSON"),
        (b"\x00\x01\x02\xff\xfe binary", r": not a UTF-8 JSON file"),
        (b'[{"objects": ["a"], ', r": malformed JSON at line 1 column 21: Expecting property name"),
        (b"42", r": expected a list of scene graphs, got int"),
        (b'"text"', r": expected a list of scene graphs, got str"),
        (b'[{"objects": ["a"], "boxes": [[0, 0, NaN, 1]]}]', r"\[0\]\.boxes: contains non-finite values"),
        (b'[{"objects": ["a"], "boxes": [[0, 0, Infinity, 1]]}]', r"\[0\]\.boxes: contains non-finite values"),
        (b'[{"objects": ["a"], "boxes": [[0, 0, "x", 1]]}]', r"\[0\]\.boxes: cannot convert"),
        (b'[{"objects": ["a", "b"], "relationships": [[0, "p", 1e30]]}]', r"\[0\]\.relationships\[0\]\[2\]: expected an integer id, got the float 1e\+30"),
        (b'[{"objects": ["a", "b"], "relationships": [[0, "p", 99999999999999999999999]]}]', r"\[0\]\.relationships\[0\]\[2\]: id 99999999999999999999999 does not fit in a 64-bit integer"),
    ],
)
def test_bad_sg2im_files_name_the_path(tmp_path, content, match):
    from sgkit.data import load_sg2im_json_files

    path = tmp_path / "scene.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + match):
        load_sg2im_json(path)
    good = _write(tmp_path / "good.json", [GOOD])
    with pytest.raises(ValueError, match=re.escape(str(path)) + match):
        load_sg2im_json_files([good, path])


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"{", b"[]"])
def test_bad_sg2im_vocab_files_name_the_path(tmp_path, content):
    path = tmp_path / "vocab.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": "):
        Vocabulary.from_sg2im_vocab(path)


@pytest.mark.parametrize(
    "d, match",
    [
        ({"object_idx_to_name": "ab", "pred_idx_to_name": []}, r"object_idx_to_name: expected a list of names, got str"),
        ({"object_idx_to_name": ["a", 3], "pred_idx_to_name": []}, r"object_idx_to_name\[1\]: expected a name \(string\) or null, got 3"),
        ({"object_idx_to_name": ["a", "a"], "pred_idx_to_name": []}, r"object: duplicate name 'a'"),
    ],
)
def test_bad_sg2im_vocab_content(tmp_path, d, match):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": " + match):
        Vocabulary.from_sg2im_vocab(path)


@pytest.mark.parametrize("value", [-1, 1.5, "2"])
def test_sg2im_max_graphs_rejects_negative_counts(tmp_path, value):
    path = _write(tmp_path / "g.json", [GOOD, GOOD, GOOD])
    with pytest.raises(ValueError, match=r"max_graphs: expected None \(all graphs\) or an int >= 0"):
        load_sg2im_json(path, max_graphs=value)
    assert [len(load_sg2im_json(path, max_graphs=k)[0]) for k in (0, 2, 5, None)] == [0, 2, 3, 3]


def test_sg2im_on_unknown_is_checked(tmp_path):
    path = _write(tmp_path / "g.json", [GOOD])
    with pytest.raises(ValueError, match=r"on_unknown: expected 'error' or 'add', got 'skip'"):
        load_sg2im_json(path, Vocabulary(["a"], ["p"]), on_unknown="skip")


def test_save_sg2im_json_checks_inputs_and_writes_atomically(tmp_path):
    from sgkit.data import from_triplets

    vocab = Vocabulary(["a", "b"], ["p"])
    g = from_triplets([0, 1], [(0, 0, 1)])
    with pytest.raises(ValueError, match=r"graphs: expected a list of scene graphs, got a single SceneGraph"):
        save_sg2im_json(g, tmp_path / "x.json", vocab)
    with pytest.raises(ValueError, match=r"graphs\[1\]: object\.label: category id 2 out of vocabulary"):
        save_sg2im_json([g, from_triplets([2], [])], tmp_path / "x.json", vocab)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    save_sg2im_json([g], tmp_path / "x.json", vocab)
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_corrupted_sg2im_files_load_or_fail_naming_the_file(tmp_path_factory, data):
    """Random byte edits of a small valid file: valid graphs, or an error that names the file."""
    base = json.dumps([GOOD, {"objects": ["b", "a", "c"], "relationships": [[2, "q", 0], [0, "p", 1]],
                              "boxes": [[0, 0, 0.5, 0.5], [0.1, 0.1, 1, 1], [0, 0, 1, 1]]}]).encode()
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        k = data.draw(st.integers(0, len(raw) - 1)) if raw else 0
        if op == "flip" and raw:
            raw[k] = data.draw(st.sampled_from(b'0123456789.-[]{}",:eE aNx\x00\xff'))
        elif op == "cut":
            del raw[k:k + data.draw(st.integers(1, 8))]
        else:
            raw[k:k] = data.draw(st.binary(min_size=1, max_size=4))
    path = tmp_path_factory.mktemp("c") / "scene.json"
    path.write_bytes(bytes(raw))
    try:
        graphs, vocab = load_sg2im_json(path)
    except (ValueError, KeyError) as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return
    for g in graphs:
        validate(g, vocab=vocab)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_sg2im_save_load_round_trip_property(tmp_path_factory, data):
    """Random graphs (names, multi-edges, self-loops, boxes) survive save + load with one vocabulary."""
    from sgkit.data import from_triplets, load_sg2im_json_files

    vocab = Vocabulary(["a", "b", "c"], ["p", "q"])
    graphs = []
    for _ in range(data.draw(st.integers(1, 3))):
        n = data.draw(st.integers(0, 4))
        labels = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
        trips = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 1), st.integers(0, n - 1)),
                                   max_size=5)) if n else []
        corners = data.draw(st.lists(st.tuples(*[st.integers(0, 64)] * 4), min_size=n, max_size=n))
        boxes = [[min(x0, x1) / 64, min(y0, y1) / 64, max(x0, x1) / 64, max(y0, y1) / 64] for x0, y0, x1, y1 in corners]
        graphs.append(from_triplets(labels, trips, boxes=boxes if data.draw(st.booleans()) else None))
    folder = tmp_path_factory.mktemp("rt")
    half = len(graphs) // 2
    save_sg2im_json(graphs[:half], folder / "a.json", vocab)
    save_sg2im_json(graphs[half:], folder / "b.json", vocab)
    (ga, gb), again = load_sg2im_json_files([folder / "a.json", folder / "b.json"], vocab=vocab)
    assert again is vocab and vocab.objects == ["a", "b", "c"]
    for g, h in zip(graphs, ga + gb):
        assert to_triplets(h, vocab=vocab) == to_triplets(g, vocab=vocab)
        assert ("box" in h[NODE]) == ("box" in g[NODE])
        if "box" in g[NODE]:
            assert torch.equal(h[NODE].box, g[NODE].box)  # multiples of 1/64 are exact in JSON

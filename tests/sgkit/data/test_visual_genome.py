"""The VG-SGG loader on small fixture files written here: ids through the dict file's ids, checks
against the vocabulary, images from a VG_100K folder, and the SceneGraphGen preparation."""
from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from sgkit.data import NODE, from_triplets, get_ordering, load_vg_sgg_h5, to_triplets, validate
from sgkit.data.io import load_vg_sgg_h5 as io_loader
from sgkit.data.orderings import vg150_object_ranks, vg150_rank_table
from sgkit.data.visual_genome import SCENEGRAPHGEN_PREPARATION, prepare_scene_graphs, read_vg_sgg_dicts


def write_vg(root, *, label_ids=(1, 2, 5), pred_ids=(1, 3), labels=None, image_sizes=((200, 100), (50, 50), (80, 40))):
    """3 images (train, test, train). Objects 'man' / 'horse' / 'tree' with the given file ids."""
    names = dict(zip(label_ids, ["man", "horse", "tree"]))
    preds = dict(zip(pred_ids, ["on", "near"]))
    dicts = {"idx_to_label": {str(k): v for k, v in names.items()}, "idx_to_predicate": {str(k): v for k, v in preds.items()}}
    (root / "dicts.json").write_text(json.dumps(dicts))
    man, horse, tree = label_ids
    on, near = pred_ids
    if labels is None:
        labels = [man, horse, man, tree, tree]
    with h5py.File(root / "vg.h5", "w") as f:
        f["split"] = np.array([0, 2, 0])
        f["img_to_first_box"] = np.array([0, 2, 3])
        f["img_to_last_box"] = np.array([1, 2, 4])
        f["img_to_first_rel"] = np.array([0, -1, 1])
        f["img_to_last_rel"] = np.array([0, -1, 1])
        f["labels"] = np.array(labels).reshape(-1, 1)
        # image 0 is 200 x 100: longer side 200 -> 1024; a box at x 50..150, y 25..75 in pixels
        f["boxes_1024"] = np.array([[512, 256, 512, 256], [100, 100, 50, 50], [10, 10, 4, 4], [400, 200, 400, 200], [400, 200, 400, 200]])
        f["relationships"] = np.array([[0, 1], [3, 4]])
        f["predicates"] = np.array([[on], [near]])
    vg = root / "VG_100K"
    vg.mkdir()
    entries = []
    for image_id, (w, h) in zip((10, 11, 12), image_sizes):
        Image.new("RGB", (w, h), (255, 0, 0)).save(vg / f"{image_id}.jpg")
        entries.append({"image_id": image_id, "width": w, "height": h})
    entries.insert(1, {"image_id": 1592, "width": 1, "height": 1})  # a corrupted image the h5 leaves out
    (root / "image_data.json").write_text(json.dumps(entries))
    return root / "vg.h5", root / "dicts.json"


@pytest.mark.parametrize("ids", [((1, 2, 5), (1, 3)), ((0, 1, 2), (0, 1)), ((7, 3, 40), (9, 2))])
def test_names_follow_the_dict_files_ids(tmp_path, ids) -> None:
    """1-based, 0-based and gapped / unordered id files all decode to the same names."""
    h5, dicts = write_vg(tmp_path, label_ids=ids[0], pred_ids=ids[1])
    graphs, vocab = load_vg_sgg_h5(h5, dicts)
    assert len(graphs) == 2 and graphs[0].vocab is vocab
    names = [[vocab.decode_object(c) for c in to_triplets(g)[0]] for g in graphs]
    assert names == [["man", "horse"], ["tree", "tree"]]
    rels = [[(s, vocab.decode_predicate(p), o) for s, p, o in to_triplets(g)[1]] for g in graphs]
    assert rels == [[(0, "on", 1)], [(0, "near", 1)]]
    for g in graphs:
        validate(g, num_classes=vocab.num_objects, num_predicates=vocab.num_predicates)
    assert io_loader is load_vg_sgg_h5


def test_labels_and_predicates_are_checked_against_the_vocabulary(tmp_path) -> None:
    h5, dicts = write_vg(tmp_path, labels=[1, 2, 1, 3, 5])  # 3 is not an id of the file (1, 2, 5)
    with pytest.raises(ValueError, match=r"vg.h5: labels\[3:5\] \(image 2\): id 3 is not an id of idx_to_label"):
        load_vg_sgg_h5(h5, dicts)
    with h5py.File(h5, "a") as f:
        del f["labels"]
        f["labels"] = np.array([[1.0], [2.0], [1.0], [3.7], [5.0]])
    with pytest.raises(ValueError, match=r"labels: expected integer ids, got dtype float64 \(e.g. \[3.7\]\)"):
        load_vg_sgg_h5(h5, dicts)


def test_bad_arguments_and_files(tmp_path) -> None:
    h5, dicts = write_vg(tmp_path)
    with pytest.raises(ValueError, match="max_graphs: expected None or a non-negative integer, got -1"):
        load_vg_sgg_h5(h5, dicts, max_graphs=-1)
    assert len(load_vg_sgg_h5(h5, dicts, max_graphs=1)[0]) == 1
    with pytest.raises(ValueError, match=r"image_sizes\[0\]: width and height must be positive"):
        load_vg_sgg_h5(h5, dicts, image_sizes=[(0, 10), (5, 5)])
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        load_vg_sgg_h5(tmp_path / "missing.h5", dicts)
    (tmp_path / "broken.h5").write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="broken.h5: not a readable h5 file"):
        load_vg_sgg_h5(tmp_path / "broken.h5", dicts)
    (tmp_path / "bad.json").write_text('{"idx_to_label": {"a": "man"}, "idx_to_predicate": {"1": "on"}}')
    with pytest.raises(ValueError, match="bad.json: idx_to_label has the non-integer id 'a'"):
        load_vg_sgg_h5(h5, tmp_path / "bad.json")


def test_images_from_the_vg_100k_folder(tmp_path) -> None:
    h5, dicts = write_vg(tmp_path)
    graphs, _ = load_vg_sgg_h5(h5, dicts, image_dir=tmp_path / "VG_100K", image_size=16)
    assert [g.image_id for g in graphs] == [10, 12]  # image 1592 skipped, test image 11 not in train
    assert graphs[0].image.shape == (3, 16, 16) and graphs[0].image[0].min() > 0.9  # red
    # image 0 is 200 x 100 pixels: the box 512 +- 256 / 256 +- 128 is x 50..150, y 25..75 pixels
    assert torch.allclose(graphs[0][NODE].box[0], torch.tensor([0.25, 0.25, 0.75, 0.75]))
    (tmp_path / "VG_100K" / "12.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="12.jpg"):
        load_vg_sgg_h5(h5, dicts, image_dir=tmp_path / "VG_100K", image_size=16)
    entries = json.loads((tmp_path / "image_data.json").read_text())
    entries[0]["width"] = 0
    (tmp_path / "image_data.json").write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"image_data.json\[0\] \(image 10\): width and height must be positive"):
        load_vg_sgg_h5(h5, dicts, image_dir=tmp_path / "VG_100K")


def test_scenegraphgen_preparation_merges_duplicates_and_filters_sizes(tmp_path) -> None:
    h5, dicts = write_vg(tmp_path)
    graphs, vocab = load_vg_sgg_h5(h5, dicts, min_nodes=None, max_nodes=None, merge_iou=0.5)
    # image 2: two 'tree' boxes with IoU 1 are one object; their 'near' edge becomes a self-loop
    assert to_triplets(graphs[1]) == ([vocab.encode_object("tree")], [])
    assert load_vg_sgg_h5(h5, dicts, **SCENEGRAPHGEN_PREPARATION)[0] == []  # both graphs < 3 nodes
    a = from_triplets([0, 0, 1, 2], [(0, 0, 2), (1, 1, 2), (2, 0, 3), (1, 0, 3)],
                      boxes=[[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.55], [0.5, 0.5, 1, 1], [0, 0, 0.5, 0.5]])
    a.image_id = 7
    out = prepare_scene_graphs([a], min_nodes=3, max_nodes=25, merge_iou=0.5, seed=0)
    assert len(out) == 1 and out[0].image_id == 7
    labels, trips = to_triplets(out[0])
    assert labels == [0, 1, 2]  # the two category-0 boxes (IoU 0.91) merged; category 2 kept apart
    assert sorted(trips) == [(0, 0, 1), (0, 0, 2), (0, 1, 1), (1, 0, 2)]
    assert prepare_scene_graphs([a], min_nodes=4, merge_iou=0.5) == []
    assert len(prepare_scene_graphs([a], min_nodes=4, merge_iou=None)) == 1
    with pytest.raises(ValueError, match="merge_iou: expected a value in"):
        prepare_scene_graphs([a], merge_iou=1.5)


def test_vg150_rank_table_and_equal_rank_warning(tmp_path) -> None:
    table = vg150_rank_table()
    assert len(table["ranks"]) == 150 and set(table["ranks"].values()) == {0, 1, 2}
    assert table["levels"] == {"0": "background", "1": "object", "2": "part"}
    assert vg150_object_ranks(["street", "man", "hand"]) == [0, 1, 2]
    with pytest.raises(KeyError, match="'sky' has no rank"):
        vg150_object_ranks(["sky"])
    assert vg150_object_ranks(["sky"], default=1) == [1]
    h5, dicts = write_vg(tmp_path)
    vocab = read_vg_sgg_dicts(dicts)[0]
    assert vocab.object_ranks == [1, 1, 1]  # man, horse, tree: all objects
    with pytest.warns(UserWarning, match="3 object ranks that are all equal"):
        get_ordering("hierarchical", object_ranks=vocab.object_ranks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_ordering("hierarchical", object_ranks=vg150_object_ranks())


def write_vg_folder(root, n_train: int = 16, n_test: int = 8, seed: int = 0):
    """A VG folder in the standard layout: random 3-6 object graphs on a grid, images of 64 x 48."""
    rng = np.random.default_rng(seed)
    names = ["man", "horse", "tree", "street", "hand", "shirt"]
    dicts = {"idx_to_label": {str(i + 1): n for i, n in enumerate(names)}, "idx_to_predicate": {"1": "on", "2": "near", "3": "has"}}
    (root / "VG-SGG-dicts-with-attri.json").write_text(json.dumps(dicts))
    n = n_train + n_test
    labels, boxes, rels, preds, fb, lb, fr, lr = [], [], [], [], [], [], [], []
    for _ in range(n):
        k = int(rng.integers(3, 7))
        fb.append(len(labels))
        for j in range(k):
            labels.append(int(rng.integers(1, 7)))
            # 64 x 48 image: longer side 64 -> 1024 (scale 16); disjoint cells of a 3 x 2 grid
            cx, cy = 16 * (10 + 20 * (j % 3)), 16 * (12 + 24 * (j // 3))
            boxes.append([cx, cy, 16 * 16, 16 * 16])
        lb.append(len(labels) - 1)
        fr.append(len(rels))
        for j in range(k - 1):
            rels.append([fb[-1] + j, fb[-1] + j + 1])
            preds.append(int(rng.integers(1, 4)))
        lr.append(len(rels) - 1)
    with h5py.File(root / "VG-SGG-with-attri.h5", "w") as f:
        f["split"] = np.array([0] * n_train + [2] * n_test)
        f["img_to_first_box"], f["img_to_last_box"] = np.array(fb), np.array(lb)
        f["img_to_first_rel"], f["img_to_last_rel"] = np.array(fr), np.array(lr)
        f["labels"] = np.array(labels).reshape(-1, 1)
        f["boxes_1024"] = np.array(boxes)
        f["relationships"], f["predicates"] = np.array(rels), np.array(preds).reshape(-1, 1)
    (root / "VG_100K").mkdir()
    entries = []
    for i in range(n):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        Image.new("RGB", (64, 48), colour).save(root / "VG_100K" / f"{100 + i}.jpg")
        entries.append({"image_id": 100 + i, "width": 64, "height": 48})
    (root / "image_data.json").write_text(json.dumps(entries))
    return root


def _examples():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
    import scene_graph_generation
    import scene_graph_to_image

    return scene_graph_generation, scene_graph_to_image


def test_vg_folder_and_the_examples_data_paths(tmp_path) -> None:
    from sgkit.data.visual_genome import load_vg_folder
    from sgkit.demo import DemoConfig, run, stage_sample, stage_train

    root = write_vg_folder(tmp_path)
    graphs, vocab = load_vg_folder(root, "train", with_images=True, image_size=8)
    assert len(graphs) == 16 and graphs[0].image.shape == (3, 8, 8) and vocab.object_ranks[3] == 0  # street
    gen, to_image = _examples()
    cfg = DemoConfig(out=str(tmp_path / "run"), num_train=12, num_test=6, epochs=1, num_samples=10, image_steps=0,
                     progress=False, seed=0, model_kwargs=dict(max_nodes=25, hidden_dim=8, num_layers=1,
                                                               node_embedding_dim=4, edge_embedding_dim=2, mlp_hidden_dim=8))
    stages = [("data", gen.real_data_stage(vg=str(root))), ("train", stage_train), ("sample", stage_sample), ("mmd", gen._stage_mmd)]
    res = run(cfg, stages=stages)
    assert res["data"]["num_train"] == 12 and res["data"]["num_test"] == 6 and "Visual Genome" in res["data"]["source"]
    for m in gen.MODELS:
        assert np.isfinite(res[m]["mmd_graph"]) and np.isfinite(res[m]["mmd_graph_thesis"])
    scenes, vocab2, n_test = to_image._real_scenes(str(root), None, 10, 4, seed=0)
    assert len(scenes) == 14 and n_test == 4 and scenes[0].image.shape == (3, 64, 64)
    colours = to_image._category_colours(scenes[:10], vocab2.num_objects)
    # the fixture's images are uniform: a category's colour is the mean over its occurrences of their image's colour
    expected = torch.full((6, 3), 0.5)
    for c in range(6):
        seen = [g.image.mean((1, 2)) for g in scenes[:10] for lab in g["object"].label.tolist() if lab == c]
        if seen:
            expected[c] = torch.stack(seen).mean(0)
    assert torch.allclose(colours, expected, atol=1e-5)
    with pytest.raises(SystemExit):
        gen.main(["--vg", str(root), "--coco", str(root)])


@pytest.mark.slow
def test_examples_run_end_to_end_on_the_vg_fixture(tmp_path) -> None:
    root = write_vg_folder(tmp_path, n_train=24, n_test=8)
    gen, to_image = _examples()
    gen.main(["--vg", str(root), "--quick", "--epochs", "1", "--orderings", "", "--out", str(tmp_path / "gen"), "--no-progress"])
    saved = json.loads((tmp_path / "gen" / "results.json").read_text())
    assert "Visual Genome" in saved["data"]["source"] and "mmd_graph" in saved["SceneGraphGen"]
    res = to_image.main(["--vg", str(root), "--quick", "--decoders", "crn", "--out", str(tmp_path / "img"), "--no-progress"])
    assert res["num_test"] == 8 and "crn" in res

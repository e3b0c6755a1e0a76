"""The SIMSG CLEVR edit-pair loader on a fixture in its generator's output layout."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from sgkit.data import to_triplets
from sgkit.data.clevr_edits import load_clevr_edit_pairs

SRC_VOCAB = {"object_idx_to_name": ["__image__", "red cube", "blue sphere", "gray cylinder"],
             "pred_idx_to_name": ["__in_image__", "left of", "behind", "right of", "front of"]}
# the target vocabulary orders the same names differently: ids must go through names
TGT_VOCAB = {"object_idx_to_name": ["__image__", "blue sphere", "gray cylinder", "red cube"],
             "pred_idx_to_name": ["__in_image__", "right of", "left of", "front of", "behind"]}


def write_side(folder, vocab, scenes):
    """``scenes``: list of (objects [(name, (x, y, w, h))], relations [(s, pred name, o)])."""
    (folder / "images").mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    oid = {n: i for i, n in enumerate(vocab["object_idx_to_name"])}
    pid = {n: i for i, n in enumerate(vocab["pred_idx_to_name"])}
    n, mo, mr = len(scenes), 4, 4
    names, boxes = np.full((n, mo), -1), np.full((n, mo, 4), -1)
    subs, preds, objs = np.full((n, mr), -1), np.full((n, mr), -1), np.full((n, mr), -1)
    for i, (objects, rels) in enumerate(scenes):
        for k, (name, box) in enumerate(objects):
            names[i, k], boxes[i, k] = oid[name], box
        for j, (s, p, o) in enumerate(rels):
            subs[i, j], preds[i, j], objs[i, j] = s, pid[p], o
        Image.new("RGB", (320, 240), (128, 128, 128)).save(folder / "images" / f"{i}.png")
    with h5py.File(folder / "test.h5", "w") as f:
        f["image_paths"] = np.array([f"{i}.png".encode() for i in range(n)])
        f["object_names"], f["object_boxes"] = names, boxes
        f["objects_per_image"] = np.array([len(s[0]) for s in scenes])
        f["relationship_subjects"], f["relationship_predicates"], f["relationship_objects"] = subs, preds, objs
        f["relationships_per_image"] = np.array([len(s[1]) for s in scenes])


CUBE, SPHERE, CYL = ("red cube", (32, 24, 64, 48)), ("blue sphere", (160, 120, 32, 24)), ("gray cylinder", (0, 0, 320, 240))


def write_fixture(root):
    src = [([CUBE, SPHERE], [(0, "left of", 1)]), ([CUBE, SPHERE, CYL], [(0, "left of", 1)]),
           ([CUBE, SPHERE], [(0, "left of", 1)]), ([CUBE, SPHERE], [(0, "left of", 1)])]
    tgt = [([CUBE, SPHERE, CYL], [(0, "left of", 1)]), ([CUBE, SPHERE], [(0, "left of", 1)]),
           ([CYL, SPHERE], [(0, "left of", 1)]), ([CUBE, SPHERE], [(0, "right of", 1)])]
    write_side(root / "source", SRC_VOCAB, src)
    write_side(root / "target", TGT_VOCAB, tgt)


def test_pairs_modes_names_and_boxes(tmp_path) -> None:
    write_fixture(tmp_path)
    pairs, vocab = load_clevr_edit_pairs(tmp_path, "test", image_size=8)
    assert [p["mode"] for p in pairs] == ["addition", "removal", "replacement", "relationship"]
    first = pairs[0]["source"]
    labels, trips = to_triplets(first)
    assert [vocab.decode_object(c) for c in labels] == ["red cube", "blue sphere"]  # source ids mapped by name
    assert [(s, vocab.decode_predicate(p), o) for s, p, o in trips] == [(0, "left of", 1)]
    assert first["object"].box[0].tolist() == pytest.approx([0.1, 0.1, 0.3, 0.3])
    last = pairs[3]["target"]
    assert [vocab.decode_predicate(p) for _, p, _ in to_triplets(last)[1]] == ["right of"]
    assert first.image.shape == (3, 8, 8) and first.vocab is vocab
    assert pairs[1]["info"]["target_image"].endswith("target/images/1.png")
    assert len(load_clevr_edit_pairs(tmp_path, "test", max_pairs=2)[0]) == 2


def test_errors_name_the_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no source/ folder"):
        load_clevr_edit_pairs(tmp_path)
    write_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match="val.h5"):
        load_clevr_edit_pairs(tmp_path, "val")
    with h5py.File(tmp_path / "source" / "test.h5", "a") as f:
        names = f["object_names"][:]
        names[0, 0] = 9
        del f["object_names"]
        f["object_names"] = names
    with pytest.raises(ValueError, match=r"source/test.h5: object_names\[0, 0\] = 9 is not an object id"):
        load_clevr_edit_pairs(tmp_path)
    (tmp_path / "target" / "vocab.json").write_text("{}")
    with pytest.raises(ValueError, match="target/vocab.json: object_idx_to_name is missing"):
        load_clevr_edit_pairs(tmp_path)

"""COCO instances (+ stuff) -> geometric scene graphs, on fixture files written here."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from sgkit.data import to_triplets, validate
from sgkit.data.coco import decode_rle, load_coco_scene_graphs
from sgkit.datasets import box_predicates


def plain_counts(mask: np.ndarray) -> list[int]:
    """Run lengths over the column-major pixels, starting with a run of 0s."""
    runs, cur, n = [], 0, 0
    for v in mask.T.reshape(-1):
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    return runs


def encode_string_rle(mask: np.ndarray) -> str:
    """COCO's compressed RLE written out independently (column-major runs, delta + 5-bit chars)."""
    runs = plain_counts(mask)
    out = []
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = not ((c & 0x10 == 0 and x == 0) or (c & 0x10 and x == -1))
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def write_coco(root):
    images = [
        {"id": 1, "width": 100, "height": 50, "file_name": "a.jpg"},
        {"id": 2, "width": 40, "height": 40, "file_name": "b.jpg"},
    ]
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]
    stuff_cats = [{"id": 92, "name": "sky"}, {"id": 183, "name": "other"}]
    sky = np.zeros((50, 100), dtype=np.uint8)
    sky[:20, :] = 1
    car = np.zeros((50, 100), dtype=np.uint8)
    car[25:45, 60:75] = 1  # the left half of its box
    anns = [
        # image 1: person left, car right, a tiny dog (0.1% of the image: filtered), the sky on top
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 20, 30], "segmentation": [[10, 20, 30, 20, 30, 50, 10, 50]]},
        {"id": 2, "image_id": 1, "category_id": 3, "bbox": [60, 25, 30, 20], "segmentation": {"size": [50, 100], "counts": plain_counts(car)}},
        {"id": 3, "image_id": 1, "category_id": 18, "bbox": [0, 0, 2, 2], "segmentation": [[0, 0, 2, 0, 2, 2]]},
        # image 2: only one object: too few
        {"id": 4, "image_id": 2, "category_id": 1, "bbox": [0, 0, 40, 40], "segmentation": [[0, 0, 40, 0, 40, 40, 0, 40]]},
    ]
    stuff = [
        {"id": 10, "image_id": 1, "category_id": 92, "bbox": [0, 0, 100, 20], "segmentation": {"size": [50, 100], "counts": encode_string_rle(sky)}},
        {"id": 11, "image_id": 1, "category_id": 183, "bbox": [0, 20, 100, 30], "segmentation": {"size": [50, 100], "counts": [0, 5000]}},
    ]
    (root / "instances.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    (root / "stuff.json").write_text(json.dumps({"images": images, "annotations": stuff, "categories": stuff_cats}))
    (root / "images").mkdir()
    for im in images:
        Image.new("RGB", (im["width"], im["height"]), (0, 0, 255)).save(root / "images" / im["file_name"])
    return root / "instances.json", root / "stuff.json", root / "images"


def test_rle_decoding_plain_and_compressed() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = (rng.random((7, 9)) < 0.4).astype(np.uint8)
        assert np.array_equal(decode_rle({"size": [7, 9], "counts": encode_string_rle(mask)}), mask)
    plain = decode_rle({"size": [2, 3], "counts": [1, 2, 3]})  # column-major: 0, then 1 1, then 0 0 0
    assert plain.tolist() == [[0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="cover 5 pixels, the mask has 2 x 3 = 6"):
        decode_rle({"size": [2, 3], "counts": [1, 4]})


def test_instances_and_stuff_to_geometric_scene_graphs(tmp_path) -> None:
    inst, stuff, img_dir = write_coco(tmp_path)
    graphs, vocab = load_coco_scene_graphs(inst, img_dir, stuff_json=stuff, image_size=8, min_objects=3)
    assert vocab.objects == ["person", "car", "dog", "sky", "other"]
    assert vocab.predicates == ["left of", "right of", "above", "below", "inside", "surrounding"]
    assert len(graphs) == 1  # image 2 has one object
    g = graphs[0]
    validate(g, num_classes=5, num_predicates=6)
    labels, trips = to_triplets(g)
    assert [vocab.decode_object(c) for c in labels] == ["person", "car", "sky"]  # tiny dog and 'other' dropped
    assert torch.allclose(g["object"].box[0], torch.tensor([0.1, 0.4, 0.3, 1.0]))
    pred = box_predicates(g["object"].box)
    assert len(trips) == 3 and all(s != o and p == pred[s, o] for s, p, o in trips)
    assert sorted(s for s, _, _ in trips) == [0, 1, 2]  # one edge per object
    assert g["object"].mask.shape == (3, 16, 16)
    assert g["object"].mask[0].mean() == 1.0  # the person's polygon fills its box
    assert g["object"].mask[2].mean() == 1.0  # the sky RLE fills its box
    car = g["object"].mask[1]
    assert car[:, :8].mean() == 1.0 and car[:, 8:].mean() == 0.0  # the left half of its box
    assert g.image.shape == (3, 8, 8) and g.image[2].min() > 0.9 and g.image_id == 1 and g.vocab is vocab
    again, _ = load_coco_scene_graphs(inst, img_dir, stuff_json=stuff, seed=0)
    assert to_triplets(again[0]) == to_triplets(g)


def test_filters_and_errors(tmp_path) -> None:
    inst, stuff, img_dir = write_coco(tmp_path)
    graphs, vocab = load_coco_scene_graphs(inst, min_objects=1, max_objects=8, min_object_size=0.0)
    assert [len(to_triplets(g)[0]) for g in graphs] == [3, 1]  # no stuff file: no stuff objects
    assert load_coco_scene_graphs(inst, min_objects=1, instance_whitelist={"car"})[0][0]["object"].label.tolist() == [1]
    with_other = load_coco_scene_graphs(inst, stuff_json=stuff, include_other=True, max_objects=8)[0]
    assert with_other[0]["object"].label.tolist() == [0, 1, 3, 4]  # person, car, sky, other
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_coco_scene_graphs(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="bad.json: expected a COCO file"):
        load_coco_scene_graphs(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="min_object_size"):
        load_coco_scene_graphs(inst, min_object_size=2.0)


def write_coco_folder(root, n_train: int = 12, n_val: int = 6, seed: int = 0):
    """COCO layout: annotations/instances_{train,val}2017.json and the images, 3-5 objects each."""
    rng = np.random.default_rng(seed)
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]
    (root / "annotations").mkdir()
    for split, n in (("train2017", n_train), ("val2017", n_val)):
        (root / split).mkdir()
        images, anns = [], []
        for i in range(n):
            images.append({"id": i + 1, "width": 60, "height": 40, "file_name": f"{i:06d}.jpg"})
            Image.new("RGB", (60, 40), tuple(int(c) for c in rng.integers(0, 256, 3))).save(root / split / f"{i:06d}.jpg")
            for j in range(int(rng.integers(3, 6))):
                x, y = 12 * j, 10 * (j % 2)
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(rng.choice([1, 3, 18])),
                             "bbox": [x, y, 10, 20], "segmentation": [[x, y, x + 10, y, x + 10, y + 20, x, y + 20]]})
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return root


def test_coco_folder_and_the_examples_data_paths(tmp_path) -> None:
    import sys
    from pathlib import Path

    from sgkit.data.coco import load_coco_folder
    from sgkit.demo import DemoConfig, run, stage_sample, stage_train

    root = write_coco_folder(tmp_path)
    graphs, vocab = load_coco_folder(root, "val2017", image_size=8)
    assert len(graphs) == 6 and graphs[0].image.shape == (3, 8, 8) and vocab.objects == ["person", "car", "dog"]
    with pytest.raises(FileNotFoundError, match="instances_test2017.json"):
        load_coco_folder(root, "test2017")
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
    import scene_graph_generation as gen
    import scene_graph_to_image as to_image

    cfg = DemoConfig(out=str(tmp_path / "run"), num_train=10, num_test=5, epochs=1, num_samples=10, image_steps=0,
                     progress=False, seed=0, model_kwargs=dict(max_nodes=25, hidden_dim=8, num_layers=1,
                                                               node_embedding_dim=4, edge_embedding_dim=2, mlp_hidden_dim=8))
    stages = [("data", gen.real_data_stage(coco=str(root))), ("train", stage_train), ("sample", stage_sample), ("mmd", gen._stage_mmd)]
    res = run(cfg, stages=stages)
    assert res["data"]["num_train"] == 10 and res["data"]["num_test"] == 5 and "COCO" in res["data"]["source"]
    assert all(np.isfinite(res[m]["mmd_node"]) for m in gen.MODELS)
    scenes, vocab2, n_test = to_image._real_scenes(None, str(root), 8, 3, seed=0)
    assert len(scenes) == 11 and n_test == 3 and scenes[0]["object"].mask.shape[1:] == (16, 16)

"""The CLEVR image-editing benchmark of SIMSG (Dhamo et al., CVPR 2020): source / target pairs.

SIMSG's generator renders, for every pair, a source scene and its edited target (an object
removed, added or replaced, or a relationship changed by moving an object), converts both to
the Visual Genome layout and runs sg2im's ``preprocess_vg.py`` on each side. The result, read
here, is::

    ROOT/source/vocab.json   ROOT/source/{split}.h5   ROOT/source/images/{i}.png
    ROOT/target/vocab.json   ROOT/target/{split}.h5   ROOT/target/images/{i}.png

where ``vocab.json`` is an sg2im vocabulary (``object_idx_to_name``, ``pred_idx_to_name``) and
each h5 file holds, per image, ``image_paths`` and the padded arrays ``object_names`` /
``object_boxes`` (``x, y, w, h`` in pixels) / ``objects_per_image`` and
``relationship_subjects`` / ``relationship_predicates`` / ``relationship_objects`` /
``relationships_per_image``. Pair ``i`` is row ``i`` of both files (same image file name).
Source names are encoded with the target's vocabulary (by name, never by id).

The generator does not record the edit mode of a pair; :func:`load_clevr_edit_pairs` infers it
from the two graphs (fewer objects: removal, more: addition, a changed category: replacement,
otherwise: relationship change).
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from .image_files import read_image
from .scene_graph import from_triplets
from .vocab import Vocabulary

__all__ = ["infer_edit_mode", "load_clevr_edit_pairs"]

_H5_KEYS = (
    "image_paths",
    "object_names",
    "object_boxes",
    "objects_per_image",
    "relationship_subjects",
    "relationship_predicates",
    "relationship_objects",
    "relationships_per_image",
)


def _read_vocab(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vocab file {path!r} does not exist")
    try:
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid JSON vocabulary ({exc})") from exc
    for key in ("object_idx_to_name", "pred_idx_to_name"):
        if not isinstance(d, dict) or not isinstance(d.get(key), list):
            raise ValueError(f"{path}: {key} is missing (expected an sg2im vocab.json)")
    return d


def _read_h5(path: str) -> dict[str, np.ndarray]:
    from sgkit._imports import require

    require("WITH_H5PY", "reading SIMSG CLEVR h5 files")
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError(f"h5 file {path!r} does not exist")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in _H5_KEYS if k not in f]
            if missing:
                raise ValueError(f"{path}: missing datasets {missing}")
            return {k: f[k][:] for k in _H5_KEYS}
    except OSError as exc:
        raise ValueError(f"{path}: not a readable h5 file ({exc})") from exc


def _graph(
    data: dict[str, np.ndarray],
    i: int,
    names: list[Any],
    preds: list[Any],
    vocab: Vocabulary,
    size: tuple[int, int],
    where: str,
) -> HeteroData:
    n = int(data["objects_per_image"][i])
    r = int(data["relationships_per_image"][i])
    labels = []
    for k, oid in enumerate(data["object_names"][i, :n]):
        if not 0 <= int(oid) < len(names) or names[int(oid)] is None:
            raise ValueError(f"{where}: object_names[{i}, {k}] = {int(oid)} is not an object id of the vocabulary")
        labels.append(vocab.encode_object(names[int(oid)], on_unknown="add"))
    w, h = size
    xywh = data["object_boxes"][i, :n].astype(np.float64)
    boxes = np.stack([xywh[:, 0] / w, xywh[:, 1] / h, (xywh[:, 0] + xywh[:, 2]) / w, (xywh[:, 1] + xywh[:, 3]) / h], 1)
    trips = []
    for j in range(r):
        s, p, o = (int(data[key][i, j]) for key in ("relationship_subjects", "relationship_predicates", "relationship_objects"))
        if not (0 <= s < n and 0 <= o < n):
            raise ValueError(f"{where}: relationship {j} of image {i} joins objects {s} and {o} outside 0..{n - 1}")
        if not 0 <= p < len(preds) or preds[p] is None:
            raise ValueError(f"{where}: relationship_predicates[{i}, {j}] = {p} is not a predicate id of the vocabulary")
        trips.append((s, vocab.encode_predicate(preds[p], on_unknown="add"), o))
    return from_triplets(labels, trips, boxes=torch.as_tensor(np.clip(boxes, 0.0, 1.0), dtype=torch.float))


def infer_edit_mode(source: HeteroData, target: HeteroData) -> str:
    """``"removal"``, ``"addition"``, ``"replacement"`` or ``"relationship"`` from a pair's graphs."""
    ns, nt = int(source["object"].num_nodes), int(target["object"].num_nodes)
    if nt < ns:
        return "removal"
    if nt > ns:
        return "addition"
    if not torch.equal(source["object"].label, target["object"].label):
        return "replacement"
    return "relationship"


def load_clevr_edit_pairs(
    root: str | os.PathLike,
    split: str = "test",
    *,
    image_size: int | None = None,
    max_pairs: int | None = None,
) -> tuple[list[dict[str, Any]], Vocabulary]:
    """Read the SIMSG CLEVR edit pairs of one split (see the module docstring for the layout).

    Args:
        root: the folder holding ``source/`` and ``target/``.
        split: the h5 file name without extension (``"train"``, ``"val"``, ``"test"``).
        image_size: also read both images as ``[3, S, S]`` tensors.
        max_pairs: read at most this many pairs.

    Returns:
        ``(pairs, vocab)``: dicts ``{"source", "target", "mode", "info"}`` like
        :meth:`sgkit.datasets.ShapesWorld.edit_pairs` (``info`` holds the index and the image
        paths; graphs carry ``image_path``, ``vocab`` and, with ``image_size``, ``image``).

    Raises:
        FileNotFoundError: for a missing folder, file or image; ValueError naming the file for
            a malformed file, pairs that do not line up, or ids outside the vocabulary.
    """
    root = os.fspath(root)
    if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 0):
        raise ValueError(f"max_pairs: expected None or a non-negative integer, got {max_pairs!r}")
    sides = {}
    for side in ("source", "target"):
        folder = os.path.join(root, side)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"root: {root!r} has no {side}/ folder")
        sides[side] = (_read_vocab(os.path.join(folder, "vocab.json")), _read_h5(os.path.join(folder, f"{split}.h5")), folder)
    tvocab = sides["target"][0]
    vocab = Vocabulary.from_sg2im_vocab(tvocab)
    n_src, n_tgt = len(sides["source"][1]["image_paths"]), len(sides["target"][1]["image_paths"])
    if n_src != n_tgt:
        raise ValueError(f"{root}: source/{split}.h5 has {n_src} images and target/{split}.h5 has {n_tgt}; pairs must line up")
    count = n_src if max_pairs is None else min(n_src, max_pairs)
    from PIL import Image

    pairs = []
    for i in range(count):
        graphs = {}
        for side, (v, data, folder) in sides.items():
            name = data["image_paths"][i]
            name = name.decode("utf-8") if isinstance(name, bytes) else str(name)
            path = os.path.join(folder, "images", name)
            if image_size is not None:
                image, size = read_image(path, image_size)
            else:
                if not os.path.isfile(path):
                    raise FileNotFoundError(f"image file {path!r} does not exist")
                with Image.open(path) as im:
                    size = im.size
                image = None
            g = _graph(data, i, v["object_idx_to_name"], v["pred_idx_to_name"], vocab, size, os.path.join(folder, f"{split}.h5"))
            g.image_path = path
            if image is not None:
                g.image = image
            graphs[side] = g
        for g in graphs.values():
            g.vocab = vocab
        info = {"index": i, "source_image": graphs["source"].image_path, "target_image": graphs["target"].image_path}
        pairs.append({"source": graphs["source"], "target": graphs["target"], "mode": infer_edit_mode(graphs["source"], graphs["target"]), "info": info})
    return pairs, vocab

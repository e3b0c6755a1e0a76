"""Visual Genome in the VG-SGG h5 + dicts format (Xu et al. 2017), with images and the
SceneGraphGen preparation (thesis ch. 10: 3-25 nodes, duplicate boxes merged at IoU 0.5).

Files (the layout of the Neural Motifs / Scene-Graph-Benchmark releases)::

    VG-SGG-with-attri.h5         split, img_to_{first,last}_{box,rel}, labels, boxes_1024 / boxes_512,
                                 relationships, predicates
    VG-SGG-dicts-with-attri.json idx_to_label, idx_to_predicate (ids as JSON keys), ...
    image_data.json              one entry per image (image_id, width, height), in h5 order
    VG_100K/                     the images, ``{image_id}.jpg``

Category and predicate ids are mapped through the dict file's own ids: the file id ``k`` is
looked up in ``idx_to_label`` (whatever its base or gaps), never used as a position. Every label
and predicate of the h5 file must be one of those ids.
"""
from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from .image_files import read_image
from .orderings import vg150_rank_table
from .scene_graph import EDGE, NODE, from_triplets
from .vocab import Vocabulary

__all__ = ["SCENEGRAPHGEN_PREPARATION", "load_vg_folder", "load_vg_sgg_h5", "prepare_scene_graphs", "read_vg_sgg_dicts"]

SCENEGRAPHGEN_PREPARATION: dict[str, Any] = {"min_nodes": 3, "max_nodes": 25, "merge_iou": 0.5}
"""Options of :func:`load_vg_sgg_h5` for the thesis' SceneGraphGen data (ch. 10)."""

# images of image_data.json that the h5 files leave out (corrupted downloads); the standard VG-SGG
# loaders drop them to pair the remaining entries with the h5 images by position
_SKIPPED_IMAGE_IDS = frozenset({1592, 1722, 4616, 4617})
# graph-level attributes kept by the preparation
_GRAPH_KEYS = ("image", "image_id", "image_path", "vocab")


def _id_table(d: Mapping[str, Any], key: str, where: str) -> tuple[list[str], dict[int, int]]:
    """Names in file-id order and ``{file id: vocabulary id}`` for one ``idx_to_*`` table."""
    table = d.get(key)
    if not isinstance(table, Mapping) or not table:
        raise ValueError(f"{where}: {key} is missing or empty")
    ids = {}
    for k, name in table.items():
        try:
            ids[int(k)] = name
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {key} has the non-integer id {k!r}") from None
        if not isinstance(name, str):
            raise ValueError(f"{where}: {key}[{k!r}] must be a name, got {name!r}")
    order = sorted(ids)
    return [ids[i] for i in order], {fid: pos for pos, fid in enumerate(order)}


def read_vg_sgg_dicts(path: str | os.PathLike | Mapping[str, Any]) -> tuple[Vocabulary, dict[int, int], dict[int, int]]:
    """Read a VG-SGG dict file: the vocabulary and the maps from the file's ids to vocabulary ids.

    Names are ordered by their file id; the maps send every file id to its name's vocabulary
    id, so a 1-based file (the released one), a 0-based file or one with gaps all decode to the
    right names. Object ranks come from the VG150 rank table when it knows every name.

    Returns:
        ``(vocab, label_map, predicate_map)``.

    Raises:
        ValueError: naming the file for a missing table, a non-integer id or a duplicate name.
    """
    where = "dicts" if isinstance(path, Mapping) else os.fspath(path)
    if isinstance(path, Mapping):
        d = path
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where}: not a valid JSON dict file ({exc})") from exc
    if not isinstance(d, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(d).__name__}")
    objects, label_map = _id_table(d, "idx_to_label", where)
    predicates, pred_map = _id_table(d, "idx_to_predicate", where)
    attributes = _id_table(d, "idx_to_attribute", where)[0] if d.get("idx_to_attribute") else []
    table = vg150_rank_table()["ranks"]
    ranks = [table[n] for n in objects] if all(n in table for n in objects) else None
    try:
        vocab = Vocabulary(objects, predicates, attributes, object_ranks=ranks)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return vocab, label_map, pred_map


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from torchvision.ops import box_iou

    return box_iou(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def prepare_scene_graphs(
    graphs: Sequence[HeteroData],
    *,
    min_nodes: int | None = 3,
    max_nodes: int | None = 25,
    merge_iou: float | None = 0.5,
    seed: int = 0,
) -> list[HeteroData]:
    """The SceneGraphGen preparation: merge duplicate boxes, then keep graphs of 3-25 nodes.

    Two objects of the same category whose boxes overlap with IoU >= ``merge_iou`` are one
    object annotated twice: each group of such duplicates (connected by the IoU test) keeps one
    member chosen at random (``seed``); the edges of the others move to it, and edges that
    become self-loops or exact repeats are dropped. Graphs with fewer than ``min_nodes`` or more
    than ``max_nodes`` objects (after merging) are left out.

    Args:
        graphs: scene graphs; ``merge_iou`` needs ``object.box``.
        min_nodes, max_nodes: size filter (``None``: no bound).
        merge_iou: IoU threshold of duplicates (``None``: no merging).
        seed: seed of the representative choice.

    Returns:
        The kept graphs (new objects; graph-level attributes are copied).
    """
    if merge_iou is not None and not 0.0 < float(merge_iou) <= 1.0:
        raise ValueError(f"merge_iou: expected a value in (0, 1] or None, got {merge_iou!r}")
    for name, v in (("min_nodes", min_nodes), ("max_nodes", max_nodes)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise ValueError(f"{name}: expected a non-negative integer or None, got {v!r}")
    rng = random.Random(seed)
    out = []
    for k, g in enumerate(graphs):
        if merge_iou is not None:
            g = _merge_duplicates(g, float(merge_iou), rng, k)
        n = g[NODE].num_nodes or 0
        if (min_nodes is None or n >= min_nodes) and (max_nodes is None or n <= max_nodes):
            out.append(g)
    return out


def _merge_duplicates(g: HeteroData, threshold: float, rng: random.Random, index: int) -> HeteroData:
    if "box" not in g[NODE]:
        raise ValueError(f"graphs[{index}]: merge_iou needs object.box")
    labels = g[NODE].label.numpy()
    boxes = g[NODE].box.double().numpy()
    n = labels.size
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n > 1:
        iou = _box_iou(boxes, boxes)
        same = (labels[:, None] == labels[None, :]) & (iou >= threshold)
        for i, j in zip(*np.nonzero(np.triu(same, 1))):
            parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    if len(groups) == n:
        return g
    keep_of = {}
    for members in groups.values():
        rep = rng.choice(members)
        for m in members:
            keep_of[m] = rep
    kept = sorted(set(keep_of.values()))
    new_id = {old: i for i, old in enumerate(kept)}
    trips, seen = [], set()
    if EDGE in g.edge_types and g[EDGE].edge_index.numel():
        for (s, o), p in zip(g[EDGE].edge_index.t().tolist(), g[EDGE].label.tolist()):
            t = (new_id[keep_of[s]], int(p), new_id[keep_of[o]])
            if t[0] != t[2] and t not in seen:
                seen.add(t)
                trips.append(t)
    idx = torch.as_tensor(kept, dtype=torch.long)
    new = from_triplets(g[NODE].label[idx], trips, boxes=g[NODE].box[idx])
    for key in _GRAPH_KEYS:
        value = getattr(g, key, None)
        if value is not None:
            setattr(new, key, value)
    return new


def _integral(a: np.ndarray, what: str) -> np.ndarray:
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.int64)
    flat = a.reshape(-1)
    bad = flat[~(np.isfinite(flat) & (flat == np.round(flat)))][:1] if a.dtype.kind == "f" else flat[:1]
    raise ValueError(f"{what}: expected integer ids, got dtype {a.dtype} (e.g. {bad.tolist()})")


def _image_entries(image_data: str | os.PathLike, n_images: int, h5_where: str) -> list[dict[str, Any]]:
    where = os.fspath(image_data)
    try:
        with open(where, encoding="utf-8") as fh:
            entries = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not a valid image_data.json ({exc})") from exc
    if not isinstance(entries, list):
        raise ValueError(f"{where}: expected a list of image entries, got {type(entries).__name__}")
    kept = [e for e in entries if not (isinstance(e, Mapping) and e.get("image_id") in _SKIPPED_IMAGE_IDS)]
    if len(kept) != n_images:
        raise ValueError(f"{where}: {len(kept)} image entries for the {n_images} images of {h5_where}")
    for i, e in enumerate(kept):
        if not isinstance(e, Mapping) or not all(k in e for k in ("image_id", "width", "height")):
            raise ValueError(f"{where}[{i}]: expected an entry with image_id, width and height, got {e!r}")
        if not (isinstance(e["width"], (int, float)) and isinstance(e["height"], (int, float))) or min(e["width"], e["height"]) <= 0:
            raise ValueError(f"{where}[{i}] (image {e['image_id']}): width and height must be positive, got {e['width']} x {e['height']}")
    return kept


def load_vg_sgg_h5(
    h5_path: str | os.PathLike,
    dicts_path: str | os.PathLike,
    *,
    split: str = "train",
    box_scale: int = 1024,
    image_sizes: Sequence[tuple[int, int]] | None = None,
    max_graphs: int | None = None,
    image_dir: str | os.PathLike | None = None,
    image_data: str | os.PathLike | None = None,
    image_size: int | None = None,
    min_nodes: int | None = None,
    max_nodes: int | None = None,
    merge_iou: float | None = None,
    seed: int = 0,
) -> tuple[list[HeteroData], Vocabulary]:
    """Read Visual Genome scene graphs (and images) in the VG-SGG h5 + dicts format.

    The h5 file holds ``split`` (0 train, 2 test), ``img_to_first_box``/``img_to_last_box``,
    ``img_to_first_rel``/``img_to_last_rel`` (-1: none), ``labels``, ``boxes_{box_scale}``
    (centre x, centre y, width, height with the longer image side scaled to ``box_scale``),
    ``relationships`` (absolute box indices) and ``predicates``. Labels and predicates are file
    ids of the dict file (see :func:`read_vg_sgg_dicts`).

    Args:
        h5_path: ``VG-SGG-with-attri.h5``.
        dicts_path: ``VG-SGG-dicts-with-attri.json``.
        split: ``"train"`` or ``"test"``.
        box_scale: the ``boxes_*`` variant to read (1024 or 512).
        image_sizes: ``(width, height)`` per image of the split for exact box normalisation
            (taken from ``image_data`` when that is given); without either, boxes are divided
            by ``box_scale`` (exact for square images).
        max_graphs: read at most this many graphs of the split (``None``: all).
        image_dir: the ``VG_100K`` folder; every graph gets ``image_path`` and ``image_id``.
        image_data: ``image_data.json`` (default: beside ``image_dir`` or inside it).
        image_size: with ``image_dir``, also read every image as ``data.image`` ``[3, S, S]``.
        min_nodes, max_nodes, merge_iou: the preparation of :func:`prepare_scene_graphs`
            (all ``None`` by default; ``**SCENEGRAPHGEN_PREPARATION`` gives the thesis' 3-25
            nodes and IoU 0.5).
        seed: seed of the duplicate merging.

    Returns:
        ``(graphs, vocab)``; every graph carries ``data.vocab``.

    Raises:
        ValueError: naming the file, the dataset and the image for a label or predicate that
            is not an id of the dict file, a non-integer id, a relationship outside its image's
            boxes, a non-positive image size or a bad argument.
        FileNotFoundError: for a missing file or image.
    """
    from sgkit._imports import require

    require("WITH_H5PY", "reading VG-SGG h5 files")
    import h5py

    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if max_graphs is not None and (isinstance(max_graphs, bool) or not isinstance(max_graphs, (int, np.integer)) or max_graphs < 0):
        raise ValueError(f"max_graphs: expected None or a non-negative integer, got {max_graphs!r}")
    where = os.fspath(h5_path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"h5_path: file {where!r} does not exist")
    vocab, label_map, pred_map = read_vg_sgg_dicts(dicts_path)
    try:
        with h5py.File(where, "r") as f:
            split_arr = _integral(f["split"][:], f"{where}: split")
            fb, lb = _integral(f["img_to_first_box"][:], f"{where}: img_to_first_box"), _integral(f["img_to_last_box"][:], f"{where}: img_to_last_box")
            fr, lr = _integral(f["img_to_first_rel"][:], f"{where}: img_to_first_rel"), _integral(f["img_to_last_rel"][:], f"{where}: img_to_last_rel")
            labels_all = _integral(f["labels"][:].reshape(len(f["labels"]), -1)[:, 0], f"{where}: labels")
            boxes_all = f[f"boxes_{box_scale}"][:].astype(np.float64)
            rels_all = _integral(f["relationships"][:], f"{where}: relationships").reshape(-1, 2)
            preds_all = _integral(f["predicates"][:].reshape(len(f["predicates"]), -1)[:, 0], f"{where}: predicates")
    except KeyError as exc:
        raise ValueError(f"{where}: missing dataset ({exc})") from exc
    except OSError as exc:
        raise ValueError(f"{where}: not a readable h5 file ({exc})") from exc
    idx = np.flatnonzero(split_arr == (0 if split == "train" else 2))
    entries = None
    if image_dir is not None:
        if image_data is None:
            for cand in (os.path.join(os.path.dirname(os.path.normpath(image_dir)), "image_data.json"), os.path.join(image_dir, "image_data.json")):
                if os.path.isfile(cand):
                    image_data = cand
                    break
            else:
                raise FileNotFoundError(f"image_data: no image_data.json beside or inside image_dir {os.fspath(image_dir)!r}")
        entries = _image_entries(image_data, split_arr.size, where)
    if max_graphs is not None:
        idx = idx[:max_graphs]
    if image_sizes is not None and len(image_sizes) < idx.size:
        raise ValueError(f"image_sizes: {len(image_sizes)} sizes for {idx.size} images of the {split} split")
    lab_lookup = _lookup(label_map)
    pred_lookup = _lookup(pred_map)
    graphs = []
    for k, i in enumerate(idx):
        size = None
        if entries is not None:
            size = (float(entries[i]["width"]), float(entries[i]["height"]))
        elif image_sizes is not None:
            size = tuple(float(v) for v in image_sizes[k])
            if min(size) <= 0:
                raise ValueError(f"image_sizes[{k}]: width and height must be positive, got {size}")
        if fb[i] < 0:
            lab = np.zeros(0, np.int64)
            xyxy = np.zeros((0, 4))
        else:
            b0, b1 = int(fb[i]), int(lb[i]) + 1
            lab = _map_ids(labels_all[b0:b1], lab_lookup, f"{where}: labels[{b0}:{b1}] (image {i})", "idx_to_label")
            cxcywh = boxes_all[b0:b1]
            if not np.all(np.isfinite(cxcywh)):
                raise ValueError(f"{where}: boxes_{box_scale}[{b0}:{b1}] (image {i}) has non-finite values")
            xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
            scale = np.full(4, float(box_scale)) if size is None else np.tile(np.array(size) * box_scale / max(size), 2)
            xyxy = np.clip(xyxy / scale, 0.0, 1.0)
        trips = []
        if fr[i] >= 0 and fb[i] >= 0:
            r0, r1 = int(fr[i]), int(lr[i]) + 1
            rel = rels_all[r0:r1] - int(fb[i])
            if rel.size and (rel.min() < 0 or rel.max() >= lab.size):
                raise ValueError(f"{where}: relationships[{r0}:{r1}] (image {i}) refer to boxes outside {int(fb[i])}..{int(lb[i])}")
            preds = _map_ids(preds_all[r0:r1], pred_lookup, f"{where}: predicates[{r0}:{r1}] (image {i})", "idx_to_predicate")
            trips = [(int(s), int(p), int(o)) for (s, o), p in zip(rel, preds)]
        g = from_triplets(torch.as_tensor(lab, dtype=torch.long), trips, boxes=torch.as_tensor(xyxy, dtype=torch.float))
        if entries is not None:
            g.image_id = int(entries[i]["image_id"])
            g.image_path = os.path.join(os.fspath(image_dir), f"{g.image_id}.jpg")
            if image_size is not None:
                g.image = read_image(g.image_path, image_size)[0]
        graphs.append(g)
    if min_nodes is not None or max_nodes is not None or merge_iou is not None:
        graphs = prepare_scene_graphs(graphs, min_nodes=min_nodes, max_nodes=max_nodes, merge_iou=merge_iou, seed=seed)
    for g in graphs:
        g.vocab = vocab
    return graphs, vocab


def _lookup(mapping: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.array(sorted(mapping), dtype=np.int64)
    return keys, np.array([mapping[k] for k in keys], dtype=np.int64)


def _map_ids(values: np.ndarray, lookup: tuple[np.ndarray, np.ndarray], what: str, table: str) -> np.ndarray:
    keys, vals = lookup
    pos = np.clip(np.searchsorted(keys, values), 0, keys.size - 1)
    ok = keys[pos] == values
    if not ok.all():
        bad = int(values[~ok][0])
        raise ValueError(f"{what}: id {bad} is not an id of {table} in the dict file (ids {int(keys[0])}..{int(keys[-1])})")
    return vals[pos]


def load_vg_folder(
    root: str | os.PathLike, split: str = "train", *, with_images: bool = False, **kwargs: Any
) -> tuple[list[HeteroData], Vocabulary]:
    """:func:`load_vg_sgg_h5` on a folder in the standard layout.

    ``root`` holds ``VG-SGG-with-attri.h5`` (or ``VG-SGG.h5``), ``VG-SGG-dicts-with-attri.json``
    (or ``VG-SGG-dicts.json``) and, for ``with_images``, ``image_data.json`` and ``VG_100K/``.
    Other keyword arguments go to :func:`load_vg_sgg_h5`.

    Raises:
        FileNotFoundError: naming the folder and the file names looked for.
    """
    root = os.fspath(root)

    def find(*names: str) -> str:
        for name in names:
            if os.path.isfile(os.path.join(root, name)):
                return os.path.join(root, name)
        raise FileNotFoundError(f"root: {root!r} has none of {list(names)}")

    h5 = find("VG-SGG-with-attri.h5", "VG-SGG.h5")
    dicts = find("VG-SGG-dicts-with-attri.json", "VG-SGG-dicts.json")
    if with_images:
        kwargs.setdefault("image_dir", os.path.join(root, "VG_100K"))
        kwargs.setdefault("image_data", find("image_data.json"))
    return load_vg_sgg_h5(h5, dicts, split=split, **kwargs)

"""COCO instances (and COCO-Stuff when given) -> geometric scene graphs, as SG2Im builds them.

Every image becomes a scene graph whose objects are its instance (and stuff) annotations, with
normalised boxes, box-relative instance masks and, optionally, the image. Relationships are
geometric, from the boxes, with the six SG2Im predicates (left of, right of, above, below,
inside, surrounding; :func:`sgkit.data.geometry.box_predicates`): every object gets one edge to one
other object of its image chosen at random (seeded), as SG2Im samples them. SG2Im's artificial
``__image__`` node and ``__in_image__`` edges are not added.

The usual object filters of SG2Im: objects whose box covers less than ``min_object_size`` of the
image are dropped, the stuff category "other" is dropped unless ``include_other``, optional
whitelists keep only named categories, and only images with ``min_objects`` to ``max_objects``
objects left are kept (with a stuff file, only images that have stuff annotations).

Masks: polygons are drawn directly on the ``mask_size`` grid of their box; run-length
encodings (``iscrowd`` instances and COCO-Stuff, plain or compressed counts) are decoded without
pycocotools.
"""
from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from .image_files import box_relative_masks, read_image
from .scene_graph import from_triplets
from .vocab import Vocabulary

__all__ = ["decode_rle", "load_coco_folder", "load_coco_scene_graphs"]


def _read_json(path: str | os.PathLike, what: str) -> Mapping[str, Any]:
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"{what}: file {where!r} does not exist")
    try:
        with open(where, encoding="utf-8") as fh:
            d = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not a valid JSON file ({exc})") from exc
    if not isinstance(d, Mapping) or not all(k in d for k in ("images", "annotations", "categories")):
        raise ValueError(f"{where}: expected a COCO file with 'images', 'annotations' and 'categories'")
    return d


def _string_counts(s: str) -> list[int]:
    """Counts of a compressed COCO RLE string (6-bit characters, 5 payload bits, delta coded)."""
    counts: list[int] = []
    i = 0
    while i < len(s):
        value, shift, more = 0, 0, True
        while more:
            c = ord(s[i]) - 48
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            i += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def decode_rle(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode a COCO run-length encoding ``{"size": [h, w], "counts": list or str}`` to ``[h, w]`` uint8.

    Runs alternate 0s and 1s, starting with 0s, over the column-major pixel order.

    Raises:
        ValueError: when the runs do not cover exactly ``h * w`` pixels.
    """
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = _string_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if sum(runs) != h * w or min(runs, default=0) < 0:
        raise ValueError(f"counts: the runs cover {sum(runs)} pixels, the mask has {h} x {w} = {h * w}")
    values = np.zeros(len(runs), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, runs)
    return flat.reshape(w, h).T


def _polygon_mask(polygons: list, box_px: np.ndarray, mask_size: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = box_px
    sx, sy = mask_size / max(x1 - x0, 1e-6), mask_size / max(y1 - y0, 1e-6)
    canvas = Image.new("L", (mask_size, mask_size), 0)
    draw = ImageDraw.Draw(canvas)
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) >= 3:
            draw.polygon([((x - x0) * sx - 0.5, (y - y0) * sy - 0.5) for x, y in pts], fill=1)
    return np.asarray(canvas, dtype=np.float32)


def load_coco_scene_graphs(
    instances_json: str | os.PathLike,
    image_dir: str | os.PathLike | None = None,
    *,
    stuff_json: str | os.PathLike | None = None,
    image_size: int | None = None,
    mask_size: int = 16,
    min_object_size: float = 0.02,
    min_objects: int = 3,
    max_objects: int = 8,
    include_other: bool = False,
    instance_whitelist: Collection[str] | None = None,
    stuff_whitelist: Collection[str] | None = None,
    max_images: int | None = None,
    seed: int = 0,
) -> tuple[list[HeteroData], Vocabulary]:
    """Read COCO annotations as geometric scene graphs with boxes, masks and (optionally) images.

    Args:
        instances_json: ``instances_{split}.json``.
        image_dir: the folder of the split's images; every graph gets ``image_path``.
        stuff_json: optional ``stuff_{split}.json`` (COCO-Stuff).
        image_size: with ``image_dir``, read every image as ``data.image`` ``[3, S, S]``.
        mask_size: side of the box-relative masks ``object.mask`` ``[N, M, M]``.
        min_object_size: smallest box area, as a fraction of the image area.
        min_objects, max_objects: objects per image after the filters.
        include_other: keep the COCO-Stuff category "other".
        instance_whitelist, stuff_whitelist: category names to keep (``None``: all).
        max_images: keep at most this many images (in file order).
        seed: seed of the relationship sampling.

    Returns:
        ``(graphs, vocab)``: objects named by the COCO categories in category-id order
        (instances then stuff), the six SG2Im predicates; graphs carry ``image_id`` and
        ``vocab``.

    Raises:
        ValueError: naming the file for a malformed file, an image of non-positive size or an
            annotation of an unknown category; FileNotFoundError for a missing file.
    """
    from .geometry import PREDICATES, box_predicates

    if not 0.0 <= float(min_object_size) < 1.0:
        raise ValueError(f"min_object_size: expected a fraction in [0, 1), got {min_object_size!r}")
    if not 0 <= min_objects <= max_objects:
        raise ValueError(f"min_objects, max_objects: expected 0 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    if isinstance(mask_size, bool) or not isinstance(mask_size, int) or mask_size < 1:
        raise ValueError(f"mask_size: expected a positive integer, got {mask_size!r}")
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0):
        raise ValueError(f"max_images: expected None or a non-negative integer, got {max_images!r}")
    files = [(instances_json, _read_json(instances_json, "instances_json"), instance_whitelist)]
    if stuff_json is not None:
        files.append((stuff_json, _read_json(stuff_json, "stuff_json"), stuff_whitelist))
    images = {int(im["id"]): im for im in files[0][1]["images"]}
    categories: dict[int, str] = {}
    allowed: set[int] = set()
    for _, d, whitelist in files:
        for c in d["categories"]:
            categories[int(c["id"])] = str(c["name"])
            if (whitelist is None or c["name"] in whitelist) and (include_other or c["name"] != "other"):
                allowed.add(int(c["id"]))
    cat_ids = sorted(categories)
    vocab = Vocabulary([categories[c] for c in cat_ids], list(PREDICATES))
    cat_index = {c: i for i, c in enumerate(cat_ids)}
    per_image: dict[int, list[dict[str, Any]]] = {i: [] for i in images}
    has_stuff: set[int] = set()
    for file_index, (path, d, _) in enumerate(files):
        for a in d["annotations"]:
            image_id, cat = int(a["image_id"]), int(a["category_id"])
            if image_id not in images:
                raise ValueError(f"{os.fspath(path)}: annotation {a.get('id')} refers to unknown image {image_id}")
            if cat not in categories:
                raise ValueError(f"{os.fspath(path)}: annotation {a.get('id')} has unknown category {cat}")
            if file_index == 1:
                has_stuff.add(image_id)
            im = images[image_id]
            w_img, h_img = float(im["width"]), float(im["height"])
            if w_img <= 0 or h_img <= 0:
                raise ValueError(f"{os.fspath(instances_json)}: image {image_id} has size {w_img} x {h_img}")
            x, y, w, h = (float(v) for v in a["bbox"])
            if cat in allowed and w * h >= min_object_size * w_img * h_img and w > 0 and h > 0:
                per_image[image_id].append(a)
    rng = np.random.default_rng(seed)
    graphs = []
    for image_id in sorted(images):
        if max_images is not None and len(graphs) >= max_images:
            break
        anns = per_image[image_id]
        if stuff_json is not None and image_id not in has_stuff:
            continue
        if not min_objects <= len(anns) <= max_objects:
            continue
        im = images[image_id]
        w_img, h_img = float(im["width"]), float(im["height"])
        px = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=np.float64)
        boxes = np.clip(px / np.array([w_img, h_img, w_img, h_img]), 0.0, 1.0)
        masks = torch.zeros(len(anns), mask_size, mask_size)
        for k, a in enumerate(anns):
            seg = a.get("segmentation")
            if isinstance(seg, list):
                masks[k] = torch.from_numpy(_polygon_mask(seg, px[k], mask_size))
            elif isinstance(seg, Mapping):
                full = decode_rle(seg)[None]
                masks[k] = box_relative_masks(full, boxes[k : k + 1], mask_size)[0]
        n = len(anns)
        trips = []
        if n > 1:
            pred = box_predicates(boxes)
            for s in range(n):
                o = int(rng.integers(n - 1))
                o += o >= s
                trips.append((s, int(pred[s, o]), o))
        labels = torch.tensor([cat_index[int(a["category_id"])] for a in anns], dtype=torch.long)
        g = from_triplets(labels, trips, boxes=torch.as_tensor(boxes, dtype=torch.float), masks=masks)
        g.image_id = image_id
        if image_dir is not None:
            g.image_path = os.path.join(os.fspath(image_dir), str(im["file_name"]))
            if image_size is not None:
                g.image = read_image(g.image_path, image_size)[0]
        g.vocab = vocab
        graphs.append(g)
    return graphs, vocab


def load_coco_folder(
    root: str | os.PathLike, split: str = "train2017", *, with_images: bool = True, **kwargs: Any
) -> tuple[list[HeteroData], Vocabulary]:
    """:func:`load_coco_scene_graphs` on a folder in the standard COCO layout.

    ``root`` holds ``annotations/instances_{split}.json`` (and ``annotations/stuff_{split}.json``,
    used when present) and the images in ``{split}/``. Other keyword arguments go to
    :func:`load_coco_scene_graphs`.

    Raises:
        FileNotFoundError: naming the missing annotation file.
    """
    root = os.fspath(root)
    instances = os.path.join(root, "annotations", f"instances_{split}.json")
    if not os.path.isfile(instances):
        raise FileNotFoundError(f"root: {instances!r} does not exist")
    stuff = os.path.join(root, "annotations", f"stuff_{split}.json")
    kwargs.setdefault("stuff_json", stuff if os.path.isfile(stuff) else None)
    image_dir = os.path.join(root, split) if with_images else None
    return load_coco_scene_graphs(instances, image_dir, **kwargs)

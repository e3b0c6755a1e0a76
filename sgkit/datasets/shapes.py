"""ShapesWorld: a procedural CLEVR-like 2D world of coloured shapes with exact scene graphs.

The world is the embedded default data set of :mod:`sgkit` (SPEC section 2). Every scene is drawn
by a small *scene grammar* with learnable regularities, turned into a scene graph by a fixed
geometric rule, and rendered exactly (no anti-aliasing, no noise), so that images, boxes, masks
and graphs agree pixel for pixel and edited scenes can be rendered as exact targets
(the CLEVR edit study of thesis lines 4088-4100).

The rules live with their code: the categories and constants in ``shapes_vocab``, the scene
grammar in ``shapes_grammar``, the predicate and edge rule in ``shapes_edges``, the pixel rule
and rendering in ``shapes_render`` and the edits of edit pairs in ``shapes_edits`` (all in
:mod:`sgkit.datasets`). This module holds the data set, :class:`ShapesWorld`, and re-exports the
public names of those modules.

**Masks.** ``data["object"].mask`` holds *amodal* (full-shape) box-relative masks of size
``mask_size x mask_size`` (the shape sampled at the cell centres, as sg2im's mask targets);
pixels of an occluded part show the occluder. :meth:`ShapesWorld.instance_masks` gives
full-resolution masks, amodal or visible.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from sgkit.data.geometry import PREDICATES, box_predicates

from ._graph import build_graph, triplets_to_tensors
from .shapes_edges import scene_edges
from .shapes_edits import _edit, _sample_edits  # noqa: F401  (_edit: re-exported)
from .shapes_figures import _plot_statistics
from .shapes_grammar import _sample_scene, _Scene
from .shapes_render import _rasterise, render_layout, render_scenes, shape_masks
from .shapes_vocab import (
    _BACKGROUND,  # noqa: F401  (re-exported)
    _RGB,  # noqa: F401  (re-exported)
    ATTRIBUTE_NAMES,
    COLOURS,
    EDIT_MODES,
    GRID,
    MAX_OBJECTS,
    MIN_OBJECTS,
    SCENE_TYPES,
    SHAPES,
    SIZES,
    category_id,
    coarsen_labels,
    decompose_category,
    object_colors,
    shapes_vocabulary,
)

__all__ = [
    "SHAPES",
    "COLOURS",
    "SIZES",
    "PREDICATES",
    "SCENE_TYPES",
    "EDIT_MODES",
    "GRID",
    "MIN_OBJECTS",
    "MAX_OBJECTS",
    "ATTRIBUTE_NAMES",
    "ShapesWorld",
    "shapes_vocabulary",
    "coarsen_labels",
    "category_id",
    "decompose_category",
    "box_predicates",
    "scene_edges",
    "render_scenes",
    "render_layout",
    "shape_masks",
    "object_colors",
]
_BLOCK = 256  # scenes rendered together on first access


class ShapesWorld(torch.utils.data.Dataset):
    """The CLEVR-like 2D shapes world as a data set of :class:`HeteroData` scene graphs.

    The grammar, rendering, predicate and edge rules are described in the module docstrings of
    ``sgkit.datasets.shapes_grammar``, ``shapes_render`` and ``shapes_edges``. Scenes are drawn
    sequentially from ``numpy.random.default_rng(seed)``, so the first ``k`` scenes do not
    depend on ``num_scenes``. Images are rendered lazily and vectorised, in blocks of 256
    consecutive scenes the first time an item of the block is requested (so each DataLoader worker
    renders only what it reads), or all at once by :meth:`images`; they are cached as uint8.

    Each item has ``data["object"].label``/``.box``/``.mask``, the relation edges,
    ``data.image`` (float ``[3, H, W]`` in ``[0, 1]``), ``data.scene_type`` (long scalar) and
    ``data.attributes`` (dict of ints: ``scene_type``, ``dominant_colour``, ``dominant_shape``,
    ``num_objects``, ``has_containment``), usable as meta-learning task keys.

    The items are :class:`~sgkit.data.SceneGraph` objects, so a
    :class:`torch_geometric.loader.DataLoader` over the data set gives batches with
    ``batch.image`` of shape ``[B, 3, H, W]`` and ``batch.scene_type`` of shape ``[B]``.

    The world's constants are attributes of the data set (and of the class): ``SHAPES``,
    ``COLOURS``, ``SIZES``, ``PREDICATES``, ``SCENE_TYPES``, ``EDIT_MODES``, ``GRID``,
    ``MIN_OBJECTS``, ``MAX_OBJECTS`` and ``ATTRIBUTE_NAMES`` (the keys of ``data.attributes``);
    ``vocab`` is the :class:`~sgkit.data.Vocabulary` (``num_classes`` / ``num_predicates`` its
    sizes) and ``max_objects`` the largest scene of this data set.

    Args:
        num_scenes: number of scenes.
        image_size: side of the rendered square images.
        mask_size: side of the box-relative masks.
        seed: random seed.
        progress: show tqdm progress bars.
        hide_colour: graph labels without the colour (:func:`coarsen_labels`, 9 categories), so
            an object's colour can only be read from the pixels (as in CLEVR, whose labels omit
            size and material); images, edits and statistics are unchanged.

    Example:
        >>> ds = ShapesWorld(8, seed=0, progress=False)
        >>> data = ds[0]
        >>> data.image.shape, ds.vocab.num_objects, ds.vocab.num_predicates
        (torch.Size([3, 64, 64]), 36, 6)
    """

    SHAPES: tuple[str, ...] = SHAPES
    COLOURS: tuple[str, ...] = COLOURS
    SIZES: tuple[str, ...] = SIZES
    PREDICATES: tuple[str, ...] = PREDICATES
    SCENE_TYPES: tuple[str, ...] = SCENE_TYPES
    EDIT_MODES: tuple[str, ...] = EDIT_MODES
    GRID: int = GRID
    MIN_OBJECTS: int = MIN_OBJECTS
    MAX_OBJECTS: int = MAX_OBJECTS
    ATTRIBUTE_NAMES: tuple[str, ...] = ATTRIBUTE_NAMES
    scene_type_names: tuple[str, ...] = SCENE_TYPES
    edit_modes: tuple[str, ...] = EDIT_MODES

    def __init__(
        self,
        num_scenes: int = 1000,
        *,
        image_size: int = 64,
        mask_size: int = 16,
        seed: int = 0,
        progress: bool = True,
        hide_colour: bool = False,
    ) -> None:
        if not isinstance(num_scenes, (int, np.integer)) or num_scenes < 0:
            raise ValueError(f"num_scenes: expected a non-negative int, got {num_scenes!r}")
        if not isinstance(image_size, (int, np.integer)) or image_size < 8:
            raise ValueError(f"image_size: expected an int >= 8, got {image_size!r}")
        if not isinstance(mask_size, (int, np.integer)) or mask_size < 1:
            raise ValueError(f"mask_size: expected a positive int, got {mask_size!r}")
        self.num_scenes = int(num_scenes)
        self.image_size = int(image_size)
        self.mask_size = int(mask_size)
        self.seed = seed
        self.progress = progress
        self.hide_colour = bool(hide_colour)
        self.vocab = shapes_vocabulary(self.hide_colour)
        rng = np.random.default_rng(seed)
        self._scenes = [_sample_scene(rng) for _ in tqdm(range(self.num_scenes), disable=not progress, desc="scenes")]
        self._triplets = [scene_edges(s.box) for s in self._scenes]
        self._attributes = [s.attributes() for s in self._scenes]
        self._templates = torch.from_numpy(shape_masks(self.mask_size)).float()
        self._images: np.ndarray | None = None
        self._blocks: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.num_scenes

    @property
    def num_classes(self) -> int:
        """Number of object categories (``vocab.num_objects``, 36)."""
        return self.vocab.num_objects

    @property
    def num_predicates(self) -> int:
        """Number of predicates (``vocab.num_predicates``, 6)."""
        return self.vocab.num_predicates

    @property
    def max_objects(self) -> int:
        """Objects of the largest scene of this data set (0 when empty; at most ``MAX_OBJECTS``)."""
        return max((s.num_objects for s in self._scenes), default=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_scenes}, image_size={self.image_size}, seed={self.seed})"

    # ------------------------------------------------------------------ items
    def _graph(
        self,
        scene: _Scene,
        triplets: list[tuple[int, int, int]],
        *,
        masks: bool,
        image: Tensor | None,
        attributes: dict[str, int] | None = None,
    ) -> HeteroData:
        edge_index, edge_label = triplets_to_tensors(triplets)
        labels = coarsen_labels(scene.labels) if self.hide_colour else scene.labels
        data = build_graph(
            torch.from_numpy(labels),
            edge_index,
            edge_label,
            box=torch.from_numpy(scene.norm_boxes).float(),
            mask=self._templates[torch.from_numpy(scene.shape)] if masks else None,
            image=image,
        )
        data.scene_type = torch.tensor(scene.scene_type, dtype=torch.long)
        data.attributes = dict(attributes) if attributes is not None else scene.attributes()
        return data

    def __getitem__(self, idx: int) -> HeteroData:
        idx = self._check_index(idx)
        img = torch.from_numpy(self._image(idx)).float().div_(255.0)
        scene, trip, attrs = self._scenes[idx], self._triplets[idx], self._attributes[idx]
        return self._graph(scene, trip, masks=True, image=img, attributes=attrs)

    def _check_index(self, idx: int) -> int:
        i = int(idx)
        if i < 0:
            i += self.num_scenes
        if not 0 <= i < self.num_scenes:
            raise IndexError(f"idx: {idx} out of range for {self.num_scenes} scenes")
        return i

    def graphs(self, *, masks: bool = False) -> list[HeteroData]:
        """All scene graphs (labels, boxes, edges, ``scene_type``, ``attributes``) without images.

        Args:
            masks: also attach the box-relative masks.
        """
        return [
            self._graph(s, t, masks=masks, image=None, attributes=a)
            for s, t, a in zip(self._scenes, self._triplets, self._attributes)
        ]

    def _block(self, b: int) -> np.ndarray:
        """Rendered uint8 images of block ``b`` (``_BLOCK`` consecutive scenes), cached."""
        blk = self._blocks.get(b)
        if blk is None:
            lo, hi = b * _BLOCK, min((b + 1) * _BLOCK, self.num_scenes)
            scenes = self._scenes[lo:hi]
            blk = render_scenes([s.labels for s in scenes], [s.norm_boxes for s in scenes], self.image_size, chunk=64)
            self._blocks[b] = blk
        return blk

    def _image(self, idx: int) -> np.ndarray:
        if self._images is not None:
            return self._images[idx]
        return self._block(idx // _BLOCK)[idx % _BLOCK]

    def images_uint8(self) -> np.ndarray:
        """All images as a uint8 array ``[S, 3, H, W]`` (rendered once, then cached)."""
        if self._images is None:
            n_blocks = (self.num_scenes + _BLOCK - 1) // _BLOCK
            blocks = [self._block(b) for b in tqdm(range(n_blocks), disable=not self.progress, desc="render")]
            self._images = (
                np.concatenate(blocks)
                if blocks
                else np.zeros((0, 3, self.image_size, self.image_size), dtype=np.uint8)
            )
            self._blocks = {}
        return self._images

    def images(self) -> Tensor:
        """All images as a float tensor ``[S, 3, H, W]`` in ``[0, 1]``."""
        return torch.from_numpy(self.images_uint8()).float().div_(255.0)

    def instance_masks(self, idx: int, *, visible: bool = False) -> Tensor:
        """Full-resolution instance masks of scene ``idx``.

        Args:
            idx: scene index.
            visible: if ``True``, only the pixels where the object is on top (modal masks; they
                partition the non-background pixels); otherwise the full shapes (amodal).

        Returns:
            bool tensor ``[N, H, W]``.
        """
        scene = self._scenes[self._check_index(idx)]
        m = _rasterise(scene.shape, scene.norm_boxes, self.image_size)
        if visible and m.shape[0]:
            top = np.where(m.any(0), m.shape[0] - 1 - np.argmax(m[::-1], axis=0), -1)
            m = top[None] == np.arange(m.shape[0])[:, None, None]
        return torch.from_numpy(np.ascontiguousarray(m))

    def task_indices(self, key: str = "scene_type") -> dict[int, list[int]]:
        """Scene indices grouped by the value of one attribute (meta-learning tasks).

        Args:
            key: an attribute name, e.g. ``"scene_type"`` or ``"dominant_colour"``.
        """
        if self.num_scenes and key not in self._attributes[0]:
            raise ValueError(f"key: unknown attribute {key!r}; expected one of {sorted(self._attributes[0])}")
        groups: dict[int, list[int]] = {}
        for i, a in enumerate(self._attributes):
            groups.setdefault(a[key], []).append(i)
        return dict(sorted(groups.items()))

    # ------------------------------------------------------------- statistics
    def statistics(self) -> dict[str, Any]:
        """Counts of the data set: scene types, objects and edges per scene, predicates, categories.

        Returns:
            dict with ``num_scenes``, ``scene_types`` (name -> count), ``objects_per_scene``
            (n -> count), ``edges_per_scene`` (n -> count), ``predicates`` (name -> count),
            ``categories`` (name -> count), ``shapes``, ``colours``, ``sizes`` (name -> count),
            ``mean_objects``, ``mean_edges``, ``empty_graphs``.
        """
        n_obj = [s.num_objects for s in self._scenes]
        n_edge = [len(t) for t in self._triplets]
        labels = np.concatenate([s.labels for s in self._scenes]) if self._scenes else np.zeros(0, np.int64)
        preds = Counter(p for t in self._triplets for _, p, _ in t)
        cats = np.bincount(labels, minlength=36)
        shape, colour, size = decompose_category(np.arange(36))
        return {
            "num_scenes": self.num_scenes,
            "scene_types": {name: sum(s.scene_type == k for s in self._scenes) for k, name in enumerate(SCENE_TYPES)},
            "objects_per_scene": dict(sorted(Counter(n_obj).items())),
            "edges_per_scene": dict(sorted(Counter(n_edge).items())),
            "predicates": {name: preds.get(k, 0) for k, name in enumerate(PREDICATES)},
            "categories": {shapes_vocabulary().decode_object(k): int(cats[k]) for k in range(36)},
            "shapes": {name: int(cats[shape == k].sum()) for k, name in enumerate(SHAPES)},
            "colours": {name: int(cats[colour == k].sum()) for k, name in enumerate(COLOURS)},
            "sizes": {name: int(cats[size == k].sum()) for k, name in enumerate(SIZES)},
            "mean_objects": float(np.mean(n_obj)) if n_obj else 0.0,
            "mean_edges": float(np.mean(n_edge)) if n_edge else 0.0,
            "empty_graphs": int(sum(e == 0 for e in n_edge)),
        }

    def plot_statistics(self, path: str) -> str:
        """Save bar charts of :meth:`statistics` (scene types, objects per scene, predicates, sizes).

        Returns:
            The path written.
        """
        return _plot_statistics(self.statistics(), self.seed, path)

    def plot_examples(self, path: str, n: int = 6, *, indices: Sequence[int] | None = None, ncols: int = 2) -> str:
        """Save a figure of example images next to drawings of their scene graphs.

        Args:
            path: output image file.
            n: number of scenes (the first ``n`` unless ``indices`` is given).
            indices: scene indices to show.
            ncols: scenes per row.

        Returns:
            The path written.
        """
        from sgkit.viz import plot_scene_grid

        idx = list(range(min(n, self.num_scenes))) if indices is None else [self._check_index(i) for i in indices]
        graphs = [self[i] for i in idx]
        titles = [f"#{i} {SCENE_TYPES[int(g.scene_type)]}" for i, g in zip(idx, graphs)]
        return plot_scene_grid(graphs, self.vocab, path, ncols=ncols, titles=titles, node_colors=object_colors)

    # ------------------------------------------------------------- edit pairs
    def edit_pairs(self, mode: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """Paired scenes for image editing (thesis 4088-4100): source, edited graph, exact target.

        Fresh scenes are drawn from the grammar with ``seed`` (independent of this data set's
        scenes) and edited:

        * ``"relationship"``: two objects joined by a directional edge swap their positions
          (box centres), so the edge's predicate flips (``left of`` <-> ``right of``,
          ``above`` <-> ``below``); objects of the same category, objects in containment relations
          and swaps that create overlaps are not used. The target keeps the edge set and recomputes every predicate from the new
          geometry (``info["changed_edges"]`` lists all edges whose predicate changed).
        * ``"removal"``: one object and its edges are removed (scenes with more than 3 objects).
        * ``"replacement"``: one object's shape and/or colour change (same size and box, same edges).
        * ``"addition"``: a new object is placed in free space and appended as the last node, with
          one edge to its nearest object (scenes with fewer than 10 objects).

        Args:
            mode: one of ``"relationship"``, ``"removal"``, ``"replacement"``, ``"addition"``.
            n: number of pairs.
            seed: random seed of the scenes and edits.

        Returns:
            ``n`` dicts ``{"source": HeteroData, "target": HeteroData, "mode": str, "info": dict}``;
            both graphs carry image, boxes, masks, ``scene_type`` and ``attributes``.
        """
        if mode not in EDIT_MODES:
            raise ValueError(f"mode: expected one of {EDIT_MODES}, got {mode!r}")
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n: expected a non-negative int, got {n!r}")
        found = _sample_edits(mode, n, seed)
        scenes = [f[0] for f in found] + [f[2] for f in found]
        imgs = render_scenes([s.labels for s in scenes], [s.norm_boxes for s in scenes], self.image_size)
        out = []
        for i, (src, src_trip, tgt, tgt_trip, info) in enumerate(found):
            source = self._graph(src, src_trip, masks=True, image=torch.from_numpy(imgs[i]).float().div_(255.0))
            target = self._graph(tgt, tgt_trip, masks=True, image=torch.from_numpy(imgs[n + i]).float().div_(255.0))
            out.append({"source": source, "target": target, "mode": mode, "info": info})
        return out

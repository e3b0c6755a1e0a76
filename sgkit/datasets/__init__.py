"""Embedded default data of sgkit: the ShapesWorld scenes and VG150-like random scene graphs."""
from sgkit.data.geometry import PREDICATES, box_predicates

from .posed_shapes import PosedShapesWorld, posed_masks, render_posed
from .shapes import ShapesWorld
from .shapes_edges import scene_edges
from .shapes_render import render_layout, render_scenes, shape_masks
from .shapes_tasks import (
    BACKGROUNDS,
    GAINS,
    ShapesStyleTasks,
    TaskStyle,
    apply_style,
    shapes_style_tasks,
)
from .shapes_vocab import (
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
from .vg_like import VG150_DICTS, vg150_frequencies, vg150_vocabulary, vg_like_graphs

__all__ = [
    "ATTRIBUTE_NAMES",
    "COLOURS",
    "EDIT_MODES",
    "GRID",
    "MAX_OBJECTS",
    "MIN_OBJECTS",
    "PREDICATES",
    "SCENE_TYPES",
    "SHAPES",
    "SIZES",
    "PosedShapesWorld",
    "ShapesWorld",
    "posed_masks",
    "render_posed",
    "box_predicates",
    "category_id",
    "decompose_category",
    "object_colors",
    "render_layout",
    "render_scenes",
    "scene_edges",
    "shape_masks",
    "shapes_vocabulary",
    "coarsen_labels",
    "BACKGROUNDS",
    "GAINS",
    "ShapesStyleTasks",
    "TaskStyle",
    "apply_style",
    "shapes_style_tasks",
    "VG150_DICTS",
    "vg150_frequencies",
    "vg150_vocabulary",
    "vg_like_graphs",
]

"""Drawings of scene graphs, their images, data-set statistics and training (matplotlib, lazily).

* :func:`draw_scene_graph`: the graph with object names in boxes and predicates on the edges
  (several predicates of one ordered pair are joined with ``" / "``); boxes never overlap and
  every label stays inside its panel;
* :func:`draw_image_with_boxes`: the image with numbered boxes; :func:`plot_scene`: both side
  by side for one scene; :func:`scene_grid_figure` / :func:`plot_scene_grid`: several scenes
  with a title per panel; :func:`save_image_grid`: a PNG grid of generated images;
  :func:`generation_figure` / :func:`plot_generation`: generated images under their graphs;
* :func:`plot_dataset_statistics` and :func:`plot_cooccurrence_matrix`: graph sizes, the most
  frequent categories and predicates, and category co-occurrence, all labelled with names;
* :func:`plot_score_histograms` / :func:`plot_nll_histograms`: anomaly scores per corruption
  level; :func:`plot_training_curves`: loss curves.

Every function draws on a :class:`matplotlib.figure.Figure` (or axes it is given) and never
touches pyplot state or the matplotlib backend.
"""
from .scene_graph import draw_scene_graph
from .scenes import (
    draw_image_with_boxes,
    generation_figure,
    plot_generation,
    plot_scene,
    plot_scene_grid,
    save_image_grid,
    scene_grid_figure,
)
from .statistics import (
    plot_cooccurrence_matrix,
    plot_dataset_statistics,
    plot_nll_histograms,
    plot_score_histograms,
    plot_training_curves,
)

__all__ = [
    "draw_scene_graph",
    "draw_image_with_boxes",
    "generation_figure",
    "plot_generation",
    "plot_scene",
    "scene_grid_figure",
    "plot_scene_grid",
    "save_image_grid",
    "plot_dataset_statistics",
    "plot_cooccurrence_matrix",
    "plot_score_histograms",
    "plot_nll_histograms",
    "plot_training_curves",
]

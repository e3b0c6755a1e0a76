"""Figures of ShapesWorld data sets: the bar charts of :meth:`ShapesWorld.statistics`."""
from __future__ import annotations

from typing import Any

__all__: list[str] = []


def _plot_statistics(stats: dict[str, Any], seed: Any, path: str) -> str:
    """Save bar charts of ``stats`` (:meth:`ShapesWorld.statistics` of a data set drawn with
    ``seed``): scene types, objects and edges per scene, predicates, colours, shapes and sizes.

    Returns:
        The path written.
    """
    import os

    from matplotlib.figure import Figure

    panels = [
        ("scene types", stats["scene_types"]),
        ("objects per scene", stats["objects_per_scene"]),
        ("edges per scene", stats["edges_per_scene"]),
        ("predicates", stats["predicates"]),
        ("colours", stats["colours"]),
        ("shapes and sizes", {**stats["shapes"], **stats["sizes"]}),
    ]
    fig = Figure(figsize=(12, 6))
    axes = fig.subplots(2, 3)
    for ax, (title, counts) in zip(axes.ravel(), panels):
        ax.bar([str(k) for k in counts], list(counts.values()), color="#4a7ab5")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.suptitle(f"ShapesWorld: {stats['num_scenes']} scenes (seed {seed})", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    return os.fspath(path)

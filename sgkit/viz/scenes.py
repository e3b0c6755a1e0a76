"""Scenes: an image with its numbered boxes next to its graph, grids of scenes, image grids."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data import NODE, Vocabulary

from .scene_graph import _axes, draw_scene_graph

__all__ = [
    "draw_image_with_boxes",
    "generation_figure",
    "plot_generation",
    "plot_scene",
    "scene_grid_figure",
    "plot_scene_grid",
    "save_image_grid",
]

def draw_image_with_boxes(
    data: HeteroData,
    ax: Any = None,
    *,
    image: Tensor | None = None,
    box_color: str = "white",
    font_size: float = 7.0,
) -> Any:
    """Show a scene's image (``data.image`` or ``image``) with its numbered object boxes.

    Args:
        data: the scene graph (``data["object"].box`` drawn when present).
        ax: matplotlib axes (default: the axes of a new figure).
        image: image ``[3, H, W]`` overriding ``data.image``.
        box_color: colour of box outlines and numbers.
        font_size: size of the box numbers.

    Returns:
        The axes.
    """
    from matplotlib.patches import Rectangle

    img = image if image is not None else getattr(data, "image", None)
    if img is None:
        raise ValueError("image: the scene has no data.image and no image was given")
    img = img.detach().cpu().float()
    if img.dim() != 3 or img.size(0) != 3:
        raise ValueError(f"image: expected shape [3, H, W], got {list(img.shape)}")
    ax = _axes(ax)
    h, w = img.shape[1:]
    ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy(), extent=(0, w, h, 0), interpolation="nearest")
    if "box" in data[NODE]:
        for i, (x0, y0, x1, y1) in enumerate(data[NODE].box.tolist()):
            ax.add_patch(Rectangle((x0 * w, y0 * h), (x1 - x0) * w, (y1 - y0) * h, fill=False, ec=box_color, lw=0.8))
            ax.text(x0 * w + 0.5, y0 * h + 0.5, str(i), color=box_color, fontsize=font_size, va="top", ha="left",
                    clip_on=True)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    return ax


def plot_scene(
    data: HeteroData,
    vocab: Vocabulary | None,
    ax_image: Any,
    ax_graph: Any,
    *,
    node_colors: Sequence[Any] | None = None,
    title: str | None = None,
) -> None:
    """Draw a scene's image with boxes on ``ax_image`` and its graph on ``ax_graph``."""
    draw_image_with_boxes(data, ax_image)
    draw_scene_graph(data, vocab, ax_graph, node_colors=node_colors)
    if title:
        ax_image.set_title(title, fontsize=8)


def scene_grid_figure(
    graphs: Sequence[HeteroData],
    vocab: Vocabulary | None,
    *,
    ncols: int = 2,
    titles: Sequence[str] | None = None,
    node_colors: Callable[[HeteroData], Sequence[Any]] | None = None,
    dpi: int = 120,
) -> Any:
    """A figure of scenes: each one its image (when any scene has one) next to its graph.

    Every scene gets a title (``titles[k]``, default ``"graph k"``) above its first panel.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    if not graphs:
        raise ValueError("graphs: need at least one scene to plot")
    if titles is not None and len(titles) != len(graphs):
        raise ValueError(f"titles: expected {len(graphs)} titles, got {len(titles)}")
    titles = list(titles) if titles is not None else [f"graph {k}" for k in range(len(graphs))]
    ncols = max(1, min(ncols, len(graphs)))
    nrows = (len(graphs) + ncols - 1) // ncols
    with_images = any(getattr(d, "image", None) is not None for d in graphs)
    panels = 2 if with_images else 1  # graph-only scenes get a single panel each
    fig = Figure(figsize=((6.0 if with_images else 3.6) * ncols, 3.0 * nrows), dpi=dpi)
    axes = np.asarray(fig.subplots(nrows, panels * ncols, squeeze=False))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.3 / (3.0 * nrows), wspace=0.05, hspace=0.15)
    for ax in axes.ravel():
        ax.set_axis_off()
    for k, data in enumerate(graphs):
        r, c = divmod(k, ncols)
        ax_g = axes[r, panels * c + panels - 1]
        ax_title = axes[r, panels * c]
        colors = node_colors(data) if node_colors is not None else None
        if with_images and getattr(data, "image", None) is not None:
            draw_image_with_boxes(data, ax_title)
        draw_scene_graph(data, vocab, ax_g, node_colors=colors)
        ax_title.set_title(titles[k], fontsize=8, loc="left")
    return fig


def plot_scene_grid(
    graphs: Sequence[HeteroData],
    vocab: Vocabulary | None,
    path: str | os.PathLike,
    *,
    ncols: int = 2,
    titles: Sequence[str] | None = None,
    node_colors: Callable[[HeteroData], Sequence[Any]] | None = None,
    dpi: int = 120,
) -> str:
    """Save :func:`scene_grid_figure` to ``path`` (parent folders are created); returns the path."""
    fig = scene_grid_figure(graphs, vocab, ncols=ncols, titles=titles, node_colors=node_colors, dpi=dpi)
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return os.fspath(path)


def save_image_grid(images: Tensor, path: str | os.PathLike, nrow: int = 8) -> str:
    """Save ``[B, 3, H, W]`` images in ``[0, 1]`` as one PNG grid (torchvision); returns the path."""
    from torchvision.utils import save_image

    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    save_image(images.detach().float().clamp(0, 1).cpu(), path, nrow=nrow, padding=2, pad_value=1.0)
    return path


def generation_figure(
    graphs: Sequence[HeteroData],
    rows: Mapping[str, Tensor],
    vocab: Vocabulary | None = None,
    *,
    panel_size: float = 2.2,
) -> Any:
    """Generated images under the scene graphs they come from, one column per graph.

    The first row draws each graph (names, not ids, with ``vocab``); every further row shows the
    images of one entry of ``rows`` (e.g. ``"real"``, ``"ground-truth boxes"``, ``"predicted
    layout"``), its name written inside the row's first panel.

    Args:
        graphs: the ``B`` scene graphs.
        rows: row name -> images ``[B, 3, H, W]`` in ``[0, 1]``.
        vocab: names of categories and predicates.
        panel_size: inches per panel.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    n = len(graphs)
    for name, images in rows.items():
        if images.dim() != 4 or images.shape[0] != n:
            raise ValueError(f"rows[{name!r}] must have shape [{n}, 3, H, W], got {tuple(images.shape)}")
    fig = Figure(figsize=(panel_size * n, panel_size * (len(rows) + 1)))
    axes = fig.subplots(len(rows) + 1, n, squeeze=False)
    for j, g in enumerate(graphs):
        draw_scene_graph(g, vocab, ax=axes[0, j], font_size=6.0)
        axes[0, j].set_title(f"scene {j}", fontsize=8)
    for i, (name, images) in enumerate(rows.items(), start=1):
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(images[j].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.text(0.03, 0.97, name, transform=ax.transAxes, va="top", ha="left", fontsize=7,
                        color="black", bbox={"facecolor": "white", "alpha": 0.8, "pad": 1.5, "linewidth": 0})
    fig.tight_layout()
    return fig


def plot_generation(
    graphs: Sequence[HeteroData],
    rows: Mapping[str, Tensor],
    path: str | os.PathLike,
    vocab: Vocabulary | None = None,
) -> str:
    """:func:`generation_figure` saved to ``path``; returns the path."""
    fig = generation_figure(graphs, rows, vocab)
    fig.savefig(path, dpi=100)
    return os.fspath(path)

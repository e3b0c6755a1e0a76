"""Drawings of scene graphs and their images (matplotlib, imported lazily).

* :func:`draw_scene_graph`: the graph with networkx layouts, object names on nodes and
  predicates on edges (several predicates of one ordered pair are joined with ``" / "``);
* :func:`draw_image_with_boxes`: the image with numbered boxes;
* :func:`plot_scene`: both side by side for one scene;
* :func:`plot_scene_grid`: a figure of several scenes, saved to a file.
"""
from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import networkx as nx
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data import NODE, Vocabulary, to_triplets

__all__ = [
    "draw_scene_graph",
    "draw_image_with_boxes",
    "plot_nll_histograms",
    "plot_scene",
    "plot_scene_grid",
    "plot_training_curves",
    "save_image_grid",
]

_LAYOUTS: dict[str, Callable[..., dict]] = {
    "spring": nx.spring_layout,
    "kamada_kawai": nx.kamada_kawai_layout,
    "circular": nx.circular_layout,
    "shell": nx.shell_layout,
}


def _object_name(vocab: Vocabulary | None, label: int) -> str:
    if vocab is None:
        return str(label)
    try:
        return vocab.decode_object(label)
    except KeyError:
        return f"<{label}>"


def _predicate_name(vocab: Vocabulary | None, label: int) -> str:
    if vocab is None:
        return str(label)
    try:
        return vocab.decode_predicate(label)
    except KeyError:
        return f"<{label}>"


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def draw_scene_graph(
    data: HeteroData,
    vocab: Vocabulary | None = None,
    ax: Any = None,
    *,
    layout: str = "spring",
    seed: int = 0,
    node_colors: Sequence[Any] | None = None,
    font_size: float = 7.0,
    wrap: int = 12,
) -> Any:
    """Draw a scene graph: nodes ``"i: name"``, directed edges labelled with predicates.

    Args:
        data: the scene graph.
        vocab: names of categories and predicates (ids are shown without it).
        ax: matplotlib axes (default: current axes).
        layout: ``"spring"`` (seeded), ``"kamada_kawai"`` (nicer, slower), ``"circular"`` or ``"shell"``.
        seed: seed of the spring layout.
        node_colors: one matplotlib colour per node (default light blue).
        font_size: label font size.
        wrap: wrap node names at this many characters.

    Returns:
        The axes.
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout: expected one of {sorted(_LAYOUTS)}, got {layout!r}")
    ax = _axes(ax)
    labels, triplets = to_triplets(data)
    g = nx.DiGraph()
    g.add_nodes_from(range(len(labels)))
    edge_text: dict[tuple[int, int], list[str]] = {}
    for s, p, o in triplets:
        g.add_edge(s, o)
        edge_text.setdefault((s, o), []).append(_predicate_name(vocab, p))
    if len(labels) == 0:
        pos: dict = {}
    elif layout == "spring":
        pos = nx.spring_layout(g, seed=seed)
    elif layout == "kamada_kawai" and len(labels) > 1:
        pos = nx.kamada_kawai_layout(g.to_undirected())
    else:
        pos = _LAYOUTS["circular" if layout == "kamada_kawai" else layout](g)
    names = {i: f"{i}: " + "\n".join(textwrap.wrap(_object_name(vocab, c), wrap)) for i, c in enumerate(labels)}
    colors = list(node_colors) if node_colors is not None else ["#cfe2f3"] * len(labels)
    if len(colors) != len(labels):
        raise ValueError(f"node_colors: expected {len(labels)} colours, got {len(colors)}")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, node_size=900, edgecolors="black", linewidths=0.5)
    nx.draw_networkx_labels(g, pos, labels=names, ax=ax, font_size=font_size)
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=10, node_size=900, connectionstyle="arc3,rad=0.1")
    nx.draw_networkx_edge_labels(
        g, pos, edge_labels={k: " / ".join(v) for k, v in edge_text.items()}, ax=ax, font_size=font_size * 0.9,
        connectionstyle="arc3,rad=0.1",
    )
    ax.set_axis_off()
    ax.margins(0.15)
    return ax


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
        ax: matplotlib axes (default: current axes).
        image: image ``[3, H, W]`` overriding ``data.image``.
        box_color: colour of box outlines and numbers.
        font_size: size of the box numbers.

    Returns:
        The axes.
    """
    from matplotlib.patches import Rectangle

    ax = _axes(ax)
    img = image if image is not None else getattr(data, "image", None)
    if img is None:
        raise ValueError("image: the scene has no data.image and no image was given")
    img = img.detach().cpu().float()
    if img.dim() != 3 or img.size(0) != 3:
        raise ValueError(f"image: expected shape [3, H, W], got {list(img.shape)}")
    h, w = img.shape[1:]
    ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy(), extent=(0, w, h, 0), interpolation="nearest")
    if "box" in data[NODE]:
        for i, (x0, y0, x1, y1) in enumerate(data[NODE].box.tolist()):
            ax.add_patch(Rectangle((x0 * w, y0 * h), (x1 - x0) * w, (y1 - y0) * h, fill=False, ec=box_color, lw=0.8))
            ax.text(x0 * w + 0.5, y0 * h + 0.5, str(i), color=box_color, fontsize=font_size, va="top", ha="left")
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
    """Save a figure of scenes: each one its image (if any) next to its graph drawing.

    Args:
        graphs: scene graphs (with ``data.image`` for the image panels).
        vocab: names of categories and predicates.
        path: output file (e.g. ``.png``); parent folders are created.
        ncols: scenes per row.
        titles: optional title per scene.
        node_colors: optional function giving node colours of a graph.
        dpi: resolution.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not graphs:
        raise ValueError("graphs: need at least one scene to plot")
    if titles is not None and len(titles) != len(graphs):
        raise ValueError(f"titles: expected {len(graphs)} titles, got {len(titles)}")
    ncols = max(1, min(ncols, len(graphs)))
    nrows = (len(graphs) + ncols - 1) // ncols
    with_images = any(getattr(d, "image", None) is not None for d in graphs)
    panels = 2 if with_images else 1  # graph-only scenes get a single panel each
    fig, axes = plt.subplots(
        nrows, panels * ncols, figsize=((5.0 if with_images else 3.0) * ncols, 2.6 * nrows), squeeze=False
    )
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
        if titles is not None:
            ax_title.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return os.fspath(path)


def save_image_grid(images: Tensor, path: str | os.PathLike, nrow: int = 8) -> str:
    """Save ``[B, 3, H, W]`` images in ``[0, 1]`` as one PNG grid (torchvision); returns the path."""
    from torchvision.utils import save_image

    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    save_image(images.detach().float().clamp(0, 1).cpu(), path, nrow=nrow, padding=2, pad_value=1.0)
    return path


def plot_nll_histograms(
    nll_by_level: Mapping[str, Tensor | Sequence[float]],
    path: str | os.PathLike,
    *,
    auroc: Mapping[str, float] | None = None,
    bins: int = 40,
    title: str = "NLL of clean and corrupted scene graphs",
    xlabel: str = "negative log-likelihood (nats)",
) -> str:
    """Overlaid score histograms per corruption level (thesis Fig. 10.6, left), saved to ``path``.

    Drawn on a :class:`matplotlib.figure.Figure` (the user's backend is left alone).

    Args:
        nll_by_level: label (e.g. ``"clean"``, ``"0.2"``) -> scores.
        path: output image file.
        auroc: optional AUROC per label, shown in the legend.
        bins: number of histogram bins (shared by all levels).
        title: figure title.
        xlabel: label of the score axis.

    Returns:
        ``path`` as a string.
    """
    import numpy as np
    import torch
    from matplotlib.figure import Figure

    values = {k: np.asarray(torch.as_tensor(v, dtype=torch.float64).reshape(-1)) for k, v in nll_by_level.items()}
    allv = np.concatenate([v for v in values.values() if v.size]) if values else np.zeros(1)
    edges = np.histogram_bin_edges(allv, bins=bins)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for k, v in values.items():
        label = k if auroc is None or k not in auroc else f"{k} (AUROC {auroc[k]:.3f})"
        ax.hist(v, bins=edges, alpha=0.45, density=True, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return os.fspath(path)



def plot_training_curves(
    history: Sequence[Mapping[str, float]],
    path: str | os.PathLike,
    *,
    keys: Sequence[str] | None = None,
    title: str = "training losses",
    xlabel: str = "step",
) -> str:
    """Loss curves of a training history (one dict of statistics per step or epoch), saved to ``path``.

    Drawn on a :class:`matplotlib.figure.Figure` (the user's backend is left alone); the legend
    sits outside the axes so it never covers a curve.

    Args:
        history: e.g. ``model.history`` of an image model or ``model.history_`` of SceneGraphGen.
        path: output image file.
        keys: the statistics to draw (default: every numeric key but ``step`` and ``epoch``).
        title: figure title.
        xlabel: label of the horizontal axis.

    Returns:
        ``path`` as a string.
    """
    from matplotlib.figure import Figure

    if keys is None:
        keys = [k for k in dict.fromkeys(k for h in history for k in h) if k not in ("step", "epoch")]
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    for key in keys:
        values = [(i + 1, float(h[key])) for i, h in enumerate(history) if key in h]
        if values:
            xs, ys = zip(*values)
            ax.plot(xs, ys, label=key)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title(title)
    if ax.lines:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return os.fspath(path)

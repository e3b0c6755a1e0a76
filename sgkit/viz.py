"""Drawings of scene graphs, their images and data-set statistics (matplotlib, imported lazily).

* :func:`draw_scene_graph`: the graph with object names in boxes and predicates on the edges
  (several predicates of one ordered pair are joined with ``" / "``); boxes never overlap and
  every label stays inside its panel;
* :func:`draw_image_with_boxes`: the image with numbered boxes;
* :func:`plot_scene`: both side by side for one scene;
* :func:`scene_grid_figure` / :func:`plot_scene_grid`: several scenes with a title per panel;
* :func:`plot_dataset_statistics` and :func:`plot_cooccurrence_matrix`: graph sizes, the most
  frequent categories and predicates, and category co-occurrence, all labelled with names;
* :func:`plot_score_histograms`: overlaid histograms of anomaly scores per corruption level.

Every function draws on a :class:`matplotlib.figure.Figure` (or axes it is given) and never
touches pyplot state or the matplotlib backend. Text extents are measured with the figure's
renderer, so call :func:`draw_scene_graph` after the figure's layout is final.
"""
from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import networkx as nx
import numpy as np
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data import NODE, Vocabulary, to_triplets

__all__ = [
    "draw_scene_graph",
    "draw_image_with_boxes",
    "plot_scene",
    "scene_grid_figure",
    "plot_scene_grid",
    "plot_dataset_statistics",
    "plot_cooccurrence_matrix",
    "plot_score_histograms",
]

_LAYOUTS: dict[str, Callable[..., dict]] = {
    "spring": nx.spring_layout,
    "kamada_kawai": nx.kamada_kawai_layout,
    "circular": nx.circular_layout,
    "shell": nx.shell_layout,
}
_GAP = 4.0  # pixels between node boxes and between a box and the panel edge


def _name(decode: Callable[[int], str] | None, label: int) -> str:
    if decode is None:
        return str(label)
    try:
        return decode(label)
    except KeyError:
        return f"<{label}>"


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(4, 3)).add_subplot()


def _layout(g: nx.DiGraph, layout: str, seed: int) -> np.ndarray:
    n = g.number_of_nodes()
    if n == 1:
        return np.zeros((1, 2))
    if layout == "spring":
        pos = nx.spring_layout(g, seed=seed)
    elif layout == "kamada_kawai":
        pos = nx.kamada_kawai_layout(g.to_undirected())
    else:
        pos = _LAYOUTS[layout](g)
    return np.array([pos[i] for i in range(n)], dtype=float)


def _spread(pos: np.ndarray) -> np.ndarray:
    """Positions in ``[0, 1]^2``, half from the layout and half from their rank on each axis.

    Layouts of graphs with isolated nodes squeeze the connected part into a small cluster; the
    rank term spreads every axis evenly while keeping the layout's order.
    """
    pos = pos - pos.min(0)
    pos = pos / np.where(pos.max(0) > 0, pos.max(0), 1.0)
    if len(pos) < 2:
        return pos
    ranks = np.argsort(np.argsort(pos, axis=0, kind="stable"), axis=0, kind="stable") / (len(pos) - 1)
    return 0.5 * pos + 0.5 * ranks


def _hits(ext: Any, boxes: list[Any]) -> bool:
    return any(ext.overlaps(b) for b in boxes)


def _separate(centres: np.ndarray, sizes: np.ndarray, box: tuple[float, float, float, float], iters: int = 300) -> bool:
    """Push boxes (``centres`` +- ``sizes`` / 2, pixels) apart and inside ``box`` in place; True when done."""
    x0, y0, x1, y1 = box
    half = sizes / 2 + _GAP / 2
    lo, hi = np.array([x0, y0]) + half, np.array([x1, y1]) - half
    if np.any(lo > hi):
        return False
    n = len(centres)
    for _ in range(iters):
        np.clip(centres, lo, hi, out=centres)
        moved = False
        for i in range(n):
            for j in range(i + 1, n):
                d = centres[j] - centres[i]
                overlap = half[i] + half[j] - np.abs(d)
                if overlap[0] > 0 and overlap[1] > 0:
                    axis = int(np.argmin(overlap))
                    sign = 1.0 if d[axis] > 0 or (d[axis] == 0 and i % 2 == 0) else -1.0
                    step = overlap[axis] / 2 + 0.5
                    centres[i, axis] -= sign * step
                    centres[j, axis] += sign * step
                    moved = True
        if not moved:
            np.clip(centres, lo, hi, out=centres)
            return True
    np.clip(centres, lo, hi, out=centres)
    return False


def _grid(sizes: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """Centres of boxes in a regular grid inside ``box``, or None when they do not fit."""
    x0, y0, x1, y1 = box
    n = len(sizes)
    cw, ch = sizes[:, 0].max() + _GAP, sizes[:, 1].max() + _GAP
    cols = max(1, int((x1 - x0) // cw))
    rows = -(-n // cols)
    if rows * ch > y1 - y0 or cols * cw > x1 - x0:
        return None
    xs = x0 + (x1 - x0) / min(cols, n) * (np.arange(n) % cols + 0.5)
    ys = y1 - (y1 - y0) / rows * (np.arange(n) // cols + 0.5)
    return np.stack([xs, ys], axis=1)


def _clip_segment(a: np.ndarray, b: np.ndarray, half_a: np.ndarray, half_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of segment ``a -> b`` outside the boxes around ``a`` and ``b``."""
    d = b - a
    with np.errstate(divide="ignore"):
        ta = float(np.min(np.where(np.abs(d) > 1e-9, half_a / np.abs(d), np.inf)))
        tb = float(np.min(np.where(np.abs(d) > 1e-9, half_b / np.abs(d), np.inf)))
    ta, tb = min(ta, 0.5), min(tb, 0.5)
    return a + ta * d, b - tb * d


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
    max_edge_labels: int = 40,
) -> Any:
    """Draw a scene graph: node boxes ``"i: name"``, directed edges labelled with predicates.

    The layout's positions are moved apart until no two node boxes overlap and every box lies
    inside the panel; when the panel is too small the font shrinks (down to 40 % of
    ``font_size``) and, as a last resort, the nodes are placed on a grid.

    Args:
        data: the scene graph.
        vocab: names of categories and predicates (ids are shown without it).
        ax: matplotlib axes (default: the axes of a new :class:`~matplotlib.figure.Figure`).
        layout: ``"spring"`` (seeded), ``"kamada_kawai"``, ``"circular"`` or ``"shell"``.
        seed: seed of the spring layout.
        node_colors: one matplotlib colour per node (default light blue).
        font_size: largest label font size (points).
        wrap: wrap node names at this many characters.
        max_edge_labels: above this many connected node pairs the predicates are not written
            (the arrows still are) and the panel says so in its lower-left corner.

    Returns:
        The axes.
    """
    from matplotlib.patches import FancyArrowPatch

    if layout not in _LAYOUTS:
        raise ValueError(f"layout: expected one of {sorted(_LAYOUTS)}, got {layout!r}")
    labels, triplets = to_triplets(data)
    colors = list(node_colors) if node_colors is not None else ["#cfe2f3"] * len(labels)
    if len(colors) != len(labels):
        raise ValueError(f"node_colors: expected {len(labels)} colours, got {len(colors)}")
    ax = _axes(ax)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if not labels:
        return ax
    obj = vocab.decode_object if vocab is not None else None
    pred = vocab.decode_predicate if vocab is not None else None
    g = nx.DiGraph()
    g.add_nodes_from(range(len(labels)))
    edge_text: dict[tuple[int, int], list[str]] = {}
    for s, p, o in triplets:
        g.add_edge(s, o)
        edge_text.setdefault((s, o), []).append(_name(pred, p))
    pos = _spread(_layout(g, layout, seed))
    names = [f"{i}: " + "\n".join(textwrap.wrap(_name(obj, c), wrap) or [""]) for i, c in enumerate(labels)]
    for (s, o), preds in edge_text.items():
        if s == o:  # a self-loop is written on its node
            names[s] += f"\n({' / '.join(preds)} itself)"
    texts = [
        ax.text(0.5, 0.5, name, ha="center", va="center", fontsize=font_size, zorder=3, clip_on=False,
                bbox=dict(boxstyle="round,pad=0.3", fc=col, ec="black", lw=0.5))
        for name, col in zip(names, colors)
    ]
    panel = ax.get_window_extent()
    box = (panel.x0 + _GAP / 2, panel.y0 + _GAP / 2, panel.x1 - _GAP / 2, panel.y1 - _GAP / 2)
    px_per_pt = ax.figure.dpi / 72.0
    size = font_size
    centres = None
    while centres is None:
        for t in texts:
            t.set_fontsize(size)
        pad = 2 * (0.3 * size + 0.5) * px_per_pt  # bbox pad on both sides plus the edge line
        sizes = np.array([[e.width + pad, e.height + pad] for e in (t.get_window_extent() for t in texts)])
        span = np.array([box[2] - box[0], box[3] - box[1]]) - sizes.max(0) - _GAP
        trial = np.array([box[0], box[1]]) + sizes.max(0) / 2 + _GAP / 2 + pos * np.maximum(span, 0)
        if _separate(trial, sizes, box):
            centres = trial
        elif size <= 0.4 * font_size + 1e-9:
            centres = _grid(sizes, box)
            if centres is None:
                raise ValueError(f"ax: the panel ({panel.width:.0f}x{panel.height:.0f} px) is too small for "
                                 f"{len(labels)} node labels; use a larger figure or fewer nodes")
        else:
            size = max(0.4 * font_size, size * 0.85)
    to_data = ax.transData.inverted()
    for t, c in zip(texts, centres):
        t.set_position(to_data.transform(c))
    half = sizes / 2
    lo, hi = np.array(box[:2]), np.array(box[2:])
    from matplotlib.transforms import Bbox

    occupied = [Bbox.from_extents(*(c - h), *(c + h)) for c, h in zip(centres, half)]
    for (s, o), preds in edge_text.items():
        text = " / ".join(preds)
        if s == o:
            continue
        bend = 0.15 if g.has_edge(o, s) else 0.0
        a, b = _clip_segment(centres[s], centres[o], half[s], half[o])
        ax.add_patch(FancyArrowPatch(to_data.transform(a), to_data.transform(b), arrowstyle="-|>", mutation_scale=8,
                                     connectionstyle=f"arc3,rad={bend}", lw=0.6, color="0.3", zorder=2))
        if len(edge_text) > max_edge_labels:
            continue
        normal = np.array([-(b - a)[1], (b - a)[0]]) / max(np.linalg.norm(b - a), 1e-9)
        offset = -normal * bend * np.linalg.norm(b - a) / 2
        label = ax.text(0, 0, text, ha="center", va="center", fontsize=size * 0.85, zorder=2.5, color="0.15",
                        clip_on=False, bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
        ext = label.get_window_extent()
        hw = np.array([ext.width, ext.height]) / 2 + 0.2 * size * px_per_pt
        best = None
        for t in (0.5, 0.38, 0.62, 0.26, 0.74):  # first spot along the edge that is free
            c = np.clip(a + t * (b - a) + offset * (1 - (2 * t - 1) ** 2), lo + hw, np.maximum(hi - hw, lo + hw))
            spot = Bbox.from_extents(*(c - hw), *(c + hw))
            if best is None:
                best = (c, spot)
            if not _hits(spot, occupied):
                best = (c, spot)
                break
        label.set_position(to_data.transform(best[0]))
        occupied.append(best[1])
    if len(edge_text) > max_edge_labels:
        ax.text(0.0, 0.0, f"{len(triplets)} relations: predicates not shown", fontsize=size * 0.85, color="0.3",
                transform=ax.transAxes, ha="left", va="bottom", zorder=1)
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


def _top(p: np.ndarray, top: int) -> np.ndarray:
    order = np.argsort(-p, kind="stable")[:top]
    return order[p[order] > 0]


def plot_dataset_statistics(graphs: Sequence[HeteroData], vocab: Vocabulary, *, top: int = 15) -> Any:
    """Four panels: objects and relations per graph, and the ``top`` most frequent categories and predicates.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    from sgkit.metrics import object_occurrence, relationship_occurrence

    if not graphs:
        raise ValueError("graphs: need at least one scene graph")
    sizes = np.array([[len(lab), len(tr)] for lab, tr in map(to_triplets, graphs)])
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, col, what in zip(axes[0], range(2), ("objects", "relations")):
        v = sizes[:, col]
        ax.hist(v, bins=np.arange(v.min(), v.max() + 2) - 0.5, color="#4c72b0")
        ax.set_xlabel(f"{what} per graph")
        ax.set_ylabel("graphs")
        ax.set_title(f"{what} per graph: mean {v.mean():.2f}, max {v.max()}", fontsize=9)
    for ax, p, names, what in (
        (axes[1, 0], object_occurrence(graphs, vocab.num_objects), vocab.objects, "categories"),
        (axes[1, 1], relationship_occurrence(graphs, vocab.num_predicates), vocab.predicates, "predicates"),
    ):
        idx = _top(p, top)
        ax.barh(np.arange(idx.size), p[idx], color="#55a868")
        ax.set_yticks(np.arange(idx.size), [names[i] for i in idx], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("share of all " + ("objects" if what == "categories" else "relations"))
        ax.set_title(f"{min(top, idx.size)} most frequent {what}", fontsize=9)
    return fig


def plot_cooccurrence_matrix(
    graphs: Sequence[HeteroData],
    vocab: Vocabulary,
    *,
    top: int = 20,
    reference: Sequence[HeteroData] | None = None,
    labels: tuple[str, str] = ("generated", "reference"),
) -> Any:
    """Co-occurrence of the ``top`` most frequent categories, with names and a labelled colour bar.

    Cell ``(x, y)`` is the share of graphs that contain both categories (zero diagonal), as
    :func:`sgkit.metrics.cooccurrence` computes it. With ``reference`` the two sets are drawn
    side by side on one colour scale, over the categories most frequent in ``reference``.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    from sgkit.metrics import cooccurrence, object_occurrence

    if not graphs or (reference is not None and not reference):
        raise ValueError("graphs: need at least one scene graph in every set")
    sets = [(graphs, labels[0])] if reference is None else [(reference, labels[1]), (graphs, labels[0])]
    idx = _top(object_occurrence(sets[0][0], vocab.num_objects), top)
    mats = [cooccurrence(g, vocab.num_objects)[np.ix_(idx, idx)] for g, _ in sets]
    names = [vocab.objects[i] for i in idx]
    side = 2.5 + 0.28 * len(idx)
    fig = Figure(figsize=(side * len(sets) + 1.2, side), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(sets)))
    vmax = max(float(m.max()) for m in mats) or 1.0
    for ax, m, (_, label) in zip(axes, mats, sets):
        im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=vmax)
        ax.set_xticks(np.arange(len(idx)), names, rotation=90, fontsize=7)
        ax.set_yticks(np.arange(len(idx)), names, fontsize=7)
        title = f"co-occurrence of the {len(idx)} most frequent categories"
        ax.set_title(title if reference is None else f"{label}", fontsize=9)
    if reference is not None:
        fig.suptitle(f"co-occurrence of the {len(idx)} most frequent categories", fontsize=10)
    fig.colorbar(im, ax=list(axes), shrink=0.8).set_label("share of graphs containing both")
    return fig


def plot_score_histograms(
    scores: dict[str, Any],
    *,
    auroc: dict[str, float] | None = None,
    xlabel: str = "score",
    title: str | None = None,
    bins: int = 40,
) -> Any:
    """Overlaid density histograms of scores per group (e.g. ``"clean"``, ``"0.5"`` corrupted).

    The legend, with the AUROC of each group against the first when given, sits beside the axes
    so that it never covers a histogram.

    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    if not scores:
        raise ValueError("scores: need at least one group of scores")
    values = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in scores.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    if finite.size == 0:
        raise ValueError("scores: no finite value to draw")
    edges = np.histogram_bin_edges(finite, bins=bins)
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for k, v in values.items():
        label = k if auroc is None or k not in auroc else f"{k} (AUROC {auroc[k]:.3f})"
        ax.hist(v[np.isfinite(v)], bins=edges, alpha=0.45, density=True, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return fig

"""Scene-graph drawings whose node boxes never overlap and whose labels stay inside the panel.

The layout's positions are measured in display pixels with the figure's renderer and pushed apart
until no two node boxes overlap; call :func:`draw_scene_graph` after the figure's layout is final.
"""
from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import networkx as nx
import numpy as np
from torch_geometric.data import HeteroData

from sgkit.data import Vocabulary, to_triplets

__all__ = ["draw_scene_graph"]

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

"""Tests of the scene-graph drawings in sgkit.viz."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sgkit.data import Vocabulary, from_triplets  # noqa: E402
from sgkit.viz import draw_image_with_boxes, draw_scene_graph, plot_scene, plot_scene_grid  # noqa: E402

VOCAB = Vocabulary(["man", "horse", "hat"], ["riding", "wearing", "near"])


def _graph() -> object:
    # a multi-edge (0 -> 1 twice) and a second pair: 3 nodes, 2 distinct ordered pairs
    return from_triplets(
        [0, 1, 2],
        [(0, 0, 1), (0, 2, 1), (0, 1, 2)],
        boxes=[[0.1, 0.1, 0.5, 0.5], [0.4, 0.4, 0.9, 0.9], [0.2, 0.0, 0.3, 0.1]],
        image=torch.rand(3, 32, 32),
    )


def test_draw_scene_graph_labels_nodes_and_merges_multi_edges() -> None:
    fig, ax = plt.subplots()
    draw_scene_graph(_graph(), VOCAB, ax)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["0: man", "1: horse", "2: hat", "riding / near", "wearing"])
    plt.close(fig)


def test_draw_scene_graph_without_vocab_and_empty() -> None:
    fig, ax = plt.subplots()
    draw_scene_graph(_graph(), None, ax, layout="circular")
    assert "0: 0" in [t.get_text() for t in ax.texts]
    ax.clear()
    draw_scene_graph(from_triplets([], []), VOCAB, ax)
    assert len(ax.texts) == 0
    with pytest.raises(ValueError, match="layout"):
        draw_scene_graph(_graph(), VOCAB, ax, layout="hive")
    with pytest.raises(ValueError, match="node_colors"):
        draw_scene_graph(_graph(), VOCAB, ax, node_colors=["red"])
    plt.close(fig)


def test_boxes_are_drawn_in_pixel_coordinates() -> None:
    fig, ax = plt.subplots()
    draw_image_with_boxes(_graph(), ax)
    rects = ax.patches
    assert len(rects) == 3
    assert rects[0].get_xy() == pytest.approx((0.1 * 32, 0.1 * 32)) and rects[0].get_width() == pytest.approx(0.4 * 32)
    with pytest.raises(ValueError, match="image"):
        draw_image_with_boxes(from_triplets([0], []), ax)
    plt.close(fig)


def test_plot_scene_and_grid(tmp_path) -> None:
    fig, (a, b) = plt.subplots(1, 2)
    plot_scene(_graph(), VOCAB, a, b, title="scene")
    assert a.get_title() == "scene" and len(b.texts) == 5
    plt.close(fig)
    out = plot_scene_grid([_graph(), _graph()], VOCAB, tmp_path / "sub" / "grid.png", ncols=2)
    assert (tmp_path / "sub" / "grid.png").stat().st_size > 5000 and out.endswith("grid.png")
    fig_path = plot_scene_grid([from_triplets([0, 1], [(0, 0, 1)])] * 3, VOCAB, tmp_path / "g.png", ncols=3)
    import matplotlib.image as mpimg

    h, w = mpimg.imread(fig_path).shape[:2]
    assert w > 2 * h  # graph-only scenes: one panel each, 3 in a row
    with pytest.raises(ValueError, match="titles"):
        plot_scene_grid([_graph()], VOCAB, tmp_path / "x.png", titles=["a", "b"])


def test_training_curves_and_nll_histograms(tmp_path) -> None:
    from sgkit.viz import plot_nll_histograms, plot_training_curves

    history = [{"step": i, "total": 1.0 / (i + 1), "d_img": 0.5} for i in range(5)]
    out = plot_training_curves(history, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0 and out.endswith("curves.png")
    path = plot_nll_histograms({"clean": [1.0, 2.0], "0.5": [3.0, 4.0]}, tmp_path / "nll.png", auroc={"0.5": 1.0})
    assert (tmp_path / "nll.png").stat().st_size > 0 and path.endswith("nll.png")

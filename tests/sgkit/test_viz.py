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


# ---------------------------------------------------------------- readability, from the artists' extents
def _node_and_edge_boxes(ax):
    """Window extents of node boxes (texts with a visible edge) and edge labels, after an Agg draw."""
    ax.figure.canvas.draw()
    r = ax.figure.canvas.get_renderer()
    nodes = [t.get_bbox_patch().get_window_extent(r) for t in ax.texts if t.get_bbox_patch().get_edgecolor()[3] > 0]
    edges = [t.get_window_extent(r) for t in ax.texts if t.get_bbox_patch().get_edgecolor()[3] == 0]
    return nodes, edges


@pytest.mark.parametrize("n, seed", [(3, 0), (12, 1), (25, 2)])
def test_node_boxes_do_not_overlap_and_every_label_is_inside_its_panel(n, seed) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sgkit.datasets import vg150_vocabulary, vg_like_graphs

    vocab = vg150_vocabulary()
    g = next(x for x in vg_like_graphs(200, seed=seed) if x["object"].num_nodes >= n)
    fig = Figure(figsize=(3.6, 3.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw_scene_graph(g, vocab, ax)
    nodes, edges = _node_and_edge_boxes(ax)
    assert len(nodes) == g["object"].num_nodes
    panel = ax.get_window_extent()
    for b in nodes + edges:  # every text (node names and predicates) lies inside the panel
        assert panel.x0 - 0.5 <= b.x0 and b.x1 <= panel.x1 + 0.5 and panel.y0 - 0.5 <= b.y0 and b.y1 <= panel.y1 + 0.5
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            assert not nodes[i].overlaps(nodes[j]), (i, j)


def test_long_names_are_wrapped_and_a_tiny_panel_is_refused() -> None:
    from matplotlib.figure import Figure

    vocab = Vocabulary(["a very long category name indeed", "b"], ["near"])
    g = from_triplets([0, 1], [(0, 0, 1)])
    ax = draw_scene_graph(g, vocab, Figure(figsize=(3, 3)).add_subplot(), wrap=10)
    assert "0: a very\nlong\ncategory\nname\nindeed" in [t.get_text() for t in ax.texts]
    many = from_triplets(list(range(2)) * 20, [])
    with pytest.raises(ValueError, match="too small"):
        draw_scene_graph(many, vocab, Figure(figsize=(0.6, 0.6)).add_subplot())


def test_self_loop_is_named_on_its_node() -> None:
    ax = draw_scene_graph(from_triplets([0, 1], [(0, 2, 0), (0, 0, 1)]), VOCAB)
    assert "0: man\n(near itself)" in [t.get_text() for t in ax.texts]


def test_library_figures_leave_pyplot_and_the_backend_alone(tmp_path) -> None:
    from sgkit.viz import plot_cooccurrence_matrix, plot_dataset_statistics, scene_grid_figure

    before, backend = plt.get_fignums(), matplotlib.get_backend()
    fig = scene_grid_figure([_graph(), from_triplets([0], [])], VOCAB)
    plot_scene_grid([_graph()], VOCAB, tmp_path / "g.png")
    plot_dataset_statistics([_graph()], VOCAB)
    plot_cooccurrence_matrix([_graph()], VOCAB)
    draw_scene_graph(_graph(), VOCAB)
    assert plt.get_fignums() == before and matplotlib.get_backend() == backend
    # every scene has a panel title (default "graph k")
    assert [a.get_title(loc="left") for a in fig.axes if a.get_title(loc="left")] == ["graph 0", "graph 1"]


def test_statistics_figures_use_names_and_a_labelled_colour_bar() -> None:
    from sgkit.viz import plot_cooccurrence_matrix, plot_dataset_statistics

    graphs = [from_triplets([0, 1], [(0, 0, 1)]), from_triplets([0, 1, 2], [(0, 1, 2)]), from_triplets([0], [])]
    fig = plot_cooccurrence_matrix(graphs, VOCAB)
    heat, bar = fig.axes
    assert [t.get_text() for t in heat.get_xticklabels()] == ["man", "horse", "hat"]  # by frequency 3, 2, 1
    assert bar.get_ylabel() == "share of graphs containing both"
    # man & horse co-occur in 2 of 3 graphs
    assert heat.images[0].get_array()[0, 1] == pytest.approx(2 / 3)
    fig = plot_dataset_statistics(graphs, VOCAB)
    cats = fig.axes[2]
    assert [t.get_text() for t in cats.get_yticklabels()] == ["man", "horse", "hat"]
    assert [p.get_width() for p in cats.patches] == pytest.approx([3 / 6, 2 / 6, 1 / 6])


def test_cooccurrence_against_a_reference_shares_one_scale_and_the_reference_order() -> None:
    from sgkit.viz import plot_cooccurrence_matrix

    ref = [from_triplets([2, 1], []), from_triplets([2, 1], []), from_triplets([2], []), from_triplets([0, 1], [])]
    gen = [from_triplets([0, 1], [])]
    fig = plot_cooccurrence_matrix(gen, VOCAB, reference=ref, labels=("model", "data"))
    left, right, bar = fig.axes
    assert [left.get_title(), right.get_title()] == ["data", "model"]
    # categories ordered by their frequency in the reference: hat 3, horse 3, man 1
    assert [t.get_text() for t in left.get_xticklabels()] == ["horse", "hat", "man"]
    assert left.images[0].get_array()[0, 1] == pytest.approx(2 / 4)  # horse & hat in 2 of 4 graphs
    assert right.images[0].get_array()[0, 2] == pytest.approx(1.0)  # horse & man in the only graph
    assert left.images[0].get_clim() == right.images[0].get_clim() == (0.0, 1.0)
    assert bar.get_ylabel() == "share of graphs containing both"


def test_score_histograms_label_groups_with_their_auroc_beside_the_axes() -> None:
    from sgkit.viz import plot_score_histograms

    fig = plot_score_histograms({"clean": [0.0, 0.1, 0.2], "50% corrupted": [1.0, 1.5, float("nan")]},
                                auroc={"50% corrupted": 0.75}, xlabel="z")
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["clean", "50% corrupted (AUROC 0.750)"]
    fig.canvas.draw()
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # the legend covers no bar
    assert ax.get_xlabel() == "z"
    with pytest.raises(ValueError, match="scores"):
        plot_score_histograms({})


def test_training_curves_and_nll_histograms(tmp_path) -> None:
    from sgkit.viz import plot_nll_histograms, plot_training_curves

    history = [{"step": i, "total": 1.0 / (i + 1), "d_img": 0.5} for i in range(5)]
    out = plot_training_curves(history, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0 and out.endswith("curves.png")
    path = plot_nll_histograms({"clean": [1.0, 2.0], "0.5": [3.0, 4.0]}, tmp_path / "nll.png", auroc={"0.5": 1.0})
    assert (tmp_path / "nll.png").stat().st_size > 0 and path.endswith("nll.png")


def test_generation_figure_rows_and_names() -> None:
    import torch

    from sgkit.datasets import ShapesWorld
    from sgkit.viz import generation_figure

    ds = ShapesWorld(3, seed=0, progress=False)
    graphs = [ds[i] for i in range(3)]
    imgs = torch.stack([g.image for g in graphs])
    fig = generation_figure(graphs, {"real image": imgs, "generated": imgs * 0.5}, vocab=ds.vocab)
    axes = fig.axes
    assert len(axes) == 9  # one row of graphs, two rows of images, three columns
    texts = [t.get_text() for ax in axes for t in ax.texts]
    assert "real image" in texts and "generated" in texts
    first = ds.vocab.objects[int(graphs[0]["object"].label[0])]
    assert any(first in " ".join(t.split()) for t in texts)  # names (wrapped), not ids
    with pytest.raises(ValueError, match=r"rows\['generated'\] must have shape \[3, 3, H, W\]"):
        generation_figure(graphs, {"generated": imgs[:2]})

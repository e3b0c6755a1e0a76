"""Tests of the ShapesWorld data set: grammar, geometry, rendering, masks, edit pairs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch_geometric.loader import DataLoader

from sgkit.data import EDGE, NODE, from_triplets, to_triplets, validate
from sgkit.datasets import (
    COLOURS,
    PREDICATES,
    SCENE_TYPES,
    SHAPES,
    SIZES,
    ShapesWorld,
    box_predicates,
    category_id,
    decompose_category,
    object_colors,
    render_layout,
    render_scenes,
    scene_edges,
    shape_masks,
    shapes_vocabulary,
)
from sgkit.datasets._graph import build_graph, triplets_to_tensors
from sgkit.datasets.shapes import _RGB, _BACKGROUND

RGB = torch.tensor(_RGB, dtype=torch.float) / 255.0
BG = torch.tensor(_BACKGROUND, dtype=torch.float) / 255.0


@pytest.fixture(scope="module")
def world() -> ShapesWorld:
    return ShapesWorld(300, seed=7, progress=False)


@pytest.fixture(scope="module")
def items(world: ShapesWorld) -> list:
    return [world[i] for i in range(len(world))]


# ----------------------------------------------------------------------------- reference rules
def ref_predicate(s: list[float], o: list[float]) -> str:
    """Slow scalar transcription of sg2im's coco.py predicate rule (box centres)."""
    sx0, sy0, sx1, sy1 = s
    ox0, oy0, ox1, oy1 = o
    dx = (sx0 + sx1) / 2 - (ox0 + ox1) / 2
    dy = (sy0 + sy1) / 2 - (oy0 + oy1) / 2
    theta = math.atan2(dy, dx)
    if sx0 < ox0 and sx1 > ox1 and sy0 < oy0 and sy1 > oy1:
        return "surrounding"
    if sx0 > ox0 and sx1 < ox1 and sy0 > oy0 and sy1 < oy1:
        return "inside"
    if theta >= 3 * math.pi / 4 or theta <= -3 * math.pi / 4:
        return "left of"
    if -3 * math.pi / 4 <= theta < -math.pi / 4:
        return "above"
    if -math.pi / 4 <= theta < math.pi / 4:
        return "right of"
    return "below"


def ref_pixel_in_shape(shape: str, box: list[float], px: float, py: float) -> bool:
    x0, y0, x1, y1 = box
    if not (x0 <= px < x1 and y0 <= py < y1):
        return False
    u, v = (px - x0) / (x1 - x0), (py - y0) / (y1 - y0)
    if shape == "square":
        return True
    if shape == "circle":
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    return abs(u - 0.5) <= v / 2


# ----------------------------------------------------------------------------- vocabulary
def test_vocabulary_categories_and_ranks() -> None:
    vocab = shapes_vocabulary()
    assert vocab.num_objects == 36 and vocab.predicates == list(PREDICATES)
    assert vocab.decode_object(0) == "large red square"
    assert vocab.decode_object(35) == "small yellow triangle"
    for size in range(3):
        for shape in range(3):
            for colour in range(4):
                k = category_id(shape, colour, size)
                assert vocab.decode_object(k) == f"{SIZES[size]} {COLOURS[colour]} {SHAPES[shape]}"
                assert decompose_category(k) == (shape, colour, size)
                assert vocab.object_ranks[k] == size  # large 0, medium 1, small 2
    with pytest.raises(ValueError, match="label"):
        decompose_category(36)


# ----------------------------------------------------------------------------- determinism
def test_determinism_and_prefix_stability(world: ShapesWorld) -> None:
    again = ShapesWorld(300, seed=7, progress=False)
    prefix = ShapesWorld(20, seed=7, progress=False)
    other = ShapesWorld(20, seed=8, progress=False)
    for i in range(20):
        a, b, c = world[i], again[i], prefix[i]
        for x in (b, c):
            assert torch.equal(a[NODE].label, x[NODE].label)
            assert torch.equal(a[NODE].box, x[NODE].box)
            assert torch.equal(a[EDGE].edge_index, x[EDGE].edge_index)
            assert torch.equal(a[EDGE].label, x[EDGE].label)
            assert torch.equal(a.image, x.image)
            assert a.attributes == x.attributes
    diff = sum(
        world[i][NODE].label.shape != other[i][NODE].label.shape or not torch.equal(world[i][NODE].box, other[i][NODE].box)
        for i in range(20)
    )
    assert diff >= 15


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_scenes"):
        ShapesWorld(-1, progress=False)
    with pytest.raises(ValueError, match="image_size"):
        ShapesWorld(2, image_size=4, progress=False)
    with pytest.raises(ValueError, match="mask_size"):
        ShapesWorld(2, mask_size=0, progress=False)
    empty = ShapesWorld(0, progress=False)
    assert len(empty) == 0 and empty.graphs() == [] and empty.images().shape == (0, 3, 64, 64)
    ds = ShapesWorld(2, progress=False)
    with pytest.raises(ValueError, match="mode"):
        ds.edit_pairs("swap", 1)
    with pytest.raises(IndexError, match="idx"):
        ds[5]
    with pytest.raises(ValueError, match="key"):
        ds.task_indices("colourfulness")


# ----------------------------------------------------------------------------- structure
def test_items_are_valid_scene_graphs(world: ShapesWorld, items: list) -> None:
    for data in items:
        validate(data, num_classes=36, num_predicates=6)
        n = data[NODE].num_nodes
        assert 3 <= n <= 10
        box = data[NODE].box
        assert box.shape == (n, 4) and bool((box >= 0).all()) and bool((box <= 1).all())
        assert bool((box[:, 0] < box[:, 2]).all()) and bool((box[:, 1] < box[:, 3]).all())
        assert torch.allclose(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])  # square boxes
        assert torch.equal(box * 64, (box * 64).round())  # corners on the 64-grid
        assert data[NODE].mask.shape == (n, 16, 16)
        assert data.image.shape == (3, 64, 64) and float(data.image.min()) >= 0 and float(data.image.max()) <= 1
        assert data.scene_type.dtype == torch.long and data.scene_type.dim() == 0
        attrs = data.attributes
        assert attrs["scene_type"] == int(data.scene_type) and attrs["num_objects"] == n
        _, colour, _ = decompose_category(data[NODE].label)
        assert attrs["dominant_colour"] == int(np.argmax(np.bincount(colour, minlength=4)))
        assert all(isinstance(v, int) for v in attrs.values())
    graphs = world.graphs()
    assert len(graphs) == len(world)
    for g in graphs:
        validate(g, num_classes=36, num_predicates=6)
    assert "image" not in graphs[0] and "mask" not in graphs[0][NODE]
    assert torch.equal(graphs[3][NODE].box, items[3][NODE].box)


def test_fast_builder_matches_from_triplets(items: list) -> None:
    data = items[0]
    labels, trips = to_triplets(data)
    ref = from_triplets(labels, trips, boxes=data[NODE].box, masks=data[NODE].mask, image=data.image)
    ei, el = triplets_to_tensors(trips)
    fast = build_graph(data[NODE].label, ei, el, box=data[NODE].box, mask=data[NODE].mask, image=data.image)
    for store in ("label", "box", "mask", "num_nodes"):
        a, b = ref[NODE][store], fast[NODE][store]
        assert (torch.equal(a, b) and a.dtype == b.dtype) if isinstance(a, torch.Tensor) else a == b
    assert torch.equal(ref[EDGE].edge_index, fast[EDGE].edge_index) and torch.equal(ref[EDGE].label, fast[EDGE].label)
    empty = build_graph(torch.zeros(0, dtype=torch.long), *triplets_to_tensors([]))
    validate(empty)


def test_predicates_follow_the_documented_rule(items: list) -> None:
    n_checked = 0
    for data in items:
        boxes = data[NODE].box.tolist()
        _, trips = to_triplets(data)
        for s, p, o in trips:
            assert s != o
            assert PREDICATES[p] == ref_predicate(boxes[s], boxes[o])
            n_checked += 1
        full = box_predicates(data[NODE].box)
        for s in range(len(boxes)):
            for o in range(len(boxes)):
                if s != o:
                    assert PREDICATES[full[s, o]] == ref_predicate(boxes[s], boxes[o])
    assert n_checked > 500


def test_box_predicates_on_random_integer_boxes() -> None:
    # small integer coordinates make exact diagonals (sector boundaries) and containment frequent
    rng = np.random.default_rng(0)
    xy = rng.integers(0, 8, size=(60, 2))
    wh = rng.integers(1, 6, size=(60, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(float)
    full = box_predicates(boxes)
    for s in range(60):
        for o in range(60):
            if s != o:
                assert PREDICATES[full[s, o]] == ref_predicate(boxes[s].tolist(), boxes[o].tolist()), (s, o)
    assert set(full[full >= 0].tolist()) == set(range(6))
    assert (box_predicates(boxes / 64) == full).all()  # scale invariant


def test_edge_rule_containment_and_neighbours(items: list) -> None:
    for data in items:
        boxes = np.array(data[NODE].box.tolist())
        labels, trips = to_triplets(data)
        n = len(labels)
        pairs = [(min(s, o), max(s, o)) for s, _, o in trips]
        assert len(pairs) == len(set(pairs))  # at most one edge per unordered pair
        # every contained object has exactly one containment edge, to its tightest container
        for a in range(n):
            containers = [
                c for c in range(n) if c != a and ref_predicate(boxes[a].tolist(), boxes[c].tolist()) == "inside"
            ]
            cont_edges = [(s, p, o) for s, p, o in trips if PREDICATES[p] in ("inside", "surrounding") and a in (s, o)]
            inner_edges = [e for e in cont_edges if (e[0] == a and PREDICATES[e[1]] == "inside") or (e[2] == a and PREDICATES[e[1]] == "surrounding")]
            if containers:
                area = lambda c: (boxes[c, 2] - boxes[c, 0]) * (boxes[c, 3] - boxes[c, 1])  # noqa: E731
                tight = min(containers, key=lambda c: (area(c), c))
                assert len(inner_edges) == 1 and tight in (inner_edges[0][0], inner_edges[0][2])
            else:
                assert inner_edges == []
        # the nearest object within 29 grid units is always joined
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2 * 64
        for i in range(n):
            d = np.hypot(*(centres - centres[i]).T)
            d[i] = np.inf
            j = int(np.argmin(d))
            if d[j] < 29:
                assert (min(i, j), max(i, j)) in pairs
    assert scene_edges(np.zeros((1, 4))) == []


# ----------------------------------------------------------------------------- rendering
def test_rendering_matches_masks_and_colours(world: ShapesWorld, items: list) -> None:
    centres = (torch.arange(64) + 0.5) / 64
    for idx in range(40):
        data = items[idx]
        img = data.image
        visible = world.instance_masks(idx, visible=True)
        amodal = world.instance_masks(idx)
        n = data[NODE].num_nodes
        assert visible.shape == amodal.shape == (n, 64, 64)
        assert bool((visible <= amodal).all()) and int(visible.sum(0).max()) <= 1
        shape, colour, _ = decompose_category(data[NODE].label)
        for k in range(n):
            m = visible[k]
            if m.any():
                assert torch.equal(img[:, m], RGB[colour[k]][:, None].expand(3, int(m.sum())))
            # the top-most object covering a pixel is the last one in node order
            later = amodal[k + 1 :].any(0) if k + 1 < n else torch.zeros_like(m)
            assert torch.equal(visible[k], amodal[k] & ~later)
        bg = ~amodal.any(0)
        assert torch.equal(img[:, bg], BG[:, None].expand(3, int(bg.sum())))
        # amodal masks equal an independent per-pixel test of the documented shape rule
        for k in range(n if idx < 6 else 0):
            box = data[NODE].box[k].tolist()
            ref = torch.tensor(
                [[ref_pixel_in_shape(SHAPES[shape[k]], box, float(x), float(y)) for x in centres] for y in centres]
            )
            assert torch.equal(amodal[k], ref)


def test_square_objects_fill_their_boxes_exactly(world: ShapesWorld, items: list) -> None:
    checked = 0
    for idx in range(60):
        data = items[idx]
        amodal = world.instance_masks(idx)
        shape, _, _ = decompose_category(data[NODE].label)
        for k in np.flatnonzero(shape == 0):
            x0, y0, x1, y1 = (data[NODE].box[k] * 64).round().long().tolist()
            expect = torch.zeros(64, 64, dtype=torch.bool)
            expect[y0:y1, x0:x1] = True
            assert torch.equal(amodal[k], expect)
            checked += 1
    assert checked > 20


def test_box_relative_masks_agree_with_full_masks(world: ShapesWorld, items: list) -> None:
    templates = shape_masks(16)
    assert templates[0].all() and not templates[1][0, 0] and templates[1][8, 8] and templates[2][15, 8] and not templates[2][0, 0]
    agree, total = 0, 0
    for idx in range(30):
        data = items[idx]
        amodal = world.instance_masks(idx)
        for k in range(data[NODE].num_nodes):
            x0, y0, x1, y1 = (data[NODE].box[k] * 64).round().long().tolist()
            crop = amodal[k, y0:y1, x0:x1].float()[None, None]
            resized = torch.nn.functional.interpolate(crop, size=(16, 16), mode="nearest")[0, 0] > 0.5
            agree += int((resized == (data[NODE].mask[k] > 0.5)).sum())
            total += 256
    assert agree / total > 0.9


def test_block_and_full_image_caches_agree() -> None:
    ds = ShapesWorld(300, seed=7, progress=False)
    lazy = [ds[i].image for i in (0, 255, 256, 299)]  # blocks 0 and 1 rendered on demand
    assert sorted(ds._blocks) == [0, 1]
    full = ds.images()
    assert full.shape == (300, 3, 64, 64) and ds._blocks == {}
    for img, i in zip(lazy, (0, 255, 256, 299)):
        assert torch.equal(img, full[i])
        assert torch.equal(ds[i].image, img)


def test_render_scenes_checks_its_input() -> None:
    with pytest.raises(ValueError, match="boxes"):
        render_scenes([[0, 1]], [[[0, 0, 0.5, 0.5]]])
    with pytest.raises(ValueError, match="boxes"):
        render_scenes([[0]], [])
    empty = render_scenes([[]], [np.zeros((0, 4))], 16)
    assert empty.shape == (1, 3, 16, 16) and (empty[0, :, 0, 0] == _BACKGROUND).all()


def test_render_layout_reproduces_images(items: list) -> None:
    for data in items[:10]:
        assert torch.equal(render_layout(data[NODE].label, data[NODE].box), data.image)
    big = render_layout(items[0][NODE].label, items[0][NODE].box, image_size=128)
    assert big.shape == (3, 128, 128)
    # nearest-neighbour downsampling of the 128 render reproduces the 64 render (grid-aligned boxes)
    assert (big[:, 1::2, 1::2] == items[0].image).float().mean() > 0.97


# ----------------------------------------------------------------------------- regularities
def test_scene_types_have_their_regularities(world: ShapesWorld, items: list) -> None:
    stats = world.statistics()
    counts = stats["scene_types"]
    assert set(counts) == set(SCENE_TYPES) and sum(counts.values()) == len(world)
    assert min(counts.values()) > 0.1 * len(world)
    assert sum(k * v for k, v in stats["objects_per_scene"].items()) == sum(stats["categories"].values())
    assert sum(stats["predicates"].values()) == sum(k * v for k, v in stats["edges_per_scene"].items())
    assert 0 <= stats["empty_graphs"] < 0.05 * len(world)
    by_type: dict[str, list] = {t: [] for t in SCENE_TYPES}
    for d in items:
        by_type[SCENE_TYPES[int(d.scene_type)]].append(d)
    pred_share = lambda ds, names: np.mean([PREDICATES[p] in names for d in ds for p in d[EDGE].label.tolist()])  # noqa: E731
    assert np.mean([d.attributes["has_containment"] for d in by_type["nested"]]) > 0.9
    assert pred_share(by_type["row"], ("left of", "right of")) > 0.6
    assert pred_share(by_type["tower"], ("above", "below")) > 0.5
    assert pred_share(by_type["nested"], ("inside", "surrounding")) > 0.3
    circle = lambda ds: np.mean([s == 1 for d in ds for s in decompose_category(d[NODE].label)[0]])  # noqa: E731
    assert circle(by_type["cluster"]) > 0.55 > circle(by_type["scatter"])
    tasks = world.task_indices("scene_type")
    assert sorted(i for v in tasks.values() for i in v) == list(range(len(world)))
    assert all(int(items[i].scene_type) == t for t, v in tasks.items() for i in v)


def test_corrupted_labels_are_detectably_unlikely() -> None:
    train = ShapesWorld(800, seed=1, progress=False).graphs()
    test = ShapesWorld(300, seed=2, progress=False).graphs()
    cat = np.ones(36)
    pred = np.ones((3, 3, 6))  # predicate given the sizes of subject and object
    for d in train:
        labels, trips = to_triplets(d)
        np.add.at(cat, labels, 1)
        size = [lab // 12 for lab in labels]
        for s, p, o in trips:
            pred[size[s], size[o], p] += 1
    logc = np.log(cat / cat.sum())
    logp = np.log(pred / pred.sum(-1, keepdims=True))

    def loglik(labels: list[int], trips: list) -> float:
        size = [lab // 12 for lab in labels]
        return (sum(logc[lab] for lab in labels) + sum(logp[size[s], size[o], p] for s, p, o in trips)) / len(labels)

    rng = np.random.default_rng(0)
    clean, corrupt = [], []
    for d in test:
        labels, trips = to_triplets(d)
        clean.append(loglik(labels, trips))
        lab = list(labels)
        for i in rng.choice(len(lab), size=max(1, round(0.5 * len(lab))), replace=False):
            lab[i] = int(rng.integers(36))
        tr = [(s, int(rng.integers(6)) if rng.random() < 0.5 else p, o) for s, p, o in trips]
        corrupt.append(loglik(lab, tr))
    auroc = roc_auc_score([1] * len(clean) + [0] * len(corrupt), clean + corrupt)
    print(f"AUROC clean vs 50%-corrupted: {auroc:.3f}")
    assert auroc > 0.75


# ----------------------------------------------------------------------------- edit pairs
@pytest.mark.parametrize("mode", ["relationship", "removal", "replacement", "addition"])
def test_edit_pairs(world: ShapesWorld, mode: str) -> None:
    pairs = world.edit_pairs(mode, 25, seed=3)
    again = world.edit_pairs(mode, 25, seed=3)
    assert len(pairs) == 25 and world.edit_pairs(mode, 0) == []
    for pair, rep in zip(pairs, again):
        src, tgt = pair["source"], pair["target"]
        assert pair["mode"] == mode
        assert torch.equal(src.image, rep["source"].image) and torch.equal(tgt.image, rep["target"].image)
        for d in (src, tgt):
            validate(d, num_classes=36, num_predicates=6)
            assert torch.equal(render_layout(d[NODE].label, d[NODE].box), d.image)  # exact render
            assert d[NODE].mask.shape[0] == d[NODE].num_nodes
        assert not torch.equal(src.image, tgt.image)
        s_lab, s_tri = to_triplets(src)
        t_lab, t_tri = to_triplets(tgt)
        sb, tb = src[NODE].box, tgt[NODE].box
        info = pair["info"]
        if mode == "removal":
            k = info["node"]
            assert len(t_lab) == len(s_lab) - 1 and t_lab == s_lab[:k] + s_lab[k + 1 :]
            assert torch.equal(tb, torch.cat([sb[:k], sb[k + 1 :]]))
            remap = lambda i: i - (i > k)  # noqa: E731
            assert t_tri == [(remap(s), p, remap(o)) for s, p, o in s_tri if k not in (s, o)]
        elif mode == "replacement":
            k = info["node"]
            assert torch.equal(sb, tb) and s_tri == t_tri
            changed = [i for i, (a, b) in enumerate(zip(s_lab, t_lab)) if a != b]
            assert changed == [k] and s_lab[k] // 12 == t_lab[k] // 12  # same size class
        elif mode == "addition":
            n = len(s_lab)
            assert t_lab[:n] == s_lab and len(t_lab) == n + 1 and torch.equal(tb[:n], sb)
            assert t_tri[:-1] == s_tri and t_tri[-1][0] == n
            _, p, o = t_tri[-1]
            assert PREDICATES[p] == ref_predicate(tb[n].tolist(), tb[o].tolist())
            new = tb[n]
            for j in range(n):  # placed in free space
                assert not (new[0] < sb[j, 2] and sb[j, 0] < new[2] and new[1] < sb[j, 3] and sb[j, 1] < new[3])
        else:
            assert t_lab == s_lab
            e = info["edge"]
            s, p, o = s_tri[e]
            assert t_tri[e][1] == {0: 1, 1: 0, 2: 3, 3: 2}[p] == info["new_predicate"]
            moved = [i for i in range(len(s_lab)) if not torch.equal(sb[i], tb[i])]
            assert sorted(moved) == sorted({s, o})
            assert [(a, c) for a, _, c in s_tri] == [(a, c) for a, _, c in t_tri]
            for a, q, c in t_tri:  # the target graph is consistent with the target geometry
                assert PREDICATES[q] == ref_predicate(tb[a].tolist(), tb[c].tolist())


# ----------------------------------------------------------------------------- batching and plotting
def test_dataloader_batches(world: ShapesWorld) -> None:
    loader = DataLoader(world, batch_size=4, shuffle=False)
    batch = next(iter(loader))
    n = sum(world[i][NODE].num_nodes for i in range(4))
    assert batch.image.shape == (4, 3, 64, 64)
    assert all(torch.equal(batch.image[i], world[i].image) for i in range(4))
    assert batch[NODE].label.shape == (n,) and batch[NODE].mask.shape == (n, 16, 16)
    assert batch[NODE].batch.max() == 3 and batch.scene_type.shape == (4,)
    assert batch.attributes["dominant_colour"].tolist() == [world[i].attributes["dominant_colour"] for i in range(4)]
    e0 = world[0][EDGE].edge_index.size(1)
    n0 = world[0][NODE].num_nodes
    assert int(batch[EDGE].edge_index[:, e0:].min()) >= n0  # second graph's edges are offset


def test_object_colors(world: ShapesWorld) -> None:  # plot_examples is exercised by the demo test
    cols = object_colors(world[0])
    _, colour, _ = decompose_category(world[0][NODE].label)
    assert np.allclose(np.array(cols), RGB[torch.as_tensor(colour)].numpy())


def test_constants_vocabulary_and_attribute_names_are_attributes(world: ShapesWorld) -> None:
    from sgkit.datasets import shapes

    for name in ("SHAPES", "COLOURS", "SIZES", "PREDICATES", "SCENE_TYPES", "EDIT_MODES", "GRID", "MIN_OBJECTS",
                 "MAX_OBJECTS", "ATTRIBUTE_NAMES"):
        assert getattr(world, name) == getattr(ShapesWorld, name) == getattr(shapes, name)
    assert world.SCENE_TYPES == ("nested", "row", "tower", "cluster", "scatter")
    assert (world.MIN_OBJECTS, world.MAX_OBJECTS) == (3, 10)
    assert set(world[0].attributes) == set(world.ATTRIBUTE_NAMES)
    assert (world.num_classes, world.num_predicates) == (world.vocab.num_objects, world.vocab.num_predicates) == (36, 6)
    assert world.vocab.predicates == list(world.PREDICATES)
    sizes = [g[NODE].num_nodes for g in world.graphs()]
    assert world.max_objects == max(sizes) and world.MIN_OBJECTS <= min(sizes) and max(sizes) <= world.MAX_OBJECTS
    assert ShapesWorld(0, progress=False).max_objects == 0


def test_names_round_trip_with_the_data_set_vocabulary(world: ShapesWorld) -> None:
    g = world[1]
    labels, trips = to_triplets(g, vocab=world.vocab)
    assert all(isinstance(c, str) for c in labels) and all(p in world.PREDICATES for _, p, _ in trips)
    again = from_triplets(labels, trips, vocab=world.vocab)
    assert torch.equal(again[NODE].label, g[NODE].label) and torch.equal(again[EDGE].edge_index, g[EDGE].edge_index)


def test_hide_colour_coarsens_labels_only():
    from sgkit.datasets.shapes import coarsen_labels

    full = ShapesWorld(6, image_size=32, seed=3, progress=False)
    coarse = ShapesWorld(6, image_size=32, seed=3, progress=False, hide_colour=True)
    assert coarse.vocab.num_objects == 9 and coarse.vocab.decode_object(4) == "medium circle"
    for a, b in zip(full, coarse):
        shape, _, size = decompose_category(a["object"].label)
        assert torch.equal(b["object"].label, torch.as_tensor(size * 3 + shape))
        assert torch.equal(b["object"].label, coarsen_labels(a["object"].label))
        assert torch.equal(a.image, b.image) and torch.equal(a["object"].box, b["object"].box)
    pair = coarse.edit_pairs("replacement", 1)[0]
    assert int(pair["target"]["object"].label.max()) < 9

"""PosedShapesWorld: rotation as a pose factor outside the graph."""
import math

import pytest
import torch

from sgkit.datasets import PosedShapesWorld, ShapesWorld, posed_masks, render_layout, render_posed, shape_masks


def test_zero_angle_render_matches_the_plain_renderer():
    labels = torch.tensor([2, 17, 30, 5])
    boxes = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.4, 0.3, 0.9, 0.8], [0.0, 0.6, 0.3, 0.95], [0.6, 0.0, 0.8, 0.2]])
    assert torch.equal(render_posed(labels, boxes, [0.0] * 4, 32), render_layout(labels, boxes, 32))
    assert torch.equal(posed_masks([0, 1, 2], [0.0] * 3, 8), torch.from_numpy(shape_masks(8)).float())


def test_half_turn_flips_a_triangle_inside_its_box_only():
    label, box = torch.tensor([8]), torch.tensor([[0.25, 0.25, 0.75, 0.75]])  # a large red triangle
    up = render_posed(label, box, [0.0], 32)
    down = render_posed(label, box, [math.pi], 32)
    inside = torch.zeros(32, 32, dtype=torch.bool)
    inside[8:24, 8:24] = True
    assert torch.equal(up[:, ~inside], down[:, ~inside])
    flipped = up[:, 8:24, 8:24].flip(1)
    assert (flipped != down[:, 8:24, 8:24]).any(0).float().mean() < 0.05
    quarter = posed_masks([2], [math.pi / 2], 16)[0]
    expect = torch.from_numpy(shape_masks(16)[2]).float().T.flip(0)  # rows read the template's columns
    assert (quarter != expect).float().mean() < 0.05 and not torch.equal(quarter, posed_masks([2], [0.0], 16)[0])


def test_graphs_match_the_plain_world_and_only_triangles_rotate():
    posed, plain = PosedShapesWorld(12, image_size=32, seed=3, progress=False), ShapesWorld(12, image_size=32, seed=3,
                                                                                            progress=False)
    any_rotated = False
    for i in range(12):
        a, b = posed[i], plain[i]
        assert torch.equal(a["object"].label, b["object"].label) and torch.equal(a["object"].box, b["object"].box)
        assert a.edge_types == b.edge_types
        for et in b.edge_types:
            assert torch.equal(a[et].edge_index, b[et].edge_index)
        tri = (a["object"].label % 12) // 4 == 2
        assert (a["object"].angle[~tri] == 0).all() and (a["object"].angle.abs() <= math.pi / 2).all()
        any_rotated |= bool((a["object"].angle[tri] != 0).any())
        assert torch.equal(a.image, render_posed(a["object"].label, a["object"].box, a["object"].angle, 32))
    assert any_rotated
    assert torch.equal(posed.images()[5], posed[5].image)
    with pytest.raises(ValueError, match="max_angle"):
        PosedShapesWorld(1, max_angle=4.0)
    with pytest.raises(ValueError, match="rotate"):
        PosedShapesWorld(1, rotate=("hexagon",))


@pytest.mark.parametrize("mode", ["relationship", "removal", "replacement", "addition"])
def test_edit_pairs_keep_the_surviving_objects_angles(mode):
    ds = PosedShapesWorld(0, image_size=32, progress=False)
    for p in ds.edit_pairs(mode, 4, seed=1):
        a_src, a_tgt = p["source"]["object"].angle, p["target"]["object"].angle
        if mode == "removal":
            a_src = torch.cat([a_src[:p["info"]["node"]], a_src[p["info"]["node"] + 1:]])
        elif mode == "addition":
            a_tgt = a_tgt[:-1]
        elif mode == "replacement":
            keep = torch.ones_like(a_src, dtype=torch.bool)
            keep[p["info"]["node"]] = False
            a_src, a_tgt = a_src[keep], a_tgt[keep]
        assert torch.equal(a_src, a_tgt)
        for g in (p["source"], p["target"]):
            assert torch.equal(g.image, render_posed(g["object"].label, g["object"].box, g["object"].angle, 32))

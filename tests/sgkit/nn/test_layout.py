"""Tests for sgkit.nn.layout (boxes/masks -> scene layout)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sgkit.nn import boxes_to_grid, boxes_to_layout, masks_to_layout


def _bilinear(mask: torch.Tensor, px: float, py: float) -> float:
    """Bilinear read of ``mask`` at continuous pixel coordinates, zero outside (independent)."""
    M_h, M_w = mask.shape
    x0, y0 = math.floor(px), math.floor(py)
    total = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wx = 1.0 - abs(px - xi)
            wy = 1.0 - abs(py - yi)
            if 0 <= xi < M_w and 0 <= yi < M_h:
                total += wx * wy * float(mask[yi, xi])
    return total


def _loop_layout(features, boxes, masks, batch, num_images, H, W):
    """Per-object, per-pixel loop of the layout definition (pixel centres, box-relative masks)."""
    D = features.shape[1]
    out = torch.zeros(num_images, D, H, W, dtype=torch.float64)
    for o in range(features.shape[0]):
        x0, y0, x1, y1 = boxes[o].tolist()
        M_h, M_w = masks[o].shape
        for h in range(H):
            for w in range(W):
                u = ((w + 0.5) / W - x0) / (x1 - x0)
                v = ((h + 0.5) / H - y0) / (y1 - y0)
                # box-relative coordinate u in [0, 1] -> mask pixel coordinate u * M - 1/2
                val = _bilinear(masks[o], u * M_w - 0.5, v * M_h - 0.5)
                if val != 0.0:
                    out[int(batch[o]), :, h, w] += val * features[o].double()
    return out


def _random_objects(num_objects: int, num_images: int, D: int, M: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(num_objects, D, generator=g, dtype=torch.float64)
    xy0 = torch.rand(num_objects, 2, generator=g, dtype=torch.float64) * 0.7
    wh = 0.1 + torch.rand(num_objects, 2, generator=g, dtype=torch.float64) * 0.5
    boxes = torch.cat([xy0, xy0 + wh], dim=1)
    masks = torch.rand(num_objects, M, M, generator=g, dtype=torch.float64)
    batch = torch.randint(0, num_images, (num_objects,), generator=g)
    return features, boxes, masks, batch


def test_masks_to_layout_matches_loop_reference() -> None:
    features, boxes, masks, batch = _random_objects(7, 3, 2, 4, seed=0)
    batch[0] = 2  # unsorted batch vector
    out = masks_to_layout(features, boxes, masks, batch, 4, 9, 11)
    assert out.shape == (4, 2, 9, 11)
    ref = _loop_layout(features, boxes, masks, batch, 4, 9, 11)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    assert float(out[3].abs().sum()) == 0.0  # image 3 has no object


def test_boxes_to_layout_matches_loop_reference_and_hand_values() -> None:
    features, boxes, _, batch = _random_objects(5, 2, 3, 4, seed=1)
    out = boxes_to_layout(features, boxes, batch, 2, 8, mask_size=4)
    ones = torch.ones(5, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(out, _loop_layout(features, boxes, ones, batch, 2, 8, 8))
    # a box covering the central 2x2 pixels of a 4x4 image is filled exactly, zero elsewhere
    f = torch.tensor([[2.0, -1.0]])
    lay = boxes_to_layout(f, torch.tensor([[0.25, 0.25, 0.75, 0.75]]), torch.tensor([0]), 1, 4)
    expected = torch.zeros(1, 2, 4, 4)
    expected[0, 0, 1:3, 1:3] = 2.0
    expected[0, 1, 1:3, 1:3] = -1.0
    torch.testing.assert_close(lay, expected)


def test_full_image_box_reproduces_mask_and_sums_overlaps() -> None:
    mask = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(3))
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    feats = torch.tensor([[1.0], [3.0]])
    lay = masks_to_layout(feats, boxes, mask, torch.tensor([0, 0]), 1, 6)
    torch.testing.assert_close(lay[0, 0], mask[0] + 3.0 * mask[1])


def test_layout_is_differentiable_wrt_features_boxes_masks() -> None:
    features, boxes, masks, batch = _random_objects(4, 2, 3, 5, seed=2)
    features.requires_grad_(True)
    boxes.requires_grad_(True)
    masks.requires_grad_(True)
    out = masks_to_layout(features, boxes, masks, batch, 2, 16)
    (out * torch.linspace(-1, 1, 16, dtype=torch.float64)).sum().backward()
    for t in (features, boxes, masks):
        assert t.grad is not None and t.grad.abs().sum() > 0
    b = boxes.detach().clone().requires_grad_(True)
    boxes_to_layout(features.detach(), b, batch, 2, 16).pow(2).sum().backward()
    assert b.grad is not None and b.grad.abs().sum() > 0


def test_boxes_to_grid_convention() -> None:
    grid = boxes_to_grid(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), 2, 4)
    assert grid.shape == (1, 2, 4, 2)
    torch.testing.assert_close(grid[0, 0, :, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    torch.testing.assert_close(grid[0, :, 0, 1], torch.tensor([-0.5, 0.5]))
    # identity grid reproduces grid_sample's own identity (align_corners=False)
    theta = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    ident = F.affine_grid(theta, (1, 1, 2, 4), align_corners=False)
    torch.testing.assert_close(grid, ident)


def test_empty_inputs_and_validation() -> None:
    out = boxes_to_layout(torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 2, 5)
    assert out.shape == (2, 3, 5, 5) and float(out.abs().sum()) == 0.0
    f, b = torch.ones(2, 3), torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 2)
    with pytest.raises(ValueError, match="batch values"):
        boxes_to_layout(f, b, torch.tensor([0, 2]), 2, 4)
    with pytest.raises(ValueError, match="boxes"):
        boxes_to_layout(f, b[:, :3], torch.tensor([0, 1]), 2, 4)
    with pytest.raises(ValueError, match="masks"):
        masks_to_layout(f, b, torch.ones(3, 4, 4), torch.tensor([0, 1]), 2, 4)
    with pytest.raises(ValueError, match="H must"):
        boxes_to_layout(f, b, torch.tensor([0, 1]), 2, 0)
    with pytest.raises(ValueError, match="batch must"):
        boxes_to_layout(f, b, torch.tensor([0.0, 1.0]), 2, 4)

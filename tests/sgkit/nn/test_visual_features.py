"""Box-to-pixel regions and exact crops (sgkit.nn.visual_features)."""
import torch
import torch.nn.functional as F

from sgkit.nn import box_pixels, box_region_masks, crop_box_regions


def test_box_pixels_truncates():
    boxes = torch.tensor([[0.1, 0.1, 0.4, 0.4], [0.5, 0.0, 1.0, 0.12], [0.3, 0.3, 0.31, 0.31]])
    assert box_pixels(boxes, 8, 8).tolist() == [[0, 0, 3, 3], [4, 0, 8, 0], [2, 2, 2, 2]]
    assert box_pixels(boxes[:1], 8, 8, margin=2).tolist() == [[0, 0, 5, 5]]
    m = box_region_masks(boxes, torch.tensor([0, 1, 1]), 2, 8, 8)
    assert m[0].sum() == 9 and m[0, :3, :3].all() and m[1].sum() == 0


def test_crop_box_regions_matches_explicit_crop_and_resize():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 16, 16, generator=g)
    boxes = torch.tensor([[0.1, 0.2, 0.7, 0.9], [0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.52, 0.9]])
    batch = torch.tensor([0, 1, 1])
    crops = crop_box_regions(images, boxes, batch, 8)
    for i, (left, t, r, b) in enumerate(box_pixels(boxes, 16, 16).tolist()):
        if r <= left or b <= t:
            assert crops[i].abs().sum() == 0
            continue
        ref = F.interpolate(images[batch[i]:batch[i] + 1, :, t:b, left:r], size=(8, 8), mode="bilinear",
                            align_corners=True)[0]
        assert torch.allclose(crops[i], ref, atol=1e-5)

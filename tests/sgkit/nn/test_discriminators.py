import pytest
import torch

from sgkit.nn.discriminators import (
    MultiscaleDiscriminator,
    ObjectDiscriminator,
    PatchDiscriminator,
    crop_boxes,
)


def test_patch_discriminator_shapes_and_features() -> None:
    d = PatchDiscriminator(3, dims=(8, 16, 32))
    x = torch.rand(2, 3, 64, 64)
    assert d(x).shape == (2, 1, 8, 8)
    logits, feats = d(x, return_features=True)
    assert [f.shape[1:] for f in feats] == [(8, 32, 32), (16, 16, 16), (32, 8, 8)]
    assert "dims=(8, 16, 32)" in repr(d)
    with pytest.raises(ValueError, match="input must have shape"):
        d(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="normalization"):
        PatchDiscriminator(normalization="layer")


def test_multiscale_discriminator_scales() -> None:
    d = MultiscaleDiscriminator(num_scales=3, dims=(8, 16), normalization="spectral")
    outs = d(torch.rand(2, 3, 64, 64))
    assert [o.shape for o in outs] == [(2, 1, 16, 16), (2, 1, 8, 8), (2, 1, 4, 4)]
    outs = d(torch.rand(2, 3, 64, 64), return_features=True)
    assert len(outs) == 3 and len(outs[0][1]) == 2
    with pytest.raises(ValueError, match="num_scales"):
        MultiscaleDiscriminator(num_scales=0)


def test_crop_boxes_on_a_linear_ramp() -> None:
    """Bilinear RoIAlign of a linear image is exact: crop value = ramp at the bin centre."""
    W = H = 32
    xs = torch.arange(W, dtype=torch.float32)
    image = torch.stack([xs.view(1, W).expand(H, W), xs.view(H, 1).expand(H, W) * 2,
                         torch.ones(H, W)])
    images = torch.stack([image, image + 100])
    boxes = torch.tensor([[0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.5, 0.5]])
    batch = torch.tensor([1, 0])
    crops = crop_boxes(images, boxes, batch, size=4)
    assert crops.shape == (2, 3, 4, 4)
    for o in range(2):
        x0, y0, x1, y1 = (boxes[o] * W).tolist()
        bw, bh = (x1 - x0) / 4, (y1 - y0) / 4
        ex = torch.tensor([x0 + (i + 0.5) * bw - 0.5 for i in range(4)])
        ey = torch.tensor([y0 + (j + 0.5) * bh - 0.5 for j in range(4)])
        off = 100.0 * int(batch[o])
        torch.testing.assert_close(crops[o, 0], ex.view(1, 4).expand(4, 4) + off)
        torch.testing.assert_close(crops[o, 1], 2 * ey.view(4, 1).expand(4, 4) + off)


def test_object_discriminator_outputs() -> None:
    d = ObjectDiscriminator(num_classes=5, crop_size=16, dims=(8, 16))
    images = torch.rand(2, 3, 32, 32)
    boxes = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.2, 0.3, 0.9, 0.8], [0, 0, 1, 1.0]])
    real, logits = d(images, boxes, torch.tensor([0, 1, 1]))
    assert real.shape == (3,) and logits.shape == (3, 5)
    # the score of an object depends only on its own crop
    d.eval()
    r1, _ = d(images, boxes, torch.tensor([0, 1, 1]))
    images2 = images.clone()
    images2[0] = torch.rand(3, 32, 32)
    r2, _ = d(images2, boxes, torch.tensor([0, 1, 1]))
    assert not torch.allclose(r1[0], r2[0]) and torch.allclose(r1[1:], r2[1:])
    with pytest.raises(ValueError, match="batch must have shape"):
        d(images, boxes, torch.tensor([0, 1]))
    assert "num_classes=5" in repr(d)


def _roi_align_crops(images: torch.Tensor, boxes: torch.Tensor, batch: torch.Tensor, size: int) -> torch.Tensor:
    from torchvision.ops import roi_align

    h, w = images.shape[-2:]
    rois = torch.cat([batch.to(boxes.dtype).unsqueeze(1), boxes * boxes.new_tensor([w, h, w, h])], 1)
    return roi_align(images, rois, (size, size), spatial_scale=1.0, sampling_ratio=1, aligned=True)


def _random_boxes(n: int, g: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=g, dtype=dtype) * 0.7
    boxes = torch.cat([xy, xy + 0.05 + torch.rand(n, 2, generator=g, dtype=dtype) * 0.5], 1).clamp(max=1)
    # boxes touching the borders, the whole image, a degenerate and an inverted box
    edge = torch.tensor([[0.0, 0.0, 0.3, 1.0], [0.6, 0.2, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0],
                         [0.5, 0.5, 0.5, 0.5], [0.9, 0.8, 0.1, 0.0]], dtype=dtype)
    return torch.cat([boxes, edge])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layout", ["sorted-uniform", "shuffled-uneven"])
def test_crop_boxes_equals_roi_align(dtype: torch.dtype, layout: str) -> None:
    """Values and image gradients equal roi_align(aligned=True, sampling_ratio=1), borders included."""
    g = torch.Generator().manual_seed(0)
    n_img, per = 6, 5
    boxes = _random_boxes(n_img * per - 5, g, dtype)
    batch = torch.arange(n_img).repeat_interleave(per)
    if layout == "shuffled-uneven":
        batch = torch.randint(0, n_img - 1, (boxes.shape[0],), generator=g)  # last image empty
    images = torch.rand(n_img, 3, 24, 40, generator=g, dtype=dtype)
    a_img = images.clone().requires_grad_(True)
    b_img = images.clone().requires_grad_(True)
    a = crop_boxes(a_img, boxes, batch, 7)
    b = _roi_align_crops(b_img, boxes, batch, 7)
    tol = {"rtol": 0, "atol": 1e-12 if dtype == torch.float64 else 1e-5}
    torch.testing.assert_close(a, b, **tol)
    w = torch.rand(a.shape, generator=g, dtype=dtype)
    (a * w).sum().backward()
    (b * w).sum().backward()
    torch.testing.assert_close(a_img.grad, b_img.grad, **tol)
    with torch.no_grad():  # forward only: crops of per-object image copies
        torch.testing.assert_close(crop_boxes(images, boxes, batch, 7), b.detach(), **tol)


def test_crop_boxes_outside_the_image_and_other_ratios_use_roi_align() -> None:
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 16, 16, generator=g)
    boxes = torch.tensor([[-0.5, -0.2, 0.5, 0.5], [0.5, 0.6, 1.8, 1.3], [0.1, 0.1, 0.4, 0.4]])
    batch = torch.tensor([0, 1, 1])
    torch.testing.assert_close(crop_boxes(images, boxes, batch, 5), _roi_align_crops(images, boxes, batch, 5),
                               rtol=0, atol=0)
    assert crop_boxes(images, boxes[:0], batch[:0], 5).shape == (0, 3, 5, 5)
    assert crop_boxes(images, boxes[2:], batch[2:], 5, sampling_ratio=2).shape == (1, 3, 5, 5)


def test_crop_boxes_of_bfloat16_images_sample_in_float32() -> None:
    g = torch.Generator().manual_seed(2)
    images = torch.rand(2, 3, 32, 32, generator=g)
    boxes = _random_boxes(6, g, torch.float32)
    batch = torch.randint(0, 2, (boxes.shape[0],), generator=g)
    crops = crop_boxes(images.bfloat16(), boxes, batch, 8)
    assert crops.dtype == torch.bfloat16
    exact = _roi_align_crops(images.bfloat16().float(), boxes, batch, 8)
    torch.testing.assert_close(crops.float(), exact, rtol=1e-2, atol=1e-2)

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

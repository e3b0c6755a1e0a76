import pytest
import torch
import torch.nn.functional as F

from sgkit.nn.crn import CRNDecoder, CRNModule, resize_layout


def test_crn_module_shapes_and_repr() -> None:
    m = CRNModule(layout_channels=5, input_channels=3, output_channels=7)
    layout = torch.randn(2, 5, 32, 32)
    feats = torch.randn(2, 3, 8, 8)
    out = m(layout, feats)
    assert out.shape == (2, 7, 8, 8)
    assert "layout_channels=5, input_channels=3, output_channels=7" in repr(m)


def test_crn_module_uses_layout_at_feature_resolution() -> None:
    """The module's first convolution sees [features, area-resized layout]."""
    torch.manual_seed(0)
    m = CRNModule(2, 1, 4, normalization="none").eval()
    layout = torch.randn(1, 2, 16, 16)
    feats = torch.randn(1, 1, 4, 4)
    conv0 = m.net[0]
    pooled = layout.view(1, 2, 4, 4, 4, 4).mean(dim=(3, 5))  # 4x4 block averages
    h = F.leaky_relu(conv0(torch.cat([feats, pooled], 1)), 0.2)
    expected = F.leaky_relu(m.net[3](h), 0.2)
    torch.testing.assert_close(m(layout, feats), expected)


def test_resize_layout_area_and_nearest() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    small = resize_layout(x, (2, 2))
    assert small.flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    big = resize_layout(torch.tensor([[[[1.0, 2.0]]]]), (2, 4))
    assert big.flatten().tolist() == [1, 1, 2, 2, 1, 1, 2, 2]


def test_crn_decoder_shapes_range_and_layout_dependence() -> None:
    dec = CRNDecoder(layout_channels=6, dims=(16, 8, 8))
    layout = torch.randn(3, 6, 32, 32, requires_grad=True)
    img = dec(layout)
    assert img.shape == (3, 3, 32, 32)
    assert float(img.detach().min()) >= 0.0 and float(img.detach().max()) <= 1.0
    img.sum().backward()
    assert layout.grad is not None and float(layout.grad.abs().sum()) > 0
    dec.eval()
    a = dec(torch.zeros(1, 6, 32, 32))
    b = dec(torch.ones(1, 6, 32, 32))
    assert not torch.allclose(a, b)
    assert len(dec.refinement) == 3 and "dims=(16, 8, 8)" in repr(dec)


def test_crn_decoder_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dims"):
        CRNDecoder(4, dims=())
    with pytest.raises(ValueError, match="normalization"):
        CRNDecoder(4, dims=(8,), normalization="group")
    dec = CRNDecoder(4, dims=(8, 8, 8))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*len\\(dims\\) = 8"):
        dec(torch.randn(1, 4, 12, 12))
    with pytest.raises(ValueError, match="layout must have shape"):
        dec(torch.randn(1, 3, 16, 16))


def test_layout_follows_channels_last_weights_with_the_same_output() -> None:
    """A decoder whose weights are channels_last converts the layout once; the values do not change."""
    import torch

    from sgkit.nn import CRNDecoder
    from sgkit.nn.crn import match_memory_format

    torch.manual_seed(0)
    dec = CRNDecoder(5, dims=(8, 6, 4)).eval()
    layout = torch.randn(2, 5, 16, 16)
    ref = dec(layout)
    conv = dec.output[0].weight
    assert match_memory_format(layout, conv) is layout  # NCHW weights: untouched
    dec.to(memory_format=torch.channels_last)
    moved = match_memory_format(layout, dec.output[0].weight)
    assert moved.is_contiguous(memory_format=torch.channels_last) and torch.equal(moved, layout)
    torch.testing.assert_close(dec(layout), ref, rtol=1e-5, atol=1e-6)

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


@pytest.mark.parametrize(("d", "noise_channels"), [(30, 2), (4, 2)])
def test_crn_decoder_fused_path_equals_the_default(d: int, noise_channels: int, monkeypatch, layout_objects) -> None:
    """set_fused: the layout pooled once per level and, given its factors with 9 K <= C, the
    modules' first convolutions on the factors; outputs and gradients equal the default path."""
    import sgkit.nn.crn as crn_module
    from sgkit.nn.layout import masks_to_layout, masks_to_layout_factors

    calls = []
    real_conv = crn_module.factored_layout_conv
    monkeypatch.setattr(crn_module, "factored_layout_conv", lambda *a: calls.append(1) or real_conv(*a))
    n_img = 3
    batch, boxes, feats, masks, noise = layout_objects(d, noise_channels)
    torch.manual_seed(0)
    ref = CRNDecoder(d + noise_channels, dims=(8, 6, 4)).double().train()
    fused = CRNDecoder(d + noise_channels, dims=(8, 6, 4)).double().train()
    fused.load_state_dict(ref.state_dict())
    assert fused.set_fused() is fused and fused.fused
    results = []
    for model, factored in ((ref, False), (fused, True), (fused, False)):
        f, m = feats.clone().requires_grad_(True), masks.clone().requires_grad_(True)
        layout = torch.cat([masks_to_layout(f, boxes, m, batch, n_img, 16), noise], 1)
        factors = masks_to_layout_factors(f, boxes, m, batch, n_img, 16) + (noise,) if factored else None
        model.zero_grad()
        out = model(layout, factors=factors)
        (out * torch.linspace(0, 1, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
        results.append([out.detach(), f.grad, m.grad] + [p.grad.clone() for p in model.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-11)
    assert len(calls) == (3 if 9 * 3 <= d + noise_channels else 0)  # K = 3, one call per module

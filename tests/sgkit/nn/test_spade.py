import pytest
import torch
import torch.nn.functional as F

from sgkit.nn.spade import SPADE, SPADEDecoder, SPADEResBlock


def test_spade_matches_hand_computation() -> None:
    torch.manual_seed(0)
    spade = SPADE(norm_channels=3, label_channels=2, hidden_channels=4).train()
    x = torch.randn(2, 3, 8, 8)
    layout = torch.randn(2, 2, 16, 16)
    # independent computation: batch statistics, area-resized layout, two 3x3 convolutions
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + 1e-5)
    small = F.avg_pool2d(layout, 2)
    actv = F.relu(F.conv2d(small, spade.shared[0].weight, spade.shared[0].bias, padding=1))
    gamma = F.conv2d(actv, spade.gamma.weight, spade.gamma.bias, padding=1)
    beta = F.conv2d(actv, spade.beta.weight, spade.beta.bias, padding=1)
    torch.testing.assert_close(spade(x, layout), normed * (1 + gamma) + beta, rtol=1e-4, atol=1e-5)
    assert "norm_channels=3, label_channels=2" in repr(spade)


def test_spade_zero_modulation_is_plain_normalisation() -> None:
    spade = SPADE(4, 3, param_free_norm="instance")
    for conv in (spade.gamma, spade.beta):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(spade(x, torch.randn(2, 3, 6, 6)), F.instance_norm(x))


def test_spade_resblock_shapes_and_shortcut() -> None:
    same = SPADEResBlock(8, 8, label_channels=3)
    assert not same.learned_shortcut
    diff = SPADEResBlock(8, 4, label_channels=3, spectral_norm=True)
    assert diff.learned_shortcut
    x, layout = torch.randn(2, 8, 8, 8), torch.randn(2, 3, 32, 32)
    assert same(x, layout).shape == (2, 8, 8, 8)
    assert diff(x, layout).shape == (2, 4, 8, 8)
    # zeroing the residual branch of an identity block returns the input
    torch.nn.init.zeros_(same.conv_1.weight)
    torch.nn.init.zeros_(same.conv_1.bias)
    torch.testing.assert_close(same(x, layout), x)


def test_spade_decoder_shapes_and_errors() -> None:
    dec = SPADEDecoder(layout_channels=5, dims=(16, 8, 8), hidden_channels=8)
    layout = torch.randn(2, 5, 32, 32, requires_grad=True)
    img = dec(layout)
    assert img.shape == (2, 3, 32, 32)
    assert float(img.detach().min()) >= 0 and float(img.detach().max()) <= 1
    img.mean().backward()
    assert float(layout.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="divisible by 2\\*\\*\\(len\\(dims\\) - 1\\) = 4"):
        dec(torch.randn(1, 5, 30, 30))
    with pytest.raises(ValueError, match="param_free_norm"):
        SPADE(3, 3, param_free_norm="group")
    with pytest.raises(ValueError, match="output_activation"):
        SPADEDecoder(3, dims=(4,), output_activation="tanh")


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_spade_decoder_fused_path_equals_the_default(norm: str) -> None:
    """set_fused: layout pooled once per level, fused modulation, in-place activations; same
    outputs, parameter and layout gradients, running statistics (float64)."""
    torch.manual_seed(0)
    ref = SPADEDecoder(5, dims=(8, 6, 4), hidden_channels=3, param_free_norm=norm).double().train()
    fused = SPADEDecoder(5, dims=(8, 6, 4), hidden_channels=3, param_free_norm=norm).double().train()
    fused.load_state_dict(ref.state_dict())
    assert fused.set_fused() is fused and fused.fused and fused.blocks[0].norm_0.fused
    layout = torch.rand(3, 5, 16, 16, dtype=torch.float64)
    outs, grads = [], []
    for model in (ref, fused):
        lay = layout.clone().requires_grad_(True)
        out = model(lay)
        (out * torch.linspace(0, 1, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
        outs.append(out.detach())
        grads.append([lay.grad] + [p.grad for p in model.parameters()])
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-10, atol=1e-12)
    for a, b in zip(grads[0], grads[1]):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-11)
    for (name, a), b in zip(ref.state_dict().items(), fused.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12, msg=name)
    fused.set_fused(False)
    assert not fused.fused and not fused.blocks[0].norm_0.fused and not fused.blocks[0].fused
    ref.eval()
    fused.eval()
    torch.testing.assert_close(fused.set_fused()(layout), ref(layout), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("d", "noise_channels"), [(30, 0), (30, 2), (4, 2)])
def test_spade_decoder_factored_layout_equals_the_dense_layout(d: int, noise_channels: int, monkeypatch, layout_objects) -> None:
    """Fused decoder given the layout's factors (per-object kernels on the masks when 9 K <= C,
    else the dense layout) equals the default decoder on the dense layout: outputs and gradients
    w.r.t. features, masks, weights."""
    import sgkit.nn.spade as spade_module
    from sgkit.nn.layout import masks_to_layout, masks_to_layout_factors

    calls = []
    factored_conv = spade_module._factored_conv
    monkeypatch.setattr(spade_module, "_factored_conv", lambda *a: calls.append(1) or factored_conv(*a))
    n_img = 3
    batch, boxes, feats, masks, noise = layout_objects(d, noise_channels)
    torch.manual_seed(0)
    ref = SPADEDecoder(d + noise_channels, dims=(8, 6, 4), hidden_channels=3).double().train()
    fused = SPADEDecoder(d + noise_channels, dims=(8, 6, 4), hidden_channels=3).double().train().set_fused()
    fused.load_state_dict(ref.state_dict())
    results = []
    for model, factored in ((ref, False), (fused, True)):
        f, m = feats.clone().requires_grad_(True), masks.clone().requires_grad_(True)
        layout = torch.cat([masks_to_layout(f, boxes, m, batch, n_img, 16), noise], 1)
        factors = None
        if factored:
            fd, md = masks_to_layout_factors(f, boxes, m, batch, n_img, 16)
            assert fd.shape == (n_img, 3, d) and md.shape == (n_img, 3, 16, 16)
            torch.testing.assert_close(torch.einsum("bkd,bkhw->bdhw", fd, md), layout[:, :d])
            factors = (fd, md, noise if noise_channels else None)
        out = model(layout, factors=factors)
        (out * torch.linspace(0, 1, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
        results.append([out.detach(), f.grad, m.grad] + [p.grad for p in model.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-11)
    assert bool(calls) == (9 * 3 <= d + noise_channels)  # K = 3 objects in the fullest image

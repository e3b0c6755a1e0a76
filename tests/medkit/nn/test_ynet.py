import pytest
import torch

from medkit.nn import UNet, YNet, count_parameters


@pytest.mark.parametrize("size", [(32, 32), (37, 45), (16, 24)])
def test_ynet_shapes_odd_sizes(size):
    net = YNet(1, 4, base_channels=4, depth=4)
    assert net(torch.randn(2, 1, *size)).shape == (2, 4, *size)


@pytest.mark.parametrize(
    "kw",
    [dict(alpha=0.0), dict(alpha=1.0), dict(global_ratio=0.0), dict(global_ratio=1.0),
     dict(spectral="conv"), dict(kernel_size=3, depth=2),
     dict(band=(0.0, 3.0), band_action="remove", band_domain="frequency"),
     dict(band=(-10.0, 10.0), band_action="remove")],
)
def test_ynet_variants_run(kw):
    net = YNet(1, 3, base_channels=4, **kw)
    assert net(torch.randn(2, 1, 24, 24)).shape == (2, 3, 24, 24)


def test_ynet_first_ffc_has_no_global_input():
    net = YNet(1, 3, base_channels=8)
    first = net.spectral_encoder[0]
    assert first.in_cg == 0 and first.g2g is None and first.g2l is None
    assert all(b.in_cg > 0 for b in net.spectral_encoder[1:])


def test_ynet_bottleneck_is_channel_concatenation():
    # the bottleneck input is torch.cat([spatial, spectral], dim=1): spatial layout preserved
    torch.manual_seed(0)
    net = YNet(1, 3, base_channels=4, depth=2).eval()
    seen = {}

    def hook(module, inputs, output):
        seen["in"] = inputs[0]

    net.bottleneck.register_forward_hook(hook)
    x = torch.randn(1, 1, 16, 16)
    net(x)
    h = x
    for block in net.encoder:
        h = net.pool(block(h))
    s = net.encode_spectral(x)
    torch.testing.assert_close(seen["in"], torch.cat([h, s], dim=1))
    assert seen["in"].shape == (1, 8, 4, 4)


def test_ynet_skips_from_spatial_encoder_only():
    # decoder inputs: upsampled features + spatial skip (width of the spatial encoder level)
    net = YNet(1, 3, base_channels=8, depth=4)
    first_convs = [d[0].in_channels for d in net.decoder]
    assert first_convs == [64 + 32, 32 + 32, 16 + 16, 8 + 8]


def test_ynet_unet_spatial_widths_match_unet():
    # spatial_widths="unet": spatial encoder and decoder skips identical to the U-Net's
    torch.manual_seed(0)
    net = YNet(1, 3, base_channels=8, depth=4, spatial_widths="unet")
    torch.manual_seed(0)
    ref = UNet(1, 3, base_channels=8, depth=4)
    for a, b in zip(net.encoder, ref.encoder):
        assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
    torch.testing.assert_close(net.encoder[0][0].weight, ref.encoder[0][0].weight)
    assert net.bottleneck[0].in_channels == 64 + 32  # spatial 8 * 2**3 + spectral 8 * 2**2
    assert [d[0].in_channels for d in net.decoder] == [64 + 64, 32 + 32, 16 + 16, 8 + 8]
    assert net(torch.randn(2, 1, 37, 45)).shape == (2, 3, 37, 45)
    assert "spatial_widths='unet'" in repr(net)


def test_ynet_gradient_flows_to_both_encoders():
    torch.manual_seed(0)
    net = YNet(1, 3, base_channels=4, depth=3)
    net(torch.randn(2, 1, 16, 16)).logsumexp(1).mean().backward()
    assert net.encoder[0][0].weight.grad.abs().sum() > 0
    for block in net.spectral_encoder:
        for p in block.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all()
    assert net.spectral_encoder[2].g2g.fu_global.conv.weight.grad.abs().sum() > 0


def test_parameter_counts_at_thesis_width():
    # thesis 8.4.1: U-Net 7.76M; the 7.46M figure is the Y-Net variant without FFC blocks
    assert count_parameters(UNet(1, 9, base_channels=32)) == 7_762_729
    assert count_parameters(YNet(1, 9, base_channels=32, spectral="conv")) == 7_459_785
    assert count_parameters(YNet(1, 9, base_channels=32)) == 6_946_249
    assert round(count_parameters(YNet(1, 9, base_channels=32, spectral="conv")) / 1e6, 2) == 7.46


def test_ynet_bad_args():
    with pytest.raises(ValueError, match="depth"):
        YNet(1, 2, depth=1)
    with pytest.raises(ValueError, match="spectral"):
        YNet(1, 2, spectral="fft")
    with pytest.raises(ValueError, match="alpha"):
        YNet(1, 2, alpha=2.0)
    with pytest.raises(ValueError, match="spatial_widths must be one of .*'wide'"):
        YNet(1, 2, spatial_widths="wide")

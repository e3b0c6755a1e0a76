"""U-Net / Y-Net name their minimum input size instead of failing inside max pooling."""
import pytest
import torch

from medkit.nn import UNet, YNet


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet_minimum_size(depth):
    net = UNet(1, 2, base_channels=2, depth=depth).eval()
    need = 2**depth
    assert net.min_size == need
    assert net(torch.zeros(1, 1, need, need + 1)).shape == (1, 2, need, need + 1)
    for shape in [(1, 1, need - 1, need), (1, 1, need, need - 1)]:
        with pytest.raises(ValueError, match=rf"UNet with depth={depth} needs inputs of at least {need}x{need}.*{shape[2]}, {shape[3]}"):
            net(torch.zeros(shape))


@pytest.mark.parametrize("kw", [dict(), dict(spectral="conv"), dict(alpha=0.0)])
@pytest.mark.parametrize("depth", [2, 3])
def test_ynet_minimum_size(depth, kw):
    net = YNet(1, 2, base_channels=4, depth=depth, **kw).eval()
    need = 2**depth
    assert net.min_size == need
    assert net(torch.zeros(1, 1, need, need)).shape == (1, 2, need, need)
    with pytest.raises(ValueError, match=rf"YNet with depth={depth} needs inputs of at least {need}x{need}"):
        net(torch.zeros(1, 1, need - 1, need + 5))


@pytest.mark.parametrize("net", [UNet(1, 2, base_channels=2, depth=1), YNet(1, 2, base_channels=4, depth=2)])
def test_wrong_rank_channels_or_empty_batch(net):
    name = type(net).__name__
    with pytest.raises(ValueError, match=rf"{name} input must have shape \[B, 1, H, W\], got \(1, 2, 8, 8\)"):
        net(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match=rf"{name} input must have shape"):
        net(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="non-empty batch"):
        net(torch.zeros(0, 1, 8, 8))

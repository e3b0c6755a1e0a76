import pytest
import torch

from medkit.nn import UNet, count_parameters


@pytest.mark.parametrize("size", [(32, 32), (33, 30), (17, 45)])
@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_unet_shapes_odd_sizes(size, norm):
    net = UNet(2, 3, base_channels=4, depth=3, norm=norm)
    out = net(torch.randn(2, 2, *size))
    assert out.shape == (2, 3, *size)


def test_unet_norm_layers_and_repr():
    inst = UNet(1, 2, base_channels=4, depth=2, norm="instance")
    kinds = {type(m).__name__ for m in inst.modules()}
    assert "InstanceNorm2d" in kinds and "BatchNorm2d" not in kinds
    assert "norm='instance'" in repr(inst)
    batch = UNet(1, 2, base_channels=4, depth=2)
    assert "BatchNorm2d" in {type(m).__name__ for m in batch.modules()}


def test_unet_thesis_width_parameter_count():
    # thesis 8.4.1: U-Net with 7.76M parameters (base width 32, depth 4, 9 OCT classes)
    assert count_parameters(UNet(1, 9, base_channels=32, depth=4)) == 7_762_729


def test_unet_outputs_logits_and_gradients_flow():
    torch.manual_seed(0)
    net = UNet(1, 3, base_channels=4, depth=2)
    out = net(torch.randn(2, 1, 16, 16))
    # logits: not normalised over channels
    assert not torch.allclose(out.softmax(1).sum(1), out.sum(1))
    out.sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert net.encoder[0][0].weight.grad.abs().sum() > 0


def test_unet_bad_args():
    with pytest.raises(ValueError, match="norm"):
        UNet(1, 2, norm="group")
    with pytest.raises(ValueError, match="depth"):
        UNet(1, 2, depth=0)
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):
        UNet(1, 2, base_channels=4, depth=1)(torch.zeros(1, 3, 8, 8))

import pytest
import torch

from fedkit.models import MLP, LeNet


def test_lenet_shapes_and_size():
    m = LeNet(1, 10, 28)
    assert m(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    # conv 1*6*25+6, conv 6*16*25+16, fc 784*120+120, 120*84+84, 84*10+10
    assert sum(p.numel() for p in m.parameters()) == 156 + 2416 + 94200 + 10164 + 850
    assert LeNet(1, 10, 8)(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert LeNet(3, 7, 32)(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert not list(m.buffers())
    with pytest.raises(ValueError, match="image_size must be >= 4"):
        LeNet(1, 10, 2)


def test_mlp():
    m = MLP(64, 10, (32, 16))
    assert m(torch.randn(4, 1, 8, 8)).shape == (4, 10)
    assert sum(p.numel() for p in m.parameters()) == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        MLP(4, 1)

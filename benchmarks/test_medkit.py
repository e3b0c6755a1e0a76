"""medkit benchmarks: Y-Net vs U-Net training step, FourierUnit vs 3x3 convolution.

Run with ``pytest benchmarks/test_medkit.py --benchmark``; compare the means within a group
(goal: Y-Net step <= 1.3x the U-Net step at equal width).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from medkit.losses import DiceCELoss
from medkit.nn import FourierUnit, UNet, YNet

WIDTH, BATCH, SIZE, CLASSES = 16, 4, (64, 128), 9


def _step_fn(model: nn.Module):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 1, *SIZE, generator=g)
    y = torch.randint(0, CLASSES, (BATCH, 1, *SIZE), generator=g)
    loss_fn = DiceCELoss(softmax=True, to_onehot_y=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> float:
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    step()  # warm-up
    return step


@pytest.mark.benchmark(group="medkit-train-step")
def test_unet_train_step(benchmark):
    step = _step_fn(UNet(1, CLASSES, base_channels=WIDTH, depth=4))
    benchmark.pedantic(step, rounds=8, iterations=1)


@pytest.mark.benchmark(group="medkit-train-step")
def test_ynet_train_step(benchmark):
    step = _step_fn(YNet(1, CLASSES, base_channels=WIDTH, depth=4))
    benchmark.pedantic(step, rounds=8, iterations=1)


C, FU_SIZE = 32, (64, 64)


def _fwd_bwd(layer: nn.Module):
    x = torch.randn(BATCH, C, *FU_SIZE, requires_grad=True)

    def run() -> None:
        layer(x).sum().backward()

    run()
    return run


@pytest.mark.benchmark(group="medkit-fourier-unit")
def test_conv3x3_fwd_bwd(benchmark):
    benchmark.pedantic(_fwd_bwd(nn.Conv2d(C, C, 3, padding=1, bias=False)), rounds=10, iterations=3)


@pytest.mark.benchmark(group="medkit-fourier-unit")
def test_fourier_unit_fwd_bwd(benchmark):
    benchmark.pedantic(_fwd_bwd(FourierUnit(C, C)), rounds=10, iterations=3)

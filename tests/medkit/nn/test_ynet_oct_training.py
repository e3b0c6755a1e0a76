"""Reduced, seeded version of ``examples/oct_ynet.py`` (slow).

Budget: four trainings (U-Net and Y-Net, seeds 0 and 1) of 150 steps (batch 8, 64 training
scans of 48x96, width 8); about 75 s of CPU on one core (measured 73 s: about 16 s per
U-Net and 20 s per Y-Net training).

What is asserted, and why not the thesis direction:

- With the plain thesis loss (unweighted CE + per-scan Dice) fluid Dice was an
  initialisation lottery (about 0 or about 0.85 per seed for both networks: seed 0 failed
  for both, seed 1 for Y-Net, seed 2 for U-Net). The cause: fluid is 3 % of the pixels and
  the last class learned; at 150 steps it was often still merged into a neighbouring
  class. The example's recipe (``train(balanced=True, batch_dice=True)``: CE weights
  ``sqrt(f_max / f_c)`` and batch-pooled Dice) learns fluid on every seed tried, which is
  what this test checks on the two seeds that failed before.
- Y-Net better on fluid (Table 8.1) and "removing the band hurts fluid" (Table 8.4) are NOT
  reproduced on the synthetic data, even with the texture fluid model of
  :func:`medkit.datasets.synthetic_oct` (fluid set apart by its speckle-free, low-frequency
  texture, its mean overlapping the INL/ONL range). Measured fluid Dice at this budget
  (seeds 0/1/2): U-Net 0.845/0.901/0.919 (mean 0.888), Y-Net 0.892/0.883/0.907 (0.894,
  better on 1 of 3 seeds); Y-Net with value band ``remove(-10,10)`` 0.885/0.890/0.871
  (0.882), with frequency band ``remove |k|<=4`` 0.896/0.894/0.917 (0.902). Differences are
  within the seed-to-seed spread (about 0.03), so no direction is asserted. Diagnosis (see
  the example's docstring): at this budget both networks ignore their bottleneck (zeroing
  it at test time changes fluid Dice by <= 0.003), so Y-Net's spectral features, which
  enter only there, cannot help; without weight decay, with 16 training scans or with higher
  noise the direction did not appear either (U-Net ahead in the mean in all three).
"""
import sys
from pathlib import Path

import pytest
import torch

from medkit.datasets import synthetic_oct
from medkit.nn import UNet, YNet

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
from oct_ynet import evaluate, train  # noqa: E402

LAYERS = ["ILM", "NFL-IPL", "INL", "OPL", "ONL-ISM", "ISE", "OS-RPE"]
SEEDS = (0, 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["UNet", "YNet"])
def test_networks_learn_oct_layers_and_fluid(name):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # predictable cost on a shared 2-core machine
    try:
        for seed in SEEDS:
            _train_and_check(name, seed)
    finally:
        torch.set_num_threads(threads)


def _train_and_check(name: str, seed: int) -> None:
    x_tr, y_tr, _ = synthetic_oct(64, height=48, width=96, seed=seed)
    x_te, y_te, _ = synthetic_oct(32, height=48, width=96, seed=seed + 10_000)
    torch.manual_seed(seed)
    if name == "UNet":
        net = UNet(1, 9, base_channels=8)
    else:
        net = YNet(1, 9, base_channels=8, spatial_widths="unet")
    curve = train(net, x_tr, y_tr, steps=150, batch_size=8, seed=seed, lr=3e-3, progress=False)
    assert sum(curve[-10:]) / 10 < 0.6 * sum(curve[:10]) / 10
    dice = evaluate(net, x_te, y_te)
    layer_mean = sum(dice[c] for c in LAYERS) / len(LAYERS)
    assert layer_mean > 0.8, (seed, dice)
    # fluid is learned on every seed (before the recipe fix it was ~0 on these seeds)
    assert dice["Fluid"] > 0.75, (seed, dice)

"""Reduced, seeded version of ``examples/oct_ynet.py`` (slow).

Budget: four trainings (U-Net and Y-Net, seeds 0 and 1) of 150 steps (batch 8, 64 training
scans of 48x96, width 8); about 75 s of CPU on one core (measured 73 s: about 16 s per
U-Net and 20 s per Y-Net training).

What is asserted: both networks learn the layers and fluid on seeds 0 and 1 with the
example's recipe (``train(balanced=True, batch_dice=True)``: CE weights ``sqrt(f_max / f_c)``
and batch-pooled Dice). With the plain thesis loss fluid was an initialisation lottery
(Dice about 0 or about 0.85 per seed; seed 0 failed for both networks, seed 1 for Y-Net).

Not asserted: the thesis direction (Y-Net better on fluid, Table 8.1; band removal hurts
fluid, Table 8.4). At this budget (texture fluid, no shadows) it is not reproduced (fluid
Dice U-Net 0.845/0.901/0.919, Y-Net 0.892/0.883/0.907 on seeds 0/1/2); the pre-registered
vessel-shadow grid passes it only nominally, by margins inside the seed spread, and in every
configuration the U-Net's and Y-Net's decoders ignore their bottleneck (zeroing it at test
time changes fluid Dice by <= 0.013), so the spectral features cannot matter. Tables and diagnosis:
the docstring of ``examples/oct_ynet.py``. The two fast tests check the example's
:func:`direction_check` and :func:`evaluate_without_bottleneck`.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat

from medkit.datasets import synthetic_oct
from medkit.nn import UNet, YNet

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
from oct_ynet import direction_check, evaluate, evaluate_without_bottleneck, main, train  # noqa: E402

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


def test_direction_check_criteria():
    def seed(u, y, ys, r):
        return {"UNet": u, "YNet": y, "YNet without spectral": ys, "YNet remove(-10,10)": r}

    # the pre-registered turbid + shadows grid (example docstring): nominally reproduced
    grid = {
        0: seed(0.781, 0.755, 0.751, 0.799),
        1: seed(0.754, 0.757, 0.7569, 0.678),
        2: seed(0.703, 0.774, 0.762, 0.792),
    }
    d = direction_check(grid)
    # the four pre-registered criteria hold, but the mean spectral drop is only
    # (0.004 + 0.0001 + 0.012) / 3 = 0.0054 < 0.01: not reproduced
    assert d["seeds"] == [0, 1, 2] and d["nominal"] and not d["reproduced"]
    assert not d["spectral_drop_at_least_min_effect"]
    assert direction_check(grid, min_effect=0.005)["reproduced"]
    # Y-Net ahead on 1 seed of 3 only: not reproduced, whatever the mean
    d = direction_check({**grid, 1: seed(0.80, 0.757, 0.7569, 0.678)})
    assert d["ynet_mean_above_unet"] and not d["ynet_ahead_on_most_seeds"] and not d["reproduced"]
    # zeroing the spectral features does not lower fluid Dice: not reproduced
    d = direction_check({s: seed(0.7, 0.8, 0.8, 0.7) for s in range(3)})
    assert not d["zeroing_spectral_lowers_on_most_seeds"] and not d["reproduced"]
    # one seed: every criterion on that seed
    assert direction_check({0: seed(0.7, 0.8, 0.75, 0.7)})["reproduced"]
    with pytest.raises(ValueError, match="per_seed"):
        direction_check({})
    with pytest.raises(ValueError, match="min_effect must be >= 0, got -0.1"):
        direction_check(grid, min_effect=-0.1)


def test_evaluate_without_bottleneck_zeroes_the_deepest_level():
    x, y, _ = synthetic_oct(2, height=32, width=32, seed=0)
    torch.manual_seed(0)
    for net in (UNet(1, 9, base_channels=4), YNet(1, 9, base_channels=4, spatial_widths="unet")):
        seen: list[float] = []
        pre = net.up[0].register_forward_pre_hook(lambda m, a: seen.append(float(a[0].abs().sum())))
        full = evaluate(net, x, y)
        n_full = len(seen)
        zeroed = evaluate_without_bottleneck(net, x, y)
        pre.remove()
        assert set(full) == set(zeroed)
        assert min(seen[:n_full]) > 0 and max(seen[n_full:]) == 0  # the decoder got zeros
        assert not net.bottleneck._forward_hooks  # and the zeroing hook is removed again


def test_example_runs_on_duke_files(tmp_path):
    """``--duke DIR`` trains on subjects 1-6 and tests on 9-10, read from local .mat files."""
    rng = np.random.default_rng(0)
    h, w = 24, 16
    for s in range(1, 11):
        layers = np.full((8, w, 2), np.nan)
        layers[:, 2:14, 0] = np.arange(3, 23, 2.5)[:, None]  # scan 0 annotated, scan 1 not
        fluid = np.full((h, w, 2), np.nan)
        fluid[10:13, 5:9, 0] = 1
        images = rng.integers(0, 256, (h, w, 2)).astype(np.uint8)
        savemat(tmp_path / f"Subject_{s:02d}.mat",
                {"images": images, "manualLayers1": layers, "manualFluid1": fluid})
    out = tmp_path / "out"
    res = main(["--duke", str(tmp_path), "--quick", "--steps", "1", "--width", "4",
                "--threads", "1", "--no-progress", "--out", str(out)])
    cfg = json.loads((out / "results.json").read_text())["config"]
    assert cfg["duke"] == str(tmp_path)
    assert (cfg["train_scans"], cfg["test_scans"]) == (6, 2)  # one annotated scan per subject
    assert (cfg["height"], cfg["width"], cfg["batch_size"], cfg["lr"]) == (224, 224, 10, 5e-4)
    assert set(res["UNet"]["dice"]) >= {"Fluid", "mean"}
    assert (out / "qualitative.png").is_file()

"""Image-manipulation metrics (sgkit.metrics.edits)."""
import math

import numpy as np
import pytest
import torch

from sgkit.datasets import ShapesWorld
from sgkit.metrics import edit_roi_boxes, evaluate_edits, gaussian_ssim


@pytest.fixture(scope="module")
def world():
    return ShapesWorld(0, image_size=32, progress=False)


def _slow_ssim(a, b, window=3, sigma=1.5):
    r = np.arange(window) - window // 2
    g = np.exp(-r ** 2 / (2 * sigma ** 2))
    w = np.outer(g / g.sum(), g / g.sum())
    vals = []
    for c in range(a.shape[0]):
        pa, pb = np.pad(a[c], window // 2), np.pad(b[c], window // 2)
        for i in range(a.shape[1]):
            for j in range(a.shape[2]):
                xa, xb = pa[i:i + window, j:j + window], pb[i:i + window, j:j + window]
                mx, my = (w * xa).sum(), (w * xb).sum()
                vx, vy = (w * xa * xa).sum() - mx ** 2, (w * xb * xb).sum() - my ** 2
                cxy = (w * xa * xb).sum() - mx * my
                vals.append(((2 * mx * my + 1e-4) * (2 * cxy + 9e-4)) / ((mx ** 2 + my ** 2 + 1e-4) * (vx + vy + 9e-4)))
    return float(np.mean(vals))


def test_gaussian_ssim_matches_a_loop_implementation():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 9, 7, generator=g), torch.rand(2, 3, 9, 7, generator=g)
    got = gaussian_ssim(a, b)
    for i in range(2):
        assert math.isclose(float(got[i]), _slow_ssim(a[i].double().numpy(), b[i].double().numpy()), rel_tol=1e-9)
    assert torch.allclose(gaussian_ssim(a, a), torch.ones(2, dtype=torch.float64))


def test_evaluate_edits_hand_computed():
    target = torch.zeros(2, 3, 64, 64)
    pred = target.clone()
    pred[0, :, 10:20, 10:20] = 10 / 255  # inside the RoI of image 0
    boxes = [torch.tensor([[8 / 64, 8 / 64, 22 / 64, 22 / 64]]), torch.tensor([[0.0, 0.0, 0.0, 0.0]])]
    res = evaluate_edits(pred, target, ["removal", "addition"], boxes)
    roi_pixels = (22 + 2 - 6) ** 2  # box 8..22 widened by 2 px
    assert math.isclose(res["removal"]["mae"], 10 * 100 / 4096, rel_tol=1e-6)
    assert math.isclose(res["removal"]["roi_mae"], 10 * 100 / roi_pixels, rel_tol=1e-6)
    assert res["addition"]["mae"] == 0 and res["addition"]["roi_mae"] == 0  # a 2x2 corner with the margin
    assert math.isnan(evaluate_edits(pred, target, ["removal", "addition"], boxes, margin=0)["addition"]["roi_mae"])
    assert res["addition"]["ssim"] == 100 and res["all"]["n"] == 2
    with pytest.raises(ValueError, match="one entry per image"):
        evaluate_edits(pred, target, ["removal"], boxes)


def test_edit_roi_boxes(world):
    pair = world.edit_pairs("relationship", 1, seed=1)[0]
    s = int(pair["source"]["object", "relation", "object"].edge_index[0, pair["info"]["edge"]])
    rois = edit_roi_boxes(pair)
    assert rois.shape == (4, 4) and torch.equal(rois[2], pair["target"]["object"].box[s].float())
    add = world.edit_pairs("addition", 1)[0]
    assert torch.equal(edit_roi_boxes(add)[0], add["target"]["object"].box[-1].float())

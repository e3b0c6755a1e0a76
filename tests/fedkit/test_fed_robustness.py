import numpy as np
import pytest
import torch

from fedkit.robustness import apply_attack, finite_rows, noisy_labels, select_clients


def test_attacks_hand_values():
    theta = torch.tensor([1.0, 1.0])
    p = torch.tensor([[2.0, 0.0]])
    assert torch.allclose(apply_attack(theta, p, "sign_flip"), torch.tensor([[0.0, 2.0]]))
    assert torch.allclose(apply_attack(theta, p, "scale", scale=10.0), torch.tensor([[11.0, -9.0]]))
    g = torch.Generator().manual_seed(0)
    noisy = apply_attack(theta, p.expand(2000, 2), "noise", noise_std=2.0, generator=g)
    assert abs(float((noisy - p).std()) - 2.0) < 0.1
    assert torch.isnan(apply_attack(theta, p, "nan")).all()
    assert torch.isinf(apply_attack(theta, p, "inf")).all()
    with pytest.raises(ValueError, match="attack must be one of"):
        apply_attack(theta, p, "zero")


def test_select_and_noisy_labels_and_finite_rows():
    mask = select_clients(10, 0.3, seed=0)
    assert mask.sum() == 3
    assert np.array_equal(mask, select_clients(10, 0.3, seed=0))
    y = torch.zeros(1000, dtype=torch.long)
    out = noisy_labels(y, np.arange(500), 10, 1.0, seed=0)
    assert (out[500:] == 0).all()
    assert (out[:500] != 0).float().mean() > 0.8  # random labels, 9/10 differ
    assert (y == 0).all()  # input untouched
    p = torch.tensor([[1.0, 2.0], [float("nan"), 0.0], [float("inf"), 1.0]])
    assert finite_rows(p).tolist() == [True, False, False]

"""Losses of the image models against closed forms and torch.distributions."""
from __future__ import annotations

import pytest
import torch

from sgkit.models.losses import box_loss, kl_normal, mask_loss


def test_kl_normal_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(-1).mean()
    torch.testing.assert_close(kl_normal(mu, logvar), expected)
    assert float(kl_normal(torch.zeros(2, 4), torch.zeros(2, 4))) == 0.0
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        kl_normal(mu, logvar[:, :2])


def test_box_l1_and_mask_bce_hand_values() -> None:
    pred = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    target = torch.tensor([[0.1, 0.0, 0.5, 0.9]])
    assert float(box_loss(pred, target)) == pytest.approx((0.1 + 0.4) / 4)
    p = torch.full((1, 2, 2), 0.5)
    assert float(mask_loss(p, torch.ones(1, 4, 4))) == pytest.approx(torch.log(torch.tensor(2.0)).item())

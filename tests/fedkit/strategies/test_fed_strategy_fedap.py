import pytest
import torch

from fedkit.strategies import FedAP


def test_eta_linear_schedule():
    s = FedAP(num_rounds=220, eta_initial=1.0, eta_final=0.46)
    assert s.eta(1) == pytest.approx(1.0)
    assert s.eta(220) == pytest.approx(0.46)
    assert s.eta(110.5 + 0.5) == pytest.approx(1.0 + (0.46 - 1.0) * 110 / 219)
    assert s.eta(500) == pytest.approx(0.46)
    assert s.personalization_epochs == 7
    with pytest.raises(ValueError, match="server_round must be >= 1"):
        s.eta(0)


def test_fedap_meta_update():
    s = FedAP(num_rounds=3, eta_initial=1.0, eta_final=0.5, personalization_epochs=2)
    theta = torch.tensor([1.0, 1.0])
    clients = torch.tensor([[3.0, 1.0], [1.0, 5.0]])
    # round 3: eta = 0.5, weights 1/4, 3/4 -> delta = [0.5, 3.0]
    out = s.aggregate(theta, clients, [1, 3], server_round=3)
    assert torch.allclose(out, torch.tensor([1.25, 2.5]))
    # round 1: eta = 1 -> FedAvg
    assert torch.allclose(s.aggregate(theta, clients, [1, 3], server_round=1), torch.tensor([1.5, 4.0]))
    with pytest.raises(ValueError, match="num_rounds must be a positive int"):
        FedAP(num_rounds=0)

import pytest
import torch

from fedkit.strategies import FedAvg


def test_fedavg_aggregate_is_sample_weighted_average():
    theta = torch.zeros(2)
    clients = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    out = FedAvg().aggregate(theta, clients, [1, 1, 2])
    assert torch.allclose(out, torch.tensor([1.25, 1.25]))
    mean = FedAvg(weighting="uniform").aggregate(theta, clients, [1, 1, 2])
    assert torch.allclose(mean, clients.mean(0))
    assert FedAvg(weighting="uniform").name == "Mean"
    assert FedAvg().eta(7) == 1.0
    with pytest.raises(ValueError, match="weighting must be"):
        FedAvg(weighting="median")

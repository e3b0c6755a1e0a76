import pytest
import torch

from fedkit.aggregation import combine_weights, fedavg_weights, ida_weights, intrac_weights
from fedkit.strategies import IDA


def test_ida_variants_compose_pure_rules():
    torch.manual_seed(0)
    p = torch.randn(4, 6, dtype=torch.float64)
    n = torch.tensor([10.0, 20.0, 30.0, 40.0])
    acc = torch.tensor([0.2, 0.6, 0.9, 0.4])
    assert torch.allclose(IDA().weights(p, n), ida_weights(p))
    assert torch.allclose(IDA(fedavg=True).weights(p, n), combine_weights(ida_weights(p), fedavg_weights(n)).double())
    assert torch.allclose(
        IDA(intrac=True).weights(p, n, acc), combine_weights(ida_weights(p), intrac_weights(acc)).double()
    )
    assert IDA(fedavg=True, intrac=True).name == "IDA + FedAvg + INTRAC"
    theta = torch.zeros(6, dtype=torch.float64)
    assert torch.allclose(IDA().aggregate(theta, p, n), ida_weights(p) @ p)
    with pytest.raises(ValueError, match="train_accuracy is required"):
        IDA(intrac=True).weights(p, n)


def test_ida_downweights_outlier():
    p = torch.tensor([[1.0, 1.0], [1.1, 0.9], [0.9, 1.1], [50.0, -50.0]])
    w = IDA().weights(p, [1, 1, 1, 1])
    assert w[3] < w[:3].min()
    avg = IDA().aggregate(torch.zeros(2), p, [1, 1, 1, 1])
    assert (avg - torch.tensor([1.0, 1.0])).abs().max() < (p.mean(0) - torch.tensor([1.0, 1.0])).abs().max()

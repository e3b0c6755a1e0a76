import numpy as np
import pytest
import torch
from flwr.app import ArrayRecord, MetricRecord, RecordDict

from fedkit.aggregation import flatten_params, unflatten_params
from fedkit.datasets import federated_digits
from fedkit.flower import FlowerStrategy, run_flower_simulation
from fedkit.models import MLP
from fedkit.simulate import Simulator, simulate
from fedkit.strategies import IDA, Clustered, FedAP, FedAvg


def _reply(model, vec, n, acc):
    return RecordDict(
        {
            "arrays": ArrayRecord(unflatten_params(vec, model)),
            "metrics": MetricRecord({"num-examples": n, "train-acc": acc}),
        }
    )


def test_aggregate_train_on_flower_records_matches_fedkit():
    torch.manual_seed(0)
    model = MLP(4, 2, (3,))
    theta = flatten_params(model)
    clients = theta + torch.randn(3, theta.numel())
    n, acc = [10, 20, 30], [0.5, 0.7, 0.9]
    fl = FlowerStrategy(IDA(intrac=True))
    fl.current = ArrayRecord(model.state_dict())
    replies = [_reply(model, clients[i], n[i], acc[i]) for i in range(3)]
    bad = clients[0].clone()
    bad[2] = float("nan")
    replies.append(_reply(model, bad, 5, 0.5))
    # the body of aggregate_train on Flower's own records (Message objects need a running Flower task)
    arrays, metrics = fl.aggregate_records(4, replies, node_ids=[11, 12, 13, 19])
    got = flatten_params(arrays.to_torch_state_dict())
    expected = IDA(intrac=True).aggregate(theta.double(), clients.double(), torch.tensor(n).double(), torch.tensor(acc), 4)
    assert torch.allclose(got.double(), expected, atol=1e-6)
    assert fl.dropped == {4: [19]}  # the NaN reply was dropped and logged
    assert metrics["train-acc"] == pytest.approx(sum(a * k for a, k in zip(acc, n)) / sum(n))


def test_fedap_step_and_validation():
    model = MLP(4, 2, (3,))
    theta = flatten_params(model)
    clients = theta + torch.ones(2, theta.numel())
    fl = FlowerStrategy(FedAP(num_rounds=2, eta_final=0.5))
    fl.current = ArrayRecord(model.state_dict())
    arrays, _ = fl.aggregate_records(2, [_reply(model, clients[0], 1, 0.5), _reply(model, clients[1], 3, 0.5)])
    assert torch.allclose(flatten_params(arrays.to_torch_state_dict()), theta + 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="Clustered strategies .* use fedkit.simulate.simulate"):
        FlowerStrategy(Clustered(FedAvg()))


@pytest.mark.slow
def test_flower_simulation_equals_builtin_simulator():
    """Real Flower simulation (Ray backend), 3 clients, 2 rounds; budget ~30-90 s (Ray start-up)."""
    data = federated_digits("ncc", num_clients=3, ncc=4, seed=0)
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    kw = dict(lr=0.1, batch_size=32, seed=0)
    theta_fl, result = run_flower_simulation(lambda: MLP(64, 10, (16,)), data, IDA(), 2, initial_model=model, num_cpus=1, **kw)
    ours = simulate(model, data, IDA(), 2, participation=1.0, progress=False, **kw)
    assert (ours.theta - theta_fl.float()).abs().max() < 1e-5
    assert not torch.allclose(ours.theta, flatten_params(model))  # training happened
    assert set(result.train_metrics_clientapp) == {1, 2}


@pytest.mark.slow
def test_flower_fedap_personalizes_like_builtin_simulator():
    """FedAP through Flower: 3 clients, 2 rounds, 2 personalisation epochs run in the ClientApps."""
    data = federated_digits("ncc", num_clients=3, ncc=4, seed=0)
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    kw = dict(lr=0.1, batch_size=32, seed=0)
    strategy = FedAP(num_rounds=2, eta_final=0.5, personalization_epochs=2)
    out = {}
    theta_fl, _ = run_flower_simulation(
        lambda: MLP(64, 10, (16,)), data, strategy, 2, initial_model=model, num_cpus=1, strategy_out=out, **kw
    )
    ours = simulate(model, data, strategy, 2, participation=1.0, progress=False, **kw)
    assert (ours.theta - theta_fl.float()).abs().max() < 1e-5
    fl_acc = out["strategy"].personalized
    assert sorted(fl_acc) == [0, 1, 2]  # every client reported its personalised local accuracy
    got = np.array([fl_acc[i] for i in range(3)])
    assert ours.personalized
    assert np.abs(got - ours.local_acc).max() <= 0.02, (got, ours.local_acc)
    # personalisation ran (it changes the local accuracies of the global model)
    before = Simulator(model, data, progress=False, **kw).local_accuracy(theta_fl.float(), [0, 1, 2])
    assert not np.allclose(got, before)

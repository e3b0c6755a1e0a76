import numpy as np
import pytest
import torch
from flwr.app import ArrayRecord, Context, MetricRecord, RecordDict

from fedkit.aggregation import flatten_params, unflatten_params
from fedkit.datasets import FederatedDataset, federated_digits, load_digits_tensors
from fedkit.flower import CLUSTER_ROUND_OFFSET, FlowerClustered, FlowerStrategy, make_client_app, run_flower_simulation
from fedkit.models import MLP
from fedkit.partition import ClientSplit
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
    with pytest.raises(ValueError, match="Clustered strategies .* use FlowerClustered"):
        FlowerStrategy(Clustered(FedAvg()))
    with pytest.raises(ValueError, match="strategy must be a fedkit Clustered strategy"):
        FlowerClustered(FedAvg())
    with pytest.raises(ValueError, match="nodes must be None or a non-empty"):
        FlowerStrategy(FedAvg(), nodes=[])


def _three_clients():
    """3 non-IID digit clients, a seeded small MLP and the training settings both runs share."""
    data = federated_digits("ncc", num_clients=3, ncc=4, seed=0)
    torch.manual_seed(0)
    return data, MLP(64, 10, (16,)), dict(lr=0.1, batch_size=32, seed=0)


@pytest.mark.slow
def test_flower_simulation_equals_builtin_simulator():
    """Real Flower simulation (Ray backend), 3 clients, 2 rounds; budget ~30-90 s (Ray start-up)."""
    data, model, kw = _three_clients()
    theta_fl, result = run_flower_simulation(lambda: MLP(64, 10, (16,)), data, IDA(), 2, initial_model=model, num_cpus=1, **kw)
    ours = simulate(model, data, IDA(), 2, participation=1.0, progress=False, **kw)
    assert (ours.theta - theta_fl.float()).abs().max() < 1e-5
    assert not torch.allclose(ours.theta, flatten_params(model))  # training happened
    assert set(result.train_metrics_clientapp) == {1, 2}


@pytest.mark.slow
def test_flower_fedap_personalizes_like_builtin_simulator():
    """FedAP through Flower: 3 clients, 2 rounds, 2 personalisation epochs run in the ClientApps."""
    data, model, kw = _three_clients()
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


def _planted_groups(num_clients=4, per_client=100):
    """Digits clients in two planted groups: even clients see the classes 0-4, odd ones 5-9."""
    x, y = load_digits_tensors()
    rng = np.random.default_rng(0)
    groups = [rng.permutation(np.flatnonzero(y.numpy() < 5)), rng.permutation(np.flatnonzero(y.numpy() >= 5))]
    clients = []
    for i in range(num_clients):
        idx = groups[i % 2][(i // 2) * per_client : (i // 2 + 1) * per_client]
        cut = int(0.8 * per_client)
        clients.append(ClientSplit(train=np.sort(idx[:cut]), test=np.sort(idx[cut:])))
    return FederatedDataset(x=x, y=y, clients=clients, num_classes=10, name="digits-planted")


class _InProcessGrid:
    """A Flower ``Grid`` stand-in delivering every message to the ClientApp in this process.

    Node ids are deliberately not the partition ids (and listed in reverse order).
    """

    def __init__(self, app, num_clients):
        self.app = app
        self.contexts = {
            1000 + 7 * i: Context(run_id=1, node_id=1000 + 7 * i, node_config={"partition-id": i}, state=RecordDict(), run_config={})
            for i in range(num_clients)
        }

    def get_node_ids(self):
        return list(self.contexts)[::-1]

    def send_and_receive(self, messages, timeout=None):
        return [self.app(msg, self.contexts[msg.metadata.dst_node_id]) for msg in messages]


@pytest.fixture
def flower_task_identity():
    """Messages outside a running Flower task need a task identity (Flower internals of the pinned
    flwr; a failing import here means the pin moved and this stand-in must follow)."""
    from flwr.supercore.task_identity import TaskIdentity as identity
    saved = (identity._run_id, identity._node_id, identity._task_id)
    identity.run_id, identity.node_id, identity.task_id = 1, 0, 1
    yield
    identity._run_id, identity._node_id, identity._task_id = saved


@pytest.mark.parametrize("attack", [None, "nan"])
def test_flower_clustered_driver_matches_simulator_in_process(flower_task_identity, attack):
    """FlowerClustered on an in-process grid: same clustering input, labels and cluster models as simulate."""
    data = _planted_groups()
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    kw = dict(lr=0.1, batch_size=32, seed=0)
    if attack:  # one client sends NaN: dropped from clustering (joins the largest cluster) and from aggregation
        kw.update(malicious_fraction=0.25, attack=attack)
    strategy = Clustered(FedAP(num_rounds=3, eta_final=0.5, personalization_epochs=1), warmup_rounds=1, distance_threshold=0.3)
    grid = _InProcessGrid(make_client_app(lambda: MLP(64, 10, (16,)), data, **kw), data.num_clients)
    fc = FlowerClustered(strategy, min_available_nodes=data.num_clients)
    result = fc.start(grid, ArrayRecord(model.state_dict()), 3)
    personalized = fc.personalize(grid, 3)
    ours = simulate(model, data, strategy, 3, progress=False, **kw)
    np.testing.assert_array_equal(fc.cluster_labels, ours.cluster_labels)
    assert len(set(ours.cluster_labels.tolist())) == 2
    if attack is None:
        np.testing.assert_array_equal(ours.cluster_labels, [0, 1, 0, 1])  # the planted groups
        torch.testing.assert_close(fc.updates, ours.updates, atol=1e-6, rtol=0)
    else:
        bad = 1000 + 7 * int(np.flatnonzero(Simulator(model, data, progress=False, **kw).malicious)[0])
        # dropped in the warm-up round, the clustering step and both cluster rounds
        assert fc.dropped == {1: [bad], 2 + CLUSTER_ROUND_OFFSET: [bad], 2: [bad], 3: [bad]}
        assert torch.isnan(fc.updates[fc.node_partitions[bad]]).all()
    assert fc.node_partitions == {1000 + 7 * i: i for i in range(4)}
    assert sorted(fc.cluster_arrays) == sorted(ours.cluster_thetas)
    for c, theta in ours.cluster_thetas.items():
        torch.testing.assert_close(flatten_params(fc.cluster_arrays[c].to_torch_state_dict()), theta, atol=1e-5, rtol=0)
        assert set(fc.clusters[c].nodes) == {n for n, p in fc.node_partitions.items() if ours.cluster_labels[p] == c}
    torch.testing.assert_close(flatten_params(result.arrays.to_torch_state_dict()), ours.theta, atol=1e-5, rtol=0)
    assert sorted(result.train_metrics_clientapp) == [1, 2, 3]
    got = np.array([personalized[i] for i in range(4)])
    assert np.abs(got - ours.local_acc).max() <= 0.02, (got, ours.local_acc)


@pytest.mark.slow
def test_flower_clustered_simulation_equals_builtin_simulator():
    """Clustered FedAvg through a real Flower simulation (Ray): 4 clients in 2 planted groups, 1 warm-up + 1 cluster round."""
    data = _planted_groups()
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    kw = dict(lr=0.1, batch_size=32, seed=0)
    strategy = Clustered(FedAvg(), warmup_rounds=1, distance_threshold=0.3)
    out = {}
    theta_fl, result = run_flower_simulation(
        lambda: MLP(64, 10, (16,)), data, strategy, 2, initial_model=model, num_cpus=1, strategy_out=out, **kw
    )
    ours = simulate(model, data, strategy, 2, participation=1.0, progress=False, **kw)
    np.testing.assert_array_equal(out["cluster_labels"], ours.cluster_labels)
    np.testing.assert_array_equal(ours.cluster_labels, [0, 1, 0, 1])
    assert sorted(out["cluster_thetas"]) == [0, 1]
    for c in (0, 1):
        torch.testing.assert_close(out["cluster_thetas"][c].float(), ours.cluster_thetas[c], atol=1e-5, rtol=0)
    torch.testing.assert_close(theta_fl.float(), ours.theta, atol=1e-5, rtol=0)
    assert not torch.allclose(ours.cluster_thetas[0], ours.cluster_thetas[1])
    assert set(result.train_metrics_clientapp) == {1, 2}
    assert isinstance(out["strategy"], FlowerClustered)

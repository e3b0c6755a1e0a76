import copy
import logging

import numpy as np
import pytest
import torch
from torch import nn

from fedkit.aggregation import fedavg_weights, flatten_params, server_update
from fedkit.datasets import federated_digits
from fedkit.models import MLP, LeNet
from fedkit.simulate import Simulator, plot_learning_curves, simulate, train_centralized
from fedkit.strategies import IDA, Clustered, FedAP, FedAvg


@pytest.fixture(scope="module")
def digits():
    return federated_digits("ncc", num_clients=8, ncc=3, seed=0)


@pytest.mark.parametrize(
    "opt",
    [dict(optimizer="sgd"), dict(optimizer="sgd", momentum=0.9, weight_decay=1e-3), dict(optimizer="adam", lr=1e-3, weight_decay=1e-4)],
)
def test_vmap_and_loop_agree(digits, opt):
    # Adam is tested with weight decay: without it, gradients that are zero up to float rounding
    # (different summation order under vmap) are normalised by sqrt(v) to steps of size ~lr.
    torch.manual_seed(0)
    model = LeNet(1, 10, 8)
    kw = dict(lr=0.05, local_epochs=2, batch_size=16, progress=False, seed=3) | opt
    theta = flatten_params(model).expand(5, -1).contiguous()
    ids = np.array([0, 2, 3, 5, 7])
    pv, av = Simulator(model, digits, vectorized=True, **kw).train_clients(theta, ids, round_key=4)
    pl, al = Simulator(model, digits, vectorized=False, **kw).train_clients(theta, ids, round_key=4)
    assert (pv - pl).abs().max() < 1e-5
    assert torch.allclose(av, al)
    assert (pv - theta).abs().max() > 1e-3  # training did move the parameters


def test_vmap_and_loop_agree_over_rounds(digits):
    torch.manual_seed(0)
    model = MLP(64, 10, (32,))
    kw = dict(participation=0.5, lr=0.1, batch_size=8, progress=False, seed=1)
    rv = simulate(model, digits, IDA(intrac=True), 3, vectorized=True, **kw)
    rl = simulate(model, digits, IDA(intrac=True), 3, vectorized=False, **kw)
    assert (rv.theta - rl.theta).abs().max() < 1e-5
    assert rv.global_acc == pytest.approx(rl.global_acc, abs=1e-3)


def test_one_round_equals_manual_fedavg(digits):
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    sim = Simulator(model, digits, lr=0.1, batch_size=16, progress=False)
    res = sim.run(FedAvg(), 1, participation=1.0)
    theta = flatten_params(model)
    params, _ = sim.train_clients(theta.expand(8, -1).contiguous(), np.arange(8), round_key=1)
    expected = server_update(theta, params, fedavg_weights(digits.num_train_samples))
    assert torch.allclose(res.theta, expected, atol=1e-6)


def test_nan_clients_are_dropped_and_logged(digits):
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    sim = Simulator(model, digits, lr=0.1, batch_size=16, malicious_fraction=0.25, attack="nan", progress=False)
    bad = np.flatnonzero(sim.malicious)
    assert bad.size == 2
    res = sim.run(FedAvg(), 2, participation=1.0)
    assert torch.isfinite(res.theta).all()
    assert res.dropped_total == 4
    assert all(sorted(h["dropped"]) == sorted(bad.tolist()) for h in res.history)
    # round 1 equals FedAvg over the honest clients only
    theta = flatten_params(model)
    good = np.setdiff1d(np.arange(8), bad)
    params, _ = sim.train_clients(theta.expand(good.size, -1).contiguous(), good, round_key=1)
    expected = server_update(theta, params, fedavg_weights(digits.num_train_samples[good]))
    one = sim.run(FedAvg(), 1, participation=1.0)
    assert torch.allclose(one.theta, expected, atol=1e-6)


def test_inf_clients_dropped_with_ida(digits):
    torch.manual_seed(0)
    res = simulate(MLP(64, 10, (16,)), digits, IDA(), 2, malicious_fraction=0.25, attack="inf", progress=False)
    assert torch.isfinite(res.theta).all() and res.dropped_total == 4


def test_training_learns_and_records(digits, tmp_path, monkeypatch):
    import matplotlib

    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("plot switched the matplotlib backend"))
    torch.manual_seed(0)
    res = simulate(MLP(64, 10, (32,)), digits, FedAvg(), 8, lr=0.1, batch_size=16, local_epochs=2, progress=False)
    assert len(res.history) == 8
    assert res.global_acc > 0.6
    assert res.local_acc.shape == (8,) and np.isfinite(res.local_acc).all()
    assert res.local_mean == pytest.approx(float(np.mean(res.local_acc)))
    assert res.to_dict()["global_acc"] == res.global_acc
    plot_learning_curves({"FedAvg": res}, tmp_path / "c.png", metric="local_mean")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_fedap_personalizes_and_clustered_runs(digits):
    data = federated_digits("ham10k", num_clients=None, groups_per_class=6, seed=0)
    torch.manual_seed(0)
    model = MLP(64, 10, (32,))
    kw = dict(clients_per_round=5, lr=0.1, batch_size=8, progress=False)
    plain = simulate(model, data, FedAvg(), 10, **kw)
    ap = simulate(model, data, FedAP(num_rounds=10, personalization_epochs=3), 10, **kw)
    assert ap.personalized and not plain.personalized
    assert ap.local_mean > plain.local_mean
    hc = simulate(model, data, Clustered(FedAvg(), warmup_rounds=3, distance_threshold=0.5), 6, **kw)
    assert hc.updates is not None and hc.updates.shape[0] == data.num_clients
    assert len(hc.cluster_thetas) == len(set(hc.cluster_labels.tolist())) > 1


def test_batchnorm_model_uses_loop(digits):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
    sim = Simulator(model, digits, batch_size=1000, progress=False)  # one batch per epoch (no size-1 batch)
    assert sim.vectorized is False
    res = sim.run(FedAvg(), 1)
    assert torch.isfinite(res.theta).all()
    with pytest.raises(ValueError, match="vectorized=True needs a model without buffers"):
        Simulator(model, digits, vectorized=True)


def test_centralized_baseline(digits):
    torch.manual_seed(0)
    res = train_centralized(MLP(64, 10, (32,)), digits, 3, lr=0.1, batch_size=32, progress=False)
    assert res.global_acc > 0.8 and len(res.history) == 3


def test_low_quality_clients_get_noisy_labels(digits):
    sim = Simulator(MLP(64, 10), digits, low_quality_fraction=0.5, label_noise=1.0, progress=False)
    bad = np.flatnonzero(sim.low_quality)
    assert bad.size == 4
    idx = digits.clients[int(bad[0])].train
    assert (sim.y_train[idx] != sim.y[idx]).float().mean() > 0.7
    good = digits.clients[int(np.flatnonzero(~sim.low_quality)[0])].train
    assert torch.equal(sim.y_train[good], sim.y[good])


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match="participation must lie in"):
        simulate(MLP(64, 10), digits, FedAvg(), 1, participation=0.0, progress=False)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Simulator(MLP(64, 10), digits, optimizer="rmsprop")
    with pytest.raises(ValueError, match="attack must be one of"):
        Simulator(MLP(64, 10), digits, attack="zero")


def _dropout_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))


def test_dropout_model_auto_uses_seeded_loop_and_trains(digits):
    torch.manual_seed(0)
    model = _dropout_mlp()
    kw = dict(lr=0.1, batch_size=16, local_epochs=2, progress=False, seed=5)
    sim = Simulator(model, digits, **kw)
    assert sim.vectorized is False and sim.stochastic
    rng_before = torch.get_rng_state()
    res = sim.run(FedAvg(), 4, participation=1.0)
    assert torch.equal(torch.get_rng_state(), rng_before)  # dropout streams are forked, global RNG untouched
    assert not torch.allclose(res.theta, flatten_params(model))
    assert res.global_acc > 0.6 and np.isfinite(res.local_acc).all()
    # seeded: the same run again gives the same model, another seed a different one
    again = simulate(model, digits, FedAvg(), 4, **kw)
    assert torch.equal(again.theta, res.theta)
    other = simulate(model, digits, FedAvg(), 4, **(kw | dict(seed=6)))
    assert not torch.allclose(other.theta, res.theta)


def test_dropout_is_active_in_training_only(digits):
    torch.manual_seed(0)
    model = _dropout_mlp()
    sim = Simulator(model, digits, lr=0.1, batch_size=16, progress=False)
    theta = flatten_params(model)
    # evaluation is deterministic (eval mode: dropout off) ...
    assert torch.equal(sim.correct(theta, np.arange(200)), sim.correct(theta, np.arange(200)))
    # ... and training after an evaluation runs in train mode: with dropout off (p=0) it differs
    trained, _ = sim.train_clients(theta.unsqueeze(0), [0], round_key=1)
    model_p0 = copy.deepcopy(model)
    model_p0[3].p = 0.0
    no_drop, _ = Simulator(model_p0, digits, lr=0.1, batch_size=16, progress=False).train_clients(theta.unsqueeze(0), [0], round_key=1)
    assert (trained - no_drop).abs().max() > 1e-4


def test_dropout_model_rejects_vectorized_true(digits):
    with pytest.raises(ValueError, match=r"vectorized=True needs a deterministic model.*Dropout"):
        Simulator(_dropout_mlp(), digits, vectorized=True)


class _ModeProbe(nn.Module):
    """Identity that records ``self.training`` at every forward call."""

    def __init__(self):
        super().__init__()
        self.modes: list[bool] = []

    def forward(self, x):
        self.modes.append(self.training)
        return x


@pytest.mark.parametrize("vectorized", [True, False])
def test_train_and_eval_modes_on_both_paths(digits, vectorized):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), _ModeProbe(), nn.ReLU(), nn.Linear(16, 10))
    sim = Simulator(model, digits, vectorized=vectorized, batch_size=32, progress=False)
    probe = sim._work[2]
    theta = flatten_params(model)
    sim.local_accuracy(theta, [0, 1])  # leaves the working model in eval mode
    assert probe.modes and not any(probe.modes)
    probe.modes.clear()
    sim.train_clients(theta.expand(2, -1).contiguous(), [0, 1], round_key=1)
    assert probe.modes and all(probe.modes)
    probe.modes.clear()
    sim.local_accuracy_stacked(theta.expand(2, -1).contiguous(), [0, 1])
    assert probe.modes and not any(probe.modes)


def test_dropped_updates_are_logged(digits, caplog):
    sim = Simulator(MLP(64, 10, (16,)), digits, malicious_fraction=0.25, attack="nan", progress=False)
    bad = sorted(np.flatnonzero(sim.malicious).tolist())
    with caplog.at_level(logging.WARNING, logger="fedkit.simulate"):
        sim.run(FedAvg(), 2, participation=1.0)
    msgs = [r.getMessage() for r in caplog.records if r.name == "fedkit.simulate"]
    assert msgs == [f"round {t}: dropped the non-finite updates of clients {bad}" for t in (1, 2)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(malicious_fraction=1.5), r"malicious_fraction must be a finite number >= 0 and <= 1, got 1.5"),
        (dict(malicious_fraction=-0.1), r"malicious_fraction must be a finite number >= 0 and <= 1, got -0.1"),
        (dict(low_quality_fraction=2), r"low_quality_fraction must be a finite number >= 0 and <= 1, got 2"),
        (dict(low_quality_fraction=float("nan")), r"low_quality_fraction must be a finite number >= 0 and <= 1, got nan"),
        (dict(label_noise=1.2), r"label_noise must be a finite number >= 0 and <= 1, got 1.2"),
        (dict(noise_std=-1.0), r"noise_std must be a finite number >= 0, got -1.0"),
        (dict(noise_std=float("inf")), r"noise_std must be a finite number >= 0, got inf"),
        (dict(attack_scale=float("nan")), r"attack_scale must be a finite number, got nan"),
        (dict(attack_scale="10"), r"attack_scale must be a finite number, got '10'"),
    ],
)
def test_robustness_arguments_are_validated(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Simulator(MLP(64, 10), digits, **kwargs)


class _FunctionalDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 10)

    def forward(self, x):
        return self.lin(torch.nn.functional.dropout(x.flatten(1), 0.2, self.training))


def test_hidden_randomness_under_vmap_gives_clear_error(digits):
    sim = Simulator(_FunctionalDropout(), digits, progress=False)  # not detectable from its modules
    assert sim.vectorized is True
    theta = flatten_params(sim.model).unsqueeze(0)
    with pytest.raises(ValueError, match="random numbers in its forward pass.*vectorized=False"):
        sim.train_clients(theta, [0])
    loop = Simulator(_FunctionalDropout(), digits, vectorized=False, progress=False)
    assert torch.isfinite(loop.train_clients(theta, [0])[0]).all()
    again = Simulator(_FunctionalDropout(), digits, vectorized=False, progress=False)
    assert torch.equal(loop.train_clients(theta, [0])[0], again.train_clients(theta, [0])[0])  # seeded

"""Bad and edge-case input to fedkit: a valid result or a clear error naming the argument and value."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fedkit.aggregation import (
    combine_weights,
    fedavg_weights,
    ida_weights,
    intrac_weights,
    inverse_distance_weights,
    server_update,
)
from fedkit.datasets import FederatedDataset, federated_digits
from fedkit.models import MLP, LeNet
from fedkit.partition import ClientSplit, class_counts, dirichlet_partition, iid_partition, plot_partition
from fedkit.simulate import Simulator, simulate, vmap_pays_off
from fedkit.strategies import IDA, Clustered, FedAP, FedAvg

VALUES = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False, width=32),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, 3.4e38]),
)


@st.composite
def matrices(draw, max_m=5, max_p=6):
    m = draw(st.integers(1, max_m))
    p = draw(st.integers(1, max_p))
    vals = draw(st.lists(VALUES, min_size=m * p, max_size=m * p))
    return torch.tensor(vals, dtype=torch.float32).reshape(m, p)


# ----------------------------------------------------------------------------- aggregation rules


@settings(max_examples=200, deadline=None)
@given(matrices(), st.lists(st.one_of(st.floats(-1, 2), st.just(float("nan"))), min_size=1, max_size=5),
       st.sampled_from([1.0, 0.5, 0.0, -1.0, float("inf"), float("nan")]), st.booleans())
def test_server_update_valid_result_or_clear_error(params, raw_w, eta, normalise):
    m, p = params.shape
    theta = params.mean(0).nan_to_num(0.0, 0.0, 0.0)
    w = torch.tensor((raw_w * m)[:m], dtype=torch.float64)
    if normalise and bool(torch.isfinite(w).all()) and bool((w >= 0).all()) and float(w.sum()) > 0:
        w = w / w.sum()
    # independent oracle, in float64
    problems = []
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        problems.append("weights must be finite and non-negative")
    elif abs(float(w.sum()) - 1) > 1e-6 + m * torch.finfo(torch.float64).eps:
        problems.append("weights must sum to 1")
    if not (math.isfinite(eta) and eta > 0):
        problems.append("eta must be a finite number > 0")
    ref = theta.double() + eta * (w[:, None] * (params.double() - theta.double())).sum(0) if not problems else None
    bad_rows = (~torch.isfinite(params).all(1)).nonzero().flatten().tolist()
    if bad_rows:
        problems.append("client_params contains non-finite values")
    if not problems and not bool(torch.isfinite(ref.float()).all()):
        problems.append("overflows")
    if problems:
        with pytest.raises(ValueError, match="|".join(problems)):
            server_update(theta, params, w, eta=eta)
    else:
        out = server_update(theta, params, w, eta=eta)
        assert bool(torch.isfinite(out).all())
        torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-3 * (1 + float(ref.abs().max())))


@settings(max_examples=150, deadline=None)
@given(matrices(), st.sampled_from(["ida", "idw", "fedavg", "intrac", "combine"]))
def test_weight_rules_valid_result_or_clear_error(params, rule):
    m = params.shape[0]
    row = params[:, 0].double()
    try:
        if rule == "ida":
            w = ida_weights(params)
        elif rule == "idw":
            w = inverse_distance_weights(params, params[0].nan_to_num(0.0, 0.0, 0.0), metric="sqeuclidean")
        elif rule == "fedavg":
            w = fedavg_weights(row)
        elif rule == "intrac":
            w = intrac_weights(row)
        else:
            w = combine_weights(row, torch.ones(m))
    except ValueError as err:  # the clear error: names the input that is wrong
        msg = str(err)
        assert any(k in msg for k in ("client_params", "num_samples", "train_accuracy", "weights[", "product of weights",
                                      "inverse distances", "reference"))
        finite = bool(torch.isfinite(params).all()) if rule in ("ida", "idw") else bool(torch.isfinite(row).all())
        if rule in ("ida", "idw") and finite:
            assert "inverse distances" in msg  # every distance overflowed: nothing to weigh
        return
    assert w.shape == (m,) and bool(torch.isfinite(w).all()) and bool((w >= 0).all())
    assert abs(float(w.sum()) - 1) < 1e-5
    if rule in ("fedavg", "intrac", "combine"):
        assert bool(torch.isfinite(row).all())  # a non-finite input never gives weights


def test_server_update_regressions():
    theta = torch.zeros(2)
    clients = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match=r"weights must sum to 1 \(tolerance 1e-06\), got sum 2\.0"):
        server_update(theta, clients, torch.tensor([1.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="non-negative"):
        server_update(theta, clients, torch.tensor([1.5, -0.5]))
    # within the stated tolerance: accepted
    server_update(theta, clients, torch.tensor([0.5, 0.5 + 1e-7]))
    with pytest.raises(ValueError, match="eta must be a finite number > 0, got inf"):
        server_update(theta, clients, torch.tensor([0.5, 0.5]), eta=float("inf"))
    with pytest.raises(ValueError, match="theta contains non-finite"):
        server_update(torch.tensor([float("nan"), 0.0]), clients, torch.tensor([0.5, 0.5]))
    bad = clients.clone()
    bad[1, 0] = float("nan")
    for w in ([0.5, 0.5], [1.0, 0.0]):  # also a NaN row with weight 0
        with pytest.raises(ValueError, match=r"non-finite values \(NaN/inf\) in rows \[1\]"):
            server_update(theta, bad, torch.tensor(w))
    with pytest.raises(ValueError, match="overflows"):
        server_update(torch.zeros(1), torch.tensor([[3e38], [3e38]]), torch.tensor([0.5, 0.5]), eta=2.0)


# ----------------------------------------------------------------------------- data sets


def _tiny(clients):
    return FederatedDataset(x=torch.zeros(6, 2), y=torch.tensor([0, 1, 0, 1, 0, 1]), clients=clients, num_classes=2)


def test_client_split_rejects_negative_and_shared_indices():
    with pytest.raises(ValueError, match=r"ClientSplit.train indices must be non-negative, got -1"):
        ClientSplit(train=np.array([0, -1]), test=np.array([2]))
    with pytest.raises(ValueError, match=r"train and test share 1 index\(es\), e\.g\. \[2\]"):
        ClientSplit(train=np.array([0, 2]), test=np.array([2, 3]))
    with pytest.raises(ValueError, match="whole-number indices"):
        ClientSplit(train=np.array([0.5]), test=np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="1-D index array"):
        ClientSplit(train=np.zeros((2, 2), dtype=np.int64), test=np.array([1]))
    c = ClientSplit(train=[0, 1], test=torch.tensor([2]))
    assert c.train.dtype == np.int64 and c.test.tolist() == [2]


def test_dataset_rejects_overlap_across_clients_out_of_range_and_bad_labels():
    a = ClientSplit(train=np.array([0, 1]), test=np.array([2]))
    b = ClientSplit(train=np.array([2, 3]), test=np.array([4]))  # 2 is a's test sample
    with pytest.raises(ValueError, match=r"1 sample\(s\) are in a training split and in a test split, e\.g\. indices \[2\]"):
        _tiny([a, b])
    with pytest.raises(ValueError, match=r"client 0 has index 9, outside \[0, 5\]"):
        _tiny([ClientSplit(train=np.array([0, 9]), test=np.array([1]))])
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 1\].*\[0, 3\]"):
        FederatedDataset(x=torch.zeros(2, 1), y=torch.tensor([0, 3]), clients=[ClientSplit(np.array([0]), np.array([1]))],
                         num_classes=2)
    with pytest.raises(ValueError, match="y must be a 1-D integer tensor"):
        FederatedDataset(x=torch.zeros(2, 1), y=torch.tensor([0.0, 1.0]), clients=[ClientSplit(np.array([0]), np.array([1]))],
                         num_classes=2)


def test_dataset_repr_is_short():
    data = federated_digits("iid", num_clients=3, seed=0)
    text = repr(data)
    assert len(text) < 200, text
    assert text.startswith("FederatedDataset(name='digits-iid', samples=1797, x=[1, 8, 8] float32, num_classes=10, clients=3")


def test_plot_partition_and_class_counts_accept_a_dataset(tmp_path):
    data = federated_digits("ncc", num_clients=4, ncc=2, seed=0)
    np.testing.assert_array_equal(class_counts(data), class_counts(data.clients, data.y, 10))
    fig = plot_partition(data, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert fig.axes[0].images[0].get_array().shape == (4, 10)
    with pytest.raises(ValueError, match="labels is a FederatedDataset: pass it alone"):
        plot_partition(data.clients, data)


# ----------------------------------------------------------------------------- hyperparameters


@pytest.fixture(scope="module")
def digits():
    return federated_digits("iid", num_clients=4, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=float("inf")), "lr must be a finite number > 0, got inf"),
        (dict(lr=float("nan")), "lr must be a finite number > 0, got nan"),
        (dict(lr=0.0), "lr must be a finite number > 0, got 0.0"),
        (dict(lr=-0.1), "lr must be a finite number > 0, got -0.1"),
        (dict(momentum=float("nan")), "momentum must be a finite number >= 0, got nan"),
        (dict(weight_decay=float("inf")), "weight_decay must be a finite number >= 0, got inf"),
        (dict(max_parallel=0), "max_parallel must be a positive int, got 0"),
        (dict(skip_failed_rounds="yes"), "skip_failed_rounds must be a bool"),
    ],
)
def test_simulator_hyperparameters_named(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Simulator(MLP(64, 10, (8,)), digits, progress=False, **kwargs)


def test_simulator_rejects_a_non_dataset():
    with pytest.raises(ValueError, match="data must be a FederatedDataset, got tuple"):
        Simulator(MLP(64, 10, (8,)), (torch.zeros(2), torch.zeros(2)), progress=False)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FedAP(10, eta_initial=float("inf")), "eta_initial must be a finite number > 0, got inf"),
        (lambda: FedAP(10, eta_final=float("nan")), "eta_final must be a finite number > 0, got nan"),
        (lambda: IDA(eps=float("inf")), "eps must be a finite number > 0, got inf"),
        (lambda: IDA(intrac_floor=float("nan")), "intrac_floor must be a finite number > 0, got nan"),
        (lambda: Clustered(FedAvg(), distance_threshold=float("nan")), "distance_threshold must be a finite number > 0"),
        (lambda: dirichlet_partition(np.arange(20) % 2, 2, float("inf")), "alpha must be a finite number > 0, got inf"),
        (lambda: iid_partition(np.arange(20) % 2, 2, test_fraction=float("nan")), "test_fraction must be a finite number"),
    ],
)
def test_strategy_and_partition_hyperparameters_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------------------- all updates non-finite


def test_round_where_every_client_fails_raises(digits):
    with pytest.raises(RuntimeError, match=r"round 1: every participating client \(4: \[0, 1, 2, 3\]\) sent a non-finite"):
        simulate(MLP(64, 10, (8,)), digits, FedAvg(), 2, malicious_fraction=1.0, attack="nan", progress=False)


def test_failed_rounds_can_be_skipped_and_counted(digits):
    torch.manual_seed(0)
    model = MLP(64, 10, (8,))
    res = simulate(model, digits, FedAvg(), 3, malicious_fraction=1.0, attack="inf", progress=False,
                   skip_failed_rounds=True)
    assert res.failed_rounds == [1, 2, 3] and res.dropped_total == 12
    assert torch.equal(res.theta, torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    assert res.to_dict()["failed_rounds"] == [1, 2, 3]


def test_lr_so_large_that_training_diverges_is_reported(digits):
    with pytest.raises(RuntimeError, match=r"lr=1e\+30 may be too large"):
        simulate(MLP(64, 10, (8,)), digits, FedAvg(), 1, lr=1e30, progress=False)


# ----------------------------------------------------------------------------- vmap rule


def test_vmap_rule_is_deterministic_and_follows_the_model(digits):
    assert vmap_pays_off(MLP(64, 10), digits, 32)  # no convolution: vmap
    big = digits  # ~360 training samples per client: full batches of 32
    assert not vmap_pays_off(LeNet(1, 10, 8), big, 32)
    assert vmap_pays_off(LeNet(1, 10, 8), big, 8)  # small batches: vmap
    small = federated_digits("iid", num_clients=300, seed=0)  # ~5 training samples per client
    assert vmap_pays_off(LeNet(1, 10, 8), small, 32)
    assert Simulator(LeNet(1, 10, 8), big, progress=False).vectorized is False
    assert Simulator(LeNet(1, 10, 8), small, progress=False).vectorized is True


def test_ida_weights_of_rows_whose_sum_overflows():
    # the float32 mean of [3.4e38, 3.4e38] overflows; the rows are finite and identical
    torch.testing.assert_close(ida_weights(torch.tensor([[3.4e38], [3.4e38]])), torch.tensor([0.5, 0.5]))

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from fedkit.aggregation import (
    combine_weights,
    fedavg_weights,
    flatten_params,
    ida_weights,
    intrac_weights,
    inverse_distance_weights,
    mean_weights,
    server_update,
    unflatten_params,
)


def test_fedavg_weights_hand_values():
    w = fedavg_weights([1, 3])
    assert torch.allclose(w, torch.tensor([0.25, 0.75]))
    with pytest.raises(ValueError, match="num_samples must be non-negative"):
        fedavg_weights([1, -1])
    with pytest.raises(ValueError, match="num_samples"):
        fedavg_weights([0, 0])


def test_mean_weights():
    assert torch.allclose(mean_weights(4), torch.full((4,), 0.25))
    with pytest.raises(ValueError, match="m must be a positive int"):
        mean_weights(0)


def test_ida_hand_computed():
    # mean = 2; L1 distances 2, 1, 3 -> inverse 1/2, 1, 1/3 -> normalised by 11/6
    p = torch.tensor([[0.0], [1.0], [5.0]], dtype=torch.float64)
    w = ida_weights(p, eps=1e-12)
    expected = torch.tensor([0.5, 1.0, 1.0 / 3.0], dtype=torch.float64) / (11.0 / 6.0)
    assert torch.allclose(w, expected)
    assert w.sum().item() == pytest.approx(1.0)


def test_ida_client_equal_to_mean_gets_largest_weight():
    p = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    w = ida_weights(p)
    assert int(w.argmax()) == 1
    assert w[1] > 0.999
    assert torch.isfinite(w).all()
    assert w.sum().item() == pytest.approx(1.0)


def test_eps_prevents_division_by_zero():
    p = torch.ones(3, 5)  # every client equals the mean: all distances 0
    w = ida_weights(p)
    assert torch.allclose(w, torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        ida_weights(p, eps=0.0)


def test_ida_is_inverse_distance_to_mean():
    torch.manual_seed(0)
    p = torch.randn(5, 7)
    assert torch.allclose(ida_weights(p, eps=1e-6), inverse_distance_weights(p, p.mean(0), metric="l1", eps=1e-6))


def test_inverse_distance_sqeuclidean_hand_values():
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    ref = torch.zeros(2)
    # squared distances 1 and 4 -> inverse 1, 1/4 -> [0.8, 0.2]
    w = inverse_distance_weights(p, ref, metric="sqeuclidean", eps=1e-12)
    assert torch.allclose(w, torch.tensor([0.8, 0.2]))
    with pytest.raises(ValueError, match="metric must be one of"):
        inverse_distance_weights(p, ref, metric="cosine")
    with pytest.raises(ValueError, match="reference must have shape"):
        inverse_distance_weights(p, torch.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        inverse_distance_weights(torch.tensor([[float("nan"), 0.0]]), ref)


def test_intrac_default_floor_is_one_over_m():
    # M = 3 -> floor 1/3: max(1/3, acc) = [1/3, 1/2, 1] -> inverse [3, 2, 1] / 6
    w = intrac_weights([0.1, 0.5, 1.0])
    assert torch.allclose(w, torch.tensor([3.0, 2.0, 1.0]) / 6.0)
    w = intrac_weights([0.1, 0.5, 1.0], floor=0.05)
    assert torch.allclose(w, torch.tensor([10.0, 2.0, 1.0]) / 13.0)
    with pytest.raises(ValueError, match="train_accuracy must lie in"):
        intrac_weights([1.5])
    with pytest.raises(ValueError, match="floor must be a finite number > 0"):
        intrac_weights([0.5], floor=0.0)


def test_combine_weights_product_renormalised():
    w = combine_weights([1, 2, 3], [3, 2, 1])
    assert torch.allclose(w, torch.tensor([3.0, 4.0, 3.0]) / 10.0)
    with pytest.raises(ValueError, match="has length"):
        combine_weights([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least one"):
        combine_weights()


def test_server_update_hand_values():
    theta = torch.zeros(2)
    clients = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = fedavg_weights([1, 3])
    # eta = 1: weighted average
    assert torch.allclose(server_update(theta, clients, w), torch.tensor([2.5, 3.5]))
    # eta = 0.5 from theta = [1, 1]: 1 + 0.5 * (0.25 * [0, 1] + 0.75 * [2, 3]) = [1.75, 2.25]
    t1 = torch.ones(2)
    out = server_update(t1, clients, w, eta=0.5)
    assert torch.allclose(out, torch.tensor([1.75, 2.25]))
    assert torch.equal(t1, torch.ones(2))  # input untouched
    with pytest.raises(ValueError, match="theta must have shape"):
        server_update(torch.zeros(3), clients, w)
    with pytest.raises(ValueError, match="weights must have shape"):
        server_update(theta, clients, torch.ones(3) / 3)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 10_000))
def test_weights_sum_to_one(m, p, seed):
    g = torch.Generator().manual_seed(seed)
    params = torch.randn(m, p, generator=g, dtype=torch.float64)
    acc = torch.rand(m, generator=g, dtype=torch.float64)
    n = torch.randint(1, 100, (m,), generator=g)
    for w in (ida_weights(params), intrac_weights(acc), fedavg_weights(n), combine_weights(ida_weights(params), fedavg_weights(n))):
        assert w.shape == (m,)
        assert (w >= 0).all()
        assert w.sum().item() == pytest.approx(1.0)


def test_flatten_unflatten_roundtrip_with_batchnorm():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(torch.randn(8, 3))  # update running stats
    vec = flatten_params(model)
    # 3*4 + 4 weights/bias + 4 + 4 affine + 4 + 4 running stats; num_batches_tracked excluded
    assert vec.shape == (12 + 4 + 4 + 4 + 4 + 4,)
    state = unflatten_params(vec * 2, model)
    assert set(state) == set(model.state_dict())
    assert state["1.num_batches_tracked"].item() == 1
    assert torch.allclose(state["1.running_var"], 2 * model.state_dict()["1.running_var"])
    model.load_state_dict(state)
    assert torch.allclose(flatten_params(model), vec * 2)
    only = flatten_params(model, buffers=False)
    assert only.shape == (12 + 4 + 4 + 4,)
    st2 = unflatten_params(torch.zeros_like(only), model, buffers=False)
    assert torch.equal(st2["1.running_mean"], model.state_dict()["1.running_mean"])  # buffers kept
    assert torch.count_nonzero(st2["0.weight"]) == 0
    with pytest.raises(ValueError, match="vector has 3 entries"):
        unflatten_params(torch.zeros(3), model)


def test_flatten_state_dict_keeps_grad():
    w = torch.randn(2, 2, requires_grad=True)
    v = flatten_params({"w": w, "n": torch.tensor(3)})
    assert v.shape == (4,) and v.requires_grad
    with pytest.raises(TypeError, match="module_or_state"):
        flatten_params([w])


def test_finite_check_is_exact_when_a_sum_overflows():
    # rows of finite float32 values whose sum overflows to inf are still accepted ...
    big = torch.full((2, 4), 1.0e38)  # row sums overflow float32, column means do not
    w = ida_weights(big)
    torch.testing.assert_close(w, torch.tensor([0.5, 0.5]))
    # ... while a single NaN or inf entry is still rejected
    for bad in (float("nan"), float("inf")):
        p = torch.zeros(3, 5)
        p[1, 2] = bad
        with pytest.raises(ValueError, match="client_params contains non-finite values"):
            ida_weights(p)

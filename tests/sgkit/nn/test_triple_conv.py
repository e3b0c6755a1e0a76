"""Tests for sgkit.nn.triple_conv (SG2Im triplet graph convolution)."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from sgkit.data import EDGE, NODE, from_triplets
from sgkit.nn import TripleConv, TripleGCN


def _mlp_loop(lins: list[tuple[torch.Tensor, torch.Tensor]], v: list[float]) -> list[float]:
    """Plain-Python MLP with ReLU after every layer (SG2Im's final_nonlinearity=True)."""
    for weight, bias in lins:
        out = []
        for r in range(weight.shape[0]):
            acc = float(bias[r])
            for c in range(weight.shape[1]):
                acc += float(weight[r, c]) * v[c]
            out.append(max(acc, 0.0))
        v = out
    return v


def _weights(mlp: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(lin.weight.detach(), lin.bias.detach()) for lin in mlp.lins]


def _loop_reference(
    conv: TripleConv, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Independent per-triplet loop of the SG2Im equations, in float64 Python arithmetic."""
    H, D = conv.hidden_channels, conv.out_channels
    t_w, n_w = _weights(conv.triple_mlp), _weights(conv.node_mlp)
    n = x.shape[0]
    sums = [[0.0] * H for _ in range(n)]
    counts = [0] * n
    new_p = []
    for e in range(edge_index.shape[1]):
        s, o = int(edge_index[0, e]), int(edge_index[1, e])
        t = x[s].tolist() + edge_attr[e].tolist() + x[o].tolist()
        out = _mlp_loop(t_w, t)
        s_vec, p_vec, o_vec = out[:H], out[H : H + D], out[H + D :]
        new_p.append(p_vec)
        for node, vec in ((s, s_vec), (o, o_vec)):
            counts[node] += 1
            for c in range(H):
                sums[node][c] += vec[c]
    new_x = []
    for i in range(n):
        div = max(counts[i], 1) if conv.pooling == "avg" else 1
        new_x.append(_mlp_loop(n_w, [v / div for v in sums[i]]))
    p = torch.tensor(new_p, dtype=torch.float64).reshape(-1, D)
    return torch.tensor(new_x, dtype=torch.float64), p


def _random_graph(n: int, e: int, cin: int, ce: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cin, generator=g, dtype=torch.float64)
    # node n-1 is isolated; repeated pairs and self loops are allowed
    edge_index = torch.randint(0, n - 1, (2, e), generator=g)
    edge_attr = torch.randn(e, ce, generator=g, dtype=torch.float64)
    return x, edge_index, edge_attr


@pytest.mark.parametrize("pooling", ["avg", "sum"])
def test_triple_conv_matches_loop_reference(pooling: str) -> None:
    torch.manual_seed(0)
    conv = TripleConv(5, 3, 4, hidden_channels=7, pooling=pooling).double()
    x, edge_index, edge_attr = _random_graph(9, 14, 5, 3, seed=1)
    edge_index[:, 0] = torch.tensor([2, 2])  # a self loop
    edge_index[:, 1] = edge_index[:, 2]  # a repeated pair
    new_x, new_p = conv(x, edge_index, edge_attr)
    ref_x, ref_p = _loop_reference(conv, x, edge_index, edge_attr)
    assert new_x.shape == (9, 4) and new_p.shape == (14, 4)
    torch.testing.assert_close(new_x, ref_x, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(new_p, ref_p, rtol=1e-10, atol=1e-10)
    # the isolated node gets node_mlp(0), independent of its input
    zero_out = conv.node_mlp(torch.zeros(1, 7, dtype=torch.float64))[0]
    torch.testing.assert_close(new_x[8], zero_out)
    x2 = x.clone()
    x2[8] += 10.0
    torch.testing.assert_close(conv(x2, edge_index, edge_attr)[0][8], zero_out)


def test_sum_pooling_differs_from_avg_on_shared_nodes() -> None:
    torch.manual_seed(0)
    avg = TripleConv(4, 2, 3, hidden_channels=6, pooling="avg").double()
    sm = TripleConv(4, 2, 3, hidden_channels=6, pooling="sum").double()
    sm.load_state_dict(avg.state_dict())
    x, ei, ea = _random_graph(6, 10, 4, 2, seed=3)
    # predicate outputs do not depend on pooling, node outputs do
    torch.testing.assert_close(avg(x, ei, ea)[1], sm(x, ei, ea)[1])
    assert not torch.allclose(avg(x, ei, ea)[0], sm(x, ei, ea)[0])


def test_triple_conv_batched_equals_per_graph() -> None:
    torch.manual_seed(0)
    conv = TripleConv(6, 4, 5, hidden_channels=8)
    graphs = []
    g = torch.Generator().manual_seed(2)
    for n in (3, 1, 7, 4):
        e = int(torch.randint(0, 2 * n, (1,), generator=g))
        trip = [
            (int(torch.randint(0, n, (1,), generator=g)), 0, int(torch.randint(0, n, (1,), generator=g)))
            for _ in range(e)
        ]
        data = from_triplets([0] * n, trip)
        data[NODE].x = torch.randn(n, 6, generator=g)
        data[EDGE].edge_attr = torch.randn(e, 4, generator=g)
        graphs.append(data)
    batch = Batch.from_data_list(graphs)
    bx, bp = conv(batch[NODE].x, batch[EDGE].edge_index, batch[EDGE].edge_attr)
    xs, ps = [], []
    for data in graphs:
        x, p = conv(data[NODE].x, data[EDGE].edge_index, data[EDGE].edge_attr)
        xs.append(x)
        ps.append(p)
    torch.testing.assert_close(bx, torch.cat(xs), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bp, torch.cat(ps), rtol=1e-5, atol=1e-6)


def test_triple_conv_gradients_flow() -> None:
    torch.manual_seed(0)
    conv = TripleConv(4, 3, 5, hidden_channels=8)
    x = torch.randn(6, 4, requires_grad=True)
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    ea = torch.randn(4, 3, requires_grad=True)
    new_x, new_p = conv(x, ei, ea)
    (new_x.sum() + new_p.sum()).backward()
    assert x.grad is not None and x.grad[:5].abs().sum() > 0
    assert float(x.grad[5].abs().sum()) == 0.0  # node 5 is isolated
    assert ea.grad is not None and ea.grad.abs().sum() > 0
    for name, param in conv.named_parameters():
        assert param.grad is not None, name


def test_triple_conv_empty_graph_and_no_edges() -> None:
    conv = TripleConv(3, 2, 4, hidden_channels=5)
    x = torch.randn(3, 3)
    new_x, new_p = conv(x, torch.empty(2, 0, dtype=torch.long), torch.empty(0, 2))
    assert new_x.shape == (3, 4) and new_p.shape == (0, 4)
    expected = conv.node_mlp(torch.zeros(1, 5)).expand(3, 4)
    torch.testing.assert_close(new_x, expected)


def test_triple_conv_repr_and_validation() -> None:
    conv = TripleConv(16, 8, 32, hidden_channels=64, pooling="sum")
    assert repr(conv) == "TripleConv(16, 8, 32, hidden_channels=64, pooling='sum')"
    with pytest.raises(ValueError, match="pooling"):
        TripleConv(4, 4, 4, pooling="max")
    with pytest.raises(ValueError, match="in_channels"):
        TripleConv(0, 4, 4)
    with pytest.raises(ValueError, match="norm"):
        TripleConv(4, 4, 4, norm="layer")
    conv = TripleConv(4, 2, 3, hidden_channels=5)
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="edge_index"):
        conv(x, torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2))  # [E, 2] by mistake
    with pytest.raises(ValueError, match="edge_attr"):
        conv(x, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="x must"):
        conv(torch.randn(3, 5), torch.zeros(2, 1, dtype=torch.long), torch.zeros(1, 2))


def test_triple_conv_batch_norm_option_trains() -> None:
    torch.manual_seed(0)
    conv = TripleConv(4, 2, 3, hidden_channels=6, norm="batch", dropout=0.1)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in conv.modules()) == 4
    x, ei, ea = _random_graph(8, 12, 4, 2, seed=5)
    new_x, _ = conv(x.float(), ei, ea.float())
    assert torch.isfinite(new_x).all()


def test_triple_gcn_stacks_layers() -> None:
    torch.manual_seed(0)
    gcn = TripleGCN(6, 3, 10, num_layers=3, out_channels=4, mlp_channels=12)
    assert repr(gcn) == "TripleGCN(6, 3, 10, num_layers=3, out_channels=4)"
    dims = [(c.in_channels, c.edge_channels, c.out_channels, c.hidden_channels) for c in gcn.convs]
    assert dims == [(6, 3, 10, 12), (10, 10, 10, 12), (10, 10, 4, 12)]
    x, ei, ea = _random_graph(7, 9, 6, 3, seed=4)
    x, ea = x.float(), ea.float()
    out_x, out_p = gcn(x, ei, ea)
    ref_x, ref_p = x, ea
    for conv in gcn.convs:
        ref_x, ref_p = conv(ref_x, ei, ref_p)
    torch.testing.assert_close(out_x, ref_x)
    torch.testing.assert_close(out_p, ref_p)
    assert out_x.shape == (7, 4) and out_p.shape == (9, 4)
    single = TripleGCN(6, 3, 10, num_layers=1)
    assert single.convs[0].out_channels == 10
    with pytest.raises(ValueError, match="num_layers"):
        TripleGCN(6, 3, 10, num_layers=0)


@pytest.mark.parametrize("bad", [4, 7, -1])
def test_edge_index_out_of_range_is_rejected_at_the_boundary(bad: int) -> None:
    from sgkit.nn import check_edge_index

    gcn = TripleGCN(3, 2, 5, num_layers=2, mlp_channels=8)
    x = torch.randn(4, 3)
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    edge_index[1, 2] = bad
    edge_attr = torch.randn(3, 2)
    with pytest.raises(ValueError, match=rf"edge_index values must lie in \[0, 4\).*node index {bad}"):
        check_edge_index(edge_index, x.size(0))
    # the largest valid index still works
    edge_index[1, 2] = 3
    assert gcn(x, edge_index, edge_attr)[0].shape == (4, 5)

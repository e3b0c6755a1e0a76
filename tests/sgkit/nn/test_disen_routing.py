"""Tests for sgkit.nn.disen_routing (DisenGCN routing with predicates, DSGN)."""
from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch

from sgkit.data import EDGE, NODE, from_triplets
from sgkit.nn import DSGN, DisenRouting


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(a * a for a in v))
    return [a / max(n, 1e-12) for a in v]


def _loop_routing(layer: DisenRouting, x, edge_index, edge_attr=None) -> torch.Tensor:
    """Per-node, per-factor loop of DisenGCN Algorithm 1 with predicate-shifted neighbours."""
    K = layer.num_factors
    d = layer.channels // K
    n = x.shape[0]
    wf = layer.lin_forward.weight.detach() if layer.lin_forward is not None else None
    wb = layer.lin_backward.weight.detach() if layer.lin_backward is not None else None

    def shift(vec, w, e):
        if w is None or edge_attr is None:
            return list(vec)
        r = (w @ edge_attr[e]).tolist()
        return [a + b for a, b in zip(vec, r)]

    incoming: list[list[list[float]]] = [[] for _ in range(n)]
    for e in range(edge_index.shape[1]):
        s, o = int(edge_index[0, e]), int(edge_index[1, e])
        incoming[o].append(shift(x[s].tolist(), wf, e))
        if layer.bidirectional:
            incoming[s].append(shift(x[o].tolist(), wb, e))
    out = []
    for i in range(n):
        z = [_unit(x[i].tolist()[k * d : (k + 1) * d]) for k in range(K)]
        nbrs = [[_unit(v[k * d : (k + 1) * d]) for k in range(K)] for v in incoming[i]]
        c = [list(zk) for zk in z]
        for _ in range(layer.num_iterations):
            new_c = [list(zk) for zk in z]
            for nb in nbrs:
                logits = [sum(a * b for a, b in zip(nb[k], c[k])) / layer.tau for k in range(K)]
                mx = max(logits)
                ex = [math.exp(v - mx) for v in logits]
                p = [v / sum(ex) for v in ex]
                for k in range(K):
                    for j in range(d):
                        new_c[k][j] += p[k] * nb[k][j]
            c = [_unit(ck) for ck in new_c]
        out.append([v for ck in c for v in ck])
    return torch.tensor(out, dtype=torch.float64)


def _graph(n: int, e: int, c: int, ce: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=torch.float64)
    ei = torch.randint(0, n - 1, (2, e), generator=g)  # node n-1 isolated
    ea = torch.randn(e, ce, generator=g, dtype=torch.float64)
    return x, ei, ea


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("with_edges", [True, False])
def test_routing_matches_loop_reference(bidirectional: bool, with_edges: bool) -> None:
    torch.manual_seed(0)
    layer = DisenRouting(
        12, 3, num_iterations=4, tau=0.7, edge_channels=5 if with_edges else None,
        bidirectional=bidirectional,
    ).double()
    x, ei, ea = _graph(8, 13, 12, 5, seed=1)
    ea_in = ea if with_edges else None
    out = layer(x, ei, ea_in)
    torch.testing.assert_close(out, _loop_routing(layer, x, ei, ea_in), rtol=1e-9, atol=1e-9)
    # every factor has unit norm; the isolated node returns its normalised input
    norms = out.view(8, 3, 4).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones(8, 3, dtype=torch.float64))
    torch.testing.assert_close(out[7].view(3, 4), torch.nn.functional.normalize(x[7].view(3, 4), dim=-1))


def test_predicates_change_the_routing() -> None:
    torch.manual_seed(0)
    layer = DisenRouting(8, 2, num_iterations=3, edge_channels=3).double()
    x, ei, ea = _graph(6, 8, 8, 3, seed=2)
    assert not torch.allclose(layer(x, ei, ea), layer(x, ei, ea * -1.0))


def test_routing_permutation_equivariant_and_batched() -> None:
    torch.manual_seed(0)
    layer = DisenRouting(8, 4, num_iterations=5, edge_channels=2)
    graphs = []
    g = torch.Generator().manual_seed(3)
    for n, e in ((4, 5), (2, 0), (6, 9)):
        trip = torch.stack(
            [torch.randint(0, n, (e,), generator=g), torch.zeros(e, dtype=torch.long),
             torch.randint(0, n, (e,), generator=g)], dim=1
        )
        data = from_triplets([0] * n, trip)
        data[NODE].x = torch.randn(n, 8, generator=g)
        data[EDGE].edge_attr = torch.randn(e, 2, generator=g)
        graphs.append(data)
    batch = Batch.from_data_list(graphs)
    out = layer(batch[NODE].x, batch[EDGE].edge_index, batch[EDGE].edge_attr)
    per_graph = [layer(d[NODE].x, d[EDGE].edge_index, d[EDGE].edge_attr) for d in graphs]
    torch.testing.assert_close(out, torch.cat(per_graph), rtol=1e-5, atol=1e-6)
    # relabel nodes of the first graph
    d = graphs[2]
    perm = torch.randperm(6, generator=g)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(6)
    out_p = layer(d[NODE].x[perm], inv[d[EDGE].edge_index], d[EDGE].edge_attr)
    torch.testing.assert_close(out_p, per_graph[2][perm], rtol=1e-5, atol=1e-6)


def test_routing_gradients_repr_and_validation() -> None:
    layer = DisenRouting(6, 3, num_iterations=2, edge_channels=4)
    assert repr(layer) == "DisenRouting(6, num_factors=3, num_iterations=2, tau=1.0, edge_channels=4)"
    x = torch.randn(4, 6, requires_grad=True)
    ea = torch.randn(3, 4, requires_grad=True)
    ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
    (layer(x, ei, ea) * torch.randn(4, 6)).sum().backward()
    assert x.grad.abs().sum() > 0 and ea.grad.abs().sum() > 0
    assert layer.lin_forward.weight.grad.abs().sum() > 0
    assert layer.lin_backward.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="num_factors must divide"):
        DisenRouting(10, 3)
    with pytest.raises(ValueError, match="tau"):
        DisenRouting(6, 3, tau=0.0)
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        layer(x, ei.t().contiguous(), ea)  # the [E, 2] layout of the public fork
    with pytest.raises(ValueError, match="edge_attr"):
        layer(x, ei)
    with pytest.raises(ValueError, match="edge_attr was given"):
        DisenRouting(6, 3)(x, ei, ea)
    from sgkit.nn import check_edge_index

    with pytest.raises(ValueError, match="edge_index values"):
        check_edge_index(torch.tensor([[0], [4]]), x.size(0))


def test_dsgn_architecture_and_forward() -> None:
    torch.manual_seed(0)
    model = DSGN(20, 7, edge_channels=5, num_factors=4, factor_channels=3, num_layers=3,
                 num_iterations=2)
    assert repr(model) == (
        "DSGN(20, 7, edge_channels=5, num_factors=4, factor_channels=3, num_layers=3)"
    )
    assert len(model.convs) == 3 and model.convs[0].channels == 12
    default = DSGN(10, 8)
    assert default.convs[0].channels == 16 * 14 and len(default.convs) == 10
    assert default.convs[0].num_iterations == 12
    x, ei, ea = _graph(9, 12, 20, 5, seed=4)
    x, ea = x.float(), ea.float()
    out = model(x, ei, ea)
    assert out.shape == (9, 7)
    # training-mode BN: each output channel has (leaky-relu of) zero mean / unit variance input
    pre = model.norm(model.lin_out(_dsgn_hidden(model, x, ei, ea)))
    torch.testing.assert_close(pre.mean(0), torch.zeros(7), atol=1e-5, rtol=0)
    torch.testing.assert_close(out, torch.nn.functional.leaky_relu(pre))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def _dsgn_hidden(model: DSGN, x, ei, ea):
    h = torch.nn.functional.leaky_relu(model.lin_in(x))
    for conv in model.convs:
        h = conv(h, ei, ea)
    return h


def test_dsgn_sparse_input_and_eval_batching() -> None:
    torch.manual_seed(0)
    model = DSGN(15, 6, edge_channels=2, num_factors=2, factor_channels=4, num_layers=2,
                 num_iterations=3).eval()
    x, ei, ea = _graph(7, 9, 15, 2, seed=5)
    x = (x > 0.8).float()
    dense = model(x, ei, ea.float())
    sparse = model(x.to_sparse(), ei, ea.float())
    torch.testing.assert_close(dense, sparse, rtol=1e-5, atol=1e-6)
    # eval mode: two disjoint copies give the same rows as one
    ei2 = torch.cat([ei, ei + 7], dim=1)
    both = model(torch.cat([x, x]), ei2, torch.cat([ea, ea]).float())
    torch.testing.assert_close(both, torch.cat([dense, dense]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="x must"):
        model(torch.zeros(3, 14), ei, ea.float())

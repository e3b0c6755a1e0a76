"""SG2Im layers: PyG TripleConv vs a plain-torch (index_add) implementation; layouts vs loops.

Run with ``.venv/bin/python -m pytest benchmarks/test_sg2im_layers.py --benchmark -q``.
Contenders of one comparison share a ``group``; compare the ``mean`` columns.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

from sgkit.data import EDGE, NODE
from sgkit.datasets import vg_like_graphs
from sgkit.nn import TripleConv, boxes_to_grid, masks_to_layout

EMB = 128
HIDDEN = 512


class PlainTripleConv(torch.nn.Module):
    """The same maths as TripleConv written like the original SG2Im code (gather + index_add)."""

    def __init__(self, conv: TripleConv) -> None:
        super().__init__()
        cin, ce = conv.in_channels, conv.edge_channels
        cout, hid = conv.out_channels, conv.hidden_channels
        self.hid, self.cout = hid, cout
        self.net1 = torch.nn.Sequential(
            torch.nn.Linear(2 * cin + ce, hid), torch.nn.ReLU(),
            torch.nn.Linear(hid, 2 * hid + cout), torch.nn.ReLU(),
        )
        self.net2 = torch.nn.Sequential(
            torch.nn.Linear(hid, hid), torch.nn.ReLU(), torch.nn.Linear(hid, cout), torch.nn.ReLU()
        )
        with torch.no_grad():
            for plain, lin in zip([self.net1[0], self.net1[2]], conv.triple_mlp.lins):
                plain.weight.copy_(lin.weight)
                plain.bias.copy_(lin.bias)
            for plain, lin in zip([self.net2[0], self.net2[2]], conv.node_mlp.lins):
                plain.weight.copy_(lin.weight)
                plain.bias.copy_(lin.bias)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor):
        s_idx, o_idx = edge_index[0], edge_index[1]
        t = self.net1(torch.cat([x[s_idx], edge_attr, x[o_idx]], dim=1))
        new_s, new_p, new_o = t.split([self.hid, self.cout, self.hid], dim=1)
        pooled = x.new_zeros(x.size(0), self.hid)
        pooled = pooled.index_add(0, s_idx, new_s).index_add(0, o_idx, new_o)
        counts = x.new_zeros(x.size(0)).index_add(0, s_idx, x.new_ones(s_idx.numel()))
        counts = counts.index_add(0, o_idx, x.new_ones(o_idx.numel())).clamp(min=1)
        return self.net2(pooled / counts.view(-1, 1)), new_p


@pytest.fixture(scope="module")
def vg_batch():
    graphs = vg_like_graphs(128, seed=0)
    batch = Batch.from_data_list(graphs)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch[NODE].num_nodes, EMB, generator=g)
    edge_index = batch[EDGE].edge_index
    edge_attr = torch.randn(edge_index.size(1), EMB, generator=g)
    return x, edge_index, edge_attr


@pytest.fixture(scope="module")
def convs():
    torch.manual_seed(0)
    conv = TripleConv(EMB, EMB, EMB, hidden_channels=HIDDEN)
    return conv, PlainTripleConv(conv)


def _fwd_bwd(module, x, edge_index, edge_attr):
    def run():
        module.zero_grad(set_to_none=True)
        xr = x.clone().requires_grad_(True)
        out_x, out_p = module(xr, edge_index, edge_attr)
        (out_x.sum() + out_p.sum()).backward()
        return out_x.detach()

    return run


def test_triple_conv_outputs_agree(vg_batch, convs) -> None:
    conv, plain = convs
    a = conv(*vg_batch)
    b = plain(*vg_batch)
    torch.testing.assert_close(a[0], b[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a[1], b[1], rtol=1e-4, atol=1e-5)


def test_triple_conv_pyg(benchmark, vg_batch, convs) -> None:
    benchmark.group = "triple_conv fwd+bwd, 128 VG-like graphs"
    benchmark.pedantic(_fwd_bwd(convs[0], *vg_batch), rounds=15, warmup_rounds=2)


def test_triple_conv_plain_torch(benchmark, vg_batch, convs) -> None:
    benchmark.group = "triple_conv fwd+bwd, 128 VG-like graphs"
    benchmark.pedantic(_fwd_bwd(convs[1], *vg_batch), rounds=15, warmup_rounds=2)


NUM_IMAGES, LAYOUT_DIM, LAYOUT_SIZE, MASK = 32, 128, 64, 16


@pytest.fixture(scope="module")
def objects():
    graphs = vg_like_graphs(NUM_IMAGES, seed=1)
    batch = Batch.from_data_list(graphs)[NODE].batch
    O = batch.numel()
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(O, 2, generator=g) * 0.6
    boxes = torch.cat([xy, xy + 0.1 + torch.rand(O, 2, generator=g) * 0.3], dim=1)
    masks = torch.rand(O, MASK, MASK, generator=g)
    feats = torch.randn(O, LAYOUT_DIM, generator=g)
    return feats, boxes, masks, batch


def _loop_layout(feats, boxes, masks, batch):
    out = feats.new_zeros(NUM_IMAGES, LAYOUT_DIM, LAYOUT_SIZE, LAYOUT_SIZE)
    for o in range(feats.size(0)):
        grid = boxes_to_grid(boxes[o : o + 1], LAYOUT_SIZE)
        m = F.grid_sample(masks[o].view(1, 1, MASK, MASK), grid, align_corners=False)[0, 0]
        out[batch[o]] += feats[o].view(-1, 1, 1) * m
    return out


def _sg2im_style_layout(feats, boxes, masks, batch):
    """The original vectorisation: an [O, D, H, W] tensor, then a scatter-sum per image."""
    grid = boxes_to_grid(boxes, LAYOUT_SIZE)
    m = F.grid_sample(masks.unsqueeze(1), grid, align_corners=False)  # [O, 1, H, W]
    per_obj = feats.view(*feats.shape, 1, 1) * m
    out = feats.new_zeros(NUM_IMAGES, LAYOUT_DIM, LAYOUT_SIZE, LAYOUT_SIZE)
    return out.index_add(0, batch, per_obj)


def test_layouts_agree(objects) -> None:
    ours = masks_to_layout(*objects[:3], objects[3], NUM_IMAGES, LAYOUT_SIZE)
    torch.testing.assert_close(ours, _loop_layout(*objects), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours, _sg2im_style_layout(*objects), rtol=1e-4, atol=1e-4)


def test_layout_batched(benchmark, objects) -> None:
    benchmark.group = "masks_to_layout, 32 images, 64x64x128"
    feats, boxes, masks, batch = objects
    benchmark.pedantic(
        lambda: masks_to_layout(feats, boxes, masks, batch, NUM_IMAGES, LAYOUT_SIZE),
        rounds=10, warmup_rounds=1,
    )


def test_layout_sg2im_style(benchmark, objects) -> None:
    benchmark.group = "masks_to_layout, 32 images, 64x64x128"
    benchmark.pedantic(lambda: _sg2im_style_layout(*objects), rounds=10, warmup_rounds=1)


def test_layout_per_object_loop(benchmark, objects) -> None:
    benchmark.group = "masks_to_layout, 32 images, 64x64x128"
    benchmark.pedantic(lambda: _loop_layout(*objects), rounds=3, warmup_rounds=1)

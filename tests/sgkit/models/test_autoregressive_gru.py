"""The packed GRU of the autoregressive models against torch.nn.GRU on padded sequences."""
from __future__ import annotations

import torch
from torch import nn

from sgkit.models.autoregressive_gru import PackedLayout, packed_gru


def test_packed_gru_matches_nn_gru_outputs_states_and_gradients() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(5, 7, num_layers=2, batch_first=True).double()
    lengths = torch.tensor([3, 6, 1, 6, 4])
    x = torch.randn(5, 6, 5, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(2, 5, 7, dtype=torch.double, requires_grad=True)
    # reference: torch's own packed sequence
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    ref_out, ref_h = gru(packed, h0)
    ref_out, _ = nn.utils.rnn.pad_packed_sequence(ref_out, batch_first=True, total_length=6)
    layout = PackedLayout.from_lengths(lengths, 6)
    out, h = packed_gru(gru, layout.pack(x), h0, layout)
    out = layout.unpack(out, 5)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)
    w = torch.randn(2, 5, 7, dtype=torch.double)  # the final states enter the loss too
    g_ref = torch.autograd.grad(ref_out.square().sum() + (ref_h * w).sum(), [x, h0, *gru.parameters()])
    g_new = torch.autograd.grad(out.square().sum() + (h * w).sum(), [x, h0, *gru.parameters()])
    for a, b in zip(g_new, g_ref):
        torch.testing.assert_close(a, b)


def test_layout_round_trip_and_bad_lengths() -> None:
    import pytest

    layout = PackedLayout.from_lengths(torch.tensor([2, 3]), 3)
    x = torch.arange(6.0).view(2, 3, 1)
    assert layout.batch_sizes == [2, 2, 1]
    back = layout.unpack(layout.pack(x), 2)
    assert torch.equal(back[1], x[1]) and torch.equal(back[0, :2], x[0, :2]) and back[0, 2].item() == 0
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 3\]"):
        PackedLayout.from_lengths(torch.tensor([0, 2]), 3)



def test_layer_backward_passes_gradcheck() -> None:
    """The hand-written back-propagation through time against finite differences (double precision)."""
    from sgkit.models.autoregressive_gru import _PackedGRULayer

    torch.manual_seed(1)
    sizes = [5, 5, 4, 2, 1]  # rows end after steps 2, 3 and 4
    n, hidden = sum(sizes), 3
    args = (
        torch.randn(n, 3 * hidden, dtype=torch.double, requires_grad=True),  # input projections
        torch.randn(5, hidden, dtype=torch.double, requires_grad=True),  # h0
        torch.randn(3 * hidden, hidden, dtype=torch.double, requires_grad=True),  # w_hh
        torch.randn(hidden, dtype=torch.double, requires_grad=True),  # b_hn
    )
    assert torch.autograd.gradcheck(lambda *a: _PackedGRULayer.apply(*a, sizes), args)


def test_layout_last_step_positions() -> None:
    """``last[b]`` is the packed position of the last step of sequence ``b``."""
    lengths = torch.tensor([2, 3, 1])
    layout = PackedLayout.from_lengths(lengths, 3)
    x = torch.arange(9.0).view(3, 3, 1)  # x[b, t] = 3 b + t
    last_values = layout.pack(x)[layout.last, 0]
    assert last_values.tolist() == [1.0, 5.0, 6.0]


def test_packed_gru_under_bf16_autocast_follows_float32() -> None:
    """Under CPU autocast the recurrence runs in bfloat16 and stays close to the float32 result."""
    torch.manual_seed(2)
    gru = nn.GRU(6, 8, num_layers=2)
    lengths = torch.tensor([4, 2, 3])
    layout = PackedLayout.from_lengths(lengths, 4)
    x = layout.pack(torch.randn(3, 4, 6))
    h0 = torch.randn(2, 3, 8)
    ref, ref_h = packed_gru(gru, x, h0, layout)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, h = packed_gru(gru, x, h0, layout)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=0)
    torch.testing.assert_close(h.float(), ref_h, atol=3e-2, rtol=0)
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in gru.parameters())

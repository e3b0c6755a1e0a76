"""Multi-layer GRUs over variable-length sequences without :class:`~torch.nn.utils.rnn.PackedSequence`.

The teacher-forced loss of the autoregressive scene-graph models runs GRUs over many short
sequences of different lengths (one edge sequence per node of every graph). PyTorch's packed
GRU on the CPU slices the whole packed input at every time step; the backward pass of each
slice writes a zero tensor of the full input's size, so its cost grows with the square of the
number of steps and dominates training. :func:`packed_gru` computes the same recurrence with
the layout of a packed sequence (rows sorted by decreasing length, time-major): the input
projection of a layer is one matrix product over all valid steps, each step multiplies only the
hidden states of the rows still running, and padded steps are never computed. Each layer is one
autograd node (:class:`_PackedGRULayer`) whose backward pass runs back-propagation through time
by hand: the weight gradient of the recurrent matrix is one product over all steps instead of
one per step, and no per-step autograd graph is built. The gate arithmetic is the one of
:class:`torch.nn.GRU`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

__all__ = ["InputGRU", "PackedLayout", "packed_gru"]


@dataclass
class PackedLayout:
    """Where the valid steps of a padded ``[B, T, ...]`` batch go in the packed, time-major order.

    Attributes:
        flat: long ``[N]``; packed position ``k`` holds padded element ``flat[k]`` of the
            ``[B * T]`` flattened batch (``N = lengths.sum()``).
        rows: long ``[N]``; the sequence ``b`` of each packed position.
        order: long ``[B]``; the sequences by decreasing length (stable).
        batch_sizes: number of sequences still running at each step ``t`` (non-increasing).
        num_steps: ``T``.
        last: long ``[B]``; packed position of the last step of each sequence.
    """

    flat: Tensor
    rows: Tensor
    order: Tensor
    batch_sizes: list[int]
    num_steps: int
    last: Tensor

    @classmethod
    def from_lengths(cls, lengths: Tensor, num_steps: int) -> PackedLayout:
        """Layout of sequences of ``lengths`` (each in ``1..num_steps``) padded to ``num_steps``."""
        lengths = lengths.long()
        if lengths.numel() == 0 or int(lengths.min()) < 1 or int(lengths.max()) > num_steps:
            raise ValueError(f"lengths: expected values in [1, {num_steps}], got {lengths.tolist()}")
        order = torch.argsort(lengths, descending=True, stable=True)
        running = torch.arange(num_steps, device=lengths.device)[:, None] < lengths[order][None, :]
        t_idx, k_idx = running.nonzero(as_tuple=True)  # row-major: time-major, sorted rows
        batch_sizes = [b for b in running.sum(1).tolist() if b > 0]
        rows = order[k_idx]
        ends = (t_idx == lengths[rows] - 1).nonzero().squeeze(1)
        last = torch.empty_like(lengths).index_copy_(0, rows[ends], ends)
        return cls(rows * num_steps + t_idx, rows, order, batch_sizes, num_steps, last)

    def pack(self, x: Tensor) -> Tensor:
        """``[B, T, ...]`` padded -> ``[N, ...]`` packed."""
        return x.reshape(-1, *x.shape[2:]).index_select(0, self.flat)

    def unpack(self, data: Tensor, batch: int) -> Tensor:
        """``[N, ...]`` packed -> ``[B, T, ...]`` padded with zeros beyond each sequence."""
        out = data.new_zeros(batch * self.num_steps, *data.shape[1:])
        return out.index_copy(0, self.flat, data).view(batch, self.num_steps, *data.shape[1:])


class _PackedGRULayer(torch.autograd.Function):
    """One GRU layer over a packed layout, with back-propagation through time by hand.

    Inputs: ``gi [N, 3H]`` input projections in packed order, with ``b_ih`` and the reset and
    update parts of ``b_hh`` added; ``h0 [batch_sizes[0], H]`` initial states of the sorted rows;
    ``w_hh [3H, H]``; ``b_hn [H]`` the new-gate part of ``b_hh``; the step sizes. Output:
    ``[N, H]`` states after every step. Gates (reset, update, new) as :class:`torch.nn.GRU`:
    ``r, z = sigmoid(gi + W_hh h)``, ``n = tanh(gi_n + r * (W_hn h + b_hn))``,
    ``h' = n + z * (h - n)``. The forward pass writes the gates into preallocated buffers; the
    backward pass adds each step's state gradient into the previous step's rows in place and
    computes the gradient of ``w_hh`` as one product over all steps.
    """

    @staticmethod
    def forward(ctx, gi: Tensor, h0: Tensor, w_hh: Tensor, b_hn: Tensor, sizes: list[int]) -> Tensor:
        N, H = gi.size(0), h0.size(1)
        w_t = w_hh.t()
        out, rz, new, gh = (gi.new_empty(N, d) for d in (H, 2 * H, H, 3 * H))
        h, off = h0, 0
        for bs in sizes:
            sl = slice(off, off + bs)
            g = torch.mm(h[:bs], w_t, out=gh[sl])
            hn = g[:, 2 * H :].add_(b_hn)
            rz_t = torch.add(g[:, : 2 * H], gi[sl, : 2 * H], out=rz[sl]).sigmoid_()
            n_t = torch.addcmul(gi[sl, 2 * H :], rz_t[:, :H], hn, out=new[sl]).tanh_()
            h = torch.lerp(n_t, h[:bs], rz_t[:, H:], out=out[sl])
            off += bs
        ctx.sizes = sizes
        ctx.save_for_backward(h0, w_hh, out, rz, new, gh)
        return out

    @staticmethod
    def backward(ctx, d_out: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, None]:
        h0, w_hh, out, rz, new, gh = ctx.saved_tensors
        sizes = ctx.sizes
        H = out.size(1)
        d_gh = torch.empty_like(gh)  # gradient of the hidden projections
        d_n = torch.empty_like(out)  # gradient of the input projection of the new gate
        grad = d_out.clone()  # gradient of each step's state, completed step by step
        offsets = [0]
        for bs in sizes:
            offsets.append(offsets[-1] + bs)
        one = torch.ones((), dtype=out.dtype, device=out.device)
        d_h0 = torch.zeros_like(h0)
        for t in range(len(sizes) - 1, -1, -1):
            bs, sl = sizes[t], slice(offsets[t], offsets[t + 1])
            g = grad[sl]
            prev = h0[:bs] if t == 0 else out[offsets[t - 1] : offsets[t - 1] + bs]
            rz_t, n_t, dg = rz[sl], new[sl], d_gh[sl]
            rzd = torch.addcmul(rz_t, rz_t, rz_t, value=-1)  # sigmoid derivatives r(1-r), z(1-z)
            gz = g * rz_t[:, H:]
            dn_t = torch.sub(g, gz, out=d_n[sl]).mul_(torch.addcmul(one, n_t, n_t, value=-1))
            torch.mul(dn_t, rz_t[:, :H], out=dg[:, 2 * H :])
            torch.mul(dn_t, gh[sl, 2 * H :], out=dg[:, :H]).mul_(rzd[:, :H])
            torch.sub(prev, n_t, out=dg[:, H : 2 * H]).mul_(g).mul_(rzd[:, H:])
            target = d_h0[:bs] if t == 0 else grad[offsets[t - 1] : offsets[t - 1] + bs]
            target.add_(gz).addmm_(dg, w_hh)
        h_prev = torch.cat([h0, out[: offsets[-2]]]).index_select(0, _previous_positions(sizes, out.device))
        d_gi = torch.cat([d_gh[:, : 2 * H], d_n], 1)
        return d_gi, d_h0, d_gh.t().mm(h_prev), d_gh[:, 2 * H :].sum(0), None


def _previous_positions(sizes: list[int], device: torch.device) -> Tensor:
    """For each packed position, the row of ``cat([h0, out])`` holding the state it starts from."""
    # step 0 reads h0 (rows 0..sizes[0]-1); step t >= 1 reads the first sizes[t] outputs of
    # step t - 1, which start at row sizes[0] + (sizes[0] + ... + sizes[t-2]) of the concatenation
    idx, start = [torch.arange(sizes[0], device=device)], sizes[0]
    for t in range(1, len(sizes)):
        idx.append(torch.arange(start, start + sizes[t], device=device))
        start += sizes[t - 1]
    return torch.cat(idx)


def packed_gru(gru: nn.GRU, data: Tensor, h0: Tensor | None, layout: PackedLayout) -> tuple[Tensor, Tensor]:
    """Run a unidirectional, biased ``nn.GRU`` over packed inputs.

    Args:
        gru: the GRU (its weights are used; ``batch_first`` does not matter here).
        data: ``[N, in]`` inputs in the packed order of ``layout``.
        h0: ``[layers, B, H]`` initial states in the original row order, or ``None`` for zeros.
        layout: the packed layout.

    Returns:
        ``([N, H]`` outputs of the last layer in packed order, ``[layers, B, H]`` state after
        the last step of each sequence, original row order).
    """
    if gru.bidirectional or not gru.bias or gru.proj_size:
        raise ValueError("gru: packed_gru needs a unidirectional GRU with biases and no projection")
    H, sizes = gru.hidden_size, layout.batch_sizes
    finals = []
    for layer in range(gru.num_layers):
        w_ih, w_hh, b_ih, b_hh = (
            getattr(gru, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        # the reset and update parts of b_hh add to the input projection like b_ih
        gi = Fn.linear(data, w_ih, torch.cat([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H :]]))
        h = gi.new_zeros(sizes[0], H) if h0 is None else h0[layer].index_select(0, layout.order[: sizes[0]])
        # the recurrence runs in the projection's dtype (under autocast: the autocast dtype)
        data = _PackedGRULayer.apply(gi, h.to(gi.dtype), w_hh.to(gi.dtype), b_hh[2 * H :].to(gi.dtype), sizes)
        finals.append(data.index_select(0, layout.last))
        if gru.dropout and gru.training and layer < gru.num_layers - 1:
            data = Fn.dropout(data, gru.dropout, True)
    return data, torch.stack(finals)


class InputGRU(nn.Module):
    """Input layer (linear + ReLU) followed by a multi-layer GRU (batch first).

    Args:
        in_dim: input features.
        hidden_dim: GRU hidden size (also the size of the input layer's output).
        num_layers: GRU layers.
    """

    def __init__(self, in_dim: int, hidden_dim: int, num_layers: int) -> None:
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU())
        self.gru = nn.GRU(hidden_dim, hidden_dim, num_layers=num_layers, batch_first=True)

    def forward(self, x: Tensor, h: Tensor | None, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run on ``x`` ``[B, T, in]``; with ``lengths`` only the first ``lengths[b]`` steps are
        computed (:func:`~sgkit.models.autoregressive_gru.packed_gru`), the outputs beyond them
        are zero and the state is the one after each sequence's last step."""
        if lengths is None:
            return self.gru(self.inp(x), h)
        layout = PackedLayout.from_lengths(lengths, x.size(1))
        out, h = self.packed(layout.pack(x), h, layout)
        return layout.unpack(out, x.size(0)), h

    def packed(self, x: Tensor, h: Tensor | None, layout: PackedLayout) -> tuple[Tensor, Tensor]:
        """Run on packed inputs ``x`` ``[N, in]`` (see :class:`~sgkit.models.autoregressive_gru.PackedLayout`);
        returns the packed outputs ``[N, H]`` and the state after each sequence's last step."""
        return packed_gru(self.gru, self.inp(x), h, layout)

"""Multi-layer GRU over variable-length sequences without :class:`~torch.nn.utils.rnn.PackedSequence`.

The teacher-forced loss of the autoregressive scene-graph models runs GRUs over many short
sequences of different lengths (one edge sequence per node of every graph). PyTorch's packed
GRU on the CPU slices the whole packed input at every time step; the backward pass of each
slice writes a zero tensor of the full input's size, so its cost grows with the square of the
number of steps and dominates training. :func:`packed_gru` computes the same recurrence with
the layout of a packed sequence (rows sorted by decreasing length, time-major) but slices only
the per-step tensors: the input projection of a layer is one matrix product over all valid
steps, each step multiplies only the hidden states of the rows still running, and padded steps
are never computed. The gate arithmetic is the one of :class:`torch.nn.GRU`.
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
    """

    flat: Tensor
    rows: Tensor
    order: Tensor
    batch_sizes: list[int]
    num_steps: int

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
        return cls(rows * num_steps + t_idx, rows, order, batch_sizes, num_steps)

    def pack(self, x: Tensor) -> Tensor:
        """``[B, T, ...]`` padded -> ``[N, ...]`` packed."""
        return x.reshape(-1, *x.shape[2:]).index_select(0, self.flat)

    def unpack(self, data: Tensor, batch: int) -> Tensor:
        """``[N, ...]`` packed -> ``[B, T, ...]`` padded with zeros beyond each sequence."""
        out = data.new_zeros(batch * self.num_steps, *data.shape[1:])
        return out.index_copy(0, self.flat, data).view(batch, self.num_steps, *data.shape[1:])


class _GRUGates(torch.autograd.Function):
    """The gate arithmetic of one GRU step (as :class:`torch.nn.GRU`) with a hand-written backward.

    ``gi``, ``gh``: ``[b, 3H]`` input and hidden projections (reset, update, new); ``h``:
    ``[b, H]``. Returns ``(1 - z) * n + z * h`` with ``r, z = sigmoid(gi + gh)`` and
    ``n = tanh(gi_n + r * gh_n)``. The backward pass writes the gradients of the three gates
    into one ``[b, 3H]`` tensor each instead of concatenating per-gate pieces.
    """

    @staticmethod
    def forward(ctx, gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:  # noqa: D102
        H = h.size(1)
        rz = torch.sigmoid(gh[:, : 2 * H] + gi[:, : 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        hn = gh[:, 2 * H :]
        n = torch.tanh(gi[:, 2 * H :] + hn * r)
        out = (h - n) * z + n
        ctx.save_for_backward(rz, n, hn, h)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # noqa: D102
        rz, n, hn, h = ctx.saved_tensors
        H = h.size(1)
        r, z = rz[:, :H], rz[:, H:]
        d_gi = torch.empty(grad.size(0), 3 * H, dtype=grad.dtype, device=grad.device)
        d_gh = torch.empty_like(d_gi)
        d_n = (grad - grad * z) * (1 - n * n)  # through tanh
        d_gi[:, 2 * H :] = d_n
        torch.mul(d_n, r, out=d_gh[:, 2 * H :])
        d_rz = d_gi[:, : 2 * H]
        torch.mul(d_n, hn, out=d_rz[:, :H])
        torch.mul(grad, h - n, out=d_rz[:, H:])
        d_rz.mul_(rz * (1 - rz))  # through the sigmoids
        d_gh[:, : 2 * H] = d_rz
        return d_gi, d_gh, grad * z


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
    H = gru.hidden_size
    sizes = layout.batch_sizes
    finals = []
    for layer in range(gru.num_layers):
        w_ih, w_hh, b_ih, b_hh = (
            getattr(gru, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        gates_in = Fn.linear(data, w_ih, b_ih).split(sizes)
        if h0 is None:
            h = data.new_zeros(sizes[0], H)
        else:
            h = h0[layer].index_select(0, layout.order[: sizes[0]])
        outs: list[Tensor] = []
        ended: list[Tensor] = []
        for gi, bs in zip(gates_in, sizes):
            if bs < h.size(0):
                h, done = h.split([bs, h.size(0) - bs])
                ended.append(done)
            h = _GRUGates.apply(gi, Fn.linear(h, w_hh, b_hh), h)
            outs.append(h)
        ended.append(h)
        # rows in sorted order: the longest (still running at the end) first
        finals.append(torch.cat(ended[::-1], 0))
        data = torch.cat(outs, 0)
        if gru.dropout and gru.training and layer < gru.num_layers - 1:
            data = Fn.dropout(data, gru.dropout, True)
    inverse = torch.empty_like(layout.order)
    inverse[layout.order] = torch.arange(layout.order.numel(), device=layout.order.device)
    h_n = torch.stack(finals).index_select(1, inverse)
    return data, h_n


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

"""The published code's way of computing the SceneGraphGen / GraphRNN training loss, for comparison.

The public SceneGraphGen code (and GraphRNN's, which it builds on) pads every graph to
``max_nodes`` in its data set class, runs the graph-level GRUs of :class:`torch.nn.GRU` over
:func:`~torch.nn.utils.rnn.pack_padded_sequence` inputs, then packs the node axis away so that
every node ``i`` of every graph becomes one row of the edge-level batch, and runs the edge-level
GRUs over the whole padded width ``max_nodes - 1`` of each row (a row of node ``i`` has only
``i`` real steps); padded positions are excluded from the cross-entropy. This module reproduces
that execution strategy with the weights of an sgkit model, so that the two compute the same
loss (``benchmarks/test_generation.py`` checks it) and their timings compare the strategies, not
the maths. It is written here for the benchmark only.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as Fn
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

from sgkit.data import encode_graph, get_ordering
from sgkit.models import GraphRNN

__all__ = ["published_batch", "published_nll", "published_epoch", "train_epoch"]


def published_batch(model, seqs: Sequence) -> dict[str, Tensor]:
    """Per-graph padded arrays (the data set class of the published code), stacked.

    Returns the history tokens ``nodes [B, M]``, ``to``/``frm`` ``[B, M, M-1]`` (row ``i`` holds
    node ``i``'s edge tokens to the earlier nodes, padded) and ``lengths [B]``.
    """
    tok, M = model.tokens, model.max_nodes
    W = M - 1
    out = {"nodes": [], "to": [], "frm": [], "lengths": []}
    for seq in seqs:
        n = seq.num_nodes
        nodes = torch.full((M,), tok.node_pad, dtype=torch.long)
        nodes[:n] = seq.nodes
        to = torch.full((M, W), tok.edge_pad, dtype=torch.long)
        frm = torch.full((M, W), tok.edge_pad, dtype=torch.long)
        for i in range(1, n):
            to[i, :i] = torch.where(seq.to_edges[i, :i] == 0, tok.no_edge, seq.to_edges[i, :i] - 1)
            frm[i, :i] = torch.where(seq.from_edges[i, :i] == 0, tok.no_edge, seq.from_edges[i, :i] - 1)
        out["nodes"].append(nodes)
        out["to"].append(to)
        out["frm"].append(frm)
        out["lengths"].append(n)
    return {k: torch.stack(v) if k != "lengths" else torch.tensor(v) for k, v in out.items()}


def _history(gru, x: Tensor, lengths: Tensor) -> Tensor:
    """Graph-level GRU over a packed padded batch (``nn.GRU``'s packed path), padded output."""
    packed = pack_padded_sequence(gru.inp(x), lengths, batch_first=True, enforce_sorted=False)
    out, _ = gru.gru(packed)
    return torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0]


def published_nll(model, b: dict[str, Tensor]) -> Tensor:
    """Summed teacher-forced NLL of the batch (no first-node prior), the published way."""
    tok, M = model.tokens, model.max_nodes
    W = M - 1
    nodes, to, frm, lengths = b["nodes"], b["to"], b["frm"], b["lengths"]
    B = nodes.size(0)
    emb_n, emb_e = model.node_embedding, model.edge_embedding
    # history input at step i: node i and its edge rows (tokens of row i)
    x = torch.cat([emb_n(nodes), emb_e(to).flatten(2), emb_e(frm).flatten(2)], 2)
    rnn = isinstance(model, GraphRNN)
    if rnn:
        node_state = to_state = from_state = _history(model.graph_history, x, lengths)
    else:
        node_state = _history(model.node_history, x, lengths)
        to_state = _history(model.to_history, x, lengths)
        from_state = _history(model.from_history, x, lengths)
    logp = model._node_log_probs(model.node_mlp(node_state), torch.arange(M))
    target = torch.full((B, M), -100, dtype=torch.long)
    for g in range(B):
        n = int(lengths[g])
        target[g, : n - 1] = nodes[g, 1:n]
        target[g, n - 1] = tok.node_eos
    nll = Fn.nll_loss(logp.flatten(0, 1), target.flatten(), ignore_index=-100, reduction="sum")
    # edge level: row (g, i) for i = 1..n-1 starts from the history state after node i - 1
    edge_len = lengths - 1
    keep = edge_len > 0

    def rows(t: Tensor) -> Tensor:  # [B, M-1, ...] -> packed rows [R, ...] (node axis packed away)
        return pack_padded_sequence(t[keep], edge_len[keep], batch_first=True, enforce_sorted=False).data

    cur_to, cur_frm = to[:, 1:], frm[:, 1:]  # row i's targets, [B, M-1, W]
    sos = torch.full_like(cur_to[..., :1], tok.edge_sos)
    prev_to = torch.cat([sos, cur_to[..., :-1]], -1)
    prev_frm = torch.cat([sos, cur_frm[..., :-1]], -1)
    pos = torch.arange(W)
    # node j of each position (pad where j >= i)
    node_j = torch.where(pos[None, None, :] < torch.arange(1, M)[None, :, None], nodes[:, None, :W], tok.node_pad)
    node_i = nodes[:, 1:, None].expand(-1, -1, W)
    valid = cur_to != tok.edge_pad
    prev_to = torch.where(valid, prev_to, tok.edge_pad)
    prev_frm = torch.where(valid, prev_frm, tok.edge_pad)
    node_i = torch.where(valid, node_i, tok.node_pad)
    r_prev_to, r_prev_frm, r_cur_to, r_cur_frm = rows(prev_to), rows(prev_frm), rows(cur_to), rows(cur_frm)
    r_node_i, r_node_j = rows(node_i), rows(node_j)
    h_to, h_from = rows(to_state[:, :W]), rows(from_state[:, :W])
    tgt_to = torch.where(r_cur_to == tok.edge_pad, -100, r_cur_to)
    tgt_frm = torch.where(r_cur_frm == tok.edge_pad, -100, r_cur_frm)
    if rnn:
        x_e = torch.cat([emb_e(r_prev_to), emb_e(r_prev_frm)], -1)
        out, _ = model.edge_gru(x_e, model._init_state(model.edge_init, h_to))
        out_to = out_frm = out
    else:
        base = torch.cat([emb_e(r_prev_to), emb_e(r_prev_frm), emb_n(r_node_i), emb_n(r_node_j)], -1)
        out_to, _ = model.to_edge_gru(base, model._init_state(model.to_init, h_to))
        x_from = torch.cat([base, emb_e(r_cur_to)], -1)
        out_frm, _ = model.from_edge_gru(x_from, model._init_state(model.from_init, h_from))
    lt = Fn.cross_entropy(model.to_edge_head(out_to).flatten(0, 1), tgt_to.flatten(), ignore_index=-100, reduction="sum")
    lf = Fn.cross_entropy(model.from_edge_head(out_frm).flatten(0, 1), tgt_frm.flatten(), ignore_index=-100,
                          reduction="sum")
    return nll + lt + lf


def train_epoch(model, graphs: Sequence, batch_size: int, backward: Callable[[Any, list], None],
                seed: int = 0) -> None:
    """One epoch of the baselines' shared loop: random orders, Adam, clipping 5; ``backward(model,
    seqs)`` accumulates the gradient of the batch's mean NLL for the encoded sequences ``seqs``."""
    gen = torch.Generator().manual_seed(seed)
    order_fn = get_ordering("random")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    perm = torch.randperm(len(graphs), generator=gen).tolist()
    for start in range(0, len(perm), batch_size):
        idx = perm[start : start + batch_size]
        seqs = [encode_graph(graphs[i], order_fn(graphs[i], generator=gen)) for i in idx]
        opt.zero_grad(set_to_none=True)
        backward(model, seqs)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()


def published_epoch(model, graphs: Sequence, batch_size: int, seed: int = 0) -> None:
    """One epoch the published way: per-graph padded arrays, one backward pass per batch."""
    train_epoch(model, graphs, batch_size,
                lambda m, seqs: (published_nll(m, published_batch(m, seqs)) / len(seqs)).backward(), seed)

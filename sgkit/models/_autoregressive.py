"""Shared machinery of the autoregressive scene-graph generators (SceneGraphGen, GraphRNN).

A subclass defines its networks (``_build``) and four hooks: the history encoder, the
initial state of the edge generators, and the edge generators run teacher-forced over whole
edge sequences or one step at a time. This base class turns them into the common interface:
``fit``, ``sample``, ``nll``, ``complete``, ``save`` and ``load``.

Distribution and the ``max_nodes`` truncation
---------------------------------------------
Let ``M = max_nodes`` (a constructor argument). The model is a distribution over sequences of
1 to ``M`` nodes (see :mod:`sgkit.data.sequence`)::

    p(X) = p(O_1) prod_{i=2..N} p(O_i | X_<i) p(E_to_i | O_i, X_<i) p(E_from_i | O_i, E_to_i, X_<i)
           * p(EOS | X_<=N)

``p(O_1)`` is the empirical first-node prior (with a small pseudo-count so no category has
probability 0). The node head is a categorical over the ``C`` categories plus EOS; after the
``M``-th node it is masked so that EOS has probability 1. Hence the probabilities of all
sequences of at most ``M`` nodes sum to 1 exactly (the enumeration test checks this), no graph
is ever truncated silently, and a graph with more than ``M`` nodes has no sequence (it is an
error to score or train on one). ``sample(max_nodes=m)`` with ``m < M`` samples from the model
conditioned to stop at ``m`` nodes (EOS forced after node ``m``).
"""
from __future__ import annotations

import abc
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from sgkit.data.convert import to_xf
from sgkit.data.orderings import get_ordering
from sgkit.data.scene_graph import EDGE, NODE, validate
from sgkit.data.sequence import (
    GraphSequence,
    SequenceBatch,
    SequenceTokens,
    collate_sequences,
    encode_xf,
)
from sgkit.data.vocab import Vocabulary

__all__ = ["AutoregressiveSceneGraphModel", "InputGRU"]

Hidden = tuple[Tensor, ...]


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
        computed (packed sequence) and the outputs beyond them are zero."""
        x = self.inp(x)
        if lengths is None:
            return self.gru(x, h)
        total = x.size(1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.gru(packed, h)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=total)
        return out, h


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def _check_positive_number(name: str, value: float) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _to_device(batch: SequenceBatch, device: torch.device) -> SequenceBatch:
    """Move the tensors of a token batch to ``device`` (no copy when already there)."""
    if batch.nodes.device == device:
        return batch
    return SequenceBatch(
        batch.nodes.to(device),
        batch.to_edges.to(device),
        batch.from_edges.to(device),
        batch.lengths.to(device),
        batch.tokens,
    )


class AutoregressiveSceneGraphModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class of :class:`~sgkit.models.SceneGraphGen` and :class:`~sgkit.models.GraphRNN`.

    Args:
        num_classes: number of object categories ``C``.
        num_predicates: number of predicates ``R``.
        vocab: optional :class:`~sgkit.data.Vocabulary` (stored in checkpoints, gives
            ``object_ranks`` to the hierarchical ordering); its sizes must match.
        max_nodes: largest graph ``M`` the model can hold (see the module docstring).
        node_embedding_dim: size of the node-category embedding (thesis: 64).
        edge_embedding_dim: size of the edge-token embedding (thesis: 8).
        hidden_dim: hidden size of the history GRUs (thesis: 128).
        num_layers: layers of the history GRUs (thesis: 4).
        edge_hidden_dim: hidden size of the edge GRUs (default ``hidden_dim``).
        edge_num_layers: layers of the edge GRUs (default ``num_layers``).
        mlp_hidden_dim: hidden size of the 2-layer output MLPs (default ``hidden_dim``).
        prior_pseudocount: pseudo-count added to every category of the first-node prior.
        seed: seed of the parameter initialisation.
    """

    def __init__(
        self,
        num_classes: int,
        num_predicates: int,
        *,
        vocab: Vocabulary | None = None,
        max_nodes: int = 25,
        node_embedding_dim: int = 64,
        edge_embedding_dim: int = 8,
        hidden_dim: int = 128,
        num_layers: int = 4,
        edge_hidden_dim: int | None = None,
        edge_num_layers: int | None = None,
        mlp_hidden_dim: int | None = None,
        prior_pseudocount: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        _check_positive("num_classes", num_classes)
        _check_positive("num_predicates", num_predicates)
        _check_positive("max_nodes", max_nodes)
        for name, v in (
            ("node_embedding_dim", node_embedding_dim),
            ("edge_embedding_dim", edge_embedding_dim),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
        ):
            _check_positive(name, v)
        edge_hidden_dim = hidden_dim if edge_hidden_dim is None else _check_positive("edge_hidden_dim", edge_hidden_dim)
        edge_num_layers = num_layers if edge_num_layers is None else _check_positive("edge_num_layers", edge_num_layers)
        mlp_hidden_dim = hidden_dim if mlp_hidden_dim is None else _check_positive("mlp_hidden_dim", mlp_hidden_dim)
        if not prior_pseudocount >= 0:
            raise ValueError(f"prior_pseudocount: expected a number >= 0, got {prior_pseudocount!r}")
        if vocab is not None and (vocab.num_objects != num_classes or vocab.num_predicates != num_predicates):
            raise ValueError(
                f"vocab: has {vocab.num_objects} objects and {vocab.num_predicates} predicates but the model "
                f"was given num_classes={num_classes}, num_predicates={num_predicates}"
            )
        self.hparams: dict[str, Any] = dict(
            num_classes=num_classes,
            num_predicates=num_predicates,
            max_nodes=max_nodes,
            node_embedding_dim=node_embedding_dim,
            edge_embedding_dim=edge_embedding_dim,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            edge_hidden_dim=edge_hidden_dim,
            edge_num_layers=edge_num_layers,
            mlp_hidden_dim=mlp_hidden_dim,
            prior_pseudocount=float(prior_pseudocount),
            seed=seed,
        )
        self.num_classes = num_classes
        self.num_predicates = num_predicates
        self.max_nodes = max_nodes
        self.vocab = vocab
        self.tokens = SequenceTokens(num_classes, num_predicates)
        self.width = max(max_nodes - 1, 1)  # edge slots of the history input
        self.history_: list[dict[str, float]] = []
        # The ordering of the last ``fit``: a name, or the callable itself (in memory only).
        self.ordering_: str | Callable[..., Tensor] | None = None
        # True when loaded from a checkpoint of a model trained with a callable ordering.
        self._ordering_was_callable = False
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.node_embedding = nn.Embedding(num_classes + 2, node_embedding_dim, padding_idx=num_classes + 1)
            self.edge_embedding = nn.Embedding(num_predicates + 3, edge_embedding_dim, padding_idx=num_predicates + 2)
            self.node_mlp = nn.Sequential(
                nn.Linear(hidden_dim, mlp_hidden_dim), nn.ReLU(), nn.Linear(mlp_hidden_dim, num_classes + 1)
            )
            self._build()
        self.register_buffer("first_node_prior", torch.full((num_classes,), 1.0 / num_classes))

    # ------------------------------------------------------------------ hooks (subclasses)
    @property
    def history_input_dim(self) -> int:
        """Size of one history-GRU input: node embedding + ``2 * (max_nodes - 1)`` edge embeddings."""
        return self.hparams["node_embedding_dim"] + 2 * self.width * self.hparams["edge_embedding_dim"]

    @abc.abstractmethod
    def _build(self) -> None:
        """Create the subclass' networks (called once from ``__init__`` under the init seed)."""

    @abc.abstractmethod
    def _history(
        self, x: Tensor, hidden: Hidden | None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Hidden]:
        """Run the history encoder on ``x`` ``[B, T, in]``; node, to and from states ``[B, T, H]``.

        With ``lengths`` only the first ``lengths[b]`` steps of each sequence are computed."""

    @abc.abstractmethod
    def _edge_init(self, to_state: Tensor, from_state: Tensor) -> Hidden:
        """Initial state of the edge generators from history states ``[K, H]``."""

    @abc.abstractmethod
    def _edge_teacher(
        self,
        state: Hidden,
        cur: Tensor,
        nj: Tensor,
        prev_to: Tensor,
        prev_from: Tensor,
        cur_to: Tensor,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Teacher-forced edge logits ``[K, L, R + 1]`` (to, from) over whole edge sequences
        (only the first ``lengths[k]`` steps of row ``k`` need to be computed)."""

    @abc.abstractmethod
    def _edge_step_to(
        self, state: Hidden, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor
    ) -> tuple[Tensor, Hidden]:
        """One step of the to-edge generator: logits ``[K, R + 1]`` and the new state."""

    @abc.abstractmethod
    def _edge_step_from(
        self, state: Hidden, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor, cur_to: Tensor
    ) -> tuple[Tensor, Hidden]:
        """One step of the from-edge generator (may use the to-edge ``cur_to`` just generated)."""

    # ------------------------------------------------------------------ shared pieces
    @staticmethod
    def _make_gru_init(hidden_dim: int, edge_hidden_dim: int, edge_num_layers: int) -> nn.Module:
        return nn.Sequential(nn.Linear(hidden_dim, edge_num_layers * edge_hidden_dim), nn.Tanh())

    def _init_state(self, proj: nn.Module, h: Tensor) -> Tensor:
        layers = self.hparams["edge_num_layers"]
        out = proj(h).view(h.size(0), layers, self.hparams["edge_hidden_dim"])
        return out.transpose(0, 1).contiguous()

    def _edge_head(self) -> nn.Module:
        mlp = self.hparams["mlp_hidden_dim"]
        return nn.Sequential(
            nn.Linear(self.hparams["edge_hidden_dim"], mlp), nn.ReLU(), nn.Linear(mlp, self.num_predicates + 1)
        )

    def _history_input(self, nodes: Tensor, to: Tensor, frm: Tensor) -> Tensor:
        """``nodes [...]``, ``to``/``frm`` ``[..., W']`` edge tokens -> history input ``[..., in]``."""
        w = to.size(-1)
        if w < self.width:
            pad = (0, self.width - w)
            to = Fn.pad(to, pad, value=self.tokens.edge_pad)
            frm = Fn.pad(frm, pad, value=self.tokens.edge_pad)
        elif w > self.width:
            to, frm = to[..., : self.width], frm[..., : self.width]
        return torch.cat(
            [self.node_embedding(nodes), self.edge_embedding(to).flatten(-2), self.edge_embedding(frm).flatten(-2)],
            dim=-1,
        )

    def _node_log_probs(self, logits: Tensor, positions: Tensor) -> Tensor:
        """Log-probabilities of the next node; EOS is certain after the ``max_nodes``-th node.

        Args:
            logits: ``[..., T, C + 1]`` node-head outputs at history positions ``positions [T]``.
            positions: 0-based index ``t`` of the last node fed (the prediction is for node ``t + 1``).
        """
        full = (positions == self.max_nodes - 1).view(*([1] * (logits.dim() - 2)), -1, 1)
        cat_mask = torch.ones(self.num_classes + 1, dtype=torch.bool, device=logits.device)
        cat_mask[-1] = False
        logits = logits.masked_fill(full & cat_mask, float("-inf"))
        return torch.log_softmax(logits, dim=-1)

    # ------------------------------------------------------------------ teacher forcing
    def sequence_nll(self, batch: SequenceBatch) -> Tensor:
        """Teacher-forced negative log-likelihood of each sequence, excluding the first-node prior.

        This is the training loss (summed cross-entropies of the node and edge decisions, thesis
        eq. 10.3-10.5, plus the EOS decision).

        Args:
            batch: padded token batch (:func:`sgkit.data.collate_sequences`).

        Returns:
            ``[B]`` per-sequence NLL in nats.
        """
        tok = self.tokens
        nodes, to, frm, lengths = batch.nodes, batch.to_edges, batch.from_edges, batch.lengths
        B, T = nodes.shape
        dev = nodes.device
        x = self._history_input(nodes, to, frm)
        node_state, to_state, from_state, _ = self._history(x, None, lengths)
        # ---- node decisions: position t predicts node t + 1 (or EOS at t = length - 1)
        logp = self._node_log_probs(self.node_mlp(node_state), torch.arange(T, device=dev))
        target = torch.cat([nodes[:, 1:], nodes.new_full((B, 1), tok.node_pad)], dim=1)
        target[torch.arange(B, device=dev), lengths - 1] = tok.node_eos
        valid = torch.arange(T, device=dev)[None, :] < lengths[:, None]
        picked = logp.gather(-1, target.clamp(max=tok.node_eos).unsqueeze(-1)).squeeze(-1)
        nll = -(picked * valid).sum(1)
        # ---- edge decisions for steps i = 1..length-1 (rows k = (b, i))
        if T < 2:
            return nll
        steps = valid & (torch.arange(T, device=dev)[None, :] >= 1)
        rb, ri = steps.nonzero(as_tuple=True)
        if rb.numel() == 0:
            return nll
        L = T - 1
        state = self._edge_init(to_state[rb, ri - 1], from_state[rb, ri - 1])
        cur = nodes[rb, ri]
        nj = nodes[rb, :L]
        cur_to = to[rb, ri, :L]
        cur_from = frm[rb, ri, :L]
        sos = cur_to.new_full((rb.numel(), 1), tok.edge_sos)
        prev_to = torch.cat([sos, cur_to[:, :-1]], dim=1)
        prev_from = torch.cat([sos, cur_from[:, :-1]], dim=1)
        to_logits, from_logits = self._edge_teacher(state, cur, nj, prev_to, prev_from, cur_to, ri)
        evalid = torch.arange(L, device=dev)[None, :] < ri[:, None]
        lt = torch.log_softmax(to_logits, -1).gather(-1, cur_to.clamp(max=tok.no_edge).unsqueeze(-1)).squeeze(-1)
        lf = torch.log_softmax(from_logits, -1).gather(-1, cur_from.clamp(max=tok.no_edge).unsqueeze(-1)).squeeze(-1)
        edge_nll = -((lt + lf) * evalid).sum(1)
        return nll.index_add(0, rb, edge_nll)

    # ------------------------------------------------------------------ input checks / encoding
    def _check_graphs(self, graphs: Sequence[HeteroData], name: str = "graphs") -> None:
        if graphs is None or len(graphs) == 0:
            raise ValueError(f"{name}: empty set of graphs (need at least one scene graph)")
        for k, g in enumerate(graphs):
            if not isinstance(g, HeteroData):
                raise ValueError(f"{name}[{k}]: expected a HeteroData scene graph, got {type(g).__name__}")
            try:
                validate(g, num_classes=self.num_classes, num_predicates=self.num_predicates)
            except ValueError as exc:
                raise ValueError(f"{name}[{k}]: {exc}") from exc
            n = int(g[NODE].label.numel())
            if n == 0:
                raise ValueError(f"{name}[{k}]: empty graph (0 nodes); every sequence has at least one node")
            if n > self.max_nodes:
                raise ValueError(
                    f"{name}[{k}]: has {n} nodes, more than max_nodes={self.max_nodes} of the model "
                    "(build the model with a larger max_nodes or filter the graphs)"
                )

    def _resolve_ordering(self, ordering: str | Callable[..., Tensor] | None, object_ranks: Sequence[int] | None):
        if ordering is None:
            if self.ordering_ is None and self._ordering_was_callable:
                raise ValueError(
                    "ordering: this model was trained with a custom callable ordering, which "
                    "checkpoints do not store; pass it again explicitly (ordering=...)"
                )
            ordering = self.ordering_ if self.ordering_ is not None else "random"
        if object_ranks is None and self.vocab is not None:
            object_ranks = self.vocab.object_ranks
        return get_ordering(ordering, object_ranks=object_ranks)

    @property
    def _device(self) -> torch.device:
        """Device of the model's parameters and buffers."""
        return self.first_node_prior.device

    def _encode_all(
        self,
        xf: Sequence[tuple[Tensor, Tensor]],
        graphs: Sequence[HeteroData],
        order_fn: Callable[..., Tensor],
        generator: torch.Generator,
    ) -> list[GraphSequence]:
        return [encode_xf(X, F, order_fn(g, generator=generator)) for (X, F), g in zip(xf, graphs)]

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        graphs: Sequence[HeteroData],
        *,
        ordering: str | Callable[..., Tensor] = "random",
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 1e-3,
        lr_decay: float = 0.95,
        lr_decay_steps: int = 1710,
        seed: int = 0,
        multi_edge: str = "last",
        object_ranks: Sequence[int] | None = None,
        grad_clip: float | None = 5.0,
        progress: bool = True,
    ) -> "AutoregressiveSceneGraphModel":
        """Train by teacher forcing (maximum likelihood of the sequences under ``ordering``).

        A fresh node order is drawn for every graph in every epoch; the first-node prior is the
        frequency of first nodes over all these orders (plus ``prior_pseudocount``).

        Args:
            graphs: training scene graphs (1 to ``max_nodes`` nodes each).
            ordering: ``"random"`` (thesis best), ``"bfs"``, ``"hierarchical"``, ``"identity"``
                or a callable ``(data, *, generator) -> perm``. It is kept in ``ordering_`` and
                is the default of :meth:`nll`; a callable is kept in memory only (checkpoints
                store names), so after :meth:`load` such a model's :meth:`nll` needs an explicit
                ``ordering=``.
            epochs: passes over the training set.
            batch_size: graphs per optimisation step (thesis: 256).
            lr: Adam learning rate (thesis: 1e-3).
            lr_decay: multiplicative decay of the learning rate (thesis: 0.95) ...
            lr_decay_steps: ... every this many steps (thesis: 1,710).
            seed: seed of the orders and the batch shuffling.
            multi_edge: reduction of multi-edges (see :mod:`sgkit.data.sequence`).
            object_ranks: category ranks for ``"hierarchical"`` (default: ``vocab.object_ranks``).
            grad_clip: max gradient norm (``None`` disables clipping).
            progress: show a tqdm progress bar.

        Returns:
            ``self``; ``self.history_`` holds one ``{"epoch", "loss", "seconds"}`` dict per epoch
            (``loss`` = mean sequence NLL per graph, nats).

        Raises:
            ValueError: for an empty training set, unknown ids, graphs above ``max_nodes``, or a
                non-positive ``epochs``, ``batch_size``, ``lr``, ``lr_decay``,
                ``lr_decay_steps`` or ``grad_clip``.
        """
        import time

        self._check_graphs(graphs)
        _check_positive("epochs", epochs)
        _check_positive("batch_size", batch_size)
        _check_positive_number("lr", lr)
        _check_positive_number("lr_decay", lr_decay)
        _check_positive("lr_decay_steps", lr_decay_steps)
        if grad_clip is not None:
            _check_positive_number("grad_clip", grad_clip)
        order_fn = self._resolve_ordering(ordering, object_ranks)
        if ordering is not None:
            self.ordering_ = ordering
            self._ordering_was_callable = False
        elif self.ordering_ is None:
            self.ordering_ = "random"
        xf = [to_xf(g, multi_edge=multi_edge) for g in graphs]
        dev = self._device
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_decay_steps, gamma=lr_decay)
        counts = torch.zeros(self.num_classes, dtype=torch.float64)
        n = len(graphs)
        bar = tqdm(range(epochs), desc=f"{type(self).__name__}.fit", disable=not progress)
        self.train()
        for epoch in bar:
            t0 = time.perf_counter()
            seqs = self._encode_all(xf, graphs, order_fn, gen)
            for s in seqs:
                counts[int(s.nodes[0])] += 1
            perm = torch.randperm(n, generator=gen).tolist()
            total, steps = 0.0, 0
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                batch = collate_sequences(
                    [seqs[i] for i in idx], num_classes=self.num_classes, num_predicates=self.num_predicates
                )
                loss = self.sequence_nll(_to_device(batch, dev)).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(self.parameters(), grad_clip)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                steps += 1
            rec = {"epoch": float(epoch), "loss": total / n, "seconds": time.perf_counter() - t0, "steps": float(steps)}
            self.history_.append(rec)
            bar.set_postfix(loss=f"{rec['loss']:.3f}")
        self.eval()
        prior = counts + self.hparams["prior_pseudocount"]
        self.first_node_prior.copy_((prior / prior.sum()).to(self.first_node_prior))
        return self

    @torch.no_grad()
    def nll(
        self,
        graphs: Sequence[HeteroData],
        *,
        ordering: str | Callable[..., Tensor] | None = None,
        num_orderings: int = 1,
        seed: int = 0,
        batch_size: int = 512,
        multi_edge: str = "last",
        object_ranks: Sequence[int] | None = None,
    ) -> Tensor:
        """Per-graph negative log-likelihood (nats), the anomaly score of thesis section 10.4.2.

        With ``num_orderings=1`` this is ``-log p(X)`` of the sequence ``X`` of each graph under
        one node order drawn from ``ordering`` (``"identity"``: the stored order, deterministic).
        With ``k > 1`` orders it is ``-log((1/k) sum_k p(X_k))``, the negative log of the average
        sequence probability over ``k`` sampled orders (a lower-variance score; the exact graph
        likelihood would sum over all distinct orders).

        Args:
            graphs: scene graphs (1 to ``max_nodes`` nodes each).
            ordering: node order (default: the one used in :meth:`fit`, a name or a callable,
                else ``"random"``; a model loaded from a checkpoint of a training with a
                callable ordering raises ``ValueError`` asking for it explicitly).
            num_orderings: number ``k`` of orders to average over.
            seed: seed of the orders.
            batch_size: graphs per forward pass.
            multi_edge: reduction of multi-edges (see :mod:`sgkit.data.sequence`).
            object_ranks: category ranks for ``"hierarchical"``.

        Returns:
            ``[len(graphs)]`` float tensor (on the model's device).

        Raises:
            ValueError: for invalid graphs, a non-positive ``num_orderings`` or ``batch_size``,
                or a missing callable ordering (see ``ordering``).
        """
        self._check_graphs(graphs)
        _check_positive("num_orderings", num_orderings)
        _check_positive("batch_size", batch_size)
        order_fn = self._resolve_ordering(ordering, object_ranks)
        xf = [to_xf(g, multi_edge=multi_edge) for g in graphs]
        dev = self._device
        gen = torch.Generator().manual_seed(seed)
        was_training = self.training
        self.eval()
        log_prior = self.first_node_prior.log()
        runs = []
        for _ in range(num_orderings):
            seqs = self._encode_all(xf, graphs, order_fn, gen)
            out = []
            for start in range(0, len(seqs), batch_size):
                chunk = seqs[start : start + batch_size]
                batch = collate_sequences(chunk, num_classes=self.num_classes, num_predicates=self.num_predicates)
                first = torch.stack([s.nodes[0] for s in chunk]).to(dev)
                out.append(self.sequence_nll(_to_device(batch, dev)) - log_prior[first])
            runs.append(torch.cat(out))
        self.train(was_training)
        stacked = torch.stack(runs)
        if num_orderings == 1:
            return stacked[0]
        return -(torch.logsumexp(-stacked, dim=0) - math.log(num_orderings))

    @torch.no_grad()
    def _rollout(
        self,
        n: int,
        *,
        generator: torch.Generator | None,
        max_nodes: int,
        prefix: GraphSequence | None = None,
        prefix_is_complete: bool = False,
    ) -> tuple[SequenceBatch, Tensor]:
        """Ancestral sampling of ``n`` sequences, all advancing together (batched).

        Tokens of ``prefix`` are forced instead of sampled; with ``prefix_is_complete`` the EOS
        after the prefix is forced too (this scores the prefix step by step).

        Returns:
            The sampled sequences as a token batch and their log-probabilities ``[n]``.
        """
        tok = self.tokens
        C, R = self.num_classes, self.num_predicates
        M = max_nodes
        dev = self.first_node_prior.device
        nodes = torch.full((n, M), tok.node_pad, dtype=torch.long, device=dev)
        to = torch.full((n, M, M), tok.edge_pad, dtype=torch.long, device=dev)
        frm = torch.full((n, M, M), tok.edge_pad, dtype=torch.long, device=dev)
        lengths = torch.ones(n, dtype=torch.long, device=dev)
        logp = torch.zeros(n, dtype=torch.float, device=dev)
        P = 0
        if prefix is not None and prefix.num_nodes > 0:
            pb = collate_sequences([prefix], num_classes=C, num_predicates=R)
            P = prefix.num_nodes
            p_nodes, p_to, p_from = pb.nodes[0].to(dev), pb.to_edges[0].to(dev), pb.from_edges[0].to(dev)
            first = p_nodes[0].expand(n).clone()
        else:
            first = self._multinomial(self.first_node_prior, n, generator, replacement=True)
        logp += self.first_node_prior.log()[first]
        nodes[:, 0] = first
        active = torch.arange(n, device=dev)
        hidden: Hidden | None = None

        def draw(lp: Tensor) -> Tensor:
            return self._multinomial(lp.exp(), 1, generator).squeeze(1)

        for t in range(M - 1):
            x = self._history_input(nodes[active, t], to[active, t], frm[active, t]).unsqueeze(1)
            node_state, to_state, from_state, hidden = self._history(x, hidden)
            lp = self._node_log_probs(
                self.node_mlp(node_state), torch.tensor([t], device=dev)
            )[:, 0]
            i = t + 1
            if i < P:
                new = p_nodes[i].expand(active.numel()).clone()
            elif i == P and prefix_is_complete:
                new = torch.full((active.numel(),), tok.node_eos, dtype=torch.long, device=dev)
            else:
                new = draw(lp)
            logp[active] += lp.gather(1, new[:, None]).squeeze(1)
            keep = new != tok.node_eos
            if not bool(keep.all()):
                active, new = active[keep], new[keep]
                hidden = tuple(h[:, keep] for h in hidden)
                to_state, from_state = to_state[keep], from_state[keep]
                if active.numel() == 0:
                    break
            nodes[active, i] = new
            lengths[active] += 1
            state = self._edge_init(to_state[:, 0], from_state[:, 0])
            prev_to = torch.full_like(new, tok.edge_sos)
            prev_from = torch.full_like(new, tok.edge_sos)
            for j in range(i):
                nj = nodes[active, j]
                lt_logits, state = self._edge_step_to(state, new, nj, prev_to, prev_from)
                lt = torch.log_softmax(lt_logits, -1)
                e_to = p_to[i, j].expand(active.numel()).clone() if i < P else draw(lt)
                lf_logits, state = self._edge_step_from(state, new, nj, prev_to, prev_from, e_to)
                lf = torch.log_softmax(lf_logits, -1)
                e_from = p_from[i, j].expand(active.numel()).clone() if i < P else draw(lf)
                logp[active] += lt.gather(1, e_to[:, None]).squeeze(1) + lf.gather(1, e_from[:, None]).squeeze(1)
                to[active, i, j] = e_to
                frm[active, i, j] = e_from
                prev_to, prev_from = e_to, e_from
        return SequenceBatch(nodes, to, frm, lengths, tok), logp

    @staticmethod
    def _multinomial(
        probs: Tensor, num_samples: int, generator: torch.Generator | None, replacement: bool = False
    ) -> Tensor:
        """:func:`torch.multinomial` with a generator that may live on another device.

        A generator on ``probs``' device (or none) draws there. Otherwise (e.g. the usual CPU
        generator with a model on a GPU) the draw happens on the generator's device and the result
        moves back, so a seeded CPU generator gives the same samples whatever the model's device
        (up to floating-point differences of the probabilities).
        """
        if generator is None or generator.device == probs.device:
            return torch.multinomial(probs, num_samples, replacement=replacement, generator=generator)
        out = torch.multinomial(
            probs.to(generator.device), num_samples, replacement=replacement, generator=generator
        )
        return out.to(probs.device)

    def _resolve_max_nodes(self, max_nodes: int | None) -> int:
        if max_nodes is None:
            return self.max_nodes
        if not isinstance(max_nodes, int) or not 1 <= max_nodes <= self.max_nodes:
            raise ValueError(f"max_nodes: expected an integer in [1, {self.max_nodes}] (the model's max_nodes), got {max_nodes!r}")
        return max_nodes

    @staticmethod
    def _to_graphs(batch: SequenceBatch) -> list[HeteroData]:
        """Token batch -> graphs; vectorised equivalent of ``decode_sequence(uncollate(batch))``.

        Sampled tokens are valid by construction (categories ``< C``, predicates ``< R``), so the
        graphs are built directly (edges in row-major order of the predicate matrix, as
        :func:`sgkit.data.from_xf` does) without per-graph validation.
        """
        R = batch.tokens.num_predicates
        to, frm = batch.to_edges, batch.from_edges
        # F[b, s, o] = p + 1 for an edge s -> o; to[b, i, j] is the edge j -> i, frm[b, i, j] is i -> j
        F = torch.where(frm < R, frm + 1, 0) + torch.where(to < R, to + 1, 0).transpose(1, 2)
        b, s, o = F.nonzero(as_tuple=True)
        pred = F[b, s, o] - 1
        counts = torch.bincount(b, minlength=len(batch)).tolist()
        ei = torch.stack([s, o]).split(counts, dim=1)
        el = pred.split(counts)
        out = []
        for k, n in enumerate(batch.lengths.tolist()):
            out.append(
                HeteroData(
                    {
                        NODE: {"label": batch.nodes[k, :n].clone(), "num_nodes": n},
                        EDGE: {"edge_index": ei[k].clone(), "label": el[k].clone()},
                    }
                )
            )
        return out

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        max_nodes: int | None = None,
        *,
        batch_size: int = 1024,
        progress: bool = False,
    ) -> list[HeteroData]:
        """Sample ``n`` scene graphs by ancestral sampling (batches of graphs advance together).

        Args:
            n: number of graphs.
            generator: :class:`torch.Generator` for reproducible samples, on the CPU or on the
                model's device (a CPU generator with a model on a GPU draws on the CPU).
            max_nodes: stop every graph at this many nodes (EOS forced; default the model's
                ``max_nodes``, which the model itself never exceeds).
            batch_size: graphs generated together.
            progress: show a tqdm progress bar over batches.

        Returns:
            ``n`` :class:`HeteroData` graphs with category ids in ``[0, C)`` and predicate ids in
            ``[0, R)`` (no EOS / no-edge / padding token ever appears).
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n: expected a non-negative integer, got {n!r}")
        m = self._resolve_max_nodes(max_nodes)
        was_training = self.training
        self.eval()
        out: list[HeteroData] = []
        for start in tqdm(range(0, n, batch_size), desc="sample", disable=not progress):
            batch, _ = self._rollout(min(batch_size, n - start), generator=generator, max_nodes=m)
            out.extend(self._to_graphs(batch))
        self.train(was_training)
        return out

    @torch.no_grad()
    def complete(
        self,
        partial_graph: HeteroData,
        n: int,
        generator: torch.Generator | None = None,
        max_nodes: int | None = None,
        *,
        multi_edge: str = "last",
    ) -> list[HeteroData]:
        """Continue a partial scene graph ``n`` times (thesis Fig. 10.7).

        The partial graph is read as the beginning of a sequence with its nodes in their stored
        order; its nodes and edges are kept, and new nodes (with their edges to all earlier
        nodes) are sampled until EOS. Node ``k < N_partial`` of every completion is node ``k`` of
        ``partial_graph``.

        Args:
            partial_graph: the graph to continue (1 to ``max_nodes`` nodes).
            n: number of completions.
            generator: :class:`torch.Generator` for reproducible completions.
            max_nodes: largest completion (default: the model's ``max_nodes``).
            multi_edge: reduction of multi-edges of the partial graph.

        Returns:
            ``n`` completed graphs.

        Raises:
            ValueError: for an invalid ``partial_graph``, ``n`` not a non-negative int, or a
                graph larger than ``max_nodes``.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n: expected a non-negative integer, got {n!r}")
        self._check_graphs([partial_graph], name="partial_graph")
        m = self._resolve_max_nodes(max_nodes)
        X, F = to_xf(partial_graph, multi_edge=multi_edge)
        if X.numel() > m:
            raise ValueError(f"partial_graph: has {X.numel()} nodes, more than max_nodes={m}")
        prefix = encode_xf(X, F)
        was_training = self.training
        self.eval()
        batch, _ = self._rollout(n, generator=generator, max_nodes=m, prefix=prefix)
        self.train(was_training)
        return self._to_graphs(batch)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save weights, hyper-parameters, vocabulary, first-node prior and training history.

        The file holds only tensors and plain Python containers, so :meth:`load` can use
        ``torch.load(..., weights_only=True)``.
        """
        torch.save(
            {
                "format": "sgkit.models.autoregressive/1",
                "class": type(self).__name__,
                "hparams": dict(self.hparams),
                "vocab": None if self.vocab is None else self.vocab.to_dict(),
                "ordering": self.ordering_ if isinstance(self.ordering_, str) else None,
                "ordering_was_callable": callable(self.ordering_) or self._ordering_was_callable,
                "history": [dict(h) for h in self.history_],
                "state_dict": self.state_dict(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> "AutoregressiveSceneGraphModel":
        """Load a model written by :meth:`save` (``torch.load(..., weights_only=True)``).

        Raises:
            ValueError: if the file holds another model class.
        """
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != "sgkit.models.autoregressive/1":
            raise ValueError(f"path: {os.fspath(path)!r} is not an sgkit autoregressive model checkpoint")
        if ckpt["class"] != cls.__name__:
            raise ValueError(f"path: checkpoint holds a {ckpt['class']}, not a {cls.__name__}")
        vocab = None if ckpt["vocab"] is None else Vocabulary.from_dict(ckpt["vocab"])
        model = cls(**ckpt["hparams"], vocab=vocab)
        model.load_state_dict(ckpt["state_dict"])
        model.ordering_ = ckpt["ordering"]
        model._ordering_was_callable = bool(ckpt.get("ordering_was_callable", False))
        model.history_ = [dict(h) for h in ckpt["history"]]
        model.eval()
        return model

    def extra_repr(self) -> str:
        h = self.hparams
        return (
            f"num_classes={h['num_classes']}, num_predicates={h['num_predicates']}, max_nodes={h['max_nodes']}, "
            f"hidden_dim={h['hidden_dim']}, num_layers={h['num_layers']}"
        )

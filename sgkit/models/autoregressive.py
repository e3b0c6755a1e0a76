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
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from sgkit.data.sequence import (
    SequenceBatch,
    SequenceTokens,
)
from sgkit.data.vocab import Vocabulary
from sgkit.models.autoregressive_gru import InputGRU, PackedLayout
from sgkit.models.autoregressive_sampling import AutoregressiveSampling
from sgkit.models.autoregressive_training import (
    AutoregressiveLikelihood,
    check_positive,
)
from sgkit.models.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["AutoregressiveSceneGraphModel", "InputGRU"]

Hidden = tuple[Tensor, ...]


class AutoregressiveSceneGraphModel(AutoregressiveLikelihood, AutoregressiveSampling, nn.Module, metaclass=abc.ABCMeta):
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
        num_classes: int | None = None,
        num_predicates: int | None = None,
        *,
        vocab: Vocabulary | None = None,
        max_nodes: int | None = None,
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
        if vocab is not None and not isinstance(vocab, Vocabulary):
            raise ValueError(f"vocab: expected a sgkit.data.Vocabulary, got {type(vocab).__name__}")
        if num_classes is None and num_predicates is None and vocab is not None:
            num_classes, num_predicates = vocab.num_objects, vocab.num_predicates
        if num_classes is None or num_predicates is None:
            raise ValueError(
                "num_classes and num_predicates: give both, or a vocabulary (vocab=...) to read them from, "
                f"got num_classes={num_classes!r}, num_predicates={num_predicates!r}, vocab=None")
        check_positive("num_classes", num_classes)
        check_positive("num_predicates", num_predicates)
        if max_nodes is not None:
            check_positive("max_nodes", max_nodes)
        for name, v in (
            ("node_embedding_dim", node_embedding_dim),
            ("edge_embedding_dim", edge_embedding_dim),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
        ):
            check_positive(name, v)
        edge_hidden_dim = hidden_dim if edge_hidden_dim is None else check_positive("edge_hidden_dim", edge_hidden_dim)
        edge_num_layers = num_layers if edge_num_layers is None else check_positive("edge_num_layers", edge_num_layers)
        mlp_hidden_dim = hidden_dim if mlp_hidden_dim is None else check_positive("mlp_hidden_dim", mlp_hidden_dim)
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
        self.vocab = vocab
        self.tokens = SequenceTokens(num_classes, num_predicates)
        self.history_: list[dict[str, float]] = []
        # The ordering of the last ``fit``: a name, or the callable itself (in memory only).
        self.ordering_: str | Callable[..., Tensor] | None = None
        # True when loaded from a checkpoint of a model trained with a callable ordering.
        self._ordering_was_callable = False
        self.max_nodes: int | None = None
        if max_nodes is not None:
            self._init_networks(max_nodes)
        self.register_buffer("first_node_prior", torch.full((num_classes,), 1.0 / num_classes))

    def _init_networks(self, max_nodes: int) -> None:
        """Create the networks for graphs of up to ``max_nodes`` nodes, under the init seed."""
        h = self.hparams
        h["max_nodes"] = max_nodes
        self.max_nodes = max_nodes
        self.width = max(max_nodes - 1, 1)  # edge slots of the history input
        C, R = self.num_classes, self.num_predicates
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(h["seed"])
            self.node_embedding = nn.Embedding(C + 2, h["node_embedding_dim"], padding_idx=C + 1)
            self.edge_embedding = nn.Embedding(R + 3, h["edge_embedding_dim"], padding_idx=R + 2)
            self.node_mlp = nn.Sequential(
                nn.Linear(h["hidden_dim"], h["mlp_hidden_dim"]), nn.ReLU(), nn.Linear(h["mlp_hidden_dim"], C + 1)
            )
            self._build()
        if hasattr(self, "first_node_prior"):
            self.to(self.first_node_prior.device)

    def _require_networks(self) -> None:
        if self.max_nodes is None:
            raise ValueError(
                "max_nodes: the model has no networks yet; call fit(graphs) first (it sets max_nodes to the "
                "largest training graph) or build the model with max_nodes=...")

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
        layout: PackedLayout,
    ) -> tuple[Tensor, Tensor]:
        """Teacher-forced edge logits ``[N, R + 1]`` (to, from) over whole edge sequences.

        The token arguments are ``[N]`` tensors in the packed order of ``layout`` (one entry per
        edge step of every sequence, :class:`~sgkit.models.autoregressive_gru.PackedLayout`);
        ``state`` holds the initial states in the original row order."""

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
        layout = PackedLayout.from_lengths(ri, L)  # row k = (rb[k], ri[k]) has ri[k] edge steps
        state = self._edge_init(to_state[rb, ri - 1], from_state[rb, ri - 1])
        cur_to = to[rb, ri, :L]
        cur_from = frm[rb, ri, :L]
        sos = cur_to.new_full((rb.numel(), 1), tok.edge_sos)
        prev_to = torch.cat([sos, cur_to[:, :-1]], dim=1)
        prev_from = torch.cat([sos, cur_from[:, :-1]], dim=1)
        packed = [layout.pack(t) for t in (nodes[rb, :L], prev_to, prev_from, cur_to, cur_from)]
        nj, prev_to, prev_from, cur_to, cur_from = packed
        cur = nodes[rb, ri].index_select(0, layout.rows)
        to_logits, from_logits = self._edge_teacher(state, cur, nj, prev_to, prev_from, cur_to, layout)
        lt = torch.log_softmax(to_logits, -1).gather(-1, cur_to.unsqueeze(-1)).squeeze(-1)
        lf = torch.log_softmax(from_logits, -1).gather(-1, cur_from.unsqueeze(-1)).squeeze(-1)
        edge_nll = (lt + lf).new_zeros(rb.numel()).index_add(0, layout.rows, -(lt + lf))
        return nll.index_add(0, rb, edge_nll)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> str:
        """Write weights, hyper-parameters, vocabulary, first-node prior and training history in
        the one checkpoint format (:mod:`sgkit.models.checkpoint`: atomic, never non-finite)."""
        self._require_networks()
        return save_checkpoint(
            path, model=type(self).__name__, config=dict(self.hparams), state_dict=self.state_dict(),
            vocab=None if self.vocab is None else self.vocab.to_dict(), history=self.history_,
            extra={"ordering": self.ordering_ if isinstance(self.ordering_, str) else None,
                   "ordering_was_callable": callable(self.ordering_) or self._ordering_was_callable},
        )

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> "AutoregressiveSceneGraphModel":
        """Load a model written by :meth:`save` (``torch.load(..., weights_only=True)``).

        Raises:
            ValueError: if the file is not a checkpoint of this model class (naming the path).
        """
        ckpt = load_checkpoint(path, model=cls.__name__, map_location=map_location)
        vocab = None if ckpt["vocab"] is None else Vocabulary.from_dict(ckpt["vocab"])
        model = cls(**ckpt["config"], vocab=vocab)
        model.load_state_dict(ckpt["state_dict"])
        model.ordering_ = ckpt["extra"].get("ordering")
        model._ordering_was_callable = bool(ckpt["extra"].get("ordering_was_callable", False))
        model.history_ = [dict(h) for h in ckpt["history"]]
        model.eval()
        return model

    def extra_repr(self) -> str:
        h = self.hparams
        return (
            f"num_classes={h['num_classes']}, num_predicates={h['num_predicates']}, max_nodes={h['max_nodes']}, "
            f"hidden_dim={h['hidden_dim']}, num_layers={h['num_layers']}"
        )

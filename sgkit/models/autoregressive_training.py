"""Training and scoring of the autoregressive scene-graph models: ``fit`` and ``nll``.

:class:`AutoregressiveLikelihood` is a mixin of
:class:`~sgkit.models.autoregressive.AutoregressiveSceneGraphModel`: maximum-likelihood training
by teacher forcing through the shared :class:`~sgkit.models.trainer.Trainer`, and the per-graph
negative log-likelihood used as anomaly score.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data.convert import to_xf
from sgkit.data.orderings import get_ordering
from sgkit.data.batch import check_scenes
from sgkit.data.scene_graph import NODE
from sgkit.data.sequence import (
    GraphSequence,
    SequenceBatch,
    collate_sequences,
    encode_xf,
)
from sgkit.models.trainer import Trainer, backward_step

__all__ = ["AutoregressiveLikelihood", "check_positive", "check_positive_number", "to_device"]


def check_positive(name: str, value: int) -> int:
    """``value`` if it is a positive int, else ``ValueError`` naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def check_positive_number(name: str, value: float) -> float:
    """``value`` as a float if it is a finite number > 0, else ``ValueError`` naming ``name``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def to_device(batch: SequenceBatch, device: torch.device) -> SequenceBatch:
    """Move the tensors of a token batch to ``device`` (no copy when already there)."""
    if batch.nodes.device == device:
        return batch
    return SequenceBatch(batch.nodes.to(device), batch.to_edges.to(device), batch.from_edges.to(device),
                         batch.lengths.to(device), batch.tokens)


class AutoregressiveLikelihood:
    """``fit`` and ``nll`` of the autoregressive scene-graph models."""

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
    ) -> Any:
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
        self._check_graphs(graphs)
        check_positive("epochs", epochs)
        check_positive("batch_size", batch_size)
        check_positive_number("lr", lr)
        check_positive_number("lr_decay", lr_decay)
        check_positive("lr_decay_steps", lr_decay_steps)
        if grad_clip is not None:
            check_positive_number("grad_clip", grad_clip)
        if self.max_nodes is None:
            self._init_networks(max(int(g[NODE].label.numel()) for g in graphs))
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
        epoch_state: dict[str, Any] = {}

        def on_epoch_start(epoch: int) -> None:
            epoch_state["t0"] = time.perf_counter()
            epoch_state["seqs"] = self._encode_all(xf, graphs, order_fn, gen)
            for s in epoch_state["seqs"]:
                counts[int(s.nodes[0])] += 1

        def step_fn(idx: list[int], step: int) -> dict[str, float]:
            seqs = epoch_state["seqs"]
            batch = collate_sequences([seqs[i] for i in idx], num_classes=self.num_classes,
                                      num_predicates=self.num_predicates)
            loss = self.sequence_nll(to_device(batch, dev)).mean()
            backward_step(loss, {"nll": loss}, [opt], grad_clip=grad_clip, module=self)
            sched.step()
            return {"loss": float(loss.detach()), "graphs": float(len(idx))}

        def on_epoch_end(epoch: int, stats: list[dict[str, float]]) -> None:
            total = sum(st["loss"] * st["graphs"] for st in stats)
            self.history_.append({"epoch": float(epoch), "loss": total / len(graphs),
                                  "seconds": time.perf_counter() - epoch_state["t0"], "steps": float(len(stats))})

        self.train()
        Trainer(epochs=epochs, batch_size=batch_size, generator=gen, progress=progress,
                desc=f"{type(self).__name__}.fit", postfix=("loss",), on_epoch_start=on_epoch_start,
                on_epoch_end=on_epoch_end, module=self).run(len(graphs), step_fn)
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
        self._require_networks()
        self._check_graphs(graphs)
        check_positive("num_orderings", num_orderings)
        check_positive("batch_size", batch_size)
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
                out.append(self.sequence_nll(to_device(batch, dev)) - log_prior[first])
            runs.append(torch.cat(out))
        self.train(was_training)
        stacked = torch.stack(runs)
        if num_orderings == 1:
            return stacked[0]
        return -(torch.logsumexp(-stacked, dim=0) - math.log(num_orderings))

    # ------------------------------------------------------------------ input checks / encoding
    def _check_graphs(self, graphs: Sequence[HeteroData], name: str = "graphs") -> None:
        if isinstance(graphs, HeteroData):
            raise ValueError(f"{name}: expected a sequence of scene graphs, got a single HeteroData "
                             f"(wrap it in a list: [{name}])")
        if graphs is None or len(graphs) == 0:
            raise ValueError(f"{name}: empty set of graphs (need at least one scene graph)")
        check_scenes(graphs, self.num_classes, self.num_predicates, name=name)
        for k, g in enumerate(graphs):
            n = int(g[NODE].label.numel())
            if n == 0:
                raise ValueError(f"{name}[{k}]: empty graph (0 nodes); every sequence has at least one node")
            if self.max_nodes is not None and n > self.max_nodes:
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

"""Ancestral sampling and graph completion of the autoregressive scene-graph models.

:class:`AutoregressiveSampling` is a mixin of
:class:`~sgkit.models.autoregressive.AutoregressiveSceneGraphModel`: batched ancestral sampling
(all graphs of a batch advance together), sampling with a forced prefix (completion) and the
conversion of token batches back into scene graphs.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from sgkit.data.convert import to_xf
from sgkit.data.scene_graph import EDGE, NODE
from sgkit.data.sequence import (
    GraphSequence,
    SequenceBatch,
    collate_sequences,
    encode_xf,
)

Hidden = tuple[Tensor, ...]

__all__ = ["AutoregressiveSampling"]


class AutoregressiveSampling:
    """Sampling methods shared by SceneGraphGen and GraphRNN (see the base class for the model)."""

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
        self._require_networks()
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
        self._require_networks()
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

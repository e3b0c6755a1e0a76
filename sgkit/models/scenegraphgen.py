"""SceneGraphGen: unconditional autoregressive generation of scene graphs.

Garg, Dhamo et al., "Unconditional Scene Graph Generation", ICCV 2021
(https://arxiv.org/abs/2108.05884); thesis section 10.3 (lines 2232-2455).
"""
from __future__ import annotations

import torch
from torch import Tensor

from sgkit.models.autoregressive import AutoregressiveSceneGraphModel, Hidden, InputGRU
from sgkit.models.autoregressive_gru import PackedLayout

__all__ = ["SceneGraphGen"]


class SceneGraphGen(AutoregressiveSceneGraphModel):
    r"""SceneGraphGen: a hierarchical auto-regressive model of scene graphs.

    A graph with its nodes in a chosen order is the sequence ``X_i = (O_i, E_to_i, E_from_i)``
    (:mod:`sgkit.data.sequence`), modelled as

    .. math::
        p(X) = p(O_1) \prod_{i=2}^{n} p_{\phi_1}(O_i \mid X_{<i})\,
        p_{\phi_2}(E^{to}_i \mid O_i, X_{<i})\, p_{\phi_3}(E^{from}_i \mid O_i, E^{to}_i, X_{<i})

    - history: three GRUs (node, to-edge and from-edge streams), each reading the previous
      step's node embedding and its two padded edge-embedding sequences, zero initial state;
    - node generator: 2-layer MLP on the node-GRU state -> categories + EOS;
    - edge generators: two GRUs over ``j = 1..i-1`` whose initial state is a linear map of the
      matching history state; at step ``j`` they read the previous to/from edges, the current
      node ``O_i`` and node ``O_j`` (node-aware); the from-edge GRU also reads the to-edge
      ``E_to_{i,j}`` just generated; 2-layer MLP heads -> predicates + "no edge";
    - first node from the empirical prior of first nodes under the training ordering.

    Defaults follow the thesis (node embedding 64, edge embedding 8, 4-layer GRUs with hidden
    size 128, 2-layer MLPs); every size is configurable. The common interface (``fit``,
    ``sample``, ``nll``, ``complete``, ``save``, ``load``) and the exact meaning of
    ``max_nodes`` are documented in :class:`~sgkit.models.AutoregressiveSceneGraphModel`.

    Args:
        num_classes: number of object categories.
        num_predicates: number of predicates.
        **kwargs: see :class:`~sgkit.models.AutoregressiveSceneGraphModel`.

    Example:
        >>> from sgkit.data import from_triplets
        >>> g = from_triplets([0, 1], [(0, 0, 1)])
        >>> model = SceneGraphGen(2, 1, max_nodes=4, hidden_dim=16, num_layers=1)
        >>> _ = model.fit([g] * 8, epochs=2, progress=False)
        >>> len(model.sample(3, generator=torch.Generator().manual_seed(0)))
        3
    """

    def _build(self) -> None:
        h = self.hparams
        H, L = h["hidden_dim"], h["num_layers"]
        He, Le = h["edge_hidden_dim"], h["edge_num_layers"]
        nd, ed = h["node_embedding_dim"], h["edge_embedding_dim"]
        self.node_history = InputGRU(self.history_input_dim, H, L)
        self.to_history = InputGRU(self.history_input_dim, H, L)
        self.from_history = InputGRU(self.history_input_dim, H, L)
        self.to_init = self._make_gru_init(H, He, Le)
        self.from_init = self._make_gru_init(H, He, Le)
        self.to_edge_gru = InputGRU(2 * ed + 2 * nd, He, Le)
        self.from_edge_gru = InputGRU(3 * ed + 2 * nd, He, Le)
        self.to_edge_head = self._edge_head()
        self.from_edge_head = self._edge_head()

    def _history(
        self, x: Tensor, hidden: Hidden | None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Hidden]:
        hn, ht, hf = (None, None, None) if hidden is None else hidden
        on, hn = self.node_history(x, hn, lengths)
        ot, ht = self.to_history(x, ht, lengths)
        of, hf = self.from_history(x, hf, lengths)
        return on, ot, of, (hn, ht, hf)

    def _edge_init(self, to_state: Tensor, from_state: Tensor) -> Hidden:
        return (self._init_state(self.to_init, to_state), self._init_state(self.from_init, from_state))

    def _edge_inputs(self, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor) -> Tensor:
        emb_n, emb_e = self.node_embedding, self.edge_embedding
        if cur.dim() < nj.dim():
            cur = cur.unsqueeze(-1).expand_as(nj)
        return torch.cat([emb_e(prev_to), emb_e(prev_from), emb_n(cur), emb_n(nj)], dim=-1)

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
        base = self._edge_inputs(cur, nj, prev_to, prev_from)
        out_to, _ = self.to_edge_gru.packed(base, state[0], layout)
        x_from = torch.cat([base, self.edge_embedding(cur_to)], dim=-1)
        out_from, _ = self.from_edge_gru.packed(x_from, state[1], layout)
        return self.to_edge_head(out_to), self.from_edge_head(out_from)

    def _edge_step_to(
        self, state: Hidden, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor
    ) -> tuple[Tensor, Hidden]:
        base = self._edge_inputs(cur, nj, prev_to, prev_from).unsqueeze(1)
        out, h_to = self.to_edge_gru(base, state[0])
        return self.to_edge_head(out[:, 0]), (h_to, state[1])

    def _edge_step_from(
        self, state: Hidden, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor, cur_to: Tensor
    ) -> tuple[Tensor, Hidden]:
        base = self._edge_inputs(cur, nj, prev_to, prev_from)
        x = torch.cat([base, self.edge_embedding(cur_to)], dim=-1).unsqueeze(1)
        out, h_from = self.from_edge_gru(x, state[1])
        return self.from_edge_head(out[:, 0]), (state[0], h_from)

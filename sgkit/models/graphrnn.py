"""GraphRNN baseline extended with node and edge categories and edge directions.

You et al., "GraphRNN: Generating Realistic Graphs with Deep Auto-regressive Models", ICML 2018
(https://arxiv.org/abs/1802.08773), as adapted for scene graphs in thesis section 10.4.1.
"""
from __future__ import annotations

import torch
from torch import Tensor

from sgkit.models.autoregressive import AutoregressiveSceneGraphModel, Hidden, InputGRU
from sgkit.models.autoregressive_gru import PackedLayout

__all__ = ["GraphRNN"]


class GraphRNN(AutoregressiveSceneGraphModel):
    r"""GraphRNN with categorical nodes and directed, categorical edges (SceneGraphGen's baseline).

    Same sequence form and interface as :class:`~sgkit.models.SceneGraphGen`, but:

    - one graph-level GRU (instead of three) encodes the history and feeds both the node MLP
      and the edge generator;
    - one edge-level GRU reads only the previous to/from edges (no node information: not
      node-aware) and outputs the to-edge and the from-edge of each pair from two heads, so the
      from-edge is *not* conditioned on the to-edge:

    .. math::
        p(X) = p(O_1) \prod_{i=2}^{n} p(O_i \mid X_{<i})
        \prod_{j<i} p(E^{to}_{i,j} \mid E_{i,<j}, X_{<i})\, p(E^{from}_{i,j} \mid E_{i,<j}, X_{<i})

    Args:
        num_classes: number of object categories.
        num_predicates: number of predicates.
        **kwargs: see :class:`~sgkit.models.AutoregressiveSceneGraphModel`.
    """

    def _build(self) -> None:
        h = self.hparams
        H, L = h["hidden_dim"], h["num_layers"]
        He, Le = h["edge_hidden_dim"], h["edge_num_layers"]
        ed = h["edge_embedding_dim"]
        self.graph_history = InputGRU(self.history_input_dim, H, L)
        self.edge_init = self._make_gru_init(H, He, Le)
        self.edge_gru = InputGRU(2 * ed, He, Le)
        self.to_edge_head = self._edge_head()
        self.from_edge_head = self._edge_head()

    def _history(
        self, x: Tensor, hidden: Hidden | None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Hidden]:
        out, h = self.graph_history(x, None if hidden is None else hidden[0], lengths)
        return out, out, out, (h,)

    def _edge_init(self, to_state: Tensor, from_state: Tensor) -> Hidden:
        return (self._init_state(self.edge_init, to_state),)

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
        out, _ = self.edge_gru.packed(self._edge_inputs(prev_to, prev_from), state[0], layout)
        return self.to_edge_head(out), self.from_edge_head(out)

    def _edge_inputs(self, prev_to: Tensor, prev_from: Tensor) -> Tensor:
        return torch.cat([self.edge_embedding(prev_to), self.edge_embedding(prev_from)], dim=-1)

    def _edge_step_to(
        self, state: Hidden, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor
    ) -> tuple[Tensor, Hidden]:
        out, h = self.edge_gru(self._edge_inputs(prev_to, prev_from).unsqueeze(1), state[0])
        out = out[:, 0]
        # the from-logits of this pair come from the same state: cache them for _edge_step_from
        return self.to_edge_head(out), (h, self.from_edge_head(out))

    def _edge_step_from(
        self, state: Hidden, cur: Tensor, nj: Tensor, prev_to: Tensor, prev_from: Tensor, cur_to: Tensor
    ) -> tuple[Tensor, Hidden]:
        return state[1], (state[0],)

"""DisenGCN neighbourhood routing with predicate features (DSGN of DisPositioNet)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MessagePassing

__all__ = ["DisenRouting", "DSGN"]


def _check_positive(**kwargs: int) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {name}={value!r}")


def _check_edge_index(edge_index: Tensor, num_nodes: int) -> None:
    """Shape check only; values are checked at the model boundary (:mod:`sgkit.nn.checks`)."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            "edge_index must have shape [2, E] (row 0 = subject, row 1 = object), got "
            f"edge_index.shape={tuple(edge_index.shape)}"
        )


class DisenRouting(MessagePassing):
    r"""Neighbourhood routing of DisenGCN, with predicate (edge) features entering the routing.

    From `"Disentangled Graph Convolutional Networks"
    <https://proceedings.mlr.press/v97/ma19a.html>`_
    (Ma et al., ICML 2019), extended as the DSGN of `"DisPositioNet"
    <https://arxiv.org/abs/2211.05499>`_ (Farshad et al., BMVC 2022): node vectors are split into
    :math:`K` factors (channels) of size :math:`d`; every neighbour is routed, per iteration, to
    the factors whose current centroid it agrees with.

    Predicates enter the routing through the neighbour vectors: for a triplet
    :math:`e = (s, r_e, o)` the object receives the subject shifted by a projection of the
    predicate, and (with ``bidirectional=True``) the subject receives the object shifted by a
    second projection,

    .. math::
        \mathbf{z}_{e \to o, k} = \frac{\mathbf{x}_{s,k} + (\mathbf{W}_\rightarrow
        \mathbf{r}_e)_k}{\lVert\cdot\rVert_2}, \qquad
        \mathbf{z}_{e \to s, k} = \frac{\mathbf{x}_{o,k} + (\mathbf{W}_\leftarrow
        \mathbf{r}_e)_k}{\lVert\cdot\rVert_2}.

    Without edge features (``edge_channels=None``) :math:`\mathbf{z}_{e \to i, k}` is the
    normalised neighbour factor, i.e. plain DisenGCN. With :math:`\mathbf{z}_{i,k} =
    \mathbf{x}_{i,k} / \lVert \mathbf{x}_{i,k} \rVert` and :math:`\mathbf{c}_{i}^{(0)} =
    \mathbf{z}_i`, each of the :math:`T` iterations computes

    .. math::
        p_{e,k} = \operatorname{softmax}_k\left(
        \mathbf{z}_{e \to i, k}^\top \mathbf{c}^{(t-1)}_{i,k} / \tau \right), \qquad
        \mathbf{c}^{(t)}_{i,k} = \frac{\mathbf{z}_{i,k} + \sum_{e \to i} p_{e,k}\,
        \mathbf{z}_{e \to i, k}}{\lVert\cdot\rVert_2},

    and the layer returns :math:`\mathbf{c}^{(T)}` (every factor has unit norm; a node without
    neighbours returns its normalised input).

    Args:
        channels: node size :math:`K d` (input = output).
        num_factors: number of factors :math:`K`; must divide ``channels``.
        num_iterations: routing iterations :math:`T` (12 in the thesis, appendix C).
        tau: softmax temperature :math:`\tau`.
        edge_channels: size of the predicate features, or ``None`` for plain DisenGCN.
        bidirectional: route along both edge directions (DisenGCN treats graphs as undirected);
            if ``False`` only objects receive from subjects.

    Shapes:
        - **input:** node features :math:`(N, K d)`, edge indices :math:`(2, E)` (row 0 =
          subject), optional predicate features :math:`(E, D_e)`
        - **output:** :math:`(N, K d)`
    """

    def __init__(
        self,
        channels: int,
        num_factors: int,
        num_iterations: int = 12,
        tau: float = 1.0,
        edge_channels: Optional[int] = None,
        bidirectional: bool = True,
    ) -> None:
        _check_positive(channels=channels, num_factors=num_factors, num_iterations=num_iterations)
        if channels % num_factors != 0:
            raise ValueError(
                f"num_factors must divide channels, got channels={channels}, "
                f"num_factors={num_factors}"
            )
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got tau={tau!r}")
        if edge_channels is not None:
            _check_positive(edge_channels=edge_channels)
        super().__init__(aggr="sum")
        self.channels = channels
        self.num_factors = num_factors
        self.num_iterations = num_iterations
        self.tau = float(tau)
        self.edge_channels = edge_channels
        self.bidirectional = bidirectional
        self.lin_forward: Optional[torch.nn.Linear] = None
        self.lin_backward: Optional[torch.nn.Linear] = None
        if edge_channels is not None:
            self.lin_forward = torch.nn.Linear(edge_channels, channels, bias=False)
            if bidirectional:
                self.lin_backward = torch.nn.Linear(edge_channels, channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the predicate projections."""
        super().reset_parameters()
        for lin in (self.lin_forward, self.lin_backward):
            if lin is not None:
                lin.reset_parameters()

    def _normalize(self, x: Tensor) -> Tensor:
        k = self.num_factors
        return F.normalize(x.view(-1, k, self.channels // k), dim=-1).view(x.shape)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None
    ) -> Tensor:
        """Route.

        Args:
            x: node features ``[N, channels]``.
            edge_index: ``[2, E]``, row 0 = subject, row 1 = object.
            edge_attr: predicate features ``[E, edge_channels]`` (required iff the layer was
                built with ``edge_channels``).

        Returns:
            ``[N, channels]`` routed features, unit norm per factor.
        """
        if x.dim() != 2 or x.size(1) != self.channels:
            raise ValueError(
                f"x must have shape [N, {self.channels}], got x.shape={tuple(x.shape)}"
            )
        _check_edge_index(edge_index, x.size(0))
        if self.edge_channels is None and edge_attr is not None:
            raise ValueError("edge_attr was given but the layer has edge_channels=None")
        if self.edge_channels is not None:
            if edge_attr is None:
                raise ValueError(
                    f"edge_attr [E, {self.edge_channels}] is required (edge_channels is set)"
                )
            if edge_attr.dim() != 2 or edge_attr.shape != (edge_index.size(1), self.edge_channels):
                raise ValueError(
                    f"edge_attr must have shape [E={edge_index.size(1)}, {self.edge_channels}], "
                    f"got edge_attr.shape={tuple(edge_attr.shape)}"
                )
        src, dst = edge_index[0], edge_index[1]
        neighbour = x.index_select(0, src)
        if edge_attr is not None and self.lin_forward is not None:
            neighbour = neighbour + self.lin_forward(edge_attr)
        if self.bidirectional:
            back = x.index_select(0, dst)
            if edge_attr is not None and self.lin_backward is not None:
                back = back + self.lin_backward(edge_attr)
            neighbour = torch.cat([neighbour, back], dim=0)
            edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
        z_edge = self._normalize(neighbour)
        z = self._normalize(x)
        c = z
        for _ in range(self.num_iterations):
            c = self._normalize(z + self.propagate(edge_index, z_edge=z_edge, c=c))
        return c

    def message(self, z_edge: Tensor, c_i: Tensor) -> Tensor:
        """Weight each neighbour's factors by the routing probabilities ``p_{e,k}``."""
        k, d = self.num_factors, self.channels // self.num_factors
        z3 = z_edge.view(-1, k, d)
        p = torch.softmax((z3 * c_i.view(-1, k, d)).sum(dim=-1) / self.tau, dim=-1)
        return (z3 * p.unsqueeze(-1)).view(-1, k * d)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.channels}, num_factors={self.num_factors}, "
            f"num_iterations={self.num_iterations}, tau={self.tau}, "
            f"edge_channels={self.edge_channels})"
        )


class DSGN(torch.nn.Module):
    r"""Disentangled scene-graph network of DisPositioNet (thesis appendix C, Table C.1).

    From `"DisPositioNet: Disentangled Pose and Identity in Semantic Image Manipulation"
    <https://arxiv.org/abs/2211.05499>`_. A sparse-capable input projection to
    :math:`K d` channels with LeakyReLU, a stack of :class:`DisenRouting` layers in which the
    predicate features enter the routing, then a linear output layer, 1-D batch normalisation
    and LeakyReLU:

    .. math::
        \mathbf{H}^{(0)} = \mathrm{LeakyReLU}(\mathbf{X}\mathbf{W}_\text{in} + \mathbf{b}),\quad
        \mathbf{H}^{(l+1)} = \mathrm{DisenRouting}_l(\mathbf{H}^{(l)}, \mathcal{E}, \mathbf{R}),
        \quad \mathbf{Z} = \mathrm{LeakyReLU}(\mathrm{BN}(\mathbf{H}^{(L)}\mathbf{W}_\text{out}
        + \mathbf{b}_\text{out})).

    Defaults follow the appendix: :math:`K = 16` factors of :math:`d = 14` channels, 10 routing
    layers with 12 iterations each. Dropout (if any) is applied after the input projection and
    between routing layers. The batch normalisation needs more than one node per batch in
    training mode.

    Args:
        in_channels: node input size (dense or a sparse COO tensor).
        out_channels: output size.
        edge_channels: predicate feature size, or ``None`` for plain DisenGCN routing.
        num_factors: :math:`K`.
        factor_channels: :math:`d`.
        num_layers: number of routing layers.
        num_iterations: routing iterations per layer.
        tau: routing softmax temperature.
        dropout: dropout probability.
        bidirectional: route along both edge directions.

    Shapes:
        - **input:** :math:`(N, D_\text{in})`, :math:`(2, E)`, optional :math:`(E, D_e)`
        - **output:** :math:`(N, D_\text{out})`
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        edge_channels: Optional[int] = None,
        num_factors: int = 16,
        factor_channels: int = 14,
        num_layers: int = 10,
        num_iterations: int = 12,
        tau: float = 1.0,
        dropout: float = 0.0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        _check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            num_factors=num_factors,
            factor_channels=factor_channels,
            num_layers=num_layers,
        )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got dropout={dropout!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.edge_channels = edge_channels
        self.num_factors = num_factors
        self.factor_channels = factor_channels
        self.dropout = dropout
        channels = num_factors * factor_channels
        self.lin_in = torch.nn.Linear(in_channels, channels)
        self.convs = torch.nn.ModuleList(
            DisenRouting(
                channels,
                num_factors,
                num_iterations=num_iterations,
                tau=tau,
                edge_channels=edge_channels,
                bidirectional=bidirectional,
            )
            for _ in range(num_layers)
        )
        self.lin_out = torch.nn.Linear(channels, out_channels)
        self.norm = torch.nn.BatchNorm1d(out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all parameters."""
        self.lin_in.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        self.lin_out.reset_parameters()
        self.norm.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None
    ) -> Tensor:
        """Compute disentangled object features.

        Args:
            x: ``[N, in_channels]`` dense or sparse COO node features.
            edge_index: ``[2, E]``, row 0 = subject.
            edge_attr: ``[E, edge_channels]`` predicate features (if ``edge_channels`` set).

        Returns:
            ``[N, out_channels]``.
        """
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(
                f"x must have shape [N, {self.in_channels}], got x.shape={tuple(x.shape)}"
            )
        if x.is_sparse:
            h = torch.sparse.mm(x, self.lin_in.weight.t()) + self.lin_in.bias
        else:
            h = self.lin_in(x)
        h = F.dropout(F.leaky_relu(h), self.dropout, self.training)
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = F.dropout(h, self.dropout, self.training)
            h = conv(h, edge_index, edge_attr)
        return F.leaky_relu(self.norm(self.lin_out(h)))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"edge_channels={self.edge_channels}, num_factors={self.num_factors}, "
            f"factor_channels={self.factor_channels}, num_layers={len(self.convs)})"
        )

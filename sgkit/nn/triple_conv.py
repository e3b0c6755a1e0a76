"""SG2Im scene-graph convolution on (subject, predicate, object) triplets."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch_geometric.nn import MLP, MessagePassing

__all__ = ["TripleConv", "TripleGCN"]

_POOLINGS = ("avg", "sum")
_NORMS = (None, "batch")


def _check_common(pooling: str, norm: Optional[str], dropout: float) -> None:
    if pooling not in _POOLINGS:
        raise ValueError(f"pooling must be one of {_POOLINGS}, got pooling={pooling!r}")
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got norm={norm!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got dropout={dropout!r}")


def _check_positive(**kwargs: int) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {name}={value!r}")


class TripleConv(MessagePassing):
    r"""One layer of the scene-graph convolution of SG2Im.

    From `"Image Generation from Scene Graphs" <https://arxiv.org/abs/1804.01622>`_
    (Johnson et al., CVPR 2018), as used by MIGS, SIMSG and DisPositioNet. Every edge
    :math:`e = (s, o)` with predicate vector :math:`r_e` is a triplet. A two-layer MLP
    :math:`g_t` maps the concatenated triplet to a new subject, predicate and object vector,

    .. math::
        (\mathbf{s}_e, \mathbf{r}'_e, \mathbf{o}_e) =
        g_t\left([\mathbf{x}_s \,\|\, \mathbf{r}_e \,\|\, \mathbf{x}_o]\right),
        \qquad \mathbf{s}_e, \mathbf{o}_e \in \mathbb{R}^{H},\;
        \mathbf{r}'_e \in \mathbb{R}^{D_\text{out}},

    the subject and object candidates are pooled into their nodes (average or sum over all
    the triplets the node takes part in, as subject or as object),

    .. math::
        \mathbf{h}_i = \operatorname{pool}\left(\{\mathbf{s}_e : s(e) = i\} \cup
        \{\mathbf{o}_e : o(e) = i\}\right),

    and a second two-layer MLP updates each node, :math:`\mathbf{x}'_i = g_n(\mathbf{h}_i)`.
    Both MLPs end in a ReLU, as in the original code. A node that takes part in no triplet has
    :math:`\mathbf{h}_i = \mathbf{0}`, so its output is :math:`g_n(\mathbf{0})` (it does not
    depend on its input vector), exactly like SG2Im. Weights are initialised with Kaiming-normal
    (fan-in, ReLU) as in the original.

    Works on a single graph or on a PyG mini-batch (edge indices already offset).

    Args:
        in_channels: size :math:`D_\text{in}` of the node vectors.
        edge_channels: size of the predicate (edge) vectors.
        out_channels: size :math:`D_\text{out}` of the new node and predicate vectors.
        hidden_channels: hidden size :math:`H` of both MLPs, which is also the size of the
            pooled subject/object candidates (512 in SG2Im).
        pooling: ``"avg"`` (SG2Im default) or ``"sum"``.
        norm: ``None`` or ``"batch"`` (batch normalisation inside the MLPs, SG2Im's
            ``mlp_normalization``).
        dropout: dropout probability inside the MLPs.

    Shapes:
        - **input:** node features :math:`(N, D_\text{in})`, edge indices :math:`(2, E)` (row 0 =
          subject), predicate features :math:`(E, D_e)`
        - **output:** node features :math:`(N, D_\text{out})`, predicate features
          :math:`(E, D_\text{out})`
    """

    def __init__(
        self,
        in_channels: int,
        edge_channels: int,
        out_channels: int,
        hidden_channels: int = 512,
        pooling: str = "avg",
        norm: Optional[str] = None,
        dropout: float = 0.0,
    ) -> None:
        _check_positive(
            in_channels=in_channels,
            edge_channels=edge_channels,
            out_channels=out_channels,
            hidden_channels=hidden_channels,
        )
        _check_common(pooling, norm, dropout)
        super().__init__(aggr="mean" if pooling == "avg" else "sum")
        self.in_channels = in_channels
        self.edge_channels = edge_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.pooling = pooling
        self.norm = norm
        self.dropout = dropout
        norm_name = "batch_norm" if norm == "batch" else None
        self.triple_mlp = MLP(
            [2 * in_channels + edge_channels, hidden_channels, 2 * hidden_channels + out_channels],
            norm=norm_name,
            dropout=dropout,
            plain_last=False,
        )
        self.node_mlp = MLP(
            [hidden_channels, hidden_channels, out_channels],
            norm=norm_name,
            dropout=dropout,
            plain_last=False,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise both MLPs (Kaiming-normal weights, as SG2Im)."""
        super().reset_parameters()
        for mlp in (self.triple_mlp, self.node_mlp):
            mlp.reset_parameters()
            for lin in mlp.lins:
                torch.nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        """Run the layer.

        Args:
            x: node features ``[N, in_channels]``.
            edge_index: ``[2, E]`` long tensor, row 0 = subject, row 1 = object.
            edge_attr: predicate features ``[E, edge_channels]``.

        Returns:
            ``(x_new [N, out_channels], edge_attr_new [E, out_channels])``.

        Raises:
            ValueError: if a shape is wrong or an ``edge_index`` value lies outside ``[0, N)``.
        """
        _check_inputs(x, edge_index, edge_attr, self.in_channels, self.edge_channels)
        num_nodes = x.size(0)
        # Per-triplet MLP: x_j is the subject (row 0), x_i the object (row 1).
        triple = self.edge_updater(edge_index, x=x, edge_attr=edge_attr)
        hid, out = self.hidden_channels, self.out_channels
        new_s, new_p, new_o = triple.split([hid, out, hid], dim=-1)
        # Pool: subject candidates go to row 0, object candidates to row 1.
        pool_index = torch.stack(
            [torch.cat([edge_index[1], edge_index[0]]), torch.cat([edge_index[0], edge_index[1]])]
        )
        pooled = self.propagate(
            pool_index, msg=torch.cat([new_s, new_o], dim=0), size=(num_nodes, num_nodes)
        )
        return self.node_mlp(pooled), new_p

    def edge_update(self, x_j: Tensor, x_i: Tensor, edge_attr: Tensor) -> Tensor:
        """Apply the triplet MLP to ``[subject, predicate, object]``."""
        return self.triple_mlp(torch.cat([x_j, edge_attr, x_i], dim=-1))

    def message(self, msg: Tensor) -> Tensor:
        """Messages are the subject/object candidates computed in :meth:`edge_update`."""
        return msg

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.edge_channels}, "
            f"{self.out_channels}, hidden_channels={self.hidden_channels}, "
            f"pooling={self.pooling!r})"
        )


def _check_inputs(
    x: Tensor, edge_index: Tensor, edge_attr: Tensor, in_channels: int, edge_channels: int
) -> None:
    if x.dim() != 2 or x.size(1) != in_channels:
        raise ValueError(f"x must have shape [N, {in_channels}], got x.shape={tuple(x.shape)}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"edge_index must have shape [2, E] (row 0 = subject), got "
            f"edge_index.shape={tuple(edge_index.shape)}"
        )
    if edge_attr.dim() != 2 or edge_attr.size(0) != edge_index.size(1) or (
        edge_attr.size(1) != edge_channels
    ):
        raise ValueError(
            f"edge_attr must have shape [E={edge_index.size(1)}, {edge_channels}], got "
            f"edge_attr.shape={tuple(edge_attr.shape)}"
        )


class TripleGCN(torch.nn.Module):
    r"""A stack of :class:`TripleConv` layers (SG2Im's ``GraphTripleConvNet``).

    From `"Image Generation from Scene Graphs" <https://arxiv.org/abs/1804.01622>`_. The first
    layer maps ``(in_channels, edge_channels)`` to ``hidden_channels``; the following layers keep
    ``hidden_channels`` for nodes and predicates; the last one outputs ``out_channels``.

    .. math::
        (\mathbf{X}^{(l+1)}, \mathbf{R}^{(l+1)}) =
        \mathrm{TripleConv}_l(\mathbf{X}^{(l)}, \mathcal{E}, \mathbf{R}^{(l)}),
        \quad l = 0, \dots, L - 1

    The MIGS appendix (thesis A.0.1) uses 5 layers, 128-dimensional embeddings and MLP hidden
    size 512: ``TripleGCN(128, 128, 128, num_layers=5, mlp_channels=512)``.

    Args:
        in_channels: size of the input node vectors.
        edge_channels: size of the input predicate vectors.
        hidden_channels: node/predicate size between layers.
        num_layers: number of :class:`TripleConv` layers.
        out_channels: size of the final node/predicate vectors (default ``hidden_channels``).
        mlp_channels: hidden size of the MLPs inside each layer.
        pooling: ``"avg"`` or ``"sum"``.
        norm: ``None`` or ``"batch"``.
        dropout: dropout probability inside the MLPs.

    Shapes:
        - **input:** :math:`(N, D_\text{in})`, :math:`(2, E)`, :math:`(E, D_e)`
        - **output:** :math:`(N, D_\text{out})`, :math:`(E, D_\text{out})`
    """

    def __init__(
        self,
        in_channels: int,
        edge_channels: int,
        hidden_channels: int,
        num_layers: int = 5,
        out_channels: Optional[int] = None,
        mlp_channels: int = 512,
        pooling: str = "avg",
        norm: Optional[str] = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_positive(
            in_channels=in_channels,
            edge_channels=edge_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            mlp_channels=mlp_channels,
        )
        if out_channels is None:
            out_channels = hidden_channels
        _check_positive(out_channels=out_channels)
        _check_common(pooling, norm, dropout)
        self.in_channels = in_channels
        self.edge_channels = edge_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.convs = torch.nn.ModuleList()
        for layer in range(num_layers):
            self.convs.append(
                TripleConv(
                    in_channels if layer == 0 else hidden_channels,
                    edge_channels if layer == 0 else hidden_channels,
                    out_channels if layer == num_layers - 1 else hidden_channels,
                    hidden_channels=mlp_channels,
                    pooling=pooling,
                    norm=norm,
                    dropout=dropout,
                )
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        """Run all layers.

        Args:
            x: node features ``[N, in_channels]``.
            edge_index: ``[2, E]`` long tensor, row 0 = subject.
            edge_attr: predicate features ``[E, edge_channels]``.

        Returns:
            ``(x [N, out_channels], edge_attr [E, out_channels])``.

        Raises:
            ValueError: if a shape is wrong or an ``edge_index`` value lies outside ``[0, N)``.
        """
        for conv in self.convs:
            x, edge_attr = conv(x, edge_index, edge_attr)
        return x, edge_attr

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.edge_channels}, "
            f"{self.hidden_channels}, num_layers={self.num_layers}, "
            f"out_channels={self.out_channels})"
        )

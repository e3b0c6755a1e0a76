"""Autoregressive sequence form of a scene graph (SceneGraphGen / GraphRNN), and its exact inverse.

With its nodes in a chosen order (see :mod:`sgkit.data.orderings`), a scene graph with ``N``
nodes is the sequence of steps ``X_i = (O_i, E_to_i, E_from_i)``, ``i = 0..N-1`` (0-based):

- ``O_i``: the category of node ``i``;
- ``E_to_i[j]`` for ``j < i``: the predicate of the edge ``j -> i`` (earlier node is the subject,
  the new node the object) or "no edge";
- ``E_from_i[j]`` for ``j < i``: the predicate of the edge ``i -> j`` or "no edge".

Together ``E_to`` and ``E_from`` are the two triangles of the ``N x N`` predicate matrix ``F`` of
:func:`sgkit.data.to_xf` (``F[s, o] = p + 1`` for an edge ``s -> o`` with predicate ``p``, ``0`` =
no edge)::

    to_edges[i, j]   = F[j, i]   (j < i)
    from_edges[i, j] = F[i, j]   (j < i)

**One predicate per ordered pair.** The sequence form (like the published SceneGraphGen code)
stores at most one predicate per ordered pair of nodes. Multigraph inputs are reduced exactly as
:func:`sgkit.data.to_xf` does with its ``multi_edge`` argument: ``"last"`` (default here, as the
published SceneGraphGen preprocessing) keeps the last triplet of the pair in edge order, ``"first"``
the first one, ``"error"`` raises.
Self-loops have no place in the sequence (``j < i``): ``self_loops="drop"`` (default) discards
them, ``"error"`` raises. For graphs without multi-edges and self-loops
``decode_sequence(encode_graph(g, perm))`` is ``g`` with its nodes permuted by ``perm``
(same labels and triplets), and ``encode_graph(decode_sequence(s)) == s``.

**Token conventions of padded batches** (:class:`SequenceBatch`, used for training), with ``C``
categories and ``R`` predicates (see :class:`SequenceTokens`): nodes ``0..C-1`` are categories,
``C`` is the end-of-sequence token, ``C + 1`` padding; edges ``0..R-1`` are predicates, ``R`` is
"no edge", ``R + 1`` the start-of-sequence token of the edge generators, ``R + 2`` padding
(positions ``j >= i`` and steps beyond the graph). Graphs returned by :func:`decode_sequence`
never contain a special token.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data._checks import as_index_tensor
from sgkit.data.convert import from_xf, to_xf
from sgkit.data.scene_graph import validate

__all__ = [
    "GraphSequence",
    "SequenceTokens",
    "SequenceBatch",
    "encode_graph",
    "encode_xf",
    "decode_sequence",
    "collate_sequences",
    "uncollate_sequences",
]


@dataclass
class GraphSequence:
    """One scene graph as an autoregressive sequence (predicates stored as ``p + 1``, ``0`` = no edge).

    Attributes:
        nodes: long ``[N]`` category ids in sequence order.
        to_edges: long ``[N, N]``, strictly lower triangular; ``to_edges[i, j]`` (``j < i``) is
            ``p + 1`` for an edge ``j -> i`` with predicate ``p``, else ``0``.
        from_edges: long ``[N, N]``, strictly lower triangular; ``from_edges[i, j]`` is ``p + 1``
            for an edge ``i -> j``, else ``0``.
    """

    nodes: Tensor
    to_edges: Tensor
    from_edges: Tensor

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N``."""
        return int(self.nodes.numel())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GraphSequence):
            return NotImplemented
        return (
            torch.equal(self.nodes, other.nodes)
            and torch.equal(self.to_edges, other.to_edges)
            and torch.equal(self.from_edges, other.from_edges)
        )


@dataclass(frozen=True)
class SequenceTokens:
    """Special-token ids for ``num_classes`` categories and ``num_predicates`` predicates.

    Args:
        num_classes: number of object categories ``C``.
        num_predicates: number of predicates ``R``.
    """

    num_classes: int
    num_predicates: int

    @property
    def node_eos(self) -> int:
        """End-of-sequence node token ``C``."""
        return self.num_classes

    @property
    def node_pad(self) -> int:
        """Node padding token ``C + 1``."""
        return self.num_classes + 1

    @property
    def no_edge(self) -> int:
        """"No edge" token ``R``."""
        return self.num_predicates

    @property
    def edge_sos(self) -> int:
        """Start-of-sequence token of the edge generators ``R + 1``."""
        return self.num_predicates + 1

    @property
    def edge_pad(self) -> int:
        """Edge padding token ``R + 2``."""
        return self.num_predicates + 2


@dataclass
class SequenceBatch:
    """Padded token tensors of ``B`` graph sequences (see the module docstring for token ids).

    Attributes:
        nodes: long ``[B, T]``; ``T`` = largest graph in the batch; ``node_pad`` beyond a graph.
        to_edges: long ``[B, T, T]``; ``to_edges[b, i, j]`` for ``j < i < length[b]`` is a
            predicate id or ``no_edge``; ``edge_pad`` elsewhere.
        from_edges: long ``[B, T, T]``, same layout for the ``i -> j`` direction.
        lengths: long ``[B]`` number of nodes per graph.
        tokens: the token conventions.
    """

    nodes: Tensor
    to_edges: Tensor
    from_edges: Tensor
    lengths: Tensor
    tokens: SequenceTokens

    def __len__(self) -> int:
        return int(self.lengths.numel())


def encode_xf(X: Tensor, F: Tensor, perm: Tensor | None = None, *, self_loops: str = "drop") -> GraphSequence:
    """Sequence of a graph given in ``(X, F)`` matrix form (see :func:`sgkit.data.to_xf`).

    Args:
        X: long ``[N]`` category ids.
        F: long ``[N, N]``, ``F[s, o] = p + 1`` for an edge ``s -> o`` with predicate ``p``.
        perm: node order, ``perm[k]`` = node at position ``k`` (default: identity).
        self_loops: ``"drop"`` (discard the diagonal of ``F``) or ``"error"``.

    Returns:
        The :class:`GraphSequence`.

    Raises:
        ValueError: on a bad permutation or a self-loop with ``self_loops="error"``.
    """
    X = as_index_tensor(X, "X")
    F = as_index_tensor(F, "F")
    if X.dim() != 1:
        raise ValueError(f"X: expected shape [N], got {list(X.shape)}")
    n = int(X.numel())
    if F.shape != (n, n):
        raise ValueError(f"F: expected shape [{n}, {n}], got {list(F.shape)}")
    if n and int(F.min()) < 0:
        i, j = (int(v) for v in (F < 0).nonzero()[0])
        raise ValueError(f"F[{i}, {j}]: expected 0 (no edge) or predicate + 1, got {int(F[i, j])}")
    if self_loops not in ("drop", "error"):
        raise ValueError(f"self_loops: expected 'drop' or 'error', got {self_loops!r}")
    if self_loops == "error" and n and bool(F.diagonal().ne(0).any()):
        i = int(F.diagonal().ne(0).nonzero()[0])
        raise ValueError(f"relation.edge_index: self-loop on node {i} cannot be encoded (self_loops='error')")
    if perm is None:
        perm = torch.arange(n)
    perm = torch.as_tensor(perm, dtype=torch.long)
    if perm.numel() != n or (n and not torch.equal(torch.sort(perm).values, torch.arange(n))):
        raise ValueError(f"perm: expected a permutation of range({n}), got {perm.tolist()}")
    Xp = X[perm].long()
    Fp = F[perm][:, perm].long()
    return GraphSequence(Xp.clone(), torch.tril(Fp.t(), -1).contiguous(), torch.tril(Fp, -1).contiguous())


def encode_graph(
    data: HeteroData,
    perm: Tensor | None = None,
    *,
    multi_edge: str = "last",
    self_loops: str = "drop",
    num_classes: int | None = None,
    num_predicates: int | None = None,
) -> GraphSequence:
    """Sequence of a scene graph with its nodes in the order ``perm``.

    Args:
        data: the scene graph.
        perm: node order, ``perm[k]`` = node at position ``k`` (default: stored order); see
            :mod:`sgkit.data.orderings`.
        multi_edge: reduction of several predicates on one ordered pair, as in
            :func:`sgkit.data.to_xf`: ``"last"`` (default), ``"first"`` or ``"error"``.
        self_loops: ``"drop"`` or ``"error"`` (the sequence form cannot hold self-loops).
        num_classes: if given, category ids are checked against it.
        num_predicates: if given, predicate ids are checked against it.

    Returns:
        The :class:`GraphSequence`.

    Raises:
        ValueError: for malformed graphs, ids out of vocabulary, bad permutations.
    """
    validate(data, num_classes=num_classes, num_predicates=num_predicates)
    X, F = to_xf(data, multi_edge=multi_edge)
    return encode_xf(X, F, perm, self_loops=self_loops)


def decode_sequence(seq: GraphSequence) -> HeteroData:
    """Scene graph of a sequence (exact inverse of :func:`encode_graph` up to the node order).

    Nodes keep the sequence order; edges come out in row-major order of the predicate matrix.

    Args:
        seq: the :class:`GraphSequence` (predicates as ``p + 1``, ``0`` = no edge).

    Returns:
        The scene graph as :class:`HeteroData`.

    Raises:
        ValueError: if the edge matrices are not strictly lower triangular or contain negatives.
    """
    if not isinstance(seq, GraphSequence):
        raise ValueError(f"seq: expected a GraphSequence, got {type(seq).__name__}")
    nodes = as_index_tensor(seq.nodes, "seq.nodes")
    seq = GraphSequence(nodes, as_index_tensor(seq.to_edges, "seq.to_edges"), as_index_tensor(seq.from_edges, "seq.from_edges"))
    n = seq.num_nodes
    for name, m in (("to_edges", seq.to_edges), ("from_edges", seq.from_edges)):
        if m.shape != (n, n):
            raise ValueError(f"{name}: expected shape [{n}, {n}], got {list(m.shape)}")
        if n and (bool(torch.triu(m).ne(0).any()) or int(m.min()) < 0):
            raise ValueError(f"{name}: must be strictly lower triangular with entries >= 0")
    F = seq.from_edges + seq.to_edges.t()
    return from_xf(seq.nodes.long(), F.long())


def collate_sequences(
    seqs: Sequence[GraphSequence], *, num_classes: int, num_predicates: int
) -> SequenceBatch:
    """Pad sequences into a :class:`SequenceBatch` of tokens (inverse: :func:`uncollate_sequences`).

    Args:
        seqs: graph sequences (at least one).
        num_classes: number of categories ``C``.
        num_predicates: number of predicates ``R``.

    Returns:
        The padded batch.

    Raises:
        ValueError: for an empty list or ids out of range.
    """
    if isinstance(seqs, GraphSequence) or not isinstance(seqs, Sequence):
        raise ValueError(f"seqs: expected a list of GraphSequence, got {type(seqs).__name__}; wrap one in a list")
    if len(seqs) == 0:
        raise ValueError("seqs: cannot collate an empty list of sequences")
    for name, value in (("num_classes", num_classes), ("num_predicates", num_predicates)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
    for b, s in enumerate(seqs):
        if not isinstance(s, GraphSequence):
            raise ValueError(f"seqs[{b}]: expected a GraphSequence, got {type(s).__name__}")
    tok = SequenceTokens(num_classes, num_predicates)
    B = len(seqs)
    lengths = torch.tensor([s.num_nodes for s in seqs], dtype=torch.long)
    T = max(int(lengths.max()), 1)
    nodes = torch.full((B, T), tok.node_pad, dtype=torch.long)
    to = torch.full((B, T, T), tok.edge_pad, dtype=torch.long)
    frm = torch.full((B, T, T), tok.edge_pad, dtype=torch.long)
    for b, s in enumerate(seqs):
        n = s.num_nodes
        if n == 0:
            continue
        if int(s.nodes.max()) >= num_classes or int(s.nodes.min()) < 0:
            raise ValueError(f"object.label: category id out of range [0, {num_classes}) in sequence {b}")
        nodes[b, :n] = s.nodes
        lower = torch.ones(n, n, dtype=torch.bool).tril(-1)
        for dst, src in ((to, s.to_edges), (frm, s.from_edges)):
            if n > 1 and int(src.max()) > num_predicates:
                raise ValueError(f"relation.label: predicate id out of range [0, {num_predicates}) in sequence {b}")
            block = torch.where(src == 0, torch.full_like(src, tok.no_edge), src - 1)
            dst[b, :n, :n] = torch.where(lower, block, torch.full_like(block, tok.edge_pad))
    return SequenceBatch(nodes, to, frm, lengths, tok)


def uncollate_sequences(batch: SequenceBatch) -> list[GraphSequence]:
    """Split a padded batch back into :class:`GraphSequence` objects (exact inverse of collation).

    Args:
        batch: the padded batch.

    Returns:
        One sequence per graph.
    """
    tok = batch.tokens
    out: list[GraphSequence] = []
    for b in range(len(batch)):
        n = int(batch.lengths[b])
        lower = torch.ones(n, n, dtype=torch.bool).tril(-1)
        mats = []
        for src in (batch.to_edges, batch.from_edges):
            block = src[b, :n, :n]
            m = torch.where(block == tok.no_edge, torch.zeros_like(block), block + 1)
            mats.append(torch.where(lower, m, torch.zeros_like(m)))
        out.append(GraphSequence(batch.nodes[b, :n].clone(), mats[0], mats[1]))
    return out


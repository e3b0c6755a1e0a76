"""Clustered federations: hierarchical clustering of clients by their updates (Briggs et al.)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from fedkit.strategies.base import Strategy
from fedkit.strategies.fedavg import FedAvg
from fedkit.validation import check_number

__all__ = ["Clustered", "cluster_clients"]

_LINKAGES = ("ward", "single", "complete", "average")


def cluster_clients(
    updates: Tensor | np.ndarray,
    distance_threshold: float,
    *,
    linkage: str = "ward",
) -> np.ndarray:
    """Agglomerative clustering of client updates (Euclidean distance, SciPy linkage).

    Args:
        updates: client updates ``theta_i - theta_global``, ``[M, P]``.
        distance_threshold: clusters are cut where the linkage distance exceeds this value
            (``fcluster(..., criterion="distance")``; thesis: 5 with Ward linkage).
        linkage: ``"ward"`` (default), ``"single"``, ``"complete"`` or ``"average"``.

    Returns:
        0-based cluster label per client ``[M]`` (int64).

    Raises:
        ValueError: for a non-2-D or non-finite input, a non-positive threshold or an unknown linkage.
    """
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage

    u = updates.detach().cpu().double().numpy() if isinstance(updates, Tensor) else np.asarray(updates, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] == 0:
        raise ValueError(f"updates must be a [M, P] array with M >= 1, got shape {u.shape}")
    if not np.isfinite(u).all():
        raise ValueError("updates contain non-finite values")
    check_number("distance_threshold", distance_threshold, low=0.0, low_open=True)
    if linkage not in _LINKAGES:
        raise ValueError(f"linkage must be one of {_LINKAGES}, got {linkage!r}")
    if u.shape[0] == 1:
        return np.zeros(1, dtype=np.int64)
    z = scipy_linkage(u, method=linkage, metric="euclidean")
    labels = fcluster(z, t=distance_threshold, criterion="distance")
    # relabel 0..K-1 in order of first appearance
    _, first = np.unique(labels, return_index=True)
    order = labels[np.sort(first)]
    remap = {int(old): new for new, old in enumerate(order)}
    return np.array([remap[int(v)] for v in labels], dtype=np.int64)


class Clustered(Strategy):
    """Warm-up federation, then one federation per cluster of clients (FedAvg+HC, FedAP+HC).

    For the first ``warmup_rounds`` rounds all clients form one federation trained with
    ``warmup`` (FedAvg). The simulator then trains every client once from the global model,
    clusters the updates ``theta_i - theta`` with :func:`cluster_clients` and continues with an
    independent copy of the global model per cluster, aggregated with ``inner`` (FedAvg or FedAP).
    Paper: https://arxiv.org/abs/2004.11791 (Briggs et al.), thesis Sec. 6.5.1.

    Args:
        inner: strategy used inside each cluster.
        warmup_rounds: rounds before clustering (thesis: 20).
        distance_threshold: cut of the dendrogram (thesis: 5).
        linkage: SciPy linkage method (thesis: ward).
        warmup: strategy of the warm-up phase (default FedAvg).
        name: display name (default ``"<inner> + HC"``).
    """

    def __init__(
        self,
        inner: Strategy,
        warmup_rounds: int = 20,
        distance_threshold: float = 5.0,
        linkage: str = "ward",
        warmup: Strategy | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(inner, Strategy) or isinstance(inner, Clustered):
            raise ValueError(f"inner must be a non-clustered Strategy, got {inner!r}")
        if not isinstance(warmup_rounds, int) or warmup_rounds < 0:
            raise ValueError(f"warmup_rounds must be a non-negative int, got {warmup_rounds!r}")
        check_number("distance_threshold", distance_threshold, low=0.0, low_open=True)
        if linkage not in _LINKAGES:
            raise ValueError(f"linkage must be one of {_LINKAGES}, got {linkage!r}")
        self.inner = inner
        self.warmup = warmup if warmup is not None else FedAvg()
        self.warmup_rounds = warmup_rounds
        self.distance_threshold = float(distance_threshold)
        self.linkage = linkage
        self.personalization_epochs = inner.personalization_epochs
        self.name = name or f"{inner.name} + HC"

    def phase(self, server_round: int) -> Strategy:
        """The strategy in charge of round ``server_round`` (warm-up or inner)."""
        return self.warmup if server_round <= self.warmup_rounds else self.inner

    def cluster(self, updates: Tensor | np.ndarray) -> np.ndarray:
        """Cluster labels of the clients from their updates ``[M, P]``."""
        return cluster_clients(updates, self.distance_threshold, linkage=self.linkage)

    def weights(
        self,
        client_params: Tensor,
        num_samples: Tensor | Sequence[float],
        train_accuracy: Tensor | Sequence[float] | None = None,
    ) -> Tensor:
        return self.inner.weights(client_params, num_samples, train_accuracy)

    def eta(self, server_round: int) -> float:
        return self.phase(server_round).eta(server_round)

    def aggregate(
        self,
        theta: Tensor,
        client_params: Tensor,
        num_samples: Tensor | Sequence[float],
        train_accuracy: Tensor | Sequence[float] | None = None,
        server_round: int = 1,
    ) -> Tensor:
        return self.phase(server_round).aggregate(theta, client_params, torch.as_tensor(num_samples), train_accuracy, server_round)

    def __repr__(self) -> str:
        return (
            f"Clustered(inner={self.inner!r}, warmup_rounds={self.warmup_rounds}, "
            f"distance_threshold={self.distance_threshold}, linkage={self.linkage!r})"
        )

"""The record of a simulated federation: :class:`SimulationResult` (history, accuracies, models)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

__all__ = ["SimulationResult"]


@dataclass
class SimulationResult:
    """Outcome of a simulated federation.

    Attributes:
        strategy: strategy name.
        history: one dict per evaluated round: ``round``, ``global_acc``, ``local_mean``,
            ``local_std``, ``participants``, ``dropped`` (ids of clients whose non-finite update
            was discarded), ``eta``, ``seconds``.
        global_acc: final accuracy of the shared model(s) on the union of all test splits (each
            client's test split evaluated with the model of its cluster).
        local_acc: final accuracy of each client's model on its own test split ``[M]`` (after
            personalisation when the strategy asks for it).
        local_mean: mean of ``local_acc``.
        local_std: standard deviation of ``local_acc``.
        personalized: whether ``local_acc`` is measured after personalisation.
        theta: final global parameters (cluster 0 for clustered federations).
        cluster_labels: cluster of every client ``[M]`` (all 0 without clustering).
        cluster_thetas: parameters of every cluster.
        updates: the client updates used for clustering ``[M, P]`` (None without clustering).
        dropped_total: number of discarded non-finite client updates.
        failed_rounds: rounds skipped because every participant's update was non-finite (only
            with ``skip_failed_rounds=True``; otherwise such a round raises).
    """

    strategy: str
    history: list[dict[str, Any]]
    global_acc: float
    local_acc: np.ndarray
    local_mean: float
    local_std: float
    personalized: bool
    theta: Tensor
    cluster_labels: np.ndarray
    cluster_thetas: dict[int, Tensor] = field(default_factory=dict)
    updates: Tensor | None = None
    dropped_total: int = 0
    failed_rounds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no tensors)."""
        return {
            "strategy": self.strategy,
            "global_acc": self.global_acc,
            "local_mean": self.local_mean,
            "local_std": self.local_std,
            "personalized": self.personalized,
            "num_clusters": len(np.unique(self.cluster_labels)),
            "dropped_total": self.dropped_total,
            "failed_rounds": list(self.failed_rounds),
            "history": self.history,
        }

    def save_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))


def _nan_stats(acc: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the finite entries of ``acc`` (NaN, NaN when there are none)."""
    ok = acc[np.isfinite(acc)]
    if ok.size == 0:
        return float("nan"), float("nan")
    return float(ok.mean()), float(ok.std())

"""make_server_app: the Flower ``ServerApp`` that runs a :class:`~fedkit.flower.FlowerStrategy` or
:class:`~fedkit.flower.FlowerClustered` and, when the strategy asks for it, the final personalisation.
Imported through :mod:`fedkit.flower`.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp

from fedkit._flower_clustered import FlowerClustered
from fedkit._flower_strategy import FlowerStrategy

__all__ = ["make_server_app"]


def make_server_app(
    strategy: FlowerStrategy | FlowerClustered,
    initial_model: nn.Module,
    num_rounds: int,
    holder: dict[str, Any] | None = None,
) -> ServerApp:
    """A ``ServerApp`` running ``strategy`` for ``num_rounds`` from ``initial_model``'s parameters.

    Args:
        strategy: the Flower strategy, or a :class:`FlowerClustered` driver for clustered federations.
        initial_model: its ``state_dict`` is the initial global model.
        num_rounds: number of rounds (warm-up rounds included for :class:`FlowerClustered`).
        holder: if given, ``holder["result"]`` receives Flower's ``Result`` and, for a strategy
            with ``personalization_epochs > 0``, ``holder["personalized"]`` the personalised local
            accuracies (``partition-id -> accuracy``, see :meth:`FlowerStrategy.personalize`).
            For :class:`FlowerClustered` also ``holder["cluster_labels"]`` (by ``partition-id``)
            and ``holder["cluster_arrays"]`` (cluster -> final ``ArrayRecord``).
    """
    app = ServerApp()
    init = ArrayRecord({k: v.detach().clone() for k, v in initial_model.state_dict().items()})

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        if isinstance(strategy, FlowerClustered):
            result = strategy.start(grid=grid, initial_arrays=init, num_rounds=num_rounds)
            if holder is not None:
                holder["result"] = result
                holder["cluster_labels"] = None if strategy.cluster_labels is None else strategy.cluster_labels.copy()
                holder["cluster_arrays"] = dict(strategy.cluster_arrays)
            if strategy.personalization_epochs > 0:
                personalized = strategy.personalize(grid, num_rounds)
                if holder is not None:
                    holder["personalized"] = dict(personalized)
            return
        result = strategy.start(grid=grid, initial_arrays=init, num_rounds=num_rounds)
        if holder is not None:
            holder["result"] = result
        if strategy.strategy.personalization_epochs > 0:
            personalized = strategy.personalize(grid, result.arrays, num_rounds)
            if holder is not None:
                holder["personalized"] = dict(personalized)

    return app

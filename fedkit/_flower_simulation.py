"""run_flower_simulation: a fedkit strategy run as a Flower simulation (``flwr.simulation``, Ray backend).

One SuperNode per client of the federated data set; a :class:`~fedkit.strategies.Clustered`
strategy runs with :class:`~fedkit.flower.FlowerClustered`, any other with
:class:`~fedkit.flower.FlowerStrategy`. Imported through :mod:`fedkit.flower`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from flwr.serverapp.strategy import Result

from fedkit._flower_client_app import make_client_app
from fedkit._flower_clustered import FlowerClustered
from fedkit._flower_server_app import make_server_app
from fedkit._flower_strategy import FlowerStrategy
from fedkit.aggregation import flatten_params
from fedkit.datasets import FederatedDataset
from fedkit.strategies.base import Strategy
from fedkit.strategies.clustered import Clustered

__all__ = ["run_flower_simulation"]


def run_flower_simulation(
    model_fn: Callable[[], nn.Module],
    data: FederatedDataset,
    strategy: Strategy,
    rounds: int,
    *,
    initial_model: nn.Module | None = None,
    fraction_train: float = 1.0,
    num_cpus: int = 2,
    verbose: bool = False,
    strategy_out: dict[str, Any] | None = None,
    **simulator_kwargs: Any,
) -> tuple[torch.Tensor, Result]:
    """Run ``strategy`` as a Flower simulation (Ray backend) on the clients of ``data``.

    Args:
        model_fn: builds the architecture.
        data: the federated data set (one Flower SuperNode per client).
        strategy: the fedkit strategy (a :class:`~fedkit.strategies.Clustered` one runs with
            :class:`FlowerClustered`).
        rounds: number of rounds (warm-up rounds included).
        initial_model: initial global model (default ``model_fn()``).
        fraction_train: fraction of nodes sampled per round (Flower's sampling).
        num_cpus: CPUs given to Ray (each ClientApp uses one).
        verbose: Flower's verbose logging.
        strategy_out: if given, ``strategy_out["strategy"]`` receives the :class:`FlowerStrategy`
            or :class:`FlowerClustered` (per-round timings, dropped replies, personalised local
            accuracies in ``.personalized``); for a clustered strategy also
            ``strategy_out["cluster_labels"]`` (by client) and ``strategy_out["cluster_thetas"]``
            (cluster -> final flat parameters), as in :class:`fedkit.simulate.SimulationResult`.
        **simulator_kwargs: local-training arguments (see :class:`fedkit.simulate.Simulator`).

    Returns:
        The final global parameters as a flat vector (cluster 0 for a clustered strategy) and
        Flower's ``Result``.
    """
    from flwr.simulation import run_simulation

    initial_model = initial_model if initial_model is not None else model_fn()
    m = data.num_clients
    # min_train_nodes fixes the sample size: Flower computes fraction_train * (nodes connected so
    # far), which can be 1 when the first round starts before every SuperNode has registered
    k = max(1, int(fraction_train * m))
    fl_strategy: FlowerStrategy | FlowerClustered
    if isinstance(strategy, Clustered):
        fl_strategy = FlowerClustered(strategy, fraction_train=fraction_train, min_train_nodes=k, min_available_nodes=m)
    else:
        fl_strategy = FlowerStrategy(strategy, fraction_train=fraction_train, min_train_nodes=k, min_available_nodes=m)
    if strategy_out is not None:
        strategy_out["strategy"] = fl_strategy
    holder: dict[str, Any] = {}
    server = make_server_app(fl_strategy, initial_model, rounds, holder)
    client = make_client_app(model_fn, data, **simulator_kwargs)
    backend_config = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {"num_cpus": int(num_cpus), "num_gpus": 0, "include_dashboard": False, "log_to_driver": False},
    }
    run_simulation(server_app=server, client_app=client, num_supernodes=m, backend_config=backend_config, verbose_logging=verbose)
    if "result" not in holder:
        raise RuntimeError("the Flower simulation finished without a result (see Flower's log)")
    result: Result = holder["result"]
    if strategy_out is not None and isinstance(fl_strategy, FlowerClustered):
        labels = fl_strategy.cluster_labels
        strategy_out["cluster_labels"] = np.zeros(m, dtype=np.int64) if labels is None else labels.copy()
        strategy_out["cluster_thetas"] = {
            c: flatten_params(a.to_torch_state_dict()) for c, a in fl_strategy.cluster_arrays.items()
        }
    return flatten_params(result.arrays.to_torch_state_dict()), result

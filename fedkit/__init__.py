"""fedkit: federated learning on non-IID clients.

FedAvg, IDA (inverse distance aggregation) and INTRAC weightings, FedAP (adaptive
personalisation) and clustered federations (hierarchical clustering of client updates), a
vectorised single-process simulator, partitioners and embedded data sets, and adapters for
Flower (:mod:`fedkit.flower`, needs ``flwr``; imported on demand).

Names are loaded on first use (PEP 562): ``import fedkit`` loads no submodule and no other kit.
``fedkit.simulate`` is the simulator module (run it with ``fedkit.simulate.simulate(...)``).
"""
from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("aggregation", "datasets", "federation", "flower", "models", "partition", "robustness",
               "simulate", "strategies", "validation")
_EXPORTS = {
    "combine_weights": "fedkit.aggregation",
    "fedavg_weights": "fedkit.aggregation",
    "flatten_params": "fedkit.aggregation",
    "ida_weights": "fedkit.aggregation",
    "intrac_weights": "fedkit.aggregation",
    "inverse_distance_weights": "fedkit.aggregation",
    "mean_weights": "fedkit.aggregation",
    "server_update": "fedkit.aggregation",
    "unflatten_params": "fedkit.aggregation",
    "FederatedDataset": "fedkit.datasets",
    "federated_digits": "fedkit.datasets",
    "federated_mnist5k": "fedkit.datasets",
    "load_digits_tensors": "fedkit.datasets",
    "load_ham10000": "fedkit.datasets",
    "load_mnist5k_tensors": "fedkit.datasets",
    "load_torchvision": "fedkit.datasets",
    "partition_dataset": "fedkit.datasets",
    "federation_graph": "fedkit.federation",
    "graph_clusters": "fedkit.federation",
    "plot_federation": "fedkit.federation",
    "MLP": "fedkit.models",
    "LeNet": "fedkit.models",
    "HAM10K_THESIS": "fedkit.partition",
    "ClientSplit": "fedkit.partition",
    "class_counts": "fedkit.partition",
    "dirichlet_partition": "fedkit.partition",
    "ham10k_partition": "fedkit.partition",
    "iid_partition": "fedkit.partition",
    "ncc_partition": "fedkit.partition",
    "plot_partition": "fedkit.partition",
    "unbalanced_partition": "fedkit.partition",
    "ATTACKS": "fedkit.robustness",
    "apply_attack": "fedkit.robustness",
    "finite_rows": "fedkit.robustness",
    "noisy_labels": "fedkit.robustness",
    "select_clients": "fedkit.robustness",
    "SimulationResult": "fedkit.simulate",
    "Simulator": "fedkit.simulate",
    "plot_learning_curves": "fedkit.simulate",
    "train_centralized": "fedkit.simulate",
    "IDA": "fedkit.strategies",
    "Clustered": "fedkit.strategies",
    "FedAP": "fedkit.strategies",
    "FedAvg": "fedkit.strategies",
    "Strategy": "fedkit.strategies",
    "cluster_clients": "fedkit.strategies",
}

__all__ = [
    "simulate",
    # aggregation
    "combine_weights",
    "fedavg_weights",
    "flatten_params",
    "ida_weights",
    "intrac_weights",
    "inverse_distance_weights",
    "mean_weights",
    "server_update",
    "unflatten_params",
    # data
    "HAM10K_THESIS",
    "ClientSplit",
    "FederatedDataset",
    "class_counts",
    "dirichlet_partition",
    "federated_digits",
    "federated_mnist5k",
    "ham10k_partition",
    "iid_partition",
    "load_digits_tensors",
    "load_ham10000",
    "load_mnist5k_tensors",
    "load_torchvision",
    "ncc_partition",
    "partition_dataset",
    "plot_partition",
    "unbalanced_partition",
    # models
    "LeNet",
    "MLP",
    # strategies
    "Clustered",
    "FedAP",
    "FedAvg",
    "IDA",
    "Strategy",
    "cluster_clients",
    # simulation, robustness, federation graph
    "ATTACKS",
    "SimulationResult",
    "Simulator",
    "apply_attack",
    "federation_graph",
    "finite_rows",
    "graph_clusters",
    "noisy_labels",
    "plot_federation",
    "plot_learning_curves",
    "select_clients",
    "train_centralized",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))

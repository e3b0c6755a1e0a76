"""fedkit: federated learning on non-IID clients.

FedAvg, IDA (inverse distance aggregation) and INTRAC weightings, FedAP (adaptive
personalisation) and clustered federations (hierarchical clustering of client updates), a
vectorised single-process simulator, partitioners and embedded data sets, and adapters for
Flower (:mod:`fedkit.flower`, needs ``flwr``; imported on demand).
"""
from fedkit import simulate  # the module; run it with fedkit.simulate.simulate(...)
from fedkit.aggregation import (
    combine_weights,
    fedavg_weights,
    flatten_params,
    ida_weights,
    intrac_weights,
    inverse_distance_weights,
    mean_weights,
    server_update,
    unflatten_params,
)
from fedkit.datasets import (
    FederatedDataset,
    federated_digits,
    federated_mnist5k,
    load_digits_tensors,
    load_ham10000,
    load_mnist5k_tensors,
    load_torchvision,
    partition_dataset,
)
from fedkit.federation import federation_graph, graph_clusters, plot_federation
from fedkit.models import MLP, LeNet
from fedkit.partition import (
    HAM10K_THESIS,
    ClientSplit,
    class_counts,
    dirichlet_partition,
    ham10k_partition,
    iid_partition,
    ncc_partition,
    plot_partition,
    unbalanced_partition,
)
from fedkit.robustness import ATTACKS, apply_attack, finite_rows, noisy_labels, select_clients
from fedkit.simulate import SimulationResult, Simulator, plot_learning_curves, train_centralized
from fedkit.strategies import IDA, Clustered, FedAP, FedAvg, Strategy, cluster_clients

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

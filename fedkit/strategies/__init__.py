"""Federated strategies composed from the pure rules of :mod:`fedkit.aggregation`."""
from fedkit.strategies.base import Strategy
from fedkit.strategies.clustered import Clustered, cluster_clients
from fedkit.strategies.fedap import FedAP
from fedkit.strategies.fedavg import FedAvg
from fedkit.strategies.ida import IDA

__all__ = ["Strategy", "FedAvg", "IDA", "FedAP", "Clustered", "cluster_clients"]

"""The federation both apps agree on, built from the run config (``[tool.flwr.app.config]``).

Every SuperNode builds the same data set and partition from the seeds and trains its client
``partition-id``; the ServerApp builds the same initial model. A real deployment replaces
:func:`federation` with each device's own data.
"""
from __future__ import annotations

from typing import Any

import torch

from fedkit.datasets import FederatedDataset, federated_digits
from fedkit.models import MLP
from fedkit.strategies import IDA, Clustered, FedAP, FedAvg, Strategy

STRATEGIES = ("FedAvg", "IDA", "FedAP", "Clustered")


def federation(cfg: dict[str, Any]) -> FederatedDataset:
    """scikit-learn digits split among ``num-clients`` clients (``scheme``, ``ncc``, ``data-seed``)."""
    kwargs: dict[str, Any] = {"num_clients": int(cfg["num-clients"]), "seed": int(cfg["data-seed"])}
    if cfg["scheme"] == "ncc":
        kwargs["ncc"] = int(cfg["ncc"])
    return federated_digits(str(cfg["scheme"]), **kwargs)


def make_model(cfg: dict[str, Any]) -> torch.nn.Module:
    """The MLP of the run (initial weights from ``model-seed``, drawn without touching global RNG state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfg["model-seed"]))
        return MLP(64, 10, (int(cfg["hidden"]),))


def make_strategy(cfg: dict[str, Any]) -> Strategy:
    """The fedkit strategy named by ``strategy``."""
    name = str(cfg["strategy"])
    rounds = int(cfg["num-server-rounds"])
    if name == "FedAvg":
        return FedAvg()
    if name == "IDA":
        return IDA()
    if name == "FedAP":
        return FedAP(num_rounds=rounds)
    if name == "Clustered":
        return Clustered(FedAvg(), warmup_rounds=int(cfg["warmup-rounds"]))
    raise ValueError(f"run config strategy: expected one of {list(STRATEGIES)}, got {name!r}")


def simulator_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """Local-training arguments of :class:`fedkit.simulate.Simulator`."""
    return {"lr": float(cfg["lr"]), "local_epochs": int(cfg["local-epochs"]), "batch_size": int(cfg["batch-size"]),
            "seed": int(cfg["seed"])}

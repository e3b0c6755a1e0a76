"""ServerApp: a fedkit strategy driven by Flower (:func:`fedkit.flower.make_server_app`).

With ``out-dir`` set, the final global model is written to ``OUT/final_model.pt`` (a state dict,
written atomically) and the per-round metrics to ``OUT/results.json``.
"""
from __future__ import annotations

import json
import os
from typing import Any

import torch
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedkit.flower import FlowerClustered, FlowerStrategy, make_server_app
from fedkit.strategies import Clustered

from .task import make_model, make_strategy

app = ServerApp()


def _save(out: str, holder: dict[str, Any], strategy: str) -> None:
    os.makedirs(out, exist_ok=True)
    state = holder["result"].arrays.to_torch_state_dict()
    tmp = os.path.join(out, f".final_model.pt.{os.getpid()}")
    torch.save({k: v.detach().clone() for k, v in state.items()}, tmp)
    os.replace(tmp, os.path.join(out, "final_model.pt"))
    doc: dict[str, Any] = {"strategy": strategy}
    if "personalized" in holder:
        doc["personalized"] = {str(k): v for k, v in holder["personalized"].items()}
    if holder.get("cluster_labels") is not None:
        doc["cluster_labels"] = [int(c) for c in holder["cluster_labels"]]
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the configured strategy for ``num-server-rounds`` over all ``num-clients`` nodes."""
    cfg = dict(context.run_config)
    strategy = make_strategy(cfg)
    m, rounds = int(cfg["num-clients"]), int(cfg["num-server-rounds"])
    if isinstance(strategy, Clustered):
        fl: Any = FlowerClustered(strategy, fraction_train=1.0, min_train_nodes=m, min_available_nodes=m)
    else:
        fl = FlowerStrategy(strategy, fraction_train=1.0, min_train_nodes=m, min_available_nodes=m)
    holder: dict[str, Any] = {}
    inner = make_server_app(fl, make_model(cfg), rounds, holder)
    inner(grid, context)
    if cfg.get("out-dir"):
        _save(str(cfg["out-dir"]), holder, strategy.name)

"""make_client_app: the Flower ``ClientApp`` that trains one client of a federated data set.

Its local training and evaluation are those of :class:`fedkit.simulate.Simulator` (same seeded
mini-batch schedule keyed by the server round), including the final personalisation requested
by a ``personalize-epochs`` config. Imported through :mod:`fedkit.flower`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp

from fedkit.aggregation import flatten_params, unflatten_params
from fedkit.datasets import FederatedDataset

__all__ = ["make_client_app"]


def make_client_app(
    model_fn: Callable[[], nn.Module],
    data: FederatedDataset,
    **simulator_kwargs: Any,
) -> ClientApp:
    """A ``ClientApp`` training the client ``node_config["partition-id"]`` of ``data``.

    Training is :meth:`fedkit.simulate.Simulator.train_clients` on that single client, keyed by
    the server round (so it equals the built-in simulator's local training); malicious clients
    configured through ``simulator_kwargs`` corrupt their reply as in the simulator. The evaluate
    handler reports the accuracy of the received model on the client's own test split; when the
    message config holds ``personalize-epochs > 0`` it first fine-tunes the model locally for that
    many epochs (schedule keyed by the config's ``server-round``), as
    :meth:`fedkit.simulate.Simulator.personalize` does. Its metrics: ``accuracy``,
    ``num-examples``, ``test-examples``, ``partition-id``. Train replies hold the ``ArrayRecord``
    ``"arrays"``, the ``MetricRecord`` ``"metrics"`` (``num-examples``, ``train-acc``) and the
    ``ConfigRecord`` ``"client"`` (``partition-id``, used by :class:`FlowerClustered`).

    Args:
        model_fn: builds the architecture (its parameters are overwritten by the server's).
        data: the federated data set.
        **simulator_kwargs: arguments of :class:`fedkit.simulate.Simulator`.
    """
    from fedkit.simulate import Simulator

    kwargs = dict(simulator_kwargs)
    kwargs["progress"] = False
    cache: dict[str, Simulator] = {}

    def _sim() -> Simulator:
        if "sim" not in cache:
            cache["sim"] = Simulator(model_fn(), data, **kwargs)
        return cache["sim"]

    app = ClientApp()

    @app.train()
    def _train(msg: Message, context: Context) -> Message:
        sim = _sim()
        pid = int(context.node_config["partition-id"])
        state = msg.content["arrays"].to_torch_state_dict()
        theta = flatten_params(state).float().unsqueeze(0)
        rnd = int(msg.content["config"]["server-round"])
        ids = np.array([pid])
        params, acc = sim.train_clients(theta, ids, round_key=rnd)
        params = sim._corrupt(theta, params, ids, rnd)
        new_state = unflatten_params(params[0], state)
        content = RecordDict(
            {
                "arrays": ArrayRecord(new_state),
                "metrics": MetricRecord({"num-examples": int(data.clients[pid].train.size), "train-acc": float(acc[0])}),
                "client": ConfigRecord({"partition-id": pid}),
            }
        )
        return Message(content=content, reply_to=msg)

    @app.evaluate()
    def _evaluate(msg: Message, context: Context) -> Message:
        sim = _sim()
        pid = int(context.node_config["partition-id"])
        theta = flatten_params(msg.content["arrays"].to_torch_state_dict()).float()
        config = msg.content["config"] if "config" in msg.content.config_records else {}
        epochs = int(config["personalize-epochs"]) if "personalize-epochs" in config else 0
        if epochs > 0:  # final personalisation (FedAP): fine-tune locally, then evaluate
            rnd = int(config["server-round"])
            theta = sim.train_clients(theta.unsqueeze(0), np.array([pid]), epochs=epochs, round_key=rnd)[0][0]
        acc = float(sim.local_accuracy(theta, [pid])[0])
        n = int(data.clients[pid].test.size)
        metrics = {"num-examples": max(n, 1), "test-examples": n, "partition-id": pid, "accuracy": 0.0 if np.isnan(acc) else acc}
        content = RecordDict({"metrics": MetricRecord(metrics)})
        return Message(content=content, reply_to=msg)

    return app

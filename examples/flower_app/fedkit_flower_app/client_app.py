"""ClientApp: fedkit's local training of client ``partition-id`` (:func:`fedkit.flower.make_client_app`)."""
from __future__ import annotations

from typing import Any

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedkit.flower import make_client_app

from .task import federation, make_model, simulator_kwargs

app = ClientApp()
_apps: dict[tuple, Any] = {}


def _inner(context: Context) -> ClientApp:
    cfg = dict(context.run_config)
    key = tuple(sorted((k, str(v)) for k, v in cfg.items()))
    if key not in _apps:  # one fedkit ClientApp per run configuration
        _apps[key] = make_client_app(lambda: make_model(cfg), federation(cfg), **simulator_kwargs(cfg))
    return _apps[key]


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train the received model on this node's client, as the built-in simulator does."""
    return _inner(context)(msg, context)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate (and, for FedAP's final message, personalise) on this node's test split."""
    return _inner(context)(msg, context)

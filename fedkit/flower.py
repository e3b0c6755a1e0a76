"""fedkit strategies inside Flower (``flwr >= 1.20``, Message API: ``ServerApp`` / ``ClientApp``).

:class:`FlowerStrategy` adapts any non-clustered :class:`fedkit.strategies.Strategy` (FedAvg, IDA
and its combinations, FedAP's server step) to Flower's ``flwr.serverapp.strategy.FedAvg``
interface: node sampling, messaging and metric aggregation are Flower's; the parameter
aggregation is fedkit's :meth:`Strategy.aggregate` applied to the flattened ``ArrayRecord``
of each reply (the current global arrays are remembered from ``configure_train``). Replies with
non-finite arrays are dropped and logged in :attr:`FlowerStrategy.dropped`.

:func:`make_client_app` builds a ``ClientApp`` that trains the client ``partition-id`` of a
:class:`~fedkit.datasets.FederatedDataset` with exactly the local training of the built-in
simulator (same seeded mini-batch schedule keyed by the server round), so a Flower simulation and
:func:`fedkit.simulate.simulate` with full participation produce the same global model.
:func:`run_flower_simulation` runs both apps with ``flwr.simulation.run_simulation`` (Ray backend).

Personalisation (FedAP, ``strategy.personalization_epochs > 0``): after the last round the
ServerApp sends the final global model to every node in one extra ``evaluate`` message whose
config holds ``personalize-epochs``; each ClientApp fine-tunes it locally for that many epochs
(the simulator's seeded schedule keyed by round ``rounds + 1``) and reports the accuracy on its own
test split, collected in :attr:`FlowerStrategy.personalized` (``partition-id -> accuracy``), the
same numbers as ``simulate(...).local_acc``.

Clustered federations need one model per cluster and are not supported by one Flower strategy:
use :func:`fedkit.simulate.simulate`, or cluster first and run one Flower federation per cluster.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.serverapp.strategy import FedAvg as _FlowerFedAvg  # noqa: E402
from flwr.serverapp.strategy import Result  # noqa: E402

from fedkit.aggregation import flatten_params, unflatten_params  # noqa: E402
from fedkit.datasets import FederatedDataset  # noqa: E402
from fedkit.strategies.base import Strategy  # noqa: E402
from fedkit.strategies.clustered import Clustered  # noqa: E402

__all__ = ["FlowerStrategy", "make_client_app", "make_server_app", "run_flower_simulation"]

_log = logging.getLogger(__name__)


class FlowerStrategy(_FlowerFedAvg):
    """A Flower strategy whose aggregation is a fedkit :class:`~fedkit.strategies.Strategy`.

    Clients must reply with one ``ArrayRecord`` (the trained ``state_dict``) and one
    ``MetricRecord`` holding ``weighted_by_key`` (number of training samples) and, for INTRAC,
    ``train_accuracy_key``.

    Args:
        strategy: the fedkit strategy (not :class:`~fedkit.strategies.Clustered`).
        fraction_train: fraction of nodes sampled per round.
        min_train_nodes: minimum number of nodes sampled per round.
        min_available_nodes: minimum number of connected nodes.
        fraction_evaluate: fraction of nodes sampled for federated evaluation (0 disables it).
        min_evaluate_nodes: minimum number of nodes for evaluation.
        weighted_by_key: metric holding the number of training samples.
        train_accuracy_key: metric holding the training accuracy.
        arrayrecord_key: key of the ArrayRecord in messages.

    Attributes:
        current: the global arrays of the current round.
        dropped: round -> ids of the nodes whose non-finite reply was dropped.
        round_seconds: round -> wall time from ``configure_train`` to the end of ``aggregate_train``.
        personalized: ``partition-id`` -> local test accuracy after the final personalisation
            (filled by :meth:`personalize`; NaN for a client without test samples).
    """

    def __init__(
        self,
        strategy: Strategy,
        *,
        fraction_train: float = 1.0,
        min_train_nodes: int = 2,
        min_available_nodes: int = 2,
        fraction_evaluate: float = 0.0,
        min_evaluate_nodes: int = 0,
        weighted_by_key: str = "num-examples",
        train_accuracy_key: str = "train-acc",
        arrayrecord_key: str = "arrays",
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ValueError(f"strategy must be a fedkit Strategy, got {strategy!r}")
        if isinstance(strategy, Clustered):
            raise ValueError(
                f"Clustered strategies keep one model per cluster and cannot run as one Flower strategy, got {strategy.name!r}; "
                "use fedkit.simulate.simulate for clustered federations, or cluster the clients first and run "
                "one Flower federation (FlowerStrategy of the inner strategy) per cluster"
            )
        super().__init__(
            fraction_train=fraction_train,
            fraction_evaluate=fraction_evaluate,
            min_train_nodes=min_train_nodes,
            min_evaluate_nodes=min_evaluate_nodes,
            min_available_nodes=min_available_nodes,
            weighted_by_key=weighted_by_key,
            arrayrecord_key=arrayrecord_key,
        )
        self.strategy = strategy
        self.train_accuracy_key = train_accuracy_key
        self.current: ArrayRecord | None = None
        self.dropped: dict[int, list[int]] = {}
        self.round_seconds: dict[int, float] = {}
        self.personalized: dict[int, float] = {}
        self._round_start: float | None = None

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid) -> Iterable[Message]:
        """Remember the global arrays of this round, then let Flower sample and message nodes."""
        self._round_start = time.perf_counter()
        self.current = arrays
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_records(
        self, server_round: int, contents: list[RecordDict], node_ids: list[int] | None = None
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Aggregate reply contents with the fedkit strategy (usable without a running grid).

        Args:
            server_round: 1-based round.
            contents: the ``RecordDict`` of every reply.
            node_ids: ids of the replying nodes (for the log of dropped replies).

        Returns:
            The new global ``ArrayRecord`` (None if every reply was dropped) and the aggregated
            metrics.
        """
        if self.current is None:
            raise ValueError("the current global arrays are unknown: call configure_train first or set .current")
        if not contents:
            return None, None
        node_ids = node_ids if node_ids is not None else list(range(len(contents)))
        current = self.current.to_torch_state_dict()
        theta = flatten_params(current).double()
        vecs, num, acc, keep_contents = [], [], [], []
        for nid, c in zip(node_ids, contents):
            vec = flatten_params(c[self.arrayrecord_key].to_torch_state_dict()).double()
            if not torch.isfinite(vec).all():
                self.dropped.setdefault(server_round, []).append(int(nid))
                _log.warning("round %d: dropped the non-finite update of node %s", server_round, nid)
                continue
            metrics = next(iter(c.metric_records.values()))
            vecs.append(vec)
            num.append(float(metrics[self.weighted_by_key]))
            acc.append(float(metrics[self.train_accuracy_key]) if self.train_accuracy_key in metrics else float("nan"))
            keep_contents.append(c)
        if not vecs:
            return None, None
        accs = None if any(np.isnan(acc)) else torch.tensor(acc, dtype=torch.float64)
        new = self.strategy.aggregate(theta, torch.stack(vecs), torch.tensor(num, dtype=torch.float64), accs, server_round)
        state = unflatten_params(new, current)
        arrays = ArrayRecord(state)
        metrics_out = self.train_metrics_aggr_fn(keep_contents, self.weighted_by_key)
        return arrays, metrics_out

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Flower hook: validate replies, drop non-finite ones, aggregate with the fedkit strategy."""
        valid, _ = self._check_and_log_replies(replies, is_train=True)
        out: tuple[ArrayRecord | None, MetricRecord | None] = (None, None)
        if valid:
            out = self.aggregate_records(server_round, [m.content for m in valid], [m.metadata.src_node_id for m in valid])
        if self._round_start is not None:
            self.round_seconds[server_round] = time.perf_counter() - self._round_start
        return out


    def personalize(
        self, grid: Grid, arrays: ArrayRecord, num_rounds: int, epochs: int | None = None, timeout: float | None = None
    ) -> dict[int, float]:
        """Final personalisation: every node fine-tunes ``arrays`` locally and reports its local accuracy.

        Sends one ``evaluate`` message to every connected node with the config
        ``{"server-round": num_rounds + 1, "personalize-epochs": epochs}`` (the client app of
        :func:`make_client_app` trains ``epochs`` local epochs before evaluating).

        Args:
            grid: Flower's grid.
            arrays: the final global arrays.
            num_rounds: number of federated rounds that were run.
            epochs: local epochs (default ``strategy.personalization_epochs``).
            timeout: Flower's reply timeout in seconds.

        Returns:
            :attr:`personalized`: ``partition-id`` -> local accuracy.
        """
        epochs = self.strategy.personalization_epochs if epochs is None else epochs
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        node_ids = sorted(grid.get_node_ids())
        config = ConfigRecord({"server-round": int(num_rounds) + 1, "personalize-epochs": int(epochs)})
        record = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: config})
        replies = grid.send_and_receive(self._construct_messages(record, node_ids, MessageType.EVALUATE), timeout=timeout)
        valid, _ = self._check_and_log_replies(replies, is_train=False, validate=False)
        for msg in valid:
            metrics = next(iter(msg.content.metric_records.values()))
            pid = int(metrics["partition-id"])
            self.personalized[pid] = float(metrics["accuracy"]) if int(metrics["test-examples"]) > 0 else float("nan")
        missing = len(node_ids) - len(valid)
        if missing:
            _log.warning("personalisation: %d of %d nodes did not reply", missing, len(node_ids))
        return self.personalized


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
    ``num-examples``, ``test-examples``, ``partition-id``.

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


def make_server_app(
    strategy: FlowerStrategy,
    initial_model: nn.Module,
    num_rounds: int,
    holder: dict[str, Any] | None = None,
) -> ServerApp:
    """A ``ServerApp`` running ``strategy`` for ``num_rounds`` from ``initial_model``'s parameters.

    Args:
        strategy: the Flower strategy.
        initial_model: its ``state_dict`` is the initial global model.
        num_rounds: number of rounds.
        holder: if given, ``holder["result"]`` receives Flower's ``Result`` and, for a strategy
            with ``personalization_epochs > 0``, ``holder["personalized"]`` the personalised local
            accuracies (``partition-id -> accuracy``, see :meth:`FlowerStrategy.personalize`).
    """
    app = ServerApp()
    init = ArrayRecord({k: v.detach().clone() for k, v in initial_model.state_dict().items()})

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        result = strategy.start(grid=grid, initial_arrays=init, num_rounds=num_rounds)
        if holder is not None:
            holder["result"] = result
        if strategy.strategy.personalization_epochs > 0:
            personalized = strategy.personalize(grid, result.arrays, num_rounds)
            if holder is not None:
                holder["personalized"] = dict(personalized)

    return app


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
        strategy: the fedkit strategy.
        rounds: number of rounds.
        initial_model: initial global model (default ``model_fn()``).
        fraction_train: fraction of nodes sampled per round (Flower's sampling).
        num_cpus: CPUs given to Ray (each ClientApp uses one).
        verbose: Flower's verbose logging.
        strategy_out: if given, ``strategy_out["strategy"]`` receives the :class:`FlowerStrategy`
            (per-round timings, dropped replies, personalised local accuracies in ``.personalized``).
        **simulator_kwargs: local-training arguments (see :class:`fedkit.simulate.Simulator`).

    Returns:
        The final global parameters as a flat vector and Flower's ``Result``.
    """
    from flwr.simulation import run_simulation

    initial_model = initial_model if initial_model is not None else model_fn()
    m = data.num_clients
    # min_train_nodes fixes the sample size: Flower computes fraction_train * (nodes connected so
    # far), which can be 1 when the first round starts before every SuperNode has registered
    k = max(1, int(fraction_train * m))
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
    return flatten_params(result.arrays.to_torch_state_dict()), result

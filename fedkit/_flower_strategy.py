"""FlowerStrategy: a Flower ``FedAvg`` strategy whose parameter aggregation is a fedkit strategy.

Node sampling, messaging and metric aggregation are Flower's; the aggregation of the replies'
flattened ``ArrayRecord`` is :meth:`fedkit.strategies.Strategy.aggregate`. Non-finite replies are
dropped and logged; :meth:`FlowerStrategy.personalize` runs the final personalisation (FedAP).
Imported through :mod:`fedkit.flower`.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg as _FlowerFedAvg

from fedkit.aggregation import flatten_params, unflatten_params
from fedkit.strategies.base import Strategy
from fedkit.strategies.clustered import Clustered

__all__ = ["FlowerStrategy"]

_log = logging.getLogger("fedkit.flower")


class FlowerStrategy(_FlowerFedAvg):
    """A Flower strategy whose aggregation is a fedkit :class:`~fedkit.strategies.Strategy`.

    Clients must reply with one ``ArrayRecord`` (the trained ``state_dict``) and one
    ``MetricRecord`` holding ``weighted_by_key`` (number of training samples) and, for INTRAC,
    ``train_accuracy_key``.

    Args:
        strategy: the fedkit strategy (not :class:`~fedkit.strategies.Clustered`: see
            :class:`FlowerClustered`).
        fraction_train: fraction of nodes sampled per round.
        min_train_nodes: minimum number of nodes sampled per round.
        min_available_nodes: minimum number of connected nodes.
        fraction_evaluate: fraction of nodes sampled for federated evaluation (0 disables it).
        min_evaluate_nodes: minimum number of nodes for evaluation.
        weighted_by_key: metric holding the number of training samples.
        train_accuracy_key: metric holding the training accuracy.
        arrayrecord_key: key of the ArrayRecord in messages.
        nodes: if given, train only these node ids (e.g. one cluster): each round samples
            ``max(1, round(fraction_train * len(nodes)))`` of them (the simulator's rule per
            cluster; ``min_train_nodes`` and ``min_available_nodes`` are not used).

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
        nodes: Sequence[int] | None = None,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ValueError(f"strategy must be a fedkit Strategy, got {strategy!r}")  # noqa: TRY004
        if isinstance(strategy, Clustered):
            raise ValueError(  # noqa: TRY004
                f"Clustered strategies keep one model per cluster and cannot run as one Flower strategy, got {strategy.name!r}; "
                "use FlowerClustered (make_server_app / run_flower_simulation accept it) or fedkit.simulate.simulate"
            )
        if nodes is not None and len(nodes) == 0:
            raise ValueError("nodes must be None or a non-empty sequence of node ids")
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
        self.nodes: list[int] | None = None if nodes is None else sorted(int(n) for n in nodes)
        self._round_start: float | None = None

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid) -> Iterable[Message]:
        """Remember the global arrays of this round, then sample and message nodes (Flower's sampling, or :attr:`nodes`)."""
        self._round_start = time.perf_counter()
        self.current = arrays
        if self.nodes is None:
            return super().configure_train(server_round, arrays, config, grid)
        if self.fraction_train == 0.0:
            return []
        k = min(len(self.nodes), max(1, int(round(self.fraction_train * len(self.nodes)))))  # noqa: RUF046 (numpy floats)
        node_ids = sorted(random.sample(self.nodes, k))
        config["server-round"] = server_round
        record = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: config})
        return self._construct_messages(record, node_ids, MessageType.TRAIN)

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
        self,
        grid: Grid,
        arrays: ArrayRecord,
        num_rounds: int,
        epochs: int | None = None,
        timeout: float | None = None,
        node_ids: Sequence[int] | None = None,
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
            node_ids: the nodes to personalise (default :attr:`nodes`, else every connected node).

        Returns:
            :attr:`personalized`: ``partition-id`` -> local accuracy.
        """
        epochs = self.strategy.personalization_epochs if epochs is None else epochs
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        if node_ids is None:
            node_ids = self.nodes if self.nodes is not None else grid.get_node_ids()
        node_ids = sorted(int(n) for n in node_ids)
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

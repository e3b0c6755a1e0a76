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

Clustered federations (:class:`~fedkit.strategies.Clustered`, Briggs et al.) keep one model per
cluster, so they are run by :class:`FlowerClustered`, a server-side driver (not one Flower
strategy) used by :func:`make_server_app` / :func:`run_flower_simulation`, with the phases of
:meth:`fedkit.simulate.Simulator.run`:

1. warm-up: ``strategy.warmup_rounds`` rounds of a :class:`FlowerStrategy` of the warm-up rule
   (FedAvg) over all nodes (rounds ``1..W``);
2. clustering (round ``W + 1``): one ``train`` message with the warm-up model to every node,
   keyed by the round ``W + 1 + 10**6`` as in the simulator, so every client computes the same
   update ``theta_i - theta``; the replies carry the client's ``partition-id`` (a ``ConfigRecord``
   ``"client"``), the updates are ordered by it and clustered with
   :meth:`Clustered.cluster <fedkit.strategies.Clustered.cluster>` (Euclidean distance, Ward
   linkage, distance threshold); nodes without a finite update join the largest cluster;
3. rounds ``W + 1..R``: one :class:`FlowerStrategy` of the inner rule per cluster, restricted to
   the cluster's node ids (``nodes=``), all clusters messaged together in each round and
   aggregated with the global round number (FedAP's ``eta_t`` as in the simulator);
4. personalisation (FedAP): every node fine-tunes its cluster's final model as above.

:attr:`FlowerClustered.cluster_labels` (by ``partition-id``), :attr:`FlowerClustered.cluster_arrays`
and :attr:`FlowerClustered.updates` match ``simulate(...).cluster_labels`` / ``cluster_thetas`` /
``updates`` with full participation (with partial participation the nodes of a round are drawn by
Flower's / Python's ``random``, not by the simulator's generator, so the runs differ).
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
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

__all__ = ["CLUSTER_ROUND_OFFSET", "FlowerStrategy", "FlowerClustered", "make_client_app", "make_server_app", "run_flower_simulation"]

_log = logging.getLogger(__name__)

#: offset of the round key of the clustering step (``fedkit.simulate.Simulator.run`` trains every
#: client for clustering with ``round_key = warmup_rounds + 1 + 10**6``)
CLUSTER_ROUND_OFFSET = 10**6


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
            raise ValueError(f"strategy must be a fedkit Strategy, got {strategy!r}")
        if isinstance(strategy, Clustered):
            raise ValueError(
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
        k = min(len(self.nodes), max(1, int(round(self.fraction_train * len(self.nodes)))))
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


def _wait_for_nodes(grid: Grid, n: int) -> list[int]:
    """Connected node ids, once at least ``n`` nodes are connected."""
    while len(nodes := sorted(grid.get_node_ids())) < n:
        _log.info("waiting for nodes to connect: %d connected (minimum required: %d)", len(nodes), n)
        time.sleep(1)
    return nodes


class FlowerClustered:
    """Runs a :class:`~fedkit.strategies.Clustered` federation on a Flower ``Grid`` (one model per cluster).

    The phases of :meth:`fedkit.simulate.Simulator.run` (see the module docstring): warm-up
    rounds with :attr:`warmup` (a :class:`FlowerStrategy` of ``strategy.warmup`` over all nodes),
    one clustering message to every node in round ``W + 1``, then one :class:`FlowerStrategy` of
    ``strategy.inner`` per cluster (:attr:`clusters`, restricted to the cluster's nodes) for the
    rounds ``W + 1..R``, and the final personalisation per cluster when
    ``strategy.personalization_epochs > 0``. With full participation the cluster labels and the
    final cluster models equal those of :func:`fedkit.simulate.simulate`.

    The clustering replies must carry the client's ``partition-id`` in a ``ConfigRecord``
    ``"client"`` (the ``ClientApp`` of :func:`make_client_app` does).

    Args:
        strategy: the clustered fedkit strategy.
        fraction_train: fraction of nodes sampled per round (warm-up: of all nodes with Flower's
            sampling; afterwards: of each cluster, at least one).
        min_train_nodes: minimum number of nodes sampled per warm-up round.
        min_available_nodes: minimum number of connected nodes (the clustering step waits for them).
        weighted_by_key: metric holding the number of training samples.
        train_accuracy_key: metric holding the training accuracy.
        arrayrecord_key: key of the ArrayRecord in messages.

    Attributes:
        warmup: the warm-up :class:`FlowerStrategy`.
        clusters: cluster -> its :class:`FlowerStrategy` (``.nodes`` are the cluster's node ids).
        cluster_labels: cluster of every client, indexed by ``partition-id`` ``[M]`` (-1 for a
            ``partition-id`` that did not reply); None before the clustering step.
        node_clusters: node id -> cluster.
        node_partitions: node id -> ``partition-id`` (nodes that replied to the clustering step).
        updates: the clustering input ``theta_i - theta`` by ``partition-id`` ``[M, P]`` (float32;
            rows of clients without a finite update are NaN).
        cluster_arrays: cluster -> its final ``ArrayRecord``.
        personalized: ``partition-id`` -> local accuracy after personalisation.
        dropped: round -> ids of the nodes whose non-finite reply was dropped (clustering step:
            round ``W + 1 + CLUSTER_ROUND_OFFSET``).
        round_seconds: round -> wall time of the round (all clusters together).
    """

    def __init__(
        self,
        strategy: Clustered,
        *,
        fraction_train: float = 1.0,
        min_train_nodes: int = 2,
        min_available_nodes: int = 2,
        weighted_by_key: str = "num-examples",
        train_accuracy_key: str = "train-acc",
        arrayrecord_key: str = "arrays",
    ) -> None:
        if not isinstance(strategy, Clustered):
            raise ValueError(f"strategy must be a fedkit Clustered strategy, got {strategy!r}")
        if not 0.0 < fraction_train <= 1.0:
            raise ValueError(f"fraction_train must lie in (0, 1], got {fraction_train!r}")
        self.strategy = strategy
        self.fraction_train = float(fraction_train)
        self.min_available_nodes = int(min_available_nodes)
        self._keys = dict(weighted_by_key=weighted_by_key, train_accuracy_key=train_accuracy_key, arrayrecord_key=arrayrecord_key)
        self.warmup = FlowerStrategy(
            strategy.warmup,
            fraction_train=fraction_train,
            min_train_nodes=min_train_nodes,
            min_available_nodes=min_available_nodes,
            **self._keys,
        )
        self.clusters: dict[int, FlowerStrategy] = {}
        self.cluster_labels: np.ndarray | None = None
        self.node_clusters: dict[int, int] = {}
        self.node_partitions: dict[int, int] = {}
        self.updates: torch.Tensor | None = None
        self.cluster_arrays: dict[int, ArrayRecord] = {}
        self.personalized: dict[int, float] = {}
        self.dropped: dict[int, list[int]] = {}
        self.round_seconds: dict[int, float] = {}

    @property
    def personalization_epochs(self) -> int:
        """Local epochs of the final personalisation (the inner strategy's)."""
        return self.strategy.personalization_epochs

    def cluster(self, grid: Grid, arrays: ArrayRecord, server_round: int, timeout: float | None = None) -> np.ndarray:
        """Clustering step: every node trains from ``arrays``; cluster their updates.

        Sends one ``train`` message to every connected node with the round key
        ``server_round + CLUSTER_ROUND_OFFSET`` and clusters the updates ``theta_i - theta``
        (ordered by ``partition-id``) with :meth:`Clustered.cluster
        <fedkit.strategies.Clustered.cluster>`. Nodes whose update is non-finite or missing join
        the largest cluster, as in the simulator. Fills :attr:`cluster_labels`,
        :attr:`node_clusters`, :attr:`node_partitions`, :attr:`updates` and :attr:`clusters`.

        Returns:
            :attr:`cluster_labels`.
        """
        akey = self._keys["arrayrecord_key"]
        nodes = _wait_for_nodes(grid, self.min_available_nodes)
        rnd = int(server_round) + CLUSTER_ROUND_OFFSET
        record = RecordDict({akey: arrays, self.warmup.configrecord_key: ConfigRecord({"server-round": rnd})})
        replies = grid.send_and_receive(self.warmup._construct_messages(record, nodes, MessageType.TRAIN), timeout=timeout)
        valid, _ = self.warmup._check_and_log_replies(replies, is_train=True)
        state = arrays.to_torch_state_dict()
        theta = flatten_params(state)
        by_pid: dict[int, tuple[int, torch.Tensor]] = {}
        for msg in valid:
            content = msg.content
            if "client" not in content.config_records or "partition-id" not in content["client"]:
                raise ValueError(
                    "clustering needs the partition-id of every client: the ClientApp's train reply must hold a "
                    "ConfigRecord 'client' with 'partition-id' (see make_client_app)"
                )
            pid = int(content["client"]["partition-id"])
            by_pid[pid] = (int(msg.metadata.src_node_id), flatten_params(content[akey].to_torch_state_dict()) - theta)
        pids = sorted(by_pid)
        self.node_partitions = {by_pid[p][0]: p for p in pids}
        updates = torch.stack([by_pid[p][1] for p in pids]) if pids else theta.new_zeros(0, theta.numel())
        ok = torch.isfinite(updates).all(dim=1).numpy() if pids else np.zeros(0, dtype=bool)
        labels = np.zeros(len(pids), dtype=np.int64)
        if ok.any():
            labels[ok] = self.strategy.cluster(updates[torch.as_tensor(ok)])
        largest = int(np.bincount(labels[ok]).argmax()) if ok.any() else 0
        labels[~ok] = largest
        bad_nodes = [by_pid[p][0] for p, good in zip(pids, ok) if not good]
        missing = sorted(set(nodes) - set(self.node_partitions))
        if bad_nodes or missing:
            _log.warning(
                "round %d (clustering): nodes %s sent a non-finite update and nodes %s did not reply; they join the largest cluster",
                server_round, bad_nodes, missing,
            )
        if bad_nodes:
            self.dropped.setdefault(rnd, []).extend(bad_nodes)
        self.updates = updates.clone()
        self.updates[torch.as_tensor(~ok)] = float("nan")
        self.node_clusters = {by_pid[p][0]: int(c) for p, c in zip(pids, labels)}
        self.node_clusters.update({n: largest for n in missing})
        self.cluster_labels = np.full(max(pids) + 1 if pids else 0, -1, dtype=np.int64)
        self.cluster_labels[pids] = labels
        if len(pids) != len(self.cluster_labels):
            _log.warning("clustering: partition-ids %s did not reply", sorted(set(range(len(self.cluster_labels))) - set(pids)))
        self.clusters = {
            c: FlowerStrategy(
                self.strategy.inner,
                fraction_train=self.fraction_train,
                nodes=[n for n, lab in self.node_clusters.items() if lab == c],
                **self._keys,
            )
            for c in sorted(set(self.node_clusters.values()))
        }
        return self.cluster_labels

    def start(self, grid: Grid, initial_arrays: ArrayRecord, num_rounds: int, timeout: float = 3600) -> Result:
        """Run ``num_rounds`` rounds (warm-up, clustering, per-cluster rounds); no personalisation.

        Returns:
            Flower's ``Result``: ``arrays`` of cluster 0 (the warm-up model if clustering never
            happened), ``train_metrics_clientapp`` of every round (after the warm-up aggregated
            over the clients of all clusters). The cluster models are in :attr:`cluster_arrays`.
        """
        w = min(self.strategy.warmup_rounds, int(num_rounds))
        if w > 0:
            result = self.warmup.start(grid=grid, initial_arrays=initial_arrays, num_rounds=w, timeout=timeout)
            if len(result.arrays) == 0:  # every reply of every round dropped
                result.arrays = initial_arrays
            self.dropped.update(self.warmup.dropped)
            self.round_seconds.update(self.warmup.round_seconds)
        else:
            result = Result(arrays=initial_arrays)
        self.cluster_arrays = {0: result.arrays}
        if num_rounds <= w:
            return result
        t = w + 1
        self.cluster(grid, result.arrays, t, timeout=timeout)
        self.cluster_arrays = {c: result.arrays for c in self.clusters}
        wkey = self._keys["weighted_by_key"]
        for t in range(w + 1, int(num_rounds) + 1):
            t0 = time.perf_counter()
            messages: list[Message] = []
            for c, fs in self.clusters.items():
                messages.extend(fs.configure_train(t, self.cluster_arrays[c], ConfigRecord(), grid))
            replies = list(grid.send_and_receive(messages, timeout=timeout))
            contents = []
            for c, fs in self.clusters.items():
                mine = [r for r in replies if self.node_clusters.get(int(r.metadata.src_node_id)) == c]
                arrays, _ = fs.aggregate_train(t, mine)
                if arrays is not None:
                    self.cluster_arrays[c] = arrays
                if t in fs.dropped:
                    self.dropped.setdefault(t, []).extend(fs.dropped[t])
                contents.extend(r.content for r in mine if not r.has_error())
            if contents:
                result.train_metrics_clientapp[t] = self.warmup.train_metrics_aggr_fn(contents, wkey)
            self.round_seconds[t] = time.perf_counter() - t0
        result.arrays = self.cluster_arrays[min(self.cluster_arrays)]
        return result

    def personalize(
        self, grid: Grid, num_rounds: int, epochs: int | None = None, timeout: float | None = None
    ) -> dict[int, float]:
        """Final personalisation: every node fine-tunes its cluster's final model (see :meth:`FlowerStrategy.personalize`).

        Returns:
            :attr:`personalized`: ``partition-id`` -> local accuracy.
        """
        epochs = self.strategy.personalization_epochs if epochs is None else epochs
        if not self.clusters:  # clustering never happened: everyone personalises the warm-up model
            self.personalized.update(self.warmup.personalize(grid, self.cluster_arrays[0], num_rounds, epochs, timeout))
            return self.personalized
        for c, fs in self.clusters.items():
            self.personalized.update(fs.personalize(grid, self.cluster_arrays[c], num_rounds, epochs, timeout))
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


def make_server_app(
    strategy: FlowerStrategy | FlowerClustered,
    initial_model: nn.Module,
    num_rounds: int,
    holder: dict[str, Any] | None = None,
) -> ServerApp:
    """A ``ServerApp`` running ``strategy`` for ``num_rounds`` from ``initial_model``'s parameters.

    Args:
        strategy: the Flower strategy, or a :class:`FlowerClustered` driver for clustered federations.
        initial_model: its ``state_dict`` is the initial global model.
        num_rounds: number of rounds (warm-up rounds included for :class:`FlowerClustered`).
        holder: if given, ``holder["result"]`` receives Flower's ``Result`` and, for a strategy
            with ``personalization_epochs > 0``, ``holder["personalized"]`` the personalised local
            accuracies (``partition-id -> accuracy``, see :meth:`FlowerStrategy.personalize`).
            For :class:`FlowerClustered` also ``holder["cluster_labels"]`` (by ``partition-id``)
            and ``holder["cluster_arrays"]`` (cluster -> final ``ArrayRecord``).
    """
    app = ServerApp()
    init = ArrayRecord({k: v.detach().clone() for k, v in initial_model.state_dict().items()})

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        if isinstance(strategy, FlowerClustered):
            result = strategy.start(grid=grid, initial_arrays=init, num_rounds=num_rounds)
            if holder is not None:
                holder["result"] = result
                holder["cluster_labels"] = None if strategy.cluster_labels is None else strategy.cluster_labels.copy()
                holder["cluster_arrays"] = dict(strategy.cluster_arrays)
            if strategy.personalization_epochs > 0:
                personalized = strategy.personalize(grid, num_rounds)
                if holder is not None:
                    holder["personalized"] = dict(personalized)
            return
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

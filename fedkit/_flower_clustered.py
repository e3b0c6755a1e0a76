"""FlowerClustered: a clustered fedkit federation (one model per cluster) driven on a Flower ``Grid``.

Holds :data:`CLUSTER_ROUND_OFFSET` (the round-key offset of the clustering step) and the
server-side driver :class:`FlowerClustered`, which runs the warm-up, clustering, per-cluster
rounds and personalisation of :meth:`fedkit.simulate.Simulator.run` with one
:class:`~fedkit.flower.FlowerStrategy` per phase and cluster. Imported through :mod:`fedkit.flower`.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Result

from fedkit._flower_strategy import FlowerStrategy
from fedkit.aggregation import flatten_params
from fedkit.strategies.clustered import Clustered

__all__ = ["CLUSTER_ROUND_OFFSET", "FlowerClustered"]

_log = logging.getLogger("fedkit.flower")

#: offset of the round key of the clustering step (``fedkit.simulate.Simulator.run`` trains every
#: client for clustering with ``round_key = warmup_rounds + 1 + 10**6``)
CLUSTER_ROUND_OFFSET = 10**6


def _wait_for_nodes(grid: Grid, n: int) -> list[int]:
    """Connected node ids, once at least ``n`` nodes are connected."""
    while len(nodes := sorted(grid.get_node_ids())) < n:
        _log.info("waiting for nodes to connect: %d connected (minimum required: %d)", len(nodes), n)
        time.sleep(1)
    return nodes


class FlowerClustered:
    """Runs a :class:`~fedkit.strategies.Clustered` federation on a Flower ``Grid`` (one model per cluster).

    The phases of :meth:`fedkit.simulate.Simulator.run` (see :mod:`fedkit.flower`): warm-up
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
            raise ValueError(f"strategy must be a fedkit Clustered strategy, got {strategy!r}")  # noqa: TRY004
        if not 0.0 < fraction_train <= 1.0:
            raise ValueError(f"fraction_train must lie in (0, 1], got {fraction_train!r}")
        self.strategy = strategy
        self.fraction_train = float(fraction_train)
        self.min_available_nodes = int(min_available_nodes)
        self._keys = {"weighted_by_key": weighted_by_key, "train_accuracy_key": train_accuracy_key, "arrayrecord_key": arrayrecord_key}
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

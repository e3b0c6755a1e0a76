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

The code lives in private modules, all of whose names are importable from here:
:class:`FlowerStrategy` in ``fedkit/_flower_strategy.py``, :data:`CLUSTER_ROUND_OFFSET` and
:class:`FlowerClustered` in ``fedkit/_flower_clustered.py``, :func:`make_client_app` in
``fedkit/_flower_client_app.py``, :func:`make_server_app` in ``fedkit/_flower_server_app.py`` and
:func:`run_flower_simulation` in ``fedkit/_flower_simulation.py``.
"""
from __future__ import annotations

from fedkit._imports import require

require("WITH_FLWR", "fedkit.flower")

from fedkit._flower_client_app import make_client_app
from fedkit._flower_clustered import CLUSTER_ROUND_OFFSET, FlowerClustered
from fedkit._flower_server_app import make_server_app
from fedkit._flower_simulation import run_flower_simulation
from fedkit._flower_strategy import FlowerStrategy

__all__ = ["CLUSTER_ROUND_OFFSET", "FlowerStrategy", "FlowerClustered", "make_client_app", "make_server_app", "run_flower_simulation"]  # noqa: RUF022

"""Single-process federated simulator (vectorised over clients with ``torch.func``, loop fallback).

The participating clients of a round are trained *together*: their parameters are stacked into
``[K, ...]`` tensors and one local step of all of them is a single call of
``vmap(grad(loss))`` over ``torch.func.functional_call`` of the model; SGD (with momentum and
weight decay) and Adam are applied functionally with the same semantics as :mod:`torch.optim`.
Clients have different numbers of samples: every client follows its own seeded mini-batch
schedule (a fresh permutation of its training indices per local epoch, cut into batches of
``batch_size``, the last one smaller) and the schedules are padded with masked samples /
inactive steps, so a client's trajectory is the same as when it is trained alone. The plain loop
(``vectorized=False``) trains one client at a time with :mod:`torch.optim` on the same schedule;
both give the same parameters up to float rounding. Models with buffers (batch norm) or other
state that ``vmap`` cannot batch use the loop, and so do stochastic models (dropout,
:data:`STOCHASTIC_MODULES`): in the loop every client's random stream (dropout masks) is seeded by
``(seed, round, client)`` inside :func:`torch.random.fork_rng`, so runs are reproducible and the
global torch RNG is left untouched. Training runs in ``train()`` mode and evaluation in ``eval()``
mode on both paths.

Each round records the accuracy of the global model(s) on the union of the clients' test sets
and the local accuracy (mean +- std over clients) of each client's model on its own test split.

This module holds :class:`Simulator` (configuration, seeded mini-batch schedules and
:meth:`Simulator.train_clients`) and the entry points :func:`simulate` and
:func:`train_centralized`; :class:`Simulator` combines the vectorised training path
(:mod:`fedkit._vmap_training`), the loop path (:mod:`fedkit._loop_training`), evaluation
(:mod:`fedkit._client_evaluation`) and the federated rounds (:mod:`fedkit._federated_rounds`).
:class:`SimulationResult` and :func:`plot_learning_curves` live in
:mod:`fedkit._simulation_result` and :mod:`fedkit._learning_curves`; every public name is
importable from here.

Performance notes (CPU): the vectorised path keeps all clients' parameters in one ``[K, P]``
buffer updated in place. It pays off for models without convolutions (about 2x the loop for an
MLP) and for convolutional models on small clients (about 2.4x for LeNet-5 clients of 4
images); with full 32-image batches ``vmap``'s grouped convolutions are about 2x slower than the
loop. ``vectorized="auto"`` picks the path with the deterministic rule of :func:`vmap_pays_off`.
On a machine shared with other jobs, ``torch.set_num_threads(1)`` avoids heavy slow-downs from
oversubscription.
"""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import grad, vmap
from tqdm.auto import tqdm

from fedkit._client_evaluation import ClientEvaluation
from fedkit._federated_rounds import FederatedRounds
from fedkit._learning_curves import plot_learning_curves
from fedkit._loop_training import LoopTraining
from fedkit._simulation_result import SimulationResult, _nan_stats
from fedkit._vmap_training import (
    STOCHASTIC_MODULES,
    VMAP_CONV_MAX_BATCH,
    VmapTraining,
    is_stochastic,
    vmap_pays_off,
)
from fedkit.aggregation import flatten_params
from fedkit.datasets import FederatedDataset
from fedkit.partition import ClientSplit
from fedkit.robustness import ATTACKS, noisy_labels, select_clients
from fedkit.strategies.base import Strategy
from fedkit.validation import check_number

__all__ = [
    "SimulationResult",
    "Simulator",
    "simulate",
    "train_centralized",
    "plot_learning_curves",
    "STOCHASTIC_MODULES",
    "VMAP_CONV_MAX_BATCH",
    "is_stochastic",
    "vmap_pays_off",
]

_OPTIMIZERS = ("sgd", "adam")


class Simulator(FederatedRounds, ClientEvaluation, LoopTraining, VmapTraining):
    """Trains and evaluates the clients of a :class:`~fedkit.datasets.FederatedDataset`.

    Args:
        model: the architecture; its current parameters are the initial global model.
        data: pooled data and client partition.
        lr: local learning rate.
        local_epochs: local epochs per round ``E``.
        batch_size: local mini-batch size.
        optimizer: ``"sgd"`` or ``"adam"`` (fresh optimiser state every round, as in FedAvg).
        momentum: SGD momentum.
        weight_decay: L2 penalty (both optimisers, :mod:`torch.optim` semantics).
        vectorized: ``True`` (``vmap``), ``False`` (loop) or ``"auto"`` (``vmap`` when the model
            has no buffers, no stochastic modules such as dropout, and :func:`vmap_pays_off`
            says ``vmap`` is the faster path; else the loop).
        max_parallel: at most this many clients are trained in one ``vmap`` call.
        malicious_fraction: fraction of clients that corrupt their submitted update.
        attack: one of :data:`fedkit.robustness.ATTACKS` (sign flip, x``attack_scale``,
            Gaussian noise, NaN, inf).
        attack_scale: factor of the ``"scale"`` attack.
        noise_std: standard deviation of the ``"noise"`` attack.
        low_quality_fraction: fraction of clients whose training labels are noisy.
        label_noise: probability that a low-quality client's training label is random.
        seed: seed of client selection, mini-batch order, attacks and label noise.
        progress: show tqdm progress bars.
        skip_failed_rounds: when every participant of a round sends a non-finite update (so
            nothing can be aggregated), skip the round and count it in
            :attr:`SimulationResult.failed_rounds` instead of raising.

    Raises:
        ValueError: for a non-finite or out-of-range hyperparameter (named in the message).
    """

    def __init__(
        self,
        model: nn.Module,
        data: FederatedDataset,
        *,
        lr: float = 0.05,
        local_epochs: int = 1,
        batch_size: int = 32,
        optimizer: str = "sgd",
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        vectorized: bool | str = "auto",
        max_parallel: int = 256,
        malicious_fraction: float = 0.0,
        attack: str = "sign_flip",
        attack_scale: float = 10.0,
        noise_std: float = 1.0,
        low_quality_fraction: float = 0.0,
        label_noise: float = 1.0,
        seed: int = 0,
        progress: bool = True,
        skip_failed_rounds: bool = False,
    ) -> None:
        check_number("lr", lr, low=0.0, low_open=True)
        if not isinstance(local_epochs, int) or local_epochs < 1:
            raise ValueError(f"local_epochs must be a positive int, got {local_epochs!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
        check_number("momentum", momentum, low=0.0)
        check_number("weight_decay", weight_decay, low=0.0)
        if attack not in ATTACKS:
            raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
        if vectorized not in (True, False, "auto"):
            raise ValueError(f"vectorized must be True, False or 'auto', got {vectorized!r}")
        if not isinstance(max_parallel, int) or max_parallel < 1:
            raise ValueError(f"max_parallel must be a positive int, got {max_parallel!r}")
        for name, value in (("malicious_fraction", malicious_fraction), ("low_quality_fraction", low_quality_fraction), ("label_noise", label_noise)):
            check_number(name, value, low=0.0, high=1.0)
        check_number("noise_std", noise_std, low=0.0)
        check_number("attack_scale", attack_scale)
        if not isinstance(skip_failed_rounds, bool):
            raise ValueError(f"skip_failed_rounds must be a bool, got {skip_failed_rounds!r}")
        if not isinstance(data, FederatedDataset):
            raise ValueError(f"data must be a FederatedDataset, got {type(data).__name__}")
        has_buffers = any(True for _ in model.buffers())
        stochastic = is_stochastic(model)
        if vectorized is True and has_buffers:
            raise ValueError("vectorized=True needs a model without buffers (batch norm); use vectorized=False")
        if vectorized is True and stochastic:
            kinds = sorted({type(m).__name__ for m in model.modules() if isinstance(m, STOCHASTIC_MODULES)})
            raise ValueError(
                f"vectorized=True needs a deterministic model, got stochastic modules {kinds} (dropout); "
                "use vectorized=False or 'auto' (seeded loop)"
            )
        self.model = model
        self.data = data
        self.lr = float(lr)
        self.local_epochs = local_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.stochastic = stochastic
        if vectorized == "auto":
            self.vectorized = not has_buffers and not stochastic and vmap_pays_off(model, data, batch_size)
        else:
            self.vectorized = bool(vectorized)
        self.max_parallel = int(max_parallel)
        self.attack = attack
        self.attack_scale = float(attack_scale)
        self.noise_std = float(noise_std)
        self.seed = int(seed)
        self.progress = progress
        self.skip_failed_rounds = skip_failed_rounds
        m = data.num_clients
        self.malicious = select_clients(m, malicious_fraction, seed=self.seed + 1)
        self.low_quality = select_clients(m, low_quality_fraction, seed=self.seed + 2)
        self.x = data.x
        self.y = data.y.long()
        if self.low_quality.any():
            idx = np.concatenate([data.clients[i].train for i in np.flatnonzero(self.low_quality)])
            self.y_train = noisy_labels(self.y, idx, data.num_classes, label_noise, seed=self.seed + 3)
        else:
            self.y_train = self.y
        self._work = copy.deepcopy(model)
        self._names = [n for n, _ in model.named_parameters()]
        self._shapes = [tuple(p.shape) for _, p in model.named_parameters()]
        self._numels = [p.numel() for _, p in model.named_parameters()]
        self._vgrad = vmap(grad(self._loss, has_aux=True))
        self._vlogits = vmap(self._logits)

    # ------------------------------------------------------------------ functional pieces
    def _generator(self, round_key: int, client: int) -> torch.Generator:
        s = np.random.SeedSequence([self.seed, int(round_key), int(client)]).generate_state(2)
        return torch.Generator().manual_seed((int(s[0]) << 32) | int(s[1]))

    def schedule(self, client: int, epochs: int, round_key: int) -> tuple[list[Tensor], list[bool]]:
        """Mini-batches (pool indices) of ``client`` in round ``round_key`` and last-epoch flags."""
        g = self._generator(round_key, client)
        train = torch.as_tensor(self.data.clients[client].train, dtype=torch.long)
        steps: list[Tensor] = []
        last: list[bool] = []
        for e in range(epochs):
            perm = train[torch.randperm(train.numel(), generator=g)]
            for chunk in perm.split(self.batch_size):
                steps.append(chunk)
                last.append(e == epochs - 1)
        return steps, last

    # ------------------------------------------------------------------ training
    def train_clients(
        self, start: Tensor, clients: np.ndarray | list[int], epochs: int | None = None, round_key: int = 0
    ) -> tuple[Tensor, Tensor]:
        """Locally train ``clients`` from the parameter rows ``start``.

        Args:
            start: initial parameters of every client ``[K, P]``.
            clients: client ids ``[K]``.
            epochs: local epochs (default ``local_epochs``).
            round_key: key of the seeded mini-batch schedule (the round number).

        Returns:
            ``(params [K, P], train_accuracy [K])``; the training accuracy is measured on the
            mini-batches of the last local epoch.
        """
        clients = np.asarray(clients, dtype=np.int64)
        epochs = self.local_epochs if epochs is None else int(epochs)
        if start.dim() != 2 or start.shape[0] != clients.size:
            raise ValueError(f"start must be [{clients.size}, P], got {tuple(start.shape)}")
        outs, accs = [], []
        step = self.max_parallel if self.vectorized else clients.size
        for a in range(0, clients.size, max(step, 1)):
            sl = slice(a, a + step)
            fn = self._train_vmap if self.vectorized else self._train_loop
            p, acc = fn(start[sl], clients[sl], epochs, round_key)
            outs.append(p)
            accs.append(acc)
        return torch.cat(outs), torch.cat(accs)


def simulate(
    model: nn.Module,
    data: FederatedDataset,
    strategy: Strategy,
    rounds: int,
    *,
    participation: float = 1.0,
    clients_per_round: int | None = None,
    eval_every: int = 1,
    **simulator_kwargs: Any,
) -> SimulationResult:
    """Run a federation in one process: ``Simulator(model, data, **kwargs).run(strategy, rounds, ...)``.

    The model is copied; its current parameters are the initial global model.

    Args:
        model: architecture and initial parameters.
        data: federated data set.
        strategy: aggregation strategy.
        rounds: number of federated rounds.
        participation: fraction of clients per round.
        clients_per_round: fixed number of clients per round instead.
        eval_every: evaluation period in rounds.
        **simulator_kwargs: arguments of :class:`Simulator` (``lr``, ``local_epochs``,
            ``batch_size``, ``optimizer``, ``vectorized``, ``seed``, attacks...).
    """
    sim = Simulator(copy.deepcopy(model), data, **simulator_kwargs)
    return sim.run(strategy, rounds, participation=participation, clients_per_round=clients_per_round, eval_every=eval_every)


def train_centralized(
    model: nn.Module,
    data: FederatedDataset,
    epochs: int,
    *,
    eval_every: int = 1,
    **simulator_kwargs: Any,
) -> SimulationResult:
    """Centralised baseline: one model trained on the union of the clients' training splits.

    Evaluated like a federation: accuracy on the union of the test splits and on every client's
    own test split.

    Args:
        model: architecture and initial parameters (copied).
        data: federated data set (only its union is used for training).
        epochs: training epochs.
        eval_every: evaluation period in epochs.
        **simulator_kwargs: ``lr``, ``batch_size``, ``optimizer``, ``seed``...
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    kwargs = dict(simulator_kwargs)
    kwargs.pop("local_epochs", None)
    progress = kwargs.get("progress", True)
    pooled = FederatedDataset(
        x=data.x,
        y=data.y,
        clients=[ClientSplit(train=data.train_indices(), test=data.test_indices())],
        num_classes=data.num_classes,
        name=f"{data.name}-pooled",
    )
    trainer = Simulator(copy.deepcopy(model), pooled, **kwargs)
    evaluator = Simulator(copy.deepcopy(model), data, **kwargs)
    theta = flatten_params(model).detach().clone()
    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    zero = np.zeros(data.num_clients, dtype=np.int64)
    for e in tqdm(range(1, epochs + 1), desc="centralized", disable=not progress, leave=False):
        theta = trainer.train_clients(theta.unsqueeze(0), [0], epochs=1, round_key=e)[0][0]
        if e % eval_every == 0 or e == epochs:
            g_acc, local = evaluator.evaluate({0: theta}, zero)
            mean, std = _nan_stats(local)
            history.append({"round": e, "global_acc": g_acc, "local_mean": mean, "local_std": std, "seconds": time.perf_counter() - t0})
    g_acc, local = evaluator.evaluate({0: theta}, zero)
    mean, std = _nan_stats(local)
    return SimulationResult(
        strategy="Centralized",
        history=history,
        global_acc=g_acc,
        local_acc=local,
        local_mean=mean,
        local_std=std,
        personalized=False,
        theta=theta,
        cluster_labels=zero,
        cluster_thetas={0: theta},
    )

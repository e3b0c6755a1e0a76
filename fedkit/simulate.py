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
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import grad, vmap
from tqdm.auto import tqdm

from fedkit._vmap_training import VMAP_CONV_MAX_BATCH, VmapTraining, vmap_pays_off
from fedkit.aggregation import flatten_params, unflatten_params
from fedkit.datasets import FederatedDataset
from fedkit.partition import ClientSplit
from fedkit.robustness import ATTACKS, apply_attack, finite_rows, noisy_labels, select_clients
from fedkit.strategies.base import Strategy
from fedkit.strategies.clustered import Clustered
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
_log = logging.getLogger(__name__)

#: module types whose training-mode forward pass draws random numbers (``vmap`` cannot batch them
#: in its default randomness mode, so such models train in the loop).
STOCHASTIC_MODULES: tuple[type[nn.Module], ...] = (nn.modules.dropout._DropoutNd, nn.RReLU)


def is_stochastic(model: nn.Module) -> bool:
    """Whether ``model`` contains a module of :data:`STOCHASTIC_MODULES` (dropout family, RReLU)."""
    return any(isinstance(m, STOCHASTIC_MODULES) for m in model.modules())


@dataclass
class SimulationResult:
    """Outcome of a simulated federation.

    Attributes:
        strategy: strategy name.
        history: one dict per evaluated round: ``round``, ``global_acc``, ``local_mean``,
            ``local_std``, ``participants``, ``dropped`` (ids of clients whose non-finite update
            was discarded), ``eta``, ``seconds``.
        global_acc: final accuracy of the shared model(s) on the union of all test splits (each
            client's test split evaluated with the model of its cluster).
        local_acc: final accuracy of each client's model on its own test split ``[M]`` (after
            personalisation when the strategy asks for it).
        local_mean: mean of ``local_acc``.
        local_std: standard deviation of ``local_acc``.
        personalized: whether ``local_acc`` is measured after personalisation.
        theta: final global parameters (cluster 0 for clustered federations).
        cluster_labels: cluster of every client ``[M]`` (all 0 without clustering).
        cluster_thetas: parameters of every cluster.
        updates: the client updates used for clustering ``[M, P]`` (None without clustering).
        dropped_total: number of discarded non-finite client updates.
        failed_rounds: rounds skipped because every participant's update was non-finite (only
            with ``skip_failed_rounds=True``; otherwise such a round raises).
    """

    strategy: str
    history: list[dict[str, Any]]
    global_acc: float
    local_acc: np.ndarray
    local_mean: float
    local_std: float
    personalized: bool
    theta: Tensor
    cluster_labels: np.ndarray
    cluster_thetas: dict[int, Tensor] = field(default_factory=dict)
    updates: Tensor | None = None
    dropped_total: int = 0
    failed_rounds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no tensors)."""
        return {
            "strategy": self.strategy,
            "global_acc": self.global_acc,
            "local_mean": self.local_mean,
            "local_std": self.local_std,
            "personalized": self.personalized,
            "num_clusters": int(len(np.unique(self.cluster_labels))),
            "dropped_total": self.dropped_total,
            "failed_rounds": list(self.failed_rounds),
            "history": self.history,
        }

    def save_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))


def _nan_stats(acc: np.ndarray) -> tuple[float, float]:
    ok = acc[np.isfinite(acc)]
    if ok.size == 0:
        return float("nan"), float("nan")
    return float(ok.mean()), float(ok.std())


class Simulator(VmapTraining):
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

    def _make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        return torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _train_loop(self, start: Tensor, clients: np.ndarray, epochs: int, round_key: int) -> tuple[Tensor, Tensor]:
        model = self._work
        out = torch.empty_like(start)
        acc = torch.zeros(clients.size, dtype=start.dtype)
        for i, c in enumerate(clients):
            model.load_state_dict(unflatten_params(start[i], model))
            model.train()
            opt = self._make_optimizer(model)
            correct, seen = 0.0, 0
            steps, lastf = self.schedule(int(c), epochs, round_key)
            # randomness of the forward pass (dropout masks): own seeded stream per (round, client)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(self._generator(round_key, 2 * 10**9 + int(c)).initial_seed()))
                for chunk, lf in zip(steps, lastf):
                    x, y = self.x[chunk], self.y_train[chunk]
                    opt.zero_grad(set_to_none=True)
                    logits = model(x)
                    loss = F.cross_entropy(logits, y)
                    loss.backward()
                    opt.step()
                    if lf:
                        correct += float((logits.detach().argmax(1) == y).sum())
                        seen += int(y.numel())
            out[i] = flatten_params(model)
            acc[i] = correct / max(seen, 1)
        return out, acc

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def correct(self, theta: Tensor, indices: np.ndarray | Tensor, chunk: int = 4096) -> Tensor:
        """Boolean ``[len(indices)]``: is sample ``indices[j]`` classified correctly by ``theta``."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        model = self._work
        model.load_state_dict(unflatten_params(theta, model))
        model.eval()
        res = [model(self.x[part]).argmax(1) == self.y[part] for part in idx.split(chunk)] if idx.numel() else []
        return torch.cat(res) if res else torch.zeros(0, dtype=torch.bool)

    def local_accuracy(self, theta: Tensor, clients: np.ndarray | list[int]) -> np.ndarray:
        """Accuracy of one model ``theta`` on each client's own test split (NaN if empty)."""
        clients = np.asarray(clients, dtype=np.int64)
        tests = [self.data.clients[int(c)].test for c in clients]
        ok = self.correct(theta, np.concatenate(tests) if tests else np.zeros(0, dtype=np.int64)).double()
        out = np.full(clients.size, np.nan)
        off = 0
        for i, t in enumerate(tests):
            if t.size:
                out[i] = float(ok[off : off + t.size].mean())
            off += t.size
        return out

    @torch.no_grad()
    def local_accuracy_stacked(self, params: Tensor, clients: np.ndarray | list[int]) -> np.ndarray:
        """Accuracy of per-client models ``params [K, P]`` on their own test splits ``[K]``."""
        clients = np.asarray(clients, dtype=np.int64)
        out = np.full(clients.size, np.nan)
        if not self.vectorized:
            for i, c in enumerate(clients):
                out[i] = self.local_accuracy(params[i], [int(c)])[0]
            return out
        self._work.eval()
        for a in range(0, clients.size, self.max_parallel):
            sl = slice(a, a + self.max_parallel)
            cl = clients[sl]
            tests = [torch.as_tensor(self.data.clients[int(c)].test, dtype=torch.long) for c in cl]
            t_max = max(1, max(t.numel() for t in tests))
            idx = torch.zeros(cl.size, t_max, dtype=torch.long)
            mask = torch.zeros(cl.size, t_max, dtype=torch.bool)
            for i, t in enumerate(tests):
                idx[i, : t.numel()] = t
                mask[i, : t.numel()] = True
            logits = self._vlogits(self._split(params[sl].contiguous()), self.x[idx])
            hit = ((logits.argmax(-1) == self.y[idx]) & mask).sum(1).double()
            n = mask.sum(1)
            res = torch.where(n > 0, hit / n.clamp(min=1), torch.full_like(hit, float("nan")))
            out[sl] = res.numpy()
        return out

    def evaluate(self, thetas: Mapping[int, Tensor], assignment: np.ndarray) -> tuple[float, np.ndarray]:
        """Global accuracy (union of test splits, each with its cluster's model) and local accuracies."""
        m = self.data.num_clients
        local = np.full(m, np.nan)
        hits, total = 0.0, 0
        for c, theta in thetas.items():
            members = np.flatnonzero(assignment == c)
            if members.size == 0:
                continue
            acc = self.local_accuracy(theta, members)
            local[members] = acc
            sizes = np.array([self.data.clients[int(i)].test.size for i in members])
            hits += float(np.nansum(acc * sizes))
            total += int(sizes.sum())
        return (hits / total if total else float("nan")), local

    # ------------------------------------------------------------------ federation
    def _corrupt(self, start: Tensor, params: Tensor, clients: np.ndarray, round_key: int) -> Tensor:
        bad = torch.as_tensor(self.malicious[clients])
        if not bad.any():
            return params
        params = params.clone()
        for i in np.flatnonzero(bad.numpy()):
            g = self._generator(round_key, 10**9 + int(clients[i]))  # per-client attack stream
            params[i] = apply_attack(
                start[i : i + 1], params[i : i + 1], self.attack, scale=self.attack_scale, noise_std=self.noise_std, generator=g
            )[0]
        return params

    def run(
        self,
        strategy: Strategy,
        rounds: int,
        *,
        participation: float = 1.0,
        clients_per_round: int | None = None,
        eval_every: int = 1,
    ) -> SimulationResult:
        """Simulate ``rounds`` federated rounds of ``strategy``.

        Args:
            strategy: aggregation strategy (a :class:`~fedkit.strategies.Clustered` strategy
                clusters the clients after its warm-up rounds).
            rounds: number of rounds.
            participation: fraction of the clients (of each cluster) drawn per round, at least one.
            clients_per_round: fixed number of clients per round (and cluster) instead.
            eval_every: evaluate every this many rounds (and always after the last).

        Returns:
            A :class:`SimulationResult`.
        """
        if not isinstance(rounds, int) or rounds < 0:
            raise ValueError(f"rounds must be a non-negative int, got {rounds!r}")
        if not 0.0 < participation <= 1.0:
            raise ValueError(f"participation must lie in (0, 1], got {participation!r}")
        if clients_per_round is not None and clients_per_round < 1:
            raise ValueError(f"clients_per_round must be positive, got {clients_per_round!r}")
        if eval_every < 1:
            raise ValueError(f"eval_every must be positive, got {eval_every!r}")
        m = self.data.num_clients
        rng = np.random.default_rng([self.seed, 12345])
        theta0 = flatten_params(self.model).detach().clone()
        thetas: dict[int, Tensor] = {0: theta0}
        assignment = np.zeros(m, dtype=np.int64)
        num_samples = torch.as_tensor(self.data.num_train_samples, dtype=torch.float64)
        clustered = isinstance(strategy, Clustered)
        updates: Tensor | None = None
        history: list[dict[str, Any]] = []
        dropped_total = 0
        failed_rounds: list[int] = []
        t0 = time.perf_counter()
        bar = tqdm(range(1, rounds + 1), desc=strategy.name, disable=not self.progress, leave=False)
        for t in bar:
            if clustered and t == strategy.warmup_rounds + 1:
                theta = thetas[0]
                everyone = np.arange(m)
                params, _ = self.train_clients(theta.expand(m, -1).contiguous(), everyone, round_key=t + 10**6)
                params = self._corrupt(theta.expand(m, -1), params, everyone, t + 10**6)
                ok = finite_rows(params).numpy()
                updates = params - theta
                labels = np.zeros(m, dtype=np.int64)
                labels[ok] = strategy.cluster(updates[torch.as_tensor(ok)])
                if (~ok).any():  # clients without a usable update join the largest cluster
                    _log.warning(
                        "round %d (clustering): non-finite updates of clients %s; they join the largest cluster",
                        t, np.flatnonzero(~ok).tolist(),
                    )
                    labels[~ok] = np.bincount(labels[ok]).argmax() if ok.any() else 0
                assignment = labels
                thetas = {int(c): theta.clone() for c in np.unique(labels)}
            phase = strategy.phase(t) if clustered else strategy
            chosen: list[np.ndarray] = []
            for c in sorted(thetas):
                members = np.flatnonzero(assignment == c)
                if members.size == 0:
                    continue
                k = clients_per_round if clients_per_round is not None else max(1, int(round(participation * members.size)))
                chosen.append(np.sort(rng.choice(members, size=min(k, members.size), replace=False)))
            part = np.concatenate(chosen)
            start = torch.stack([thetas[int(assignment[i])] for i in part])
            params, acc = self.train_clients(start, part, round_key=t)
            params = self._corrupt(start, params, part, t)
            ok = finite_rows(params)
            dropped = part[~ok.numpy()].tolist()
            dropped_total += len(dropped)
            if dropped:
                _log.warning("round %d: dropped the non-finite updates of clients %s", t, dropped)
            if not bool(ok.any()):
                if not self.skip_failed_rounds:
                    raise RuntimeError(
                        f"round {t}: every participating client ({part.size}: {part.tolist()[:10]}"
                        f"{'...' if part.size > 10 else ''}) sent a non-finite update, so the model "
                        f"cannot be updated (lr={self.lr!r} may be too large); pass "
                        "skip_failed_rounds=True to skip and count such rounds"
                    )
                failed_rounds.append(t)
            for c in sorted(thetas):
                sel = torch.as_tensor(assignment[part] == c) & ok
                if sel.any():
                    ids = part[sel.numpy()]
                    thetas[c] = phase.aggregate(
                        thetas[c], params[sel], num_samples[ids], acc[sel], server_round=t
                    ).to(theta0.dtype)
            if t % eval_every == 0 or t == rounds:
                g_acc, local = self.evaluate(thetas, assignment)
                mean, std = _nan_stats(local)
                rec = {
                    "round": t,
                    "global_acc": g_acc,
                    "local_mean": mean,
                    "local_std": std,
                    "participants": int(part.size),
                    "dropped": dropped,
                    "eta": float(phase.eta(t)),
                    "seconds": time.perf_counter() - t0,
                }
                history.append(rec)
                bar.set_postfix(acc=f"{g_acc:.3f}", dropped=len(dropped))
            elif dropped:
                history.append({"round": t, "dropped": dropped})
        g_acc, local = self.evaluate(thetas, assignment)
        personalized = strategy.personalization_epochs > 0
        if personalized:
            local = self.personalize(thetas, assignment, strategy.personalization_epochs, round_key=rounds + 1)
        mean, std = _nan_stats(local)
        return SimulationResult(
            strategy=strategy.name,
            history=history,
            global_acc=g_acc,
            local_acc=local,
            local_mean=mean,
            local_std=std,
            personalized=personalized,
            theta=thetas[min(thetas)],
            cluster_labels=assignment,
            cluster_thetas=thetas,
            updates=updates,
            dropped_total=dropped_total,
            failed_rounds=failed_rounds,
        )

    def personalize(self, thetas: Mapping[int, Tensor], assignment: np.ndarray, epochs: int, round_key: int) -> np.ndarray:
        """Fine-tune every client from its cluster model for ``epochs`` local epochs; local accuracies ``[M]``."""
        m = self.data.num_clients
        out = np.full(m, np.nan)
        step = self.max_parallel
        for a in range(0, m, step):
            ids = np.arange(a, min(m, a + step))
            start = torch.stack([thetas[int(assignment[i])] for i in ids])
            params, _ = self.train_clients(start, ids, epochs=epochs, round_key=round_key)
            out[ids] = self.local_accuracy_stacked(params, ids)
        return out


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


def plot_learning_curves(
    results: Mapping[str, SimulationResult],
    path: str | Path | None = None,
    *,
    metric: str = "global_acc",
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """Plot accuracy against rounds for several runs (``local_mean`` gets a +-std band).

    Args:
        results: label -> result.
        path: if given, the figure is saved there.
        metric: ``"global_acc"`` or ``"local_mean"``.
        title: axis title.
        ax: existing matplotlib axis.

    Returns:
        The matplotlib figure.
    """
    from matplotlib.figure import Figure

    if metric not in ("global_acc", "local_mean"):
        raise ValueError(f"metric must be 'global_acc' or 'local_mean', got {metric!r}")
    if ax is None:
        fig = Figure(figsize=(6, 4))  # no pyplot: the user's backend is left alone
        ax = fig.subplots()
    else:
        fig = ax.figure
    for label, res in results.items():
        recs = [h for h in res.history if metric in h]
        r = np.array([h["round"] for h in recs])
        v = np.array([h[metric] for h in recs], dtype=float)
        (line,) = ax.plot(r, v, label=label)
        if metric == "local_mean":
            s = np.array([h["local_std"] for h in recs], dtype=float)
            ax.fill_between(r, v - s, v + s, color=line.get_color(), alpha=0.15)
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy" if metric == "global_acc" else "local accuracy (mean +- std)")
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
    # beside the axes, so that the legend never covers a curve
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


"""The federated rounds of :class:`fedkit.simulate.Simulator`: client selection, attacks, the
non-finite guard, aggregation, clustering, evaluation and personalisation."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from fedkit._simulation_result import SimulationResult, _nan_stats
from fedkit.aggregation import flatten_params
from fedkit.robustness import apply_attack, finite_rows
from fedkit.strategies.base import Strategy
from fedkit.strategies.clustered import Clustered

__all__ = ["FederatedRounds"]

# the simulator's warnings (dropped non-finite updates) come from its public module's logger
_log = logging.getLogger("fedkit.simulate")


class FederatedRounds:
    """Mixin of :class:`~fedkit.simulate.Simulator`: :meth:`run` simulates a federation from the
    local training (``train_clients``) and evaluation (``evaluate``) of the simulator."""

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


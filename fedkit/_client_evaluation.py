"""Evaluation of :class:`fedkit.simulate.Simulator`: client test accuracies of shared and per-client models."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from fedkit.aggregation import unflatten_params

__all__ = ["ClientEvaluation"]


class ClientEvaluation:
    """Mixin of :class:`~fedkit.simulate.Simulator`: accuracy of one model on the clients' test
    splits, of per-client models (under ``vmap`` on the vectorised path) and of cluster models
    on the union of the test splits. Evaluation runs in ``eval()`` mode."""

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

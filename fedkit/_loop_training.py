"""The loop training path of :class:`fedkit.simulate.Simulator` (one client at a time, :mod:`torch.optim`)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fedkit.aggregation import flatten_params, unflatten_params

__all__ = ["LoopTraining"]


class LoopTraining:
    """Mixin of :class:`~fedkit.simulate.Simulator`: trains the clients one after the other with a
    fresh :mod:`torch.optim` optimiser on the working model, each client's random stream (dropout
    masks) seeded by ``(seed, round, client)`` inside :func:`torch.random.fork_rng`."""

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

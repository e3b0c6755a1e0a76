"""The vectorised training path of :class:`fedkit.simulate.Simulator` (all clients under ``vmap``)
and the rules of which models train under ``vmap`` (:func:`vmap_pays_off`, :func:`is_stochastic`)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from fedkit.datasets import FederatedDataset

__all__ = ["STOCHASTIC_MODULES", "VMAP_CONV_MAX_BATCH", "VmapTraining", "is_stochastic", "vmap_pays_off"]

#: largest typical mini-batch (samples per client step) at which ``vectorized="auto"`` still
#: trains a model with convolutions under ``vmap`` (see :func:`vmap_pays_off`).
VMAP_CONV_MAX_BATCH = 12

#: module types whose training-mode forward pass draws random numbers (``vmap`` cannot batch them
#: in its default randomness mode, so such models train in the loop).
STOCHASTIC_MODULES: tuple[type[nn.Module], ...] = (nn.modules.dropout._DropoutNd, nn.RReLU)


def is_stochastic(model: nn.Module) -> bool:
    """Whether ``model`` contains a module of :data:`STOCHASTIC_MODULES` (dropout family, RReLU)."""
    return any(isinstance(m, STOCHASTIC_MODULES) for m in model.modules())


def vmap_pays_off(model: nn.Module, data: FederatedDataset, batch_size: int) -> bool:
    """The rule of ``vectorized="auto"``: is training the clients together under ``vmap`` faster?

    Deterministic (it depends on the model's layer types and the partition only, never on a
    timing, so a seeded run takes the same path and gives the same bits every time):

    * a model without convolutions (linear layers, activations): ``vmap`` (the batched
      matrix products of all clients beat one small model at a time; measured 1.7-2x for an
      MLP at 4-40 training samples per client);
    * a model with convolutions: ``vmap`` only while the typical mini-batch
      ``min(batch_size, median training-split size)`` is at most :data:`VMAP_CONV_MAX_BATCH`.
      ``vmap`` turns the clients' convolutions into one grouped convolution, whose CPU
      backward pass is slower per sample than the loop's: measured for LeNet-5 on MNIST at 100
      clients, ``vmap`` was 2.4x faster at 4 samples per client, 1.7x at 8, even at 16 and
      2.2x slower at 40 (one thread).

    Args:
        model: the architecture.
        data: the federated data set.
        batch_size: the local mini-batch size.
    """
    convs = (nn.modules.conv._ConvNd,)
    if not any(isinstance(m, convs) for m in model.modules()):
        return True
    typical = min(int(batch_size), int(np.median(data.num_train_samples)))
    return typical <= VMAP_CONV_MAX_BATCH


class VmapTraining:
    """Mixin of :class:`~fedkit.simulate.Simulator`: one local step of all clients is one
    ``vmap(grad(loss))`` call over their stacked parameters, and the optimiser step updates the
    ``[K, P]`` parameter buffer in place."""

    def _logits(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(self._work, params, (x,))

    def _loss(self, params: dict[str, Tensor], x: Tensor, y: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
        logits = functional_call(self._work, params, (x,))
        ce = F.cross_entropy(logits, y, reduction="none")
        ce = torch.where(m > 0, ce, torch.zeros_like(ce))
        loss = ce.sum() / m.sum().clamp(min=1.0)
        correct = ((logits.argmax(-1) == y).to(m.dtype) * m).sum()
        return loss, correct

    def _split(self, flat: Tensor) -> dict[str, Tensor]:
        """Per-parameter views ``[K, *shape]`` into the rows of ``flat`` ``[K, P]`` (no copy).

        Each parameter occupies a contiguous column block of every row, so ``[K, n]`` with row
        stride ``P`` reshapes to ``[K, *shape]`` as a view; in-place updates of the views write
        straight into ``flat``.
        """
        k = flat.shape[0]
        out: dict[str, Tensor] = {}
        off = 0
        for name, shape, n in zip(self._names, self._shapes, self._numels):
            out[name] = flat[:, off : off + n].view(k, *shape)
            off += n
        return out

    # ------------------------------------------------------------------ schedules

    def _train_vmap(self, start: Tensor, clients: np.ndarray, epochs: int, round_key: int) -> tuple[Tensor, Tensor]:
        k = clients.size
        scheds = [self.schedule(int(c), epochs, round_key) for c in clients]
        s_max = max(len(s[0]) for s in scheds)
        # pad to the largest actual mini-batch of the round (small clients: less wasted compute)
        b = max(chunk.numel() for steps, _ in scheds for chunk in steps)
        idx = torch.zeros(k, s_max, b, dtype=torch.long)
        mask = torch.zeros(k, s_max, b, dtype=start.dtype)
        active = torch.zeros(k, s_max, dtype=torch.bool)
        last = torch.zeros(k, s_max, dtype=start.dtype)
        for i, (steps, lastf) in enumerate(scheds):
            for s, (chunk, lf) in enumerate(zip(steps, lastf)):
                idx[i, s, : chunk.numel()] = chunk
                mask[i, s, : chunk.numel()] = 1.0
                active[i, s] = True
                last[i, s] = float(lf)
        self._work.train()  # evaluation (correct / local_accuracy*) leaves the model in eval mode
        flat = start.detach().clone().contiguous()  # the clients' parameters, updated in place
        params = self._split(flat)
        state: dict[str, dict[str, Tensor]] = {n: {} for n in self._names}
        count = torch.zeros(k, dtype=start.dtype)
        correct = torch.zeros(k, dtype=start.dtype)
        seen = torch.zeros(k, dtype=start.dtype)
        lr, wd, mom = self.lr, self.weight_decay, self.momentum
        b1, b2, eps = 0.9, 0.999, 1e-8
        n_active = active.sum(0).tolist()
        for s in range(s_max):
            ib = idx[:, s]
            xb, yb, mb = self.x[ib], self.y_train[ib], mask[:, s]
            try:
                grads, corr = self._vgrad(params, xb, yb, mb)
            except RuntimeError as err:
                if "randomness" not in str(err):
                    raise
                raise ValueError(
                    "the model draws random numbers in its forward pass (e.g. F.dropout), which vmap cannot "
                    "batch; use vectorized=False"
                ) from err
            act = active[:, s]
            first = count == 0
            count = count + act.to(count.dtype)
            correct = correct + corr * last[:, s]
            seen = seen + mb.sum(1) * last[:, s]
            # every client is active up to its own last step, so "all active" means that this
            # is every client's (s + 1)-th step: the update runs in place without masking
            everyone = n_active[s] == k
            for n in self._names:
                p, g = params[n], grads[n]
                d = g + wd * p if wd else g
                st = state[n]
                if everyone:
                    self._step_inplace(p, d, st, s + 1)
                    continue
                view = (k,) + (1,) * (p.dim() - 1)
                a = act.view(view)
                if self.optimizer == "sgd":
                    if mom:
                        buf_prev = st.get("buf", torch.zeros_like(p))
                        buf = torch.where(first.view(view), d, mom * buf_prev + d)
                        st["buf"] = torch.where(a, buf, buf_prev)
                        d = st["buf"]
                    p.copy_(torch.where(a, p - lr * d, p))
                else:
                    m_prev = st.get("m", torch.zeros_like(p))
                    v_prev = st.get("v", torch.zeros_like(p))
                    m_new = b1 * m_prev + (1 - b1) * d
                    v_new = b2 * v_prev + (1 - b2) * d * d
                    t = count.clamp(min=1).view(view)
                    bc1 = 1 - b1**t
                    bc2 = 1 - b2**t
                    denom = v_new.sqrt() / bc2.sqrt() + eps
                    p.copy_(torch.where(a, p - (lr / bc1) * m_new / denom, p))
                    st["m"] = torch.where(a, m_new, m_prev)
                    st["v"] = torch.where(a, v_new, v_prev)
        acc = correct / seen.clamp(min=1.0)
        return flat, acc.detach()

    def _step_inplace(self, p: Tensor, d: Tensor, st: dict[str, Tensor], t: int) -> None:
        """One optimiser step of every client at once, all of them at their ``t``-th step."""
        lr, mom = self.lr, self.momentum
        if self.optimizer == "sgd":
            if mom:
                if "buf" not in st:  # t == 1: the buffer starts as the first direction
                    st["buf"] = d.clone()
                else:
                    st["buf"].mul_(mom).add_(d)
                d = st["buf"]
            p.add_(d, alpha=-lr)
            return
        b1, b2, eps = 0.9, 0.999, 1e-8
        if "m" not in st:
            st["m"] = torch.zeros_like(p)
            st["v"] = torch.zeros_like(p)
        m, v = st["m"], st["v"]
        m.mul_(b1).add_(d, alpha=1 - b1)
        v.mul_(b2).addcmul_(d, d, value=1 - b2)
        denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(eps)
        p.addcdiv_(m, denom, value=-lr / (1 - b1**t))

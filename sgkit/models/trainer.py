"""The training loop shared by every sgkit model.

:class:`Trainer` draws batches of item indices (a seeded permutation walked across epochs, whole
epochs, or sampling with replacement), calls the model's step function, keeps a time budget,
shows a tqdm bar with the running losses, and calls back for checkpoints, sample grids and user
callbacks. :func:`backward_step` is the one optimiser update: it stops on a non-finite loss term
or gradient (:class:`~sgkit.models.checkpoint.NonFiniteError` naming the term or parameter)
before any weight changes, and averages gradients over the ranks under ``torch.distributed``.
Under ``torchrun`` each rank trains on its slice of every global batch and only rank 0 shows
progress and writes files (:mod:`sgkit.models.distributed`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from sgkit.models import distributed as ddp
from sgkit.models.checkpoint import NonFiniteError

__all__ = ["Trainer", "TrainResult", "backward_step", "check_finite", "materialize"]

StepFn = Callable[[list[int], int], "dict[str, float] | None"]


def materialize(items: Any, name: str) -> list:
    """A non-empty list of scene graphs from a sequence, a map-style data set or an iterable.

    Raises:
        ValueError: naming ``name`` for a single graph, a non-graph element or an empty collection.
    """
    from sgkit.data import as_graph_list

    if hasattr(items, "__getitem__") and hasattr(items, "__len__") and not isinstance(items, (list, tuple)):
        try:
            items = [items[i] for i in range(len(items))]
        except (TypeError, KeyError):
            pass  # not indexable by position (e.g. a single HeteroData): as_graph_list says why
    return as_graph_list(items, name, allow_empty=False)


def check_finite(terms: Mapping[str, Tensor]) -> None:
    """Raise :class:`NonFiniteError` naming the first loss term that is NaN or infinite."""
    if not terms:
        return
    values = torch.stack([t.detach().float().reshape(()) for t in terms.values()])
    if bool(torch.isfinite(values).all()):
        return
    bad = [k for k, v in zip(terms, values.tolist()) if not math.isfinite(v)]
    raise NonFiniteError(f"loss term {bad[0]!r} is {values[list(terms).index(bad[0])].item()} "
                         f"(non-finite terms: {bad})")


def _check_gradients(optimizers: Sequence[torch.optim.Optimizer], module: nn.Module | None) -> None:
    params = [p for o in optimizers for g in o.param_groups for p in g["params"] if p.grad is not None]
    if not params:
        return
    if bool(torch.isfinite(torch.stack([p.grad.sum() for p in params]).sum())):
        return
    names = {id(p): n for n, p in module.named_parameters()} if module is not None else {}
    for p in params:
        if not bool(torch.isfinite(p.grad).all()):
            raise NonFiniteError(f"gradient of parameter {names.get(id(p), tuple(p.shape))!r} is non-finite")


def backward_step(
    loss: Tensor,
    terms: Mapping[str, Tensor],
    optimizers: Sequence[torch.optim.Optimizer],
    *,
    zero: Sequence[torch.optim.Optimizer] | None = None,
    grad_clip: float | None = None,
    module: nn.Module | None = None,
) -> None:
    """One checked update: zero the gradients, backpropagate ``loss``, step the optimisers.

    Args:
        loss: the scalar to minimise.
        terms: the loss terms (checked for NaN and infinity before the backward pass).
        optimizers: the optimisers to step.
        zero: the optimisers whose gradients are zeroed first (default: ``optimizers``).
        grad_clip: clip the gradient norm of the stepped parameters to this value.
        module: used to name a parameter with a non-finite gradient.

    Raises:
        NonFiniteError: for a non-finite term or gradient; no weight has changed then.
    """
    check_finite(terms)
    for opt in zero if zero is not None else optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for o in optimizers for g in o.param_groups for p in g["params"]]
    ddp.average_gradients(params)
    _check_gradients(optimizers, module)
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(params, grad_clip)
    for opt in optimizers:
        opt.step()


@dataclass
class TrainResult:
    """What a :meth:`Trainer.run` did: steps with statistics, skipped steps and why it stopped."""

    steps: int = 0
    skipped: int = 0
    stopped: str = "done"
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """A seeded training loop.

    Args:
        steps: number of steps (batches); batches walk a permutation of the items and continue
            into a fresh permutation when it is used up. Exactly one of ``steps``/``epochs``.
        epochs: number of passes; each pass draws a permutation and cuts it into batches (the
            last one may be smaller).
        batch_size: items per global batch (under ``torch.distributed``, split over the ranks).
        generator: the random generator of the sampling (the model may share it).
        replacement: with ``steps``, draw each batch uniformly with replacement instead.
        time_budget: stop after this many seconds (wall clock) even if steps remain.
        progress: show a tqdm bar (rank 0 only).
        desc: the bar's title and the prefix of error messages.
        postfix: statistics shown on the bar (running mean of the last 10 steps).
        callback: ``callback(step, stats)`` after every step with statistics.
        checkpoint_every, on_checkpoint: call ``on_checkpoint(step)`` every so many steps
            (rank 0 only).
        sample_every, on_sample: likewise for sample grids.
        on_epoch_start: ``on_epoch_start(epoch)`` before each epoch's permutation is drawn
            (``epochs`` mode).
        on_epoch_end: ``on_epoch_end(epoch, stats_of_the_epoch)`` (``epochs`` mode).
        skip_nonfinite: on a :class:`NonFiniteError` skip the step and count it instead of
            raising.
        module: the trained module; under ``torch.distributed`` its weights are copied from
            rank 0 at the start and its buffers after every step.
    """

    def __init__(
        self,
        *,
        steps: int | None = None,
        epochs: int | None = None,
        batch_size: int,
        generator: torch.Generator,
        replacement: bool = False,
        time_budget: float | None = None,
        progress: bool = True,
        desc: str = "train",
        postfix: Sequence[str] = ("total",),
        callback: Callable[[int, dict[str, float]], None] | None = None,
        checkpoint_every: int | None = None,
        on_checkpoint: Callable[[int], None] | None = None,
        sample_every: int | None = None,
        on_sample: Callable[[int], None] | None = None,
        on_epoch_start: Callable[[int], None] | None = None,
        on_epoch_end: Callable[[int, list[dict[str, float]]], None] | None = None,
        skip_nonfinite: bool = False,
        module: nn.Module | None = None,
    ) -> None:
        if (steps is None) == (epochs is None):
            raise ValueError(f"give exactly one of steps and epochs, got steps={steps!r}, epochs={epochs!r}")
        for name, value, low in (("steps", steps, 0), ("epochs", epochs, 1), ("batch_size", batch_size, 1),
                                 ("checkpoint_every", checkpoint_every, 1), ("sample_every", sample_every, 1)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                kind = "non-negative" if low == 0 else "positive"
                raise ValueError(f"{name} must be a {kind} int, got {name}={value!r}")
        if time_budget is not None and not (isinstance(time_budget, (int, float)) and time_budget > 0):
            raise ValueError(f"time_budget must be a positive number of seconds, got time_budget={time_budget!r}")
        if replacement and epochs is not None:
            raise ValueError("replacement=True needs steps= (an epoch is a pass without replacement)")
        self.steps, self.epochs, self.batch_size = steps, epochs, batch_size
        self.generator, self.replacement, self.time_budget = generator, replacement, time_budget
        self.progress, self.desc, self.postfix = progress, desc, tuple(postfix)
        self.callback = callback
        self.checkpoint_every, self.on_checkpoint = checkpoint_every, on_checkpoint
        self.sample_every, self.on_sample = sample_every, on_sample
        self.on_epoch_start, self.on_epoch_end = on_epoch_start, on_epoch_end
        self.skip_nonfinite, self.module = skip_nonfinite, module

    def _batches(self, n: int):
        """Yield ``(epoch, global indices)``; ``epoch`` is ``None`` in steps mode."""
        b, gen = self.batch_size, self.generator
        if self.epochs is not None:
            for epoch in range(self.epochs):
                if self.on_epoch_start is not None:
                    self.on_epoch_start(epoch)
                perm = torch.randperm(n, generator=gen).tolist()
                for start in range(0, n, b):
                    yield epoch, perm[start:start + b]
            return
        if self.replacement:
            for _ in range(self.steps or 0):
                yield None, torch.randint(n, (b,), generator=gen).tolist()
            return
        perm, pos = torch.randperm(n, generator=gen), 0
        for _ in range(self.steps or 0):
            idx: list[int] = []
            while len(idx) < min(b, n):
                if pos >= len(perm):
                    perm, pos = torch.randperm(n, generator=gen), 0
                idx.append(int(perm[pos]))
                pos += 1
            yield None, idx

    def _out_of_time(self, start: float) -> bool:
        if self.time_budget is None:
            return False
        over = time.monotonic() - start > self.time_budget
        if ddp.world_size() > 1:  # every rank stops at the same step
            device = next(self.module.parameters()).device if self.module is not None else "cpu"
            flag = torch.tensor([1.0 if over else 0.0], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            over = bool(flag.item() > 0)
        return over

    def run(self, num_items: int, step_fn: StepFn) -> TrainResult:
        """Train: ``step_fn(local_indices, step)`` returns the step's statistics (or ``None``
        for a step that had nothing to train on)."""
        from tqdm.auto import tqdm

        if num_items <= 0:
            raise ValueError(f"nothing to train on: num_items={num_items}")
        if self.module is not None:
            ddp.broadcast_module(self.module, parameters=True)
        main = ddp.is_main_process()
        if self.epochs is not None:
            total = self.epochs * math.ceil(num_items / self.batch_size)
        else:
            total = self.steps
        bar = tqdm(total=total, desc=self.desc, disable=not (self.progress and main))
        result = TrainResult()
        epoch_stats: list[dict[str, float]] = []
        current_epoch = 0
        start = time.monotonic()
        step = 0
        for epoch, idx in self._batches(num_items):
            if epoch is not None and epoch != current_epoch:
                if self.on_epoch_end is not None:
                    self.on_epoch_end(current_epoch, epoch_stats)
                current_epoch, epoch_stats = epoch, []
            step += 1
            try:
                stats = step_fn(ddp.shard(idx), step)
            except NonFiniteError as err:
                if not self.skip_nonfinite:
                    bar.close()
                    raise NonFiniteError(f"{self.desc} step {step}: {err}") from None
                result.skipped += 1
                stats = None
            bar.update(1)
            if self.module is not None:
                ddp.broadcast_module(self.module)
            if stats is not None:
                result.steps += 1
                result.history.append(stats)
                epoch_stats.append(stats)
                recent = result.history[-10:]
                shown = {k: f"{sum(h[k] for h in recent if k in h) / max(1, sum(k in h for h in recent)):.3f}"
                         for k in self.postfix if any(k in h for h in recent)}
                if result.skipped:
                    shown["skipped"] = str(result.skipped)
                bar.set_postfix(shown, refresh=False)
                if self.callback is not None:
                    self.callback(step, stats)
            if main and self.on_checkpoint is not None and self.checkpoint_every and step % self.checkpoint_every == 0:
                self.on_checkpoint(step)
            if main and self.on_sample is not None and self.sample_every and step % self.sample_every == 0:
                self.on_sample(step)
            if self._out_of_time(start):
                result.stopped = "time_budget"
                break
        if self.epochs is not None and self.on_epoch_end is not None and result.stopped == "done":
            self.on_epoch_end(current_epoch, epoch_stats)
        if result.stopped == "time_budget":
            bar.total = bar.n
            bar.set_description(f"{self.desc} (stopped: time budget of {self.time_budget:g} s)")
        bar.close()
        return result

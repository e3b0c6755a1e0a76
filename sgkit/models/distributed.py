"""torch.distributed support of the training loop (one process per device, e.g. ``torchrun``).

Data-parallel training as :class:`torch.nn.parallel.DistributedDataParallel` does it, written for
models that hold several networks and optimisers (GANs): every rank draws the same global batch
indices and trains on its own slice of them, gradients are averaged over the ranks before each
optimiser step (:func:`average_gradients`), and buffers (batch-norm statistics) follow rank 0
after each step (:func:`broadcast_module`). With the gloo backend this runs on CPUs, with nccl
on GPUs. Without an initialised process group every function here is a no-op.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["average_gradients", "broadcast_module", "is_main_process", "rank", "shard", "world_size"]


def world_size() -> int:
    """Number of processes of the default group (1 without one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """Rank of this process (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    """Whether this process writes checkpoints, sample grids and progress (rank 0)."""
    return rank() == 0


def shard(indices: Sequence[int]) -> list[int]:
    """This rank's contiguous slice of a global batch (sizes differ by at most one)."""
    w = world_size()
    if w == 1:
        return list(indices)
    n, r = len(indices), rank()
    lo, hi = (n * r) // w, (n * (r + 1)) // w
    return list(indices[lo:hi])


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over all ranks (one flattened all-reduce).

    A parameter without a gradient on this rank contributes zeros, so every rank reduces
    tensors of the same size.
    """
    w = world_size()
    if w == 1:
        return
    params = [p for p in params if p.requires_grad]
    grads: list[Tensor] = []
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grads.append(p.grad)
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= w
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_module(module: nn.Module, *, parameters: bool = False) -> None:
    """Copy rank 0's buffers (and, with ``parameters=True``, its weights) to every rank."""
    if world_size() == 1:
        return
    tensors = list(module.buffers())
    if parameters:
        tensors += [p.data for p in module.parameters()]
    for t in tensors:
        dist.broadcast(t, src=0)

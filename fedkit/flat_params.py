r"""Flattening of model parameters into one vector per client, and back.

Buffers (batch-norm statistics): :func:`flatten_params` puts every *floating-point* entry of a
state dict into the vector, parameters and floating buffers (``running_mean``, ``running_var``)
alike, so buffers are averaged with the same weights as the parameters (what Flower's
``FedAvg`` does with the ``state_dict`` arrays) and count in IDA distances. Integer buffers
(``num_batches_tracked``) are not part of the vector; :func:`unflatten_params` copies them from the
template. Pass ``buffers=False`` to :func:`flatten_params` / :func:`unflatten_params` to aggregate
parameters only (floating buffers are then copied from the template, i.e. kept from the server).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import Tensor, nn

__all__ = ["flatten_params", "unflatten_params"]


def _state_of(module_or_state: nn.Module | Mapping[str, Tensor], buffers: bool) -> OrderedDict[str, Tensor]:
    if isinstance(module_or_state, nn.Module):
        if buffers:
            return OrderedDict(module_or_state.state_dict(keep_vars=True))
        return OrderedDict(module_or_state.named_parameters())
    if isinstance(module_or_state, Mapping):
        return OrderedDict(module_or_state)
    raise TypeError(
        f"module_or_state must be an nn.Module or a mapping of tensors, got {type(module_or_state).__name__}"
    )


def _selected(state: Mapping[str, Tensor]) -> list[str]:
    return [k for k, v in state.items() if torch.is_tensor(v) and torch.is_floating_point(v)]


def flatten_params(
    module_or_state: nn.Module | Mapping[str, Tensor], *, buffers: bool = True, out: Tensor | None = None
) -> Tensor:
    """Concatenate the floating-point entries of a model into one vector.

    The order is the ``state_dict`` order. Integer buffers (e.g. ``num_batches_tracked``) are
    skipped. For a module the result is detached; for a mapping the tensors are used as given
    (so a dict of tensors that require grad yields a differentiable vector).

    Args:
        module_or_state: an :class:`torch.nn.Module` or a state dict (mapping name -> tensor).
        buffers: include floating buffers (batch-norm running statistics) of a module. For a
            mapping every floating entry is included.
        out: optional preallocated ``[P]`` tensor (e.g. a row of a ``[M, P]`` matrix that is
            reused every round) written in place, which avoids a fresh allocation and a later
            ``torch.stack`` of the rows.

    Returns:
        Tensor of shape ``[P]`` (``out`` when given).

    Raises:
        TypeError: if the input is neither a module nor a mapping.
        ValueError: if it holds no floating-point tensor.
    """
    is_module = isinstance(module_or_state, nn.Module)
    state = _state_of(module_or_state, buffers)
    keys = _selected(state)
    if not keys:
        raise ValueError("module_or_state holds no floating-point tensor to flatten")
    parts = [state[k].detach().reshape(-1) if is_module else state[k].reshape(-1) for k in keys]
    if out is None:
        return torch.cat(parts)
    total = sum(p.numel() for p in parts)
    if out.dim() != 1 or out.numel() != total:
        raise ValueError(f"out must be a 1-D tensor of {total} entries, got shape {tuple(out.shape)}")
    return torch.cat(parts, out=out)


def unflatten_params(
    vector: Tensor, like: nn.Module | Mapping[str, Tensor], *, buffers: bool = True
) -> OrderedDict[str, Tensor]:
    """Inverse of :func:`flatten_params`: cut a vector back into a state dict shaped like ``like``.

    Entries that are not part of the vector (integer buffers; floating buffers when
    ``buffers=False``) are copied (cloned) from ``like``. The result can be passed to
    ``module.load_state_dict``.

    Args:
        vector: flattened parameters ``[P]``.
        like: template module or state dict.
        buffers: whether the vector contains the floating buffers of a module (must match the
            value used in :func:`flatten_params`).

    Returns:
        An ordered state dict with the keys of ``like`` (for a module: its full ``state_dict``).

    Raises:
        ValueError: if ``vector`` is not 1-D or its length does not match the template.
    """
    if vector.dim() != 1:
        raise ValueError(f"vector must be 1-D, got shape {tuple(vector.shape)}")
    is_module = isinstance(like, nn.Module)
    full = OrderedDict(like.state_dict()) if is_module else _state_of(like, True)
    keys = _selected(_state_of(like, buffers))
    total = sum(full[k].numel() for k in keys)
    if vector.numel() != total:
        raise ValueError(f"vector has {vector.numel()} entries but the template needs {total}")
    out: OrderedDict[str, Tensor] = OrderedDict()
    offset = 0
    chunks: dict[str, Tensor] = {}
    for k in keys:
        ref = full[k]
        n = ref.numel()
        chunks[k] = vector[offset : offset + n].view_as(ref).to(ref.dtype)
        offset += n
    for k, v in full.items():
        out[k] = chunks[k] if k in chunks else v.detach().clone()
    return out

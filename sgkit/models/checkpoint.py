"""One checkpoint format for every sgkit model.

A checkpoint is a dict of tensors and plain Python containers written with :func:`torch.save`
and read back with ``torch.load(..., weights_only=True)``:

- ``format``: :data:`CHECKPOINT_FORMAT` (a version string);
- ``model``: the model class name;
- ``config``: the hyper-parameters (a plain dict);
- ``vocab``: :meth:`~sgkit.data.Vocabulary.to_dict` or ``None``;
- ``state_dict``: the weights and buffers;
- ``optimizers``: ``{name: optimizer.state_dict()}`` (may be empty);
- ``history``: a list of per-step (or per-epoch) statistics;
- ``extra``: model-specific plain data.

Writing is atomic (a temporary file in the same folder, then :func:`os.replace`), and a state
dict holding a NaN or an infinity is refused: a checkpoint never replaces good weights with
broken ones. Files of the two earlier formats (``sgkit.SG2Im/1`` and
``sgkit.models.autoregressive/1``) are read as well.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from typing import Any, Mapping

import torch
from torch import Tensor

__all__ = ["CHECKPOINT_FORMAT", "NonFiniteError", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "sgkit.checkpoint/1"
_KEYS = ("model", "config", "vocab", "state_dict", "optimizers", "history", "extra")


class NonFiniteError(FloatingPointError):
    """A loss, a gradient or a weight that should be finite is NaN or infinite."""


def _first_non_finite(state: Mapping[str, Any]) -> str | None:
    for key, value in state.items():
        if isinstance(value, Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return key
    return None


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: str,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Tensor],
    vocab: Mapping[str, Any] | None = None,
    optimizers: Mapping[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Write a checkpoint atomically; returns the path.

    Raises:
        NonFiniteError: if a floating tensor of ``state_dict`` holds a NaN or an infinity
            (nothing is written; an existing file at ``path`` is kept).
    """
    path = os.fspath(path)
    bad = _first_non_finite(state_dict)
    if bad is not None:
        raise NonFiniteError(
            f"refusing to write checkpoint {path!r}: weight {bad!r} holds NaN or infinite values")
    ckpt = {
        "format": CHECKPOINT_FORMAT, "model": model, "config": dict(config),
        "vocab": None if vocab is None else dict(vocab), "state_dict": dict(state_dict),
        "optimizers": dict(optimizers or {}), "history": [dict(h) for h in (history or [])],
        "extra": dict(extra or {}),
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(ckpt, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _from_legacy(ckpt: dict[str, Any]) -> dict[str, Any]:
    fmt = ckpt.get("format")
    if fmt == "sgkit.SG2Im/1":
        return {"format": CHECKPOINT_FORMAT, "model": "SG2Im", "config": ckpt["config"],
                "vocab": ckpt.get("vocab"), "state_dict": ckpt["state_dict"],
                "optimizers": ckpt.get("optimizers", {}), "history": [], "extra": {}}
    if fmt == "sgkit.models.autoregressive/1":
        return {"format": CHECKPOINT_FORMAT, "model": ckpt["class"], "config": ckpt["hparams"],
                "vocab": ckpt.get("vocab"), "state_dict": ckpt["state_dict"], "optimizers": {},
                "history": ckpt.get("history", []),
                "extra": {"ordering": ckpt.get("ordering"),
                          "ordering_was_callable": ckpt.get("ordering_was_callable", False)}}
    return ckpt


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: str | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Args:
        path: the file.
        model: the expected model class name (``None``: any).
        map_location: where to load the tensors.

    Returns:
        The checkpoint dict with the keys listed in the module docstring.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a readable sgkit checkpoint, or holds another model;
            the message names the path.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: path={path!r}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"path: {path!r} is not a readable checkpoint ({err})") from None
    if isinstance(ckpt, dict):
        ckpt = _from_legacy(ckpt)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or not all(k in ckpt for k in _KEYS):
        raise ValueError(f"path: {path!r} is not an sgkit checkpoint (format {CHECKPOINT_FORMAT!r})")
    if model is not None and ckpt["model"] != model:
        raise ValueError(f"path: {path!r} holds a {ckpt['model']} checkpoint, not a {model}")
    return ckpt

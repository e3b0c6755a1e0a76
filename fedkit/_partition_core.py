"""Shared pieces of the partitioners: the :class:`ClientSplit` record and the label / split helpers."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fedkit.validation import check_number

__all__ = ["ClientSplit"]


@dataclass(frozen=True)
class ClientSplit:
    """Indices (into the pooled data set) of one client's training and test samples.

    Both are stored as 1-D ``int64`` arrays. Indices must be non-negative whole numbers, and no
    index may be both a training and a test sample of the client.

    Raises:
        ValueError: for a non-1-D or non-integral array, a negative index, or an index in both
            ``train`` and ``test``.
    """

    train: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            raw = getattr(self, name)
            a = raw.detach().cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
            if a.size == 0:
                a = a.reshape(0).astype(np.int64)
            if a.ndim != 1:
                raise ValueError(f"ClientSplit.{name} must be a 1-D index array, got shape {a.shape}")
            if not np.issubdtype(a.dtype, np.integer):
                if a.dtype == bool or not np.issubdtype(a.dtype, np.number) or not np.all(np.mod(a, 1) == 0):
                    raise ValueError(f"ClientSplit.{name} must hold whole-number indices, got dtype {a.dtype}")
            a = a.astype(np.int64)
            if a.size and a.min() < 0:
                raise ValueError(
                    f"ClientSplit.{name} indices must be non-negative, got {int(a.min())} "
                    "(negative indices would silently wrap around)"
                )
            object.__setattr__(self, name, a)
        both = np.intersect1d(self.train, self.test)
        if both.size:
            raise ValueError(
                f"ClientSplit train and test share {both.size} index(es), e.g. {both[:5].tolist()}"
            )

    @property
    def indices(self) -> np.ndarray:
        """All indices of the client (train then test)."""
        return np.concatenate([self.train, self.test])

    def __len__(self) -> int:
        return int(self.train.size + self.test.size)


def _labels(labels: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D sequence, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("labels must be integers")
        y = y.astype(np.int64)
    if (y < 0).any():
        raise ValueError(f"labels must be non-negative, got minimum {int(y.min())}")
    return y.astype(np.int64)


def _check_common(num_clients: int, test_fraction: float, n: int) -> None:
    if not isinstance(num_clients, (int, np.integer)) or num_clients < 1:
        raise ValueError(f"num_clients must be a positive int, got {num_clients!r}")
    if num_clients > n:
        raise ValueError(f"num_clients={num_clients} exceeds the number of samples {n}")
    check_number("test_fraction", test_fraction, low=0.0, high=1.0, high_open=True)


def _split_client(idx: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> ClientSplit:
    """Stratified train/test split inside one client (each class of the client split separately)."""
    idx = np.asarray(idx, dtype=np.int64)
    train, test = [], []
    for c in np.unique(y[idx]):
        part = rng.permutation(idx[y[idx] == c])
        n_test = int(round(test_fraction * part.size))
        if test_fraction > 0 and part.size >= 2:
            n_test = min(max(n_test, 1), part.size - 1)
        test.append(part[:n_test])
        train.append(part[n_test:])
    tr = rng.permutation(np.concatenate(train)) if train else np.empty(0, dtype=np.int64)
    te = rng.permutation(np.concatenate(test)) if test else np.empty(0, dtype=np.int64)
    return ClientSplit(train=tr.astype(np.int64), test=te.astype(np.int64))


def _finish(parts: list[np.ndarray], y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> list[ClientSplit]:
    return [_split_client(p, y, test_fraction, rng) for p in parts]

"""Seeded partitioners that split a labelled data set among federated clients.

Every partitioner takes the label vector of the pool, returns one :class:`ClientSplit` per client
(disjoint index arrays into the pool, each cut into a train and a test part inside the client)
and is deterministic for a given ``seed``. Schemes (thesis ch. 6):

* :func:`iid_partition` - uniform random, equal sizes;
* :func:`ncc_partition` - each client holds ``ncc`` classes (Table 6.1);
* :func:`dirichlet_partition` - class proportions per client drawn from ``Dir(alpha)``;
* :func:`unbalanced_partition` - IID labels, log-normal client sizes;
* :func:`ham10k_partition` - each class cut into 35 groups (or groups of 35 samples), every
  client gets two groups of different classes, 80/20 split inside the client (Sec. 6.5.2);
  :data:`HAM10K_THESIS` rebuilds the thesis' 34 clients of 70 images.

:func:`class_counts` and :func:`plot_partition` give the client-by-class matrix and its heat map.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedkit._partition_core import ClientSplit, _check_common, _finish, _labels
from fedkit.partition_ham10k import HAM10K_THESIS, ham10k_partition
from fedkit.validation import check_number

__all__ = [
    "ClientSplit",
    "iid_partition",
    "ncc_partition",
    "dirichlet_partition",
    "unbalanced_partition",
    "ham10k_partition",
    "HAM10K_THESIS",
    "class_counts",
    "plot_partition",
]


def iid_partition(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    num_clients: int,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> list[ClientSplit]:
    """Uniform random partition into clients of (nearly) equal size.

    Args:
        labels: class label of every sample of the pool, shape ``[N]``.
        num_clients: number of clients ``M``.
        test_fraction: fraction of each client's samples put in its test split.
        seed: random seed.

    Returns:
        ``M`` client splits; together they cover every sample exactly once.
    """
    y = _labels(labels)
    _check_common(num_clients, test_fraction, y.size)
    rng = np.random.default_rng(seed)
    parts = np.array_split(rng.permutation(y.size), num_clients)
    return _finish(list(parts), y, test_fraction, rng)


def ncc_partition(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    num_clients: int,
    ncc: int,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> list[ClientSplit]:
    """Pathological non-IID partition: every client holds exactly ``ncc`` classes.

    Classes are dealt to clients from a stream of concatenated random permutations of the
    classes (so all classes are used about equally often and every class is held by some
    client when ``num_clients * ncc >= C``); the samples of each class are then divided evenly
    (at random) among the clients holding it. Classes held by no client are left out.

    Args:
        labels: class labels ``[N]``.
        num_clients: number of clients ``M``.
        ncc: number of classes per client, ``1 <= ncc <= C``.
        test_fraction: fraction of each client's samples in its test split.
        seed: random seed.

    Returns:
        ``M`` client splits with exactly ``ncc`` classes each (if every class has enough samples).
    """
    y = _labels(labels)
    _check_common(num_clients, test_fraction, y.size)
    classes = np.unique(y)
    if not isinstance(ncc, (int, np.integer)) or not 1 <= ncc <= classes.size:
        raise ValueError(f"ncc must be an int in [1, {classes.size}], got {ncc!r}")
    rng = np.random.default_rng(seed)
    stream: list[int] = []
    held: list[list[int]] = []
    for _ in range(num_clients):
        mine: list[int] = []
        while len(mine) < ncc:
            if not stream:
                stream = list(rng.permutation(classes))
            # take the first class in the stream that the client does not hold yet
            for k, c in enumerate(stream):
                if c not in mine:
                    mine.append(int(c))
                    stream.pop(k)
                    break
            else:
                stream.extend(rng.permutation(classes).tolist())
        held.append(mine)
    owners: dict[int, list[int]] = {int(c): [] for c in classes}
    for i, mine in enumerate(held):
        for c in mine:
            owners[c].append(i)
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for c, who in owners.items():
        if not who:
            continue
        idx = rng.permutation(np.flatnonzero(y == c))
        for i, chunk in zip(who, np.array_split(idx, len(who))):
            parts[i].append(chunk)
    merged = [np.concatenate(p) if p else np.empty(0, dtype=np.int64) for p in parts]
    return _finish(merged, y, test_fraction, rng)


def dirichlet_partition(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    num_clients: int,
    alpha: float,
    *,
    test_fraction: float = 0.2,
    min_size: int = 2,
    seed: int = 0,
) -> list[ClientSplit]:
    """Label-skew partition with class proportions drawn from a symmetric Dirichlet.

    For every class ``c`` a vector ``p_c ~ Dir(alpha * 1_M)`` splits the samples of ``c`` among
    the ``M`` clients. Small ``alpha`` gives strongly skewed clients of unbalanced size, large
    ``alpha`` approaches IID. Clients left with fewer than ``min_size`` samples then receive
    random samples taken one at a time from the currently largest client (a small repair that
    keeps the partition disjoint and complete).

    Args:
        labels: class labels ``[N]``.
        num_clients: number of clients.
        alpha: Dirichlet concentration (positive).
        test_fraction: fraction of each client's samples in its test split.
        min_size: minimum number of samples per client.
        seed: random seed.

    Raises:
        ValueError: for invalid arguments (including ``min_size * num_clients > N``).
    """
    y = _labels(labels)
    _check_common(num_clients, test_fraction, y.size)
    check_number("alpha", alpha, low=0.0, low_open=True)
    if min_size < 0 or min_size * num_clients > y.size:
        raise ValueError(f"min_size={min_size} is impossible for {num_clients} clients and {y.size} samples")
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(num_clients)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        p = rng.dirichlet(np.full(num_clients, float(alpha)))
        cuts = (np.cumsum(p)[:-1] * idx.size).astype(int)
        for i, chunk in enumerate(np.split(idx, cuts)):
            parts[i].extend(chunk.tolist())
    sizes = np.array([len(q) for q in parts])
    for i in np.flatnonzero(sizes < min_size):
        while len(parts[i]) < min_size:
            donor = int(np.argmax([len(q) for q in parts]))
            parts[i].append(parts[donor].pop(int(rng.integers(len(parts[donor])))))
    merged = [np.asarray(q, dtype=np.int64) for q in parts]
    return _finish(merged, y, test_fraction, rng)


def unbalanced_partition(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    num_clients: int,
    *,
    sigma: float = 1.0,
    min_size: int = 2,
    sort_by_label: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> list[ClientSplit]:
    """Unbalanced client sizes drawn from a log-normal distribution.

    Client ``i`` receives a share proportional to ``exp(s_i)``, ``s_i ~ N(0, sigma^2)``, with at
    least ``min_size`` samples; all samples are used. The samples are dealt IID, or, with
    ``sort_by_label=True``, as consecutive runs of the label-sorted pool (clients in random
    order), so that large clients hold few classes (unbalanced *and* non-IID).

    Args:
        labels: class labels ``[N]``.
        num_clients: number of clients.
        sigma: log-normal spread (0 gives equal sizes).
        min_size: minimum number of samples per client.
        sort_by_label: deal label-sorted runs instead of IID samples.
        test_fraction: fraction of each client's samples in its test split.
        seed: random seed.
    """
    y = _labels(labels)
    _check_common(num_clients, test_fraction, y.size)
    check_number("sigma", sigma, low=0.0)
    if min_size * num_clients > y.size:
        raise ValueError(f"min_size={min_size} is impossible for {num_clients} clients and {y.size} samples")
    rng = np.random.default_rng(seed)
    share = np.exp(rng.normal(0.0, sigma, size=num_clients))
    extra = y.size - min_size * num_clients
    sizes = min_size + np.floor(share / share.sum() * extra).astype(int)
    rest = y.size - sizes.sum()
    for k in rng.permutation(num_clients)[:rest]:
        sizes[k] += 1
    perm = rng.permutation(y.size)
    if sort_by_label:
        perm = perm[np.argsort(y[perm], kind="stable")]
    parts = np.split(perm, np.cumsum(sizes)[:-1])
    return _finish(list(parts), y, test_fraction, rng)


def _is_dataset(obj: Any) -> bool:
    return hasattr(obj, "clients") and hasattr(obj, "y") and hasattr(obj, "num_classes")


def _unpack(clients: Any, labels: Any, num_classes: int | None) -> tuple[Any, Any, int | None]:
    """``(clients, labels, num_classes)`` of a federated data set passed as ``clients``."""
    if _is_dataset(clients):
        if labels is not None:
            raise ValueError(
                f"labels must not be given with a FederatedDataset (its y is used), got {type(labels).__name__}"
            )
        return clients.clients, clients.y, clients.num_classes if num_classes is None else num_classes
    if _is_dataset(labels):
        raise ValueError(
            "labels is a FederatedDataset: pass it alone as the first argument, e.g. "
            "plot_partition(data, path=...) or class_counts(data)"
        )
    if labels is None:
        raise ValueError("labels are required unless clients is a FederatedDataset")
    return clients, labels, num_classes


def class_counts(
    clients: Sequence[ClientSplit] | Any,
    labels: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    num_classes: int | None = None,
    *,
    split: str = "all",
) -> np.ndarray:
    """Client-by-class sample counts.

    Args:
        clients: client splits, or a :class:`~fedkit.datasets.FederatedDataset` (then
            ``labels`` is omitted and its ``y`` / ``num_classes`` are used).
        labels: class labels of the pool.
        num_classes: number of classes (default ``max(label) + 1``).
        split: ``"all"``, ``"train"`` or ``"test"``.

    Returns:
        Integer array ``[M, C]``.
    """
    clients, labels, num_classes = _unpack(clients, labels, num_classes)
    y = _labels(labels)
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    c = int(y.max()) + 1 if num_classes is None else int(num_classes)
    out = np.zeros((len(clients), c), dtype=np.int64)
    for i, cl in enumerate(clients):
        idx = cl.indices if split == "all" else getattr(cl, split)
        out[i] = np.bincount(y[idx], minlength=c)[:c]
    return out


def plot_partition(
    clients: Sequence[ClientSplit] | Any,
    labels: Sequence[int] | np.ndarray | torch.Tensor | str | Path | None = None,
    path: str | Path | None = None,
    *,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """Draw the client-by-class heat map of a partition.

    Also callable as ``plot_partition(data, path)`` with a
    :class:`~fedkit.datasets.FederatedDataset` (its labels, number of classes and class names
    are used).

    Args:
        clients: client splits, or a federated data set.
        labels: class labels of the pool (with a data set: the output path, or omitted).
        path: if given, the figure is saved there.
        num_classes: number of classes (default ``max(label) + 1``).
        class_names: tick labels for the classes.
        title: figure title.
        ax: an existing matplotlib axis to draw on.

    Returns:
        The matplotlib figure.
    """
    from matplotlib.figure import Figure

    if _is_dataset(clients):
        if isinstance(labels, (str, Path)):
            if path is not None:
                raise ValueError(f"path given twice: {str(labels)!r} and {str(path)!r}")
            labels, path = None, labels
        if class_names is None and getattr(clients, "class_names", None):
            class_names = list(clients.class_names)
    counts = class_counts(clients, labels, num_classes)
    if ax is None:
        # no pyplot: the user's backend is left alone
        fig = Figure(figsize=(max(4.0, 0.4 * counts.shape[1] + 2), max(3.0, min(12.0, 0.12 * counts.shape[0] + 2))))
        ax = fig.subplots()
    else:
        fig = ax.figure
    im = ax.imshow(counts, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("class")
    ax.set_ylabel("client")
    ax.set_xticks(range(counts.shape[1]))
    if class_names is not None:
        ax.set_xticklabels(list(class_names), rotation=45, ha="right")
    ax.set_title(title or f"{counts.shape[0]} clients x {counts.shape[1]} classes")
    fig.colorbar(im, ax=ax, label="samples")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

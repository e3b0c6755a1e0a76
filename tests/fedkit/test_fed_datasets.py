import csv
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from fedkit.datasets import (
    HAM10000_CLASSES,
    FederatedDataset,
    federated_digits,
    federated_mnist5k,
    load_ham10000,
    load_torchvision,
    partition_dataset,
)


def test_federated_digits():
    data = federated_digits("ncc", num_clients=10, ncc=2, seed=0)
    assert isinstance(data, FederatedDataset)
    assert data.x.shape == (1797, 1, 8, 8) and data.y.shape == (1797,)
    assert 0.0 <= float(data.x.min()) and float(data.x.max()) <= 1.0
    assert data.num_clients == 10 and data.num_classes == 10
    x, y = data.client_train(0)
    assert x.shape[0] == data.clients[0].train.size and y.unique().numel() == 2
    assert data.test_indices().size + data.train_indices().size == 1797


def test_federated_mnist5k():
    data = federated_mnist5k("iid", num_clients=5, seed=0)
    assert data.x.shape == (5000, 1, 28, 28)
    assert float(data.x.max()) == pytest.approx(1.0)
    assert torch.bincount(data.y).tolist() == [500] * 10
    with pytest.raises(ValueError, match="scheme must be one of"):
        federated_mnist5k("bogus")
    with pytest.raises(ValueError, match="needs the argument ncc"):
        partition_dataset(data.x, data.y, "ncc")


def _write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    with open(path, "wb") as fh:
        if arr.ndim == 1:
            fh.write(struct.pack(">II", 2049, arr.shape[0]))
        else:
            fh.write(struct.pack(">IIII", 2051, *arr.shape))
        fh.write(arr.tobytes())


def test_load_fashionmnist_from_local_folder(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(6, 28, 28))
    labels = np.array([0, 1, 2, 3, 4, 9])
    for prefix in ("train", "t10k"):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", imgs)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    x, y = load_torchvision("FashionMNIST", tmp_path, train=True)
    assert x.shape == (6, 1, 28, 28) and y.tolist() == labels.tolist()
    assert torch.allclose(x[2, 0], torch.tensor(imgs[2], dtype=torch.float32) / 255)


def test_load_torchvision_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar10 not found under root"):
        load_torchvision("cifar10", tmp_path)
    with pytest.raises(ValueError, match="name must be"):
        load_torchvision("svhn", tmp_path)


def _ham_fixture(tmp_path):
    d1, d2 = tmp_path / "part_1", tmp_path / "part_2"
    d1.mkdir()
    d2.mkdir()
    rows = [("ISIC_0", "nv"), ("ISIC_1", "mel"), ("ISIC_2", "nv"), ("ISIC_3", "df"), ("ISIC_4", "nv")]
    for k, (image_id, _) in enumerate(rows):
        img = np.full((20, 30, 3), 40 * k, dtype=np.uint8)
        Image.fromarray(img).save((d1 if k % 2 else d2) / f"{image_id}.jpg", quality=100)
    meta = tmp_path / "HAM10000_metadata.csv"
    with meta.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"])
        for k, (image_id, dx) in enumerate(rows):
            w.writerow([f"HAM_{k}", image_id, dx, "histo", 50, "male", "back"])
    return meta, [d1, d2], rows


def test_load_ham10000_fixture(tmp_path):
    meta, dirs, rows = _ham_fixture(tmp_path)
    x, y = load_ham10000(meta, dirs, image_size=16, progress=False)
    assert x.shape == (5, 3, 16, 16)
    assert y.tolist() == [HAM10000_CLASSES.index(dx) for _, dx in rows]
    assert x[3].mean().item() == pytest.approx(120 / 255, abs=0.02)
    x2, y2 = load_ham10000(meta, dirs, image_size=8, max_per_class=1, seed=0, progress=False)
    assert sorted(y2.tolist()) == sorted({0, 1, 6})


def test_load_ham10000_errors(tmp_path):
    meta, dirs, _ = _ham_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found in image_dirs"):
        load_ham10000(meta, dirs[:1], progress=False)
    with pytest.raises(FileNotFoundError, match="metadata_csv"):
        load_ham10000(tmp_path / "nope.csv", dirs, progress=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("image_id,dx\nISIC_0,xyz\n")
    with pytest.raises(ValueError, match="unknown diagnosis dx='xyz'"):
        load_ham10000(bad, dirs, progress=False)

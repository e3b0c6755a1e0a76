"""The thesis' HAM10000 federation and both readings of its "35 groups"."""
import numpy as np
import pytest
import torch

from fedkit import HAM10K_THESIS
from fedkit.datasets import partition_dataset
from fedkit.partition import class_counts, ham10k_partition


def _check_disjoint(clients):
    idx = np.concatenate([c.indices for c in clients])
    assert np.unique(idx).size == idx.size, "clients overlap"
    for c in clients:
        assert np.intersect1d(c.train, c.test).size == 0 and c.train.size > 0


# HAM10000 class counts (nv, mel, bkl, bcc, akiec, vasc, df), the real data set's
HAM_COUNTS = [6705, 1113, 1099, 514, 327, 142, 115]
HAM_Y = np.repeat(np.arange(7), HAM_COUNTS)


def test_ham10k_thesis_federation_is_reproducible():
    a = ham10k_partition(HAM_Y, **HAM10K_THESIS, seed=0)
    b = ham10k_partition(HAM_Y, **HAM10K_THESIS, seed=0)
    c = ham10k_partition(HAM_Y, **HAM10K_THESIS, seed=1)
    # thesis line 976: 34 clients of 70 images from two classes, 80:20 inside each client
    assert len(a) == 34
    _check_disjoint(a)
    for cl in a:
        counts = np.bincount(HAM_Y[cl.indices], minlength=7)
        assert sorted(counts[counts > 0].tolist()) == [35, 35]
        assert cl.train.size == 56 and cl.test.size == 14
        assert sorted(np.bincount(HAM_Y[cl.test])[np.bincount(HAM_Y[cl.test]) > 0].tolist()) == [7, 7]
    # at most 500 images of a class are used (the undersampling)
    assert class_counts(a, HAM_Y, 7).sum(0).max() <= 500
    assert all(np.array_equal(x.train, y.train) and np.array_equal(x.test, y.test) for x, y in zip(a, b))
    assert any(not np.array_equal(x.train, y.train) for x, y in zip(a, c))
    # the same through partition_dataset
    data = partition_dataset(torch.zeros(HAM_Y.size, 1), torch.as_tensor(HAM_Y), "ham10k", **HAM10K_THESIS, seed=0)
    assert data.num_clients == 34 and all(np.array_equal(x.train, y.train) for x, y in zip(data.clients, a))


def test_ham10k_group_size_vs_groups_per_class_readings():
    # groups of 35 images: 14, 14, 14, 14, 9, 4, 3 groups after undersampling to 500 -> 36 clients
    full = ham10k_partition(HAM_Y, group_size=35, max_per_class=500, seed=0)
    assert len(full) == 36 and {len(c) for c in full} == {70}
    groups = class_counts(full, HAM_Y, 7) // 35  # each client holds one group of each of its classes
    assert groups.sum(1).tolist() == [2] * 36
    assert groups.sum(0).tolist() == [14, 14, 14, 14, 9, 4, 3]
    # the 35-groups-per-class reading: every class cut in 35, sizes 7-30 (122 clients on these counts)
    other = ham10k_partition(HAM_Y, groups_per_class=35, max_per_class=500, seed=0)
    sizes = sorted({len(c) for c in other})
    assert len(other) == 122 and sizes[0] >= 7 and sizes[-1] <= 30
    # literal random pairing may strand groups of one class: never more clients than balanced
    rnd = [len(ham10k_partition(HAM_Y, group_size=35, max_per_class=500, pairing="random", seed=s)) for s in range(5)]
    assert all(n <= 36 for n in rnd)
    for s in range(3):
        for cl in ham10k_partition(HAM_Y, group_size=35, max_per_class=500, pairing="random", seed=s):
            assert (np.bincount(HAM_Y[cl.indices]) > 0).sum() == 2


def test_ham10k_group_size_arguments():
    with pytest.raises(ValueError, match="groups_per_class or group_size, not both"):
        ham10k_partition(HAM_Y, groups_per_class=35, group_size=35)
    with pytest.raises(ValueError, match="group_size must be a positive int, got 0"):
        ham10k_partition(HAM_Y, group_size=0)
    with pytest.raises(ValueError, match="max_per_class=10 must be an int >= group_size=35"):
        ham10k_partition(HAM_Y, group_size=35, max_per_class=10)
    with pytest.raises(ValueError, match="pairing must be one of"):
        ham10k_partition(HAM_Y, group_size=35, pairing="greedy")
    with pytest.raises(ValueError, match="only 36 clients can be formed, num_clients=40"):
        ham10k_partition(HAM_Y, group_size=35, max_per_class=500, num_clients=40)

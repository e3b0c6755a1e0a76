import numpy as np
import pytest

from fedkit.partition import (
    class_counts,
    dirichlet_partition,
    ham10k_partition,
    iid_partition,
    ncc_partition,
    plot_partition,
    unbalanced_partition,
)

Y = np.repeat(np.arange(10), 50)  # 500 samples, 10 balanced classes


def _check_disjoint_complete(clients, n, complete=True):
    idx = np.concatenate([c.indices for c in clients])
    assert np.unique(idx).size == idx.size, "clients overlap"
    if complete:
        assert idx.size == n and set(idx.tolist()) == set(range(n))
    for c in clients:
        assert np.intersect1d(c.train, c.test).size == 0
        assert c.train.size > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda s: iid_partition(Y, 7, seed=s),
        lambda s: ncc_partition(Y, 20, 3, seed=s),
        lambda s: dirichlet_partition(Y, 10, 0.3, seed=s),
        lambda s: unbalanced_partition(Y, 10, sigma=1.0, seed=s),
        lambda s: unbalanced_partition(Y, 10, sigma=1.0, sort_by_label=True, seed=s),
        lambda s: ham10k_partition(Y, groups_per_class=5, seed=s),
    ],
)
def test_partitions_disjoint_complete_and_seeded(make):
    a, b, c = make(0), make(0), make(1)
    _check_disjoint_complete(a, Y.size)
    assert all(np.array_equal(x.train, y.train) and np.array_equal(x.test, y.test) for x, y in zip(a, b))
    assert any(not np.array_equal(x.train, y.train) for x, y in zip(a, c))


def test_test_fraction_within_client():
    clients = iid_partition(Y, 5, test_fraction=0.2, seed=0)
    for c in clients:
        assert c.test.size == pytest.approx(0.2 * len(c), abs=10 * 1)  # stratified rounding per class
    total_test = sum(c.test.size for c in clients)
    assert abs(total_test - 100) <= 10


def test_ncc_exact_classes_and_even_split():
    clients = ncc_partition(Y, 20, 3, seed=0)
    counts = class_counts(clients, Y, 10)
    assert ((counts > 0).sum(1) == 3).all()
    # every class is held by 6 clients (20 * 3 / 10) and split evenly among them
    assert ((counts > 0).sum(0) == 6).all()
    assert set(np.unique(counts[counts > 0]).tolist()) <= {8, 9}
    with pytest.raises(ValueError, match="ncc must be an int in"):
        ncc_partition(Y, 5, 11)


def test_dirichlet_min_size_and_skew():
    clients = dirichlet_partition(Y, 50, 0.05, min_size=3, seed=0)
    assert min(len(c) for c in clients) >= 3

    def dominant(alpha):
        counts = class_counts(dirichlet_partition(Y, 10, alpha, seed=0), Y, 10)
        return np.median(counts.max(1) / counts.sum(1))

    assert dominant(0.05) > 0.5  # strong skew: clients dominated by one class
    assert dominant(1000.0) < 0.2  # near IID: the largest class holds about 1/10
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        dirichlet_partition(Y, 5, 0.0)


def test_unbalanced_sizes_vary():
    clients = unbalanced_partition(Y, 20, sigma=1.5, seed=0)
    sizes = np.array([len(c) for c in clients])
    assert sizes.sum() == Y.size and sizes.min() >= 2
    assert sizes.max() > 3 * np.median(sizes)
    sorted_clients = unbalanced_partition(Y, 20, sigma=1.5, sort_by_label=True, seed=0)
    assert (class_counts(sorted_clients, Y, 10) > 0).sum(1).mean() < 2.5


def test_ham10k_scheme():
    y = np.concatenate([np.full(n, k) for k, n in enumerate([700, 500, 350, 350, 140, 140, 140])])
    clients = ham10k_partition(y, groups_per_class=35, max_per_class=500, seed=0, test_fraction=0.2)
    counts = class_counts(clients, y, 7)
    assert ((counts > 0).sum(1) == 2).all(), "every client holds exactly two classes"
    used = counts.sum(0)
    assert used[0] == 500  # undersampled to max_per_class
    # groups exhausted: 7 * 35 groups, paired -> at most one group left over
    assert len(clients) == (7 * 35) // 2
    for c in clients:  # 80/20 split inside the client, both classes in the test split
        assert np.unique(y[c.test]).size == 2
        assert abs(c.test.size - 0.2 * len(c)) <= 2
    _check_disjoint_complete(clients, y.size, complete=False)
    with pytest.raises(ValueError, match="groups_per_class must be a positive int"):
        ham10k_partition(y, groups_per_class=0)
    few = ham10k_partition(y, groups_per_class=35, max_per_class=500, num_clients=10)
    assert len(few) == 10


def test_bad_input_messages():
    with pytest.raises(ValueError, match="num_clients must be a positive int"):
        iid_partition(Y, 0)
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number >= 0 and < 1"):
        iid_partition(Y, 3, test_fraction=1.0)
    with pytest.raises(ValueError, match="labels must be a non-empty 1-D"):
        iid_partition(np.zeros((2, 2)), 1)


def test_plot_partition(tmp_path, monkeypatch):
    _forbid_backend_switch(monkeypatch)
    clients = ncc_partition(Y, 10, 2, seed=0)
    fig = plot_partition(clients, Y, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert fig.axes[0].images[0].get_array().shape == (10, 10)


def _forbid_backend_switch(monkeypatch):
    """Plot functions must not switch the user's matplotlib backend (no matplotlib.use / pyplot)."""
    import matplotlib

    def _fail(*args, **kwargs):
        raise AssertionError(f"matplotlib.use{args} called")

    monkeypatch.setattr(matplotlib, "use", _fail)

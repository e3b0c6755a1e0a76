import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from fedkit.strategies import Clustered, FedAP, FedAvg, cluster_clients


def _planted(seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 50, generator=g) * 5
    truth = np.repeat(np.arange(3), [4, 6, 5])
    perm = np.random.default_rng(seed).permutation(truth.size)
    truth = truth[perm]
    updates = centres[torch.as_tensor(truth)] + 0.1 * torch.randn(truth.size, 50, generator=g)
    return updates, truth


def test_cluster_clients_recovers_planted_groups():
    updates, truth = _planted()
    labels = cluster_clients(updates, distance_threshold=5.0)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert labels.min() == 0 and labels.max() == 2
    # a huge threshold merges everything, a tiny one separates every client
    assert len(set(cluster_clients(updates, 1e6).tolist())) == 1
    assert len(set(cluster_clients(updates, 1e-6).tolist())) == truth.size


def test_cluster_clients_matches_scipy_fcluster():
    from scipy.cluster.hierarchy import fcluster, linkage

    updates, _ = _planted(1)
    ref = fcluster(linkage(updates.double().numpy(), "ward"), 5.0, criterion="distance")
    assert adjusted_rand_score(ref, cluster_clients(updates, 5.0)) == 1.0


def test_clustered_phases_and_validation():
    inner = FedAP(num_rounds=10, personalization_epochs=3)
    s = Clustered(inner, warmup_rounds=4, distance_threshold=2.0)
    assert isinstance(s.phase(4), FedAvg) and s.phase(5) is inner
    assert s.personalization_epochs == 3 and s.name == "FedAP + HC"
    assert s.eta(4) == 1.0 and s.eta(10) == pytest.approx(inner.eta(10))
    with pytest.raises(ValueError, match="distance_threshold must be a finite number > 0"):
        Clustered(FedAvg(), distance_threshold=0)
    with pytest.raises(ValueError, match="inner must be a non-clustered Strategy"):
        Clustered(s)
    with pytest.raises(ValueError, match="updates contain non-finite"):
        cluster_clients(torch.tensor([[float("nan")], [0.0]]), 1.0)

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

from fedkit.federation import federation_graph, graph_clusters, plot_federation


def _planted():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 40, generator=g) * 5
    truth = np.repeat(np.arange(3), 4)
    return centres[torch.as_tensor(truth)] + 0.05 * torch.randn(12, 40, generator=g), truth


def test_federation_graph_structure():
    u, truth = _planted()
    g = federation_graph(u, distance_threshold=5.0, num_samples=np.arange(12), sketch_dim=8)
    assert g.num_nodes == 12 and g.x.shape == (12, 8)
    assert g.edge_index.shape == (2, 12 * 11)
    assert not (g.edge_index[0] == g.edge_index[1]).any()
    d = torch.cdist(u.double(), u.double())
    assert torch.allclose(g.edge_attr.view(-1).double(), d[g.edge_index[0], g.edge_index[1]], rtol=1e-5)
    assert adjusted_rand_score(truth, g.y.numpy()) == 1.0
    assert g.num_samples.tolist() == list(range(12))
    # symmetric
    pairs = set(map(tuple, g.edge_index.t().tolist()))
    assert all((j, i) in pairs for i, j in pairs)


def test_graph_clusters_and_threshold_edges():
    u, truth = _planted()
    g = federation_graph(u)
    assert adjusted_rand_score(truth, graph_clusters(g, 2.0)) == 1.0
    sparse = federation_graph(u, max_edge_distance=2.0)
    assert sparse.edge_index.shape[1] == 3 * 4 * 3  # only within-group edges
    assert (g.y == 0).all()


def test_sketch_preserves_distances_roughly():
    u, _ = _planted()
    g = federation_graph(u, sketch_dim=256, seed=1)
    ds = torch.cdist(g.x.double(), g.x.double())
    d = torch.cdist(u.double(), u.double())
    off = ~torch.eye(12, dtype=torch.bool)
    ratio = ds[off] / d[off]
    assert 0.7 < ratio.median() < 1.3


def test_plot_federation(tmp_path, monkeypatch):
    _forbid_backend_switch(monkeypatch)
    u, _ = _planted()
    plot_federation(federation_graph(u, distance_threshold=5.0), tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000


def _forbid_backend_switch(monkeypatch):
    """Plot functions must not switch the user's matplotlib backend (no matplotlib.use / pyplot)."""
    import matplotlib

    def _fail(*args, **kwargs):
        raise AssertionError(f"matplotlib.use{args} called")

    monkeypatch.setattr(matplotlib, "use", _fail)

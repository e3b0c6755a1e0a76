import pytest
import torch
from sklearn.metrics import roc_auc_score

from sgkit.data import from_triplets
from sgkit.models import anomaly_auroc, nll_auroc, plot_nll_histograms


def test_nll_auroc_hand_computed():
    # pairs (corrupted > clean): 3>1, 3>2, 1.5>1, 1.5<2 -> 3/4
    assert nll_auroc([1.0, 2.0], [3.0, 1.5]) == pytest.approx(0.75)
    assert nll_auroc(torch.tensor([1.0, 2.0]), torch.tensor([5.0, 6.0])) == 1.0
    assert nll_auroc([5.0], [1.0]) == 0.0
    assert nll_auroc([1.0, 2.0], [2.0]) == pytest.approx(0.75)  # ties count one half
    assert nll_auroc([0.3, 0.1, 0.7], [0.2, 0.9]) == pytest.approx(roc_auc_score([0, 0, 0, 1, 1], [0.3, 0.1, 0.7, 0.2, 0.9]))


def test_nll_auroc_errors():
    with pytest.raises(ValueError, match="clean_nll: empty"):
        nll_auroc([], [1.0])
    with pytest.raises(ValueError, match="corrupted_nll: contains non-finite"):
        nll_auroc([1.0], [float("inf")])


class _SizeModel:
    """Scores a graph by its number of nodes (a stand-in with the model interface)."""

    def nll(self, graphs, **kwargs):
        self.kwargs = kwargs
        return torch.tensor([float(g["object"].label.numel()) for g in graphs])


def test_anomaly_auroc_uses_model_nll():
    clean = [from_triplets([0], []), from_triplets([0, 1], [])]
    bad = [from_triplets([0, 1, 2], []), from_triplets([0] * 4, [])]
    model = _SizeModel()
    auc, a, b = anomaly_auroc(model, clean, bad, ordering="random", seed=3)
    assert auc == 1.0 and a.tolist() == [1.0, 2.0] and b.tolist() == [3.0, 4.0]
    assert model.kwargs == {"ordering": "random", "seed": 3}
    # per-node normalisation: every score becomes 1.0 -> no separation
    auc, a, b = anomaly_auroc(model, clean, bad, normalize="nodes")
    assert auc == 0.5 and a.tolist() == [1.0, 1.0] and b.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="normalize: expected None or 'nodes', got 'edges'"):
        anomaly_auroc(model, clean, bad, normalize="edges")


def test_plot_nll_histograms(tmp_path):
    path = plot_nll_histograms(
        {"clean": torch.randn(50), "0.5": torch.randn(50) + 3}, tmp_path / "nll.png", auroc={"0.5": 0.97}
    )
    assert (tmp_path / "nll.png").stat().st_size > 1000 and path.endswith("nll.png")
